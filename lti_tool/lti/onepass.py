"""The common launch in one write transaction.

A launch whose browser binding has been checked (``views.launch``) is decided here with one
transaction and no read before it:

1. the login state is consumed: ``DELETE … WHERE state AND not expired RETURNING`` its nonce,
   registration and times (single use: a concurrent post of the same token finds nothing);
2. one SELECT reads the registration, the launch's deployment and the account whose seats it
   uses (the deployment's own account, else the registration's) — in the transaction, so a
   removed registration or a disabled deployment is refused at once;
3. the id_token is verified against that registration with every check of ``verify_launch``,
   its key taken from the process's memory (``platform_keys.cached_platform_key``);
4. the learner is upserted (``RETURNING id``) and the launch row inserted (its id derived from
   the nonce: the used-nonce record);
5. a learner's course launch then takes its seat in the same transaction
   (``store.licenses.service.claim_for_learner``, the course and the learner's seats read in one
   statement), so the player can open straight away with its signed token and no web session.

Anything out of the ordinary — no state row, an unknown or not active deployment, a token that
does not verify with the remembered key (or no remembered key), a seat claim that collides with
a concurrent launch of the same learner or fails — rolls the transaction back and returns None:
the caller then decides the launch with ``lti_tool.lti.launch`` step by step, which gives the
refusal its usual message and record (or completes the launch, e.g. after fetching a key).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti import claims
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import RecordedLaunch, VerifiedLaunch, check_launch, new_launch_row
from lti_tool.lti.models import LtiDeployment, LtiLaunch, LtiLoginState, LtiRegistration
from lti_tool.lti.platform_keys import cached_platform_key
from lti_tool.lti.security import LoginBinding
from lti_tool.lti.service import CourseOpening
from lti_tool.lti.tool_conf import RegistrationView
from store.accounts.models import Account
from store.accounts.service import upsert_learner
from store.database import binds, built_once
from store.errors import StoreError
from store.licenses import queries as license_queries
from store.licenses.service import ClaimRequest, claim_for_learner

log = logging.getLogger(__name__)


class _Decline(Exception):
    """Not a launch for this path: roll back and let the step-by-step path decide."""


@dataclass(frozen=True)
class OnePass:
    recorded: RecordedLaunch
    opening: CourseOpening | None  # a learner's course launch: its seat (or refusal) decided here


def launch_once(sessions: sessionmaker[Session], settings: Settings, id_token: str, state: str,
                now: datetime) -> OnePass | None:
    """The launch decided in one transaction, or None (nothing written) for the caller's
    step-by-step path."""
    deployment_id = _unverified_deployment(id_token)
    if deployment_id is None:
        return None
    try:
        with sessions.begin() as session:
            return _launch(session, settings, id_token, state, deployment_id, now)
    except (_Decline, LaunchError, StoreError, IntegrityError) as exc:
        log.debug("launch decided step by step: %s", exc)
        return None


def _unverified_deployment(id_token: str) -> str | None:
    """The deployment id the token names (read without verifying: the verified token must name
    the same)."""
    parts = id_token.split(".")
    if len(parts) != 3 or len(parts[1]) > 200_000:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    value = body.get(claims.DEPLOYMENT_ID) if isinstance(body, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 300 else None


def _launch(session: Session, settings: Settings, id_token: str, state: str, deployment_id: str,
            now: datetime) -> OnePass:
    login = _consume_login(session, state, now)
    registration, account = _registration_and_account(session, login.registration_id, deployment_id)
    verified = check_launch(registration, settings, id_token, login, now, _remembered_key(registration))
    if verified.token.deployment_id != deployment_id:
        raise _Decline("deployment id changed between the unverified read and the verified token")
    learner_id = upsert_learner(session, account.id, verified.identity, now)
    row = new_launch_row(settings, verified, login, account.id, learner_id, now)
    session.execute(_launch_insert(session), row)
    recorded = RecordedLaunch(row["id"], registration.id, account.id, learner_id, verified.is_admin,
                              verified.intent, verified.token.message_type, row["expires_at"])
    opening = None
    if verified.intent.kind == "course" and not verified.is_admin:
        opening = _open_course(session, settings, verified, recorded, account, now)
    return OnePass(recorded, opening)


def _consume_login(session: Session, state: str, now: datetime) -> LoginBinding:
    if not state or len(state) > 128:
        raise _Decline("no valid state")
    row = session.execute(_consume_state(session), {"state": state, "now": now}).first()
    if row is None:
        raise _Decline("no login state to consume")
    return LoginBinding(*row)


@dataclass(frozen=True)
class _AccountFacts:
    """What the launch and the seat engine read of the account (its columns, no ORM entity)."""

    id: int
    link_identities: bool
    annual_retake: bool


def _registration_and_account(session: Session, registration_id: int,
                              deployment_id: str) -> tuple[RegistrationView, _AccountFacts]:
    row = session.connection().execute(_registration_select(session), {"registration_id": registration_id,
                                                                       "deployment_id": deployment_id}).first()
    if row is None or row.deployment_status != "active":
        raise _Decline("registration removed, or deployment unknown or not active")
    return (RegistrationView.of(row),
            _AccountFacts(row.account_pk, bool(row.account_link_identities), bool(row.account_annual_retake)))


_STATES = LtiLoginState.__table__
_consume_state = built_once(lambda _dialect: (
    delete(_STATES)
    .where(_STATES.c.state == bindparam("state"),
           _STATES.c.expires_at > bindparam("now", type_=_STATES.c.expires_at.type))
    .returning(_STATES.c.state, _STATES.c.nonce, _STATES.c.registration_id, _STATES.c.created_at,
               _STATES.c.expires_at)))
_REGISTRATIONS = LtiRegistration.__table__
_ACCOUNTS = Account.__table__
# Core columns, no ORM entities: the registration's columns ``RegistrationView.of`` reads, under
# their own names, then the deployment's status and the account's facts.
_REGISTRATION_COLUMNS = ("id", "account_id", "issuer", "client_id", "auth_login_url", "auth_token_url",
                         "auth_audience", "key_set_url", "extra_origins", "label", "needs_review")
_registration_select = built_once(lambda _dialect: (
    select(*(_REGISTRATIONS.c[name] for name in _REGISTRATION_COLUMNS),
           LtiDeployment.__table__.c.status.label("deployment_status"),
           _ACCOUNTS.c.id.label("account_pk"), _ACCOUNTS.c.link_identities.label("account_link_identities"),
           _ACCOUNTS.c.annual_retake.label("account_annual_retake"))
    .select_from(LtiRegistration)
    .join(LtiDeployment, and_(LtiDeployment.registration_id == LtiRegistration.id,
                              LtiDeployment.deployment_id == bindparam("deployment_id")))
    .join(Account, Account.id == func.coalesce(LtiDeployment.account_id, LtiRegistration.account_id))
    .where(LtiRegistration.id == bindparam("registration_id"))))
_launch_insert = built_once(lambda _dialect: insert(LtiLaunch.__table__).values(binds(
    LtiLaunch.__table__, "id", "registration_id", "deployment_id", "account_id", "learner_id", "message_type",
    "claims", "created_at", "expires_at")))


def _remembered_key(registration: RegistrationView):  # type: ignore[no-untyped-def]
    def resolve(kid: str) -> Mapping[str, Any]:
        key = cached_platform_key(registration.key_set_url, kid)
        if key is None:
            raise _Decline("no remembered platform key")
        return key

    return resolve


def _open_course(session: Session, settings: Settings, verified: VerifiedLaunch, recorded: RecordedLaunch,
                 account: _AccountFacts, now: datetime) -> CourseOpening:
    """``service.open_course`` for a learner (no admin confirmation), in this transaction."""
    intent = verified.intent
    assert intent.catalog_id is not None and intent.license_type is not None
    if account.link_identities:
        raise _Decline("identity linking: the person's seats are read by the step-by-step path")
    loaded = license_queries.course_and_seat_facts(session, account.id, recorded.learner_id, intent.catalog_id, now)
    if loaded is not None and not loaded.has_package and not settings.demo_content:
        raise _Decline("no content to play: the step-by-step path says so")
    request = ClaimRequest(account.id, intent.license_type, intent.catalog_id, verified.identity)
    result = claim_for_learner(session, account, recorded.learner_id, request, now, loaded=loaded)
    title = loaded.title if loaded is not None else None
    base = (recorded.id, account.id, recorded.learner_id, intent.catalog_id, intent.license_type)
    if not result.ok:
        return CourseOpening("refused", *base, course_title=title, reason=result.reason)
    return CourseOpening("seat", *base, course_title=title, seat=result.seat, is_new_seat=result.is_new_seat)
