"""The launch use case: bind the id_token to its login, verify it, decide what it asks for, and
record it (login state consumed, learner upserted, ``LtiLaunch`` stored) in one transaction.
Every refusal is a LaunchError raised before anything is written, except the ``pending`` record
of an unknown deployment when deployments are not auto-accepted.

The launch row is also the record of the used nonce: its id is derived from the nonce with the
app's secret (``launch_id_for``), so a second launch of one nonce collides on the primary key,
and a replayed id_token (its login state gone) is told apart from an unknown state by finding
that row. The single-use guarantee itself is the login state's consuming DELETE.

``lti_tool.lti.onepass`` runs these same steps in one transaction for the common launch; the
functions here decide every launch it hands back (refusals, new deployments, a cold key cache)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti import claims
from lti_tool.lti.errors import LaunchError, bad_request, forbidden, unauthorized
from lti_tool.lti.models import LtiDeployment, LtiLaunch, LtiLoginState, LtiUsedNonce
from lti_tool.lti.platform_keys import JwksFetcher, find_platform_key, jwks_fetcher
from lti_tool.lti.roles import is_admin
from lti_tool.lti.security import (
    Expected,
    LoginBinding,
    VerifiedToken,
    parse_unverified,
    verify_id_token,
)
from lti_tool.lti.tool_conf import RegistrationView, get_registration
from store import outbound
from store.accounts.service import LearnerIdentity, upsert_learner
from store.database import upsert_insert
from store.licenses.labels import LICENSE_TYPES

# Paths of the tool a navigation placement (course menu, account menu) points at: a resource
# link to one of these without course custom parameters is a launch without a course.
NAVIGATION_PATHS = ("", "/", "/lti/launch", "/lti/home")
MAX_NAME_CHARS = 300
MAX_EMAIL_CHARS = 320
MAX_USERNAME_CHARS = 300
MAX_COURSE_ID_CHARS = 200
MAX_ISSUER_CHARS = 296  # learners.identity_source is "lti:" + issuer, 300 characters


# ---------------------------------------------------------------- browser binding


def binding_value(secret_key: str, state: str) -> str:
    """The value the login leaves in the browser (state cookie and platform storage) and the
    launch must find there. Derived from the state with the app secret: it never travels through
    the LMS, so someone who only saw the authorization URL (state and nonce are in it) cannot
    produce it."""
    mac = hmac.new(secret_key.encode(), b"lti-login-binding:" + state.encode(), hashlib.sha256)
    return mac.hexdigest()


def is_bound(secret_key: str, state: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(binding_value(secret_key, state), presented or "")


# ---------------------------------------------------------------- step 1: the login this launch finishes


def launch_id_for(secret_key: str, nonce: str) -> str:
    """The id of the launch that used ``nonce``: unguessable without the app's secret, and one
    per nonce (the primary key refuses a second launch of a nonce)."""
    mac = hmac.new(secret_key.encode(), b"lti-launch-id:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def find_login(sessions: sessionmaker[Session], state: str, id_token: str, now: datetime,
               secret_key: str | None = None) -> LoginBinding:
    """The login state row for ``state`` (not consumed yet); 401 when unknown, expired or used
    (``secret_key``: to recognize a replay by its launch row)."""
    if not state or len(state) > 128:
        raise bad_request("missing_state", "The launch request has no valid 'state' parameter.")
    with sessions() as session:
        row = session.scalars(select(LtiLoginState).where(LtiLoginState.state == state)).first()
        if row is not None:
            if row.expires_at <= now:
                raise unauthorized(
                    "login_expired",
                    f"The login for this launch started at {row.created_at:%H:%M:%S} UTC and expired at "
                    f"{row.expires_at:%H:%M:%S} UTC.",
                    "Launch again from the LMS.",
                )
            return LoginBinding(row.state, row.nonce, row.registration_id, row.created_at, row.expires_at)
        # Which message to give only: both cases are refused. The nonce is read unverified.
        nonce = _unverified_nonce(id_token)
        used = nonce is not None and (
            session.scalars(select(LtiUsedNonce.id).where(LtiUsedNonce.nonce == nonce)).first() is not None
            or (secret_key is not None and session.get(LtiLaunch, launch_id_for(secret_key, nonce)) is not None))
    if used:
        raise unauthorized("replay", "This launch was already used: an id_token can be posted only once (replay).",
                           "Launch again from the LMS.")
    raise unauthorized(
        "unknown_state",
        "The launch's state is not one this tool issued, or its login is over.",
        "Launch again from the LMS. The login and the launch must come from the same LMS click.",
    )


def _unverified_nonce(id_token: str) -> str | None:
    try:
        _header, body = parse_unverified(id_token)
    except LaunchError:
        return None
    nonce = body.get("nonce")
    return nonce if isinstance(nonce, str) and len(nonce) <= 128 else None


# ---------------------------------------------------------------- step 2: verify and interpret


@dataclass(frozen=True)
class Intent:
    kind: Literal["course", "navigation", "deep_linking"]
    catalog_id: str | None = None  # catalog id
    license_type: str | None = None


@dataclass(frozen=True)
class VerifiedLaunch:
    registration: RegistrationView
    token: VerifiedToken
    intent: Intent
    identity: LearnerIdentity
    is_admin: bool


def _custom(body: Mapping[str, Any]) -> dict[str, Any]:
    custom = body.get(claims.CUSTOM)
    return custom if isinstance(custom, dict) else {}


def _substituted(value: Any) -> str | None:
    """A custom/ext string value, or None when empty or an unsubstituted LMS variable ($Foo.bar)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or value.startswith("$"):
        return None
    return value


