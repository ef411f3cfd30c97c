"""Account closure: a customer asks (``request_account_closure``, the dashboard's form), staff
list the requests (``lti-tool staff requests``) and close the account (``lti-tool staff
close-account``).

API::

    request_account_closure(sessions, account_id, learner_id, message, now) -> ClosureRequestView
    list_closure_requests(session, account_id=None) -> list[ClosureRequestView]
    closure_preview(session, account_ref) -> ClosurePreview           # what closing would remove
    close_account(sessions, account_ref, now, *, steps=()) -> ClosureReport

**What closing removes** (one transaction; the account and everything that hangs off it):
its logins (and password reset links), learners and their identity links, seats, course launches
and progress, refused launches, licenses (Plus subscriptions, Volume lots, Pay Per Use
configuration, deposit ledger and library), carts, orders and their lines, quote requests,
renewals, invitations, closure requests, the mail sent for it (the outbox rows), and — through
``steps`` and the schema's cascades — its LMS registrations (deployments, login states, used
nonces, stored launches, grade posts), web sessions, and SCORM dispatch packages (their allowed
domains, launches and used launch tokens). Reports are computed from those rows, so nothing of
them remains. The catalog stays.

**Packages** are deleted with the account, which revokes them: a copy in an LMS then gets "This
course package is not recognized", and an open course player stops at its next save.

**Decisions.** The local payment gateway's ledger (tokenized test cards, charges, refunds) stands
for a payment processor's own books: a processor keeps those under its own retention rules and
the product cannot erase them at Stripe, so closure leaves it; it holds no name or address (a
token, the card brand and last four digits, amounts, "Order ORD-000123"). Mail that left the
server (SMTP) cannot be called back; its outbox record is removed. Rate-limit counters hold only
keyed hashes and expire by themselves.

``steps``: what layers above the store add (the LMS registrations' and the dispatch packages'
parts, wired by the command line), each ``step(session, account_id) -> {what: count}``, run in the
same transaction before the account row goes; a step raises a ``StoreError`` to refuse (nothing
changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.models import Account, ClosureRequest, Learner, Login
from store.accounts.queries import get_account
from store.base import require_aware
from store.errors import NotFound
from store.invitations.models import Invitation
from store.licenses.models import PlusSubscription, PpuConfig, Seat, VolumeLot
from store.mail.models import MailMessage
from store.orders.models import Order, QuoteRequest
from store.progress.models import CourseProgress
from store.text import check_text

MESSAGE_MAX = 2000

ClosureStep = Callable[[Session, int], Mapping[str, int]]


@dataclass(frozen=True)
class ClosureRequestView:
    id: int
    account_id: int
    account_name: str
    learner_id: int | None
    name: str | None
    email: str | None
    message: str
    created_at: datetime


def request_account_closure(sessions: sessionmaker[Session], account_id: int, learner_id: int | None, message: str,
                            now: datetime) -> ClosureRequestView:
    """Record an account's request to be closed (staff act on it). ``message``: up to 2,000
    characters (the input rule; line breaks kept). Raises NotFound (``unknown_account``,
    ``unknown_learner`` for a learner of another account) and InvalidText."""
    now = require_aware(now, "now")
    message = check_text(message or "", "message", max_chars=MESSAGE_MAX, allow_newlines=True).strip()
    with sessions.begin() as session:
        account = get_account(session, account_id)
        name = email = None
        if learner_id is not None:
            learner = session.get(Learner, learner_id)
            if learner is None or learner.account_id != account.id:
                raise NotFound("the person asking is not a learner of this account", reason="unknown_learner")
            name, email = learner.name, learner.email
        request = ClosureRequest(account_id=account.id, learner_id=learner_id, name=name, email=email,
                                 message=message, created_at=now)
        session.add(request)
        session.flush()
        return ClosureRequestView(request.id, account.id, account.name, learner_id, name, email, message, now)


def list_closure_requests(session: Session, account_id: int | None = None) -> list[ClosureRequestView]:
    """Every open closure request (of one account, with ``account_id``), newest first (a closed
    account's requests go with it)."""
    stmt = select(ClosureRequest, Account.name).join(Account, Account.id == ClosureRequest.account_id)
    if account_id is not None:
        stmt = stmt.where(ClosureRequest.account_id == account_id)
    rows = session.execute(stmt.order_by(ClosureRequest.created_at.desc(), ClosureRequest.id.desc()))
    return [ClosureRequestView(r.id, r.account_id, name, r.learner_id, r.name, r.email, r.message, r.created_at)
            for r, name in rows]


@dataclass(frozen=True)
class ClosurePreview:
    account_id: int
    name: str
    kind: str
    logins: int
    learners: int
    seats: int
    orders: int
    invitations: int
    subscriptions: int
    lots: int
    has_ppu: bool


def _count(session: Session, model: type, *where: object) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def closure_preview(session: Session, account_ref: str | int) -> ClosurePreview:
    """What closing the account would remove, for the confirmation question."""
    account = get_account(session, account_ref)
    a = account.id
    return ClosurePreview(a, account.name, account.kind, _count(session, Login, Login.account_id == a),
                          _count(session, Learner, Learner.account_id == a), _count(session, Seat, Seat.account_id == a),
                          _count(session, Order, Order.account_id == a),
                          _count(session, Invitation, Invitation.account_id == a),
                          _count(session, PlusSubscription, PlusSubscription.account_id == a),
                          _count(session, VolumeLot, VolumeLot.account_id == a),
                          _count(session, PpuConfig, PpuConfig.account_id == a) > 0)


@dataclass(frozen=True)
class ClosureReport:
    account_id: int
    name: str
    closed_at: datetime
    removed: dict[str, int] = field(default_factory=dict)  # what was removed, by kind


def close_account(sessions: sessionmaker[Session], account_ref: str | int, now: datetime, *,
                  steps: Iterable[ClosureStep] = ()) -> ClosureReport:
    """Close the account: remove it and everything of it (see the module docstring), in one
    transaction. Raises NotFound (``unknown_account``) or a step's refusal; nothing changes then."""
    now = require_aware(now, "now")
    with sessions.begin() as session:
        account = session.scalars(select(Account).where(Account.id == get_account(session, account_ref).id)
                                  .with_for_update()).one()
        a, name = account.id, account.name
        removed: dict[str, int] = {
            "logins": _count(session, Login, Login.account_id == a),
            "learners": _count(session, Learner, Learner.account_id == a),
            "seats": _count(session, Seat, Seat.account_id == a),
            "progress": int(session.scalar(select(func.count()).select_from(CourseProgress)
                                           .join(Seat, Seat.id == CourseProgress.seat_id)
                                           .where(Seat.account_id == a)) or 0),
            "invitations": _count(session, Invitation, Invitation.account_id == a),
            "quotes": _count(session, QuoteRequest, QuoteRequest.account_id == a),
        }
        for step in steps:
            for key, n in step(session, a).items():
                removed[key] = removed.get(key, 0) + n
        # Orders keep no cascade from their account (an order is never deleted by accident):
        # removed explicitly, their lines with them.
        removed["orders"] = session.execute(delete(Order).where(Order.account_id == a)).rowcount or 0
        # Mail of the account: tagged rows go with the account (foreign key); untagged ones sent
        # before mail was tagged, to one of its logins' addresses (password resets), go here.
        login_emails = select(Login.email_normalized).where(Login.account_id == a)
        mail = delete(MailMessage).where(MailMessage.account_id.is_(None),
                                         func.lower(func.trim(MailMessage.to_address)).in_(login_emails))
        removed["mail"] = (session.execute(mail).rowcount or 0) + _count(session, MailMessage,
                                                                           MailMessage.account_id == a)
        # Identity links point at learners inside the account; seats at learners and licenses:
        # every remaining row of the account goes through the schema's ON DELETE CASCADE.
        session.execute(delete(Account).where(Account.id == a))
        leftover = session.scalar(select(func.count()).select_from(Learner).where(Learner.account_id == a))
        assert leftover == 0, "a learner of the closed account remained"
    return ClosureReport(a, name, now, removed)


__all__ = ["ClosurePreview", "ClosureReport", "ClosureRequestView", "ClosureStep", "close_account",
           "closure_preview", "list_closure_requests", "request_account_closure"]
