"""Account and learner use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.identities import delivery_of
from store.accounts.models import ACCOUNT_KINDS, Account, Learner
from store.database import binds, built_once, dialect_insert
from store.errors import InvalidInput
from store.text import check_optional_text, check_text


@dataclass(frozen=True)
class AccountView:
    id: int
    name: str
    kind: str
    annual_retake: bool
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(account.id, account.name, account.kind, account.annual_retake, account.created_at)


@dataclass(frozen=True)
class LearnerIdentity:
    """How one delivery method identifies a learner, plus what it tells about them."""

    source: str  # "lti:<issuer>", "package:<key>", "invite:<account id>", "login:<id>", "staff"
    external_id: str
    name: str | None = None
    email: str | None = None
    username: str | None = None
    # A SCORM package's format (scorm12 / scorm2004): the learner's delivery method in reports.
    package_format: str | None = None


# Column limits (store/accounts/models.py): checked before anything reaches the database.
ACCOUNT_NAME_MAX = 200
IDENTITY_SOURCE_MAX = 300
EXTERNAL_ID_MAX = 4000
LEARNER_NAME_MAX = 300
EMAIL_MAX = 320
USERNAME_MAX = 300


def check_identity(identity: LearnerIdentity) -> LearnerIdentity:
    """The input rule (store.text) for what a delivery method says about a learner: no NUL or
    surrogates, each field within its column. InvalidText (``invalid_text`` /
    ``text_too_long``) names the field. Ids and names are opaque LMS text: line breaks are kept."""
    check_text(identity.source, "identity source", max_chars=IDENTITY_SOURCE_MAX)
    check_text(identity.external_id, "learner id", max_chars=EXTERNAL_ID_MAX, allow_newlines=True)
    check_optional_text(identity.name, "learner name", max_chars=LEARNER_NAME_MAX, allow_newlines=True)
    check_optional_text(identity.email, "learner email", max_chars=EMAIL_MAX, allow_newlines=True)
    check_optional_text(identity.username, "learner username", max_chars=USERNAME_MAX, allow_newlines=True)
    return identity


def create_account(sessions: sessionmaker[Session], name: str, now: datetime,
                   kind: str = "organization") -> AccountView:
    name = check_text(name, "account name", max_chars=None).strip()
    if not name:
        raise InvalidInput("account name must not be empty", reason="invalid_name")
    if len(name) > ACCOUNT_NAME_MAX:
        raise InvalidInput(f"account name is longer than {ACCOUNT_NAME_MAX} characters", reason="invalid_name")
    if kind not in ACCOUNT_KINDS:
        raise InvalidInput(f"account kind must be one of {', '.join(ACCOUNT_KINDS)}", reason="invalid_kind")
    with sessions.begin() as session:
        if session.scalars(select(Account.id).where(Account.name == name)).first() is not None:
            raise InvalidInput(f"an account named {name!r} already exists", reason="duplicate_account")
        account = Account(name=name, kind=kind, annual_retake=False, created_at=now)
        session.add(account)
        session.flush()
        return AccountView.of(account)


def upsert_learner(session: Session, account_id: int, identity: LearnerIdentity, now: datetime) -> int:
    """Insert or refresh a learner in one race-safe statement; returns the learner id.

    Name, email and username are updated when the launch sends them, kept otherwise.
    """
    check_identity(identity)
    external_id = identity.external_id.strip()
    if not external_id:
        raise InvalidInput("learner id must not be empty", reason="invalid_learner")
    delivery = delivery_of(identity.source, identity.package_format)
    stmt = (_learner_upsert_refreshing_delivery if delivery is not None else _learner_upsert)(session)
    return int(session.execute(stmt, {
        "account_id": account_id, "identity_source": identity.source, "external_id": external_id,
        "name": identity.name, "email": identity.email, "username": identity.username,
        "delivery": delivery or "scorm", "created_at": now, "updated_at": now,
    }).scalar_one())


def _build_learner_upsert(dialect: str, refresh_delivery: bool) -> Any:
    table = Learner.__table__
    stmt = dialect_insert(dialect)(table).values(binds(
        Learner.__table__, "account_id", "identity_source", "external_id", "name", "email", "username", "delivery",
        "created_at", "updated_at"))
    excluded = stmt.excluded
    refreshed = {
        "name": func.coalesce(excluded.name, table.c.name),
        "email": func.coalesce(excluded.email, table.c.email),
        "username": func.coalesce(excluded.username, table.c.username),
        "updated_at": excluded.updated_at,
    }
    if refresh_delivery:  # a package launch without its format keeps what was stored
        refreshed["delivery"] = excluded.delivery
    return stmt.on_conflict_do_update(
        index_elements=["account_id", "identity_source", "external_id"], set_=refreshed,
    ).returning(table.c.id)


_learner_upsert = built_once(lambda dialect: _build_learner_upsert(dialect, False))
_learner_upsert_refreshing_delivery = built_once(lambda dialect: _build_learner_upsert(dialect, True))