def _is_navigation_target(target_link_uri: str) -> bool:
    path = urlsplit(target_link_uri).path.rstrip("/")
    return path in NAVIGATION_PATHS


COURSE_PARAMS_HINT = (
    "In the LMS, set the link's custom parameters to course_id=<catalog id> and "
    "license_type=plus|volume|ppu (one per line, e.g. course_id=C-10001), or add the course again "
    "through the tool's content picker (deep linking), which sets them."
)


def parse_intent(body: Mapping[str, Any]) -> Intent:
    """What the launch asks for: a course (custom course_id + license_type), the tool without a
    course (navigation placement), or deep linking. 400 when a course link is misconfigured."""
    if body.get(claims.MESSAGE_TYPE) == claims.DEEP_LINKING_REQUEST:
        return Intent("deep_linking")
    custom = _custom(body)
    raw_course = custom.get(claims.CUSTOM_COURSE_ID)
    raw_license = custom.get(claims.CUSTOM_LICENSE_TYPE)
    if raw_course is None and raw_license is None:
        if _is_navigation_target(str(body.get(claims.TARGET_LINK_URI, ""))):
            return Intent("navigation")
        raise bad_request("missing_course_id",
                          "This course link has no custom parameter course_id (nor license_type).",
                          COURSE_PARAMS_HINT)
    catalog_id = _substituted(raw_course)
    if catalog_id is None or len(catalog_id) > MAX_COURSE_ID_CHARS:
        raise bad_request("missing_course_id",
                          f"This course link's custom parameter course_id is missing or invalid ({raw_course!r}).",
                          COURSE_PARAMS_HINT)
    license_type = (_substituted(raw_license) or "").lower()
    if license_type not in LICENSE_TYPES:
        raise bad_request("invalid_license_type",
                          f"This course link's custom parameter license_type is missing or invalid ({raw_license!r}); "
                          "it must be plus, volume or ppu.",
                          COURSE_PARAMS_HINT)
    return Intent("course", catalog_id, license_type)


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def identity_of(body: Mapping[str, Any]) -> LearnerIdentity | None:
    """The learner as the launch identifies them: (issuer, sub), with name, email and LMS
    username when sent. None for an anonymous launch (no ``sub``)."""
    sub = body.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        return None
    name = _text(body.get("name"), MAX_NAME_CHARS)
    if name is None:
        parts = [p for p in (_text(body.get("given_name"), 150), _text(body.get("family_name"), 150)) if p]
        name = " ".join(parts) or None
    email = _text(body.get("email"), MAX_EMAIL_CHARS + 1)
    if email is not None and (len(email) > MAX_EMAIL_CHARS or "@" not in email):
        email = None
    return LearnerIdentity(source=f"lti:{body['iss']}", external_id=sub, name=name, email=email,
                           username=username_of(body))


