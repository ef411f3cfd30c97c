"""Read functions for accounts and learners."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.accounts.models import Account
from store.errors import NotFound


def find_account(session: Session, ref: str | int) -> Account | None:
    """An account by numeric id or by exact name."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        account = session.get(Account, int(ref))
        if account is not None:
            return account
    return session.scalars(select(Account).where(Account.name == str(ref))).first()


def get_account(session: Session, ref: str | int) -> Account:
    account = find_account(session, ref)
    if account is None:
        raise NotFound(f"unknown account {ref!r} (give its id or exact name; see `lti-tool accounts list`)",
                       reason="unknown_account")
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))
