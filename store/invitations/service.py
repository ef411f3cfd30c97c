"""Invitations (for small accounts without an LMS): an admin emails learners a personal launch
link; the seat is occupied when the invitation is sent.

API (the dashboard's pages and the command line)::

    send_invitations(sessions, mailer, account_id, admin_learner_id, catalog_id, license_type, emails, now, *,
                     link_for, demo_content) -> InvitationReport
    open_invitation(sessions, token, now) -> OpenedInvitation(seat, learner_id, catalog_id, account_id)
    list_invitations(session, account_id, now) -> list[InvitationView]

- The invited person is the learner ``invite:<account id>`` + the address (lowercased); with
  identity linking on, the same person as their other identities (matched by the address).
- Each address gets its seat from the seat engine (``claim_seat_in``), in one transaction with
  its invitation row (the SHA-256 of a random token; the token itself exists only in the mail).
  A refusal (``no_seats``, ``license_expired``, ``not_covered``…) comes back for that address and
  nothing is mailed to it; the engine records it for Needs Attention like a refused launch.
- The mail goes after the commit, through ``services().mail`` (tagged with the account).
- The link opens the course for the seat's life: ``open_invitation`` asks the engine again, which
  reuses the seat (an expired seat gets the engine's refusal, or a retake). Inviting the same
  address to the same course again mails a new link; the previous one stops working.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from store.accounts.identities import invite_source
from store.accounts.models import Learner
from store.accounts.queries import get_account
from store.accounts.service import LearnerIdentity
from store.base import require_aware
from store.catalog.models import Course
from store.content import ContentNotAvailable, content_kind
from store.content.queries import current_package
from store.database import upsert_insert
from store.errors import AccessDenied, InvalidInput, NotFound, StoreError
from store.invitations import rules
from store.invitations.models import Invitation
from store.licenses import rules as license_rules
from store.licenses.models import PlusSubscription, Seat
from store.licenses.service import MAX_CLAIM_RETRIES, ClaimRequest, SeatView, claim_seat_in
from store.mail.service import Mailer

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


class InvalidEmails(InvalidInput):
    """The pasted list has lines that are not addresses, too many, or none; ``problems`` name
    the lines. Nothing was sent."""

    reason = "invalid_emails"

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class InvitationNotFound(NotFound):
    reason = "unknown_invitation"


class InvitationRefused(AccessDenied):
    """The invitation's course cannot be opened now (the seat engine's reason: the seat expired,
    the course was retired...). ``title``/``ask`` for the page."""

    reason = "invitation_refused"
    title = "This course cannot be opened"


@dataclass(frozen=True)
class SentInvitation:
    email: str
    invitation_id: int
    seat_id: int
    is_new_seat: bool


@dataclass(frozen=True)
class RefusedAddress:
    email: str
    reason: str  # the seat engine's (no_seats, license_expired, not_covered, …) or busy
    message: str


@dataclass(frozen=True)
class InvitationReport:
    catalog_id: str
    course_title: str
    license_type: str
    sent: tuple[SentInvitation, ...]
    refused: tuple[RefusedAddress, ...]
    duplicates: int  # lines folded into another of the same address


class OpenedInvitation(NamedTuple):
    seat: SeatView
    learner_id: int
    catalog_id: str
    account_id: int


@dataclass(frozen=True)
class InvitationView:
    id: int
    email: str
    catalog_id: str
    course_title: str
    license_type: str
    invited_by: str | None
    sent_at: datetime
    last_opened_at: datetime | None
    open_count: int
    seat_id: int | None
    seat_valid: bool
    seat_expires_at: datetime | None  # None: a Plus seat (with the subscription) or no seat


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _identity(account_id: int, address: rules.Address) -> LearnerIdentity:
    return LearnerIdentity(invite_source(account_id), address.normalized, email=address.email)


def send_invitations(sessions: sessionmaker[Session], mailer: Mailer, account_id: int, admin_learner_id: int | None,
                     catalog_id: str, license_type: str, emails: str, now: datetime, *,
                     link_for: Callable[[str], str], demo_content: bool) -> InvitationReport:
    """Occupy a seat for each address and mail it a personal launch link (after the commit).

    ``emails``: one address per line, as pasted (``InvalidEmails`` names bad lines; nothing is
    sent then). ``link_for(token)``: the launch URL of a token (the dashboard's launch endpoint).
    ``demo_content``: the ``DEMO_CONTENT`` setting: a course with nothing to play is refused as a
    whole (``content_not_available``) before any seat is taken. Raises NotFound
    (``unknown_account``, ``unknown_learner``, ``unknown_course``) and InvalidInput
    (``invalid_license_type``)."""
    now = require_aware(now, "now")
    if license_type not in license_rules.LICENSE_TYPES:
        raise InvalidInput(f"license type must be one of {', '.join(license_rules.LICENSE_TYPES)}",
                           reason="invalid_license_type")
    parsed = rules.parse_addresses(emails)
    if parsed.problems:
        raise InvalidEmails(parsed.problems)
    with sessions() as session:
        account = get_account(session, account_id)
        inviter = None
        if admin_learner_id is not None:
            admin = session.get(Learner, admin_learner_id)
            if admin is None or admin.account_id != account.id:
                raise NotFound("the inviting admin is not a learner of this account", reason="unknown_learner")
            inviter = admin.name
        course = session.scalars(select(Course).where(Course.catalog_id == catalog_id)).first()
        if course is None:
            raise NotFound(f"unknown course {catalog_id!r} (give its catalog id)", reason="unknown_course")
        if content_kind(current_package(session, course.id), demo_content=demo_content) is None:
            raise ContentNotAvailable(f"course {catalog_id!r} has no content to play yet: no seat was taken")
        account_name, course_pk, title = account.name, course.id, course.title

    sent: list[SentInvitation] = []
    refused: list[RefusedAddress] = []
    to_mail: list[tuple[str, str, datetime | None]] = []
    for address in parsed.addresses:
        request = ClaimRequest(account_id, license_type, catalog_id, _identity(account_id, address))
        token = secrets.token_urlsafe(TOKEN_BYTES)
        outcome: SentInvitation | RefusedAddress | None = None
        expires: datetime | None = None
        for attempt in range(MAX_CLAIM_RETRIES):
            try:
                with sessions.begin() as session:
                    result = claim_seat_in(session, request, now)
                    if result.seat is None or result.learner_id is None:
                        refusal = result.refusal
                        outcome = RefusedAddress(address.email, result.reason or "refused",
                                                 refusal.message if refusal else "No seat is available.")
                    else:
                        invitation_id = _upsert(session, account_id, course_pk, license_type, address,
                                                result.learner_id, admin_learner_id, result.seat.id, token, now)
                        outcome = SentInvitation(address.email, invitation_id, result.seat.id, result.is_new_seat)
                        expires = result.seat.expires_at
                break
            except IntegrityError as exc:  # a concurrent launch of the same person won; the retry reuses its seat
                log.info("invitation claim collided (try %d): %s", attempt + 1, exc.orig)
                outcome = None
        if outcome is None:
            outcome = RefusedAddress(address.email, "busy", "The seat could not be given right now; try again.")
        if isinstance(outcome, SentInvitation):
            sent.append(outcome)
            to_mail.append((address.email, token, expires))
        else:
            refused.append(outcome)

    for email, token, expires in to_mail:
        mailer.send(email, rules.mail_subject(title),
                    rules.mail_text(course_title=title, account_name=account_name, inviter=inviter,
                                    link=link_for(token), expires_at=expires),
                    account_id=account_id)
    return InvitationReport(catalog_id, title, license_type, tuple(sent), tuple(refused), parsed.duplicates)


def _upsert(session: Session, account_id: int, course_pk: int, license_type: str, address: rules.Address,
            learner_id: int, admin_learner_id: int | None, seat_id: int, token: str, now: datetime) -> int:
    insert = upsert_insert(session)
    stmt = insert(Invitation).values(
        account_id=account_id, course_pk=course_pk, license_type=license_type, email=address.email,
        email_normalized=address.normalized, learner_id=learner_id, invited_by_learner_id=admin_learner_id,
        seat_id=seat_id, token_hash=_token_hash(token), created_at=now, sent_at=now, open_count=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "course_pk", "license_type", "email_normalized"],
        set_={"email": stmt.excluded.email, "learner_id": stmt.excluded.learner_id,
              "invited_by_learner_id": stmt.excluded.invited_by_learner_id, "seat_id": stmt.excluded.seat_id,
              "token_hash": stmt.excluded.token_hash, "sent_at": stmt.excluded.sent_at},
    ).returning(Invitation.id)
    return int(session.execute(stmt).scalar_one())


def open_invitation(sessions: sessionmaker[Session], token: str, now: datetime) -> OpenedInvitation:
    """The seat an invitation link opens (the engine reuses the invited person's seat; a course
    launch is recorded). Raises ``InvitationNotFound`` for a link that is unknown, malformed or
    replaced by a newer one, and ``InvitationRefused`` (403: the engine's reason, message and
    whom to ask) when the seat is over; the refusal is recorded like a refused launch."""
    now = require_aware(now, "now")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise InvitationNotFound("this invitation link is not valid (check that it was copied whole)")
    digest = _token_hash(token)
    for attempt in range(MAX_CLAIM_RETRIES):
        try:
            with sessions.begin() as session:
                row = session.execute(
                    select(Invitation, Course.catalog_id).join(Course, Course.id == Invitation.course_pk)
                    .where(Invitation.token_hash == digest)).first()
                if row is None:
                    raise InvitationNotFound("this invitation link is not valid any more: it was replaced by a "
                                             "newer invitation, or the account was closed")
                invitation, catalog_id = row
                address = rules.Address(invitation.email, invitation.email_normalized)
                result = claim_seat_in(session, ClaimRequest(invitation.account_id, invitation.license_type,
                                                             catalog_id, _identity(invitation.account_id, address)),
                                       now)
                session.execute(update(Invitation).where(Invitation.id == invitation.id).values(
                    last_opened_at=now, open_count=Invitation.open_count + 1,
                    seat_id=result.seat.id if result.seat is not None else Invitation.seat_id))
                account_id = invitation.account_id
            break
        except IntegrityError as exc:
            log.info("invitation open collided (try %d): %s", attempt + 1, exc.orig)
    else:
        raise StoreError("the course could not be opened right now; try again", reason="busy")
    if result.seat is None or result.learner_id is None:
        refusal = result.refusal
        error = InvitationRefused(refusal.message if refusal else "No seat is available.",
                                  reason=result.reason or InvitationRefused.reason)
        error.ask = refusal.ask if refusal else "Ask the person who invited you."
        raise error
    return OpenedInvitation(result.seat, result.learner_id, catalog_id, account_id)


def list_invitations(session: Session, account_id: int, now: datetime) -> list[InvitationView]:
    """The account's invitations, newest sent first, with whether each seat is still valid."""
    now = require_aware(now, "now")
    get_account(session, account_id)
    inviter = aliased(Learner)
    rows = session.execute(
        select(Invitation, Course.catalog_id, Course.title, inviter.name, Seat, PlusSubscription)
        .join(Course, Course.id == Invitation.course_pk)
        .outerjoin(inviter, inviter.id == Invitation.invited_by_learner_id)
        .outerjoin(Seat, Seat.id == Invitation.seat_id)
        .outerjoin(PlusSubscription, PlusSubscription.id == Seat.subscription_id)
        .where(Invitation.account_id == account_id)
        .order_by(Invitation.sent_at.desc(), Invitation.id.desc()))
    out = []
    for invitation, catalog_id, title, invited_by, seat, sub in rows:
        if seat is None:
            valid = False
        elif seat.license_type == "plus":
            valid = sub is not None and license_rules.in_term(sub.started_at, sub.current_period_end, now)
        else:
            valid = seat.expires_at is not None and now < seat.expires_at
        out.append(InvitationView(invitation.id, invitation.email, catalog_id, title, invitation.license_type,
                                  invited_by, invitation.sent_at, invitation.last_opened_at, invitation.open_count,
                                  seat.id if seat is not None else None, valid,
                                  seat.expires_at if seat is not None else None))
    return out


__all__ = ["InvalidEmails", "InvitationNotFound", "InvitationRefused", "InvitationReport", "InvitationView",
           "OpenedInvitation", "RefusedAddress", "SentInvitation", "list_invitations", "open_invitation",
           "send_invitations"]