def username_of(body: Mapping[str, Any]) -> str | None:
    """The LMS login name: Moodle's ext claim, the OIDC preferred_username, Canvas custom fields
    ($Canvas.user.loginId mapped to a custom parameter), then the LIS person sourcedid."""
    ext = body.get(claims.EXT)
    custom = _custom(body)
    lis = body.get(claims.LIS)
    candidates = [
        ext.get("user_username") if isinstance(ext, dict) else None,
        body.get("preferred_username"),
        custom.get("user_username"), custom.get("canvas_user_login_id"), custom.get("login_id"),
        custom.get("username"),
        lis.get("person_sourcedid") if isinstance(lis, dict) else None,
    ]
    for candidate in candidates:
        value = _substituted(candidate)
        if value:
            return value[:MAX_USERNAME_CHARS]
    return None


def verify_launch(sessions: sessionmaker[Session], settings: Settings, id_token: str, login: LoginBinding,
                  now: datetime, fetcher: JwksFetcher | None = None) -> VerifiedLaunch:
    """Every security check, then what the launch asks for. Writes nothing but the platform
    key cache."""
    with sessions() as session:
        registration = get_registration(session, login.registration_id)
    if registration is None:
        raise unauthorized("unknown_registration", "The registration this login was for has been removed.")
    fetch = fetcher or jwks_fetcher(outbound.client_for(settings))

    def resolve_key(kid: str) -> Mapping[str, Any]:
        return find_platform_key(sessions, registration.id, registration.key_set_url, kid, now,
                                 settings.lti_platform_jwks_ttl_seconds, settings.lti_jwks_refetch_interval_seconds,
                                 fetch)

    return check_launch(registration, settings, id_token, login, now, resolve_key)


def check_launch(registration: RegistrationView, settings: Settings, id_token: str, login: LoginBinding,
                 now: datetime, resolve_key: Callable[[str], Mapping[str, Any]]) -> VerifiedLaunch:
    """``verify_launch`` once the registration is known: the token's checks (its key from
    ``resolve_key``) and what the launch asks for. Reads and writes nothing itself."""
    if len(registration.issuer) > MAX_ISSUER_CHARS:
        raise bad_request("bad_registration", "The registered issuer is too long to identify learners by "
                                              f"(at most {MAX_ISSUER_CHARS} characters).")
    token = verify_id_token(
        id_token, Expected(registration.issuer, registration.client_id), login, now,
        settings.lti_clock_leeway_seconds, resolve_key,
    )
    intent = parse_intent(token.body)
    identity = identity_of(token.body)
    if identity is None:
        raise forbidden(
            "anonymous_launch",
            "The LMS sent this launch without a user id ('sub' claim), so no seat can be given: a seat belongs to "
            "one person.",
            "Ask the LMS administrator to send the user's identity to this tool (privacy settings of the tool).",
            title="Anonymous launch",
        )
    admin = is_admin(token.body)
    if intent.kind == "deep_linking" and not admin:
        raise forbidden(
            "deep_linking_not_allowed",
            "Only instructors and administrators can add this tool's courses to the LMS.",
            title="Not allowed",
        )
    return VerifiedLaunch(registration, token, intent, identity, admin)


# ---------------------------------------------------------------- step 3: record


@dataclass(frozen=True)
class RecordedLaunch:
    id: str
    registration_id: int
    account_id: int
    learner_id: int
    is_admin: bool
    intent: Intent
    message_type: str
    expires_at: datetime

    def session_data(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "learner_id": self.learner_id, "registration_id": self.registration_id,
                "is_admin": self.is_admin, "launch_id": self.id}


def launch_lifetime(settings: Settings) -> timedelta:
    """How long a launch is kept: its web session lasts one player-link lifetime, and a player link
    issued at the end of that session lasts one more."""
    return timedelta(seconds=2 * settings.player_token_ttl_seconds)


def _ensure_deployment(session: Session, registration_id: int, deployment_id: str, auto_accept: bool,
                       now: datetime) -> tuple[str, int | None]:
    """The deployment's status and its own account (None: the registration's), recording an
    unknown deployment as active (auto-accept) or pending. A registration whose deployments
    belong to several accounts (Blackboard) never auto-accepts."""
    shared = session.scalars(
        select(LtiDeployment.id).where(LtiDeployment.registration_id == registration_id,
                                       LtiDeployment.account_id.is_not(None)).limit(1)
    ).first() is not None
    insert = upsert_insert(session)
    session.execute(
        insert(LtiDeployment)
        .values(registration_id=registration_id, deployment_id=deployment_id,
                status="active" if auto_accept and not shared else "pending", created_at=now)
        .on_conflict_do_nothing(index_elements=["registration_id", "deployment_id"])
    )
    row = session.execute(
        select(LtiDeployment.status, LtiDeployment.account_id).where(
            LtiDeployment.registration_id == registration_id, LtiDeployment.deployment_id == deployment_id)
    ).one()
    return row.status, row.account_id


def new_launch_row(settings: Settings, verified: VerifiedLaunch, login: LoginBinding, account_id: int,
                   learner_id: int, now: datetime) -> dict[str, Any]:
    """The ``lti_launches`` row of a verified launch (its id from the nonce: ``launch_id_for``)."""
    return {"id": launch_id_for(settings.secret_key, login.nonce), "registration_id": verified.registration.id,
            "deployment_id": verified.token.deployment_id, "account_id": account_id, "learner_id": learner_id,
            "message_type": verified.token.message_type, "claims": verified.token.body, "created_at": now,
            "expires_at": now + launch_lifetime(settings)}


def record_launch(sessions: sessionmaker[Session], settings: Settings, verified: VerifiedLaunch,
                  login: LoginBinding, now: datetime) -> RecordedLaunch:
    """One transaction: known deployment, login state consumed (single use), nonce marked used,
    learner upserted, launch stored. 403 for a pending/disabled deployment, 401 on replay."""
    reg = verified.registration
    token = verified.token
    deployment_id = token.deployment_id
    with sessions.begin() as session:
        status, deployment_account_id = _ensure_deployment(session, reg.id, deployment_id,
                                                           settings.lti_auto_accept_deployments, now)
        account_id = deployment_account_id or reg.account_id
        if status == "active":
            consumed = session.execute(
                delete(LtiLoginState).where(LtiLoginState.state == login.state, LtiLoginState.nonce == login.nonce,
                                            LtiLoginState.expires_at > now)
            ).rowcount
            if consumed != 1:
                raise unauthorized("replay", "This launch was already used: an id_token can be posted only once "
                                             "(replay).", "Launch again from the LMS.")
            learner_id = upsert_learner(session, account_id, verified.identity, now)
            launch = new_launch_row(settings, verified, login, account_id, learner_id, now)
            try:
                session.execute(insert(LtiLaunch).values(launch))
            except IntegrityError as exc:
                raise unauthorized("replay", "This launch was already used (replay).") from exc
            return RecordedLaunch(launch["id"], reg.id, account_id, learner_id, verified.is_admin, verified.intent,
                                  token.message_type, launch["expires_at"])
    # Committed: at most the pending deployment row. The launch itself is refused.
    if status == "pending":
        raise forbidden(
            "deployment_pending",
            f"This LMS deployment ('{deployment_id}') of the registration for {reg.issuer} is new and waiting for "
            "approval.",
            "A vendor administrator approves it with `lti-tool platform deployments approve --registration "
            f"{reg.id} --deployment-id {deployment_id}` (pending ones: `lti-tool platform deployments list "
            "--status pending`); then launch again.",
            title="Waiting for approval",
        )
    raise forbidden("deployment_disabled",
                    f"This LMS deployment ('{deployment_id}') has been disabled for this tool.",
                    "Ask the vendor's support to enable it again (`lti-tool platform deployments approve "
                    f"--registration {reg.id} --deployment-id {deployment_id}`).", title="Deployment disabled")


def get_launch(session: Session, launch_id: str, now: datetime) -> LtiLaunch | None:
    launch = session.get(LtiLaunch, launch_id) if launch_id and len(launch_id) <= 64 else None
    if launch is None or launch.expires_at <= now:
        return None
    return launch


__all__ = ["Intent", "RecordedLaunch", "VerifiedLaunch", "binding_value", "check_launch", "find_login", "get_launch",
           "identity_of", "is_bound", "launch_id_for", "new_launch_row", "parse_intent", "record_launch",
           "verify_launch"]
