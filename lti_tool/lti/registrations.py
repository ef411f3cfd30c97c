"""LMS platform registrations of an account: add (CLI or Dynamic Registration), list, remove,
and the deployments of each (active, pending approval, disabled).

A registration is one (issuer, client id) pair; one issuer may have many client ids (Canvas
cloud, Blackboard). Platform URLs must be absolute ``https`` URLs; ``http`` is accepted only for
``localhost``/``127.0.0.1`` in development and test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti.models import LtiDeployment, LtiRegistration
from store.accounts import queries as account_queries
from store.accounts.models import Account
from store.base import require_aware
from store.errors import InvalidInput, NotFound
from store.text import check_text

CREATED_VIA = ("cli", "dynamic", "demo")
DEPLOYMENT_STATUSES = ("active", "pending", "disabled")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
REGISTRATION_CODE_DAYS = 7

# Column limits (lti_tool/lti/models.py).
_ISSUER_MAX, _URL_MAX, _CLIENT_ID_MAX, _DEPLOYMENT_MAX, _LABEL_MAX = 500, 1000, 300, 300, 200


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class DeploymentView:
    deployment_id: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class RegistrationView:
    id: int
    account_id: int
    account_name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    auth_audience: str | None
    key_set_url: str
    label: str
    created_via: str
    created_at: datetime
    deployments: tuple[DeploymentView, ...] = ()
    needs_review: bool = False
    reviewed_at: datetime | None = None


@dataclass(frozen=True)
class PlatformDetails:
    """What an LMS shows an admin after registering the tool (or returns to Dynamic Registration)."""

    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None = None
    label: str = ""
    deployment_ids: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class AccountBinding:
    """Which account a Dynamic Registration belongs to: an existing account (its id or exact
    name, plus a registration code made for it by staff) or a new organization account."""

    existing: str | None = None
    registration_code: str | None = None
    new_account_name: str | None = None


def _view(session: Session, reg: LtiRegistration) -> RegistrationView:
    account_name = session.scalar(select(Account.name).where(Account.id == reg.account_id)) or ""
    deployments = session.scalars(
        select(LtiDeployment).where(LtiDeployment.registration_id == reg.id).order_by(LtiDeployment.id)
    ).all()
    return RegistrationView(
        id=reg.id, account_id=reg.account_id, account_name=account_name, issuer=reg.issuer,
        client_id=reg.client_id, auth_login_url=reg.auth_login_url, auth_token_url=reg.auth_token_url,
        auth_audience=reg.auth_audience, key_set_url=reg.key_set_url, label=reg.label,
        created_via=reg.created_via, created_at=reg.created_at,
        deployments=tuple(DeploymentView(d.deployment_id, d.status, d.created_at) for d in deployments),
        needs_review=bool(reg.needs_review), reviewed_at=reg.reviewed_at,
    )


# ---------------------------------------------------------------- validation


def is_local_host(host: str | None) -> bool:
    return (host or "").lower().strip("[]") in LOCAL_HOSTS


def allows_http(settings: Settings, host: str | None) -> bool:
    """Plain http only for this machine, and never in production."""
    return settings.env in ("development", "test") and is_local_host(host)


def check_url(value: str | None, settings: Settings, what: str, *, max_length: int = _URL_MAX,
              allow_query: bool = True) -> str:
    """An absolute https URL (http for localhost in development/test); the reason otherwise."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{what} is missing", reason="invalid_url")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters", reason="invalid_url")
    check_text(value, what, max_chars=None)  # the input rule: no NUL, surrogates or line breaks
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidInput(f"{what} is not a valid URL: {value!r}", reason="invalid_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"{what} must be an absolute https:// URL, got {value!r}", reason="invalid_url")
    if parts.scheme == "http" and not allows_http(settings, host):
        raise InvalidInput(f"{what} must use https:// (http is allowed only for localhost in development), "
                           f"got {value!r}", reason="invalid_url")
    if parts.username or parts.password:
        raise InvalidInput(f"{what} must not contain a user name or password", reason="invalid_url")
    if parts.fragment:
        raise InvalidInput(f"{what} must not contain a #fragment", reason="invalid_url")
    if not allow_query and parts.query:
        raise InvalidInput(f"{what} must not contain a ?query", reason="invalid_url")
    return value


def check_fetchable_url(value: str | None, settings: Settings, what: str) -> str:
    """A URL the server may fetch on an anonymous visitor's behalf (Dynamic Registration):
    besides ``check_url``, never a private or loopback address outside development/test."""
    value = check_url(value, settings, what, max_length=2000)
    host = urlsplit(value).hostname or ""
    if settings.env not in ("development", "test"):
        if is_local_host(host) or host.endswith(".localhost"):
            raise InvalidInput(f"{what} points at this server's own network", reason="invalid_url")
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            address = None
        if address is not None and not address.is_global:
            raise InvalidInput(f"{what} points at a private network address", reason="invalid_url")
    return value


def check_issuer(value: str | None, settings: Settings) -> str:
    return check_url(value, settings, "issuer", max_length=_ISSUER_MAX, allow_query=False)


def issuer_is_prefix_of(issuer: str, url: str) -> bool:
    """The LTI Dynamic Registration rule: the configuration URL starts with the issuer, at a
    boundary (``https://lms.edu`` matches ``https://lms.edu/x`` but not ``https://lms.edu.evil``)."""
    if not url.startswith(issuer):
        return False
    rest = url[len(issuer):]
    return issuer.endswith("/") or rest == "" or rest[0] in "/?"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _text(value: str | None, what: str, max_length: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{what} is missing", reason="invalid_input")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters", reason="invalid_input")
    return check_text(value, what, max_chars=None)  # the input rule: no NUL, surrogates or line breaks


def _deployment_ids(values: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for raw in values:
        value = _text(raw, "deployment id", _DEPLOYMENT_MAX)
        if value not in seen:
            seen.append(value)
    return tuple(seen)


def _clean(details: PlatformDetails, settings: Settings) -> PlatformDetails:
    audience = (details.auth_audience or "").strip() or None
    if audience is not None:
        audience = _text(audience, "auth audience", _URL_MAX)
    return PlatformDetails(
        issuer=check_issuer(details.issuer, settings),
        client_id=_text(details.client_id, "client id", _CLIENT_ID_MAX),
        auth_login_url=check_url(details.auth_login_url, settings, "auth login URL"),
        auth_token_url=check_url(details.auth_token_url, settings, "auth token URL"),
        key_set_url=check_url(details.key_set_url, settings, "key set URL"),
        auth_audience=audience,
        label=_text(details.label, "label", _LABEL_MAX, required=False),
        deployment_ids=_deployment_ids(details.deployment_ids),
    )


def _duplicate_error(session: Session, issuer: str, client_id: str) -> InvalidInput:
    existing = session.scalars(
        select(LtiRegistration).where(LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id)
    ).first()
    where = ""
    if existing is not None:
        view = _view(session, existing)
        where = f" (registration {view.id}, account {view.account_name!r})"
    return InvalidInput(
        f"issuer {issuer} with client id {client_id} is already registered{where}; add deployments to it with "
        f"`lti-tool platform deployments add` (with --account A for another account's institution, as on "
        f"Blackboard), or remove it first", reason="duplicate_registration")


# ---------------------------------------------------------------- registration codes


def _code_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="lti-tool/registration-code")


def make_registration_code(settings: Settings, account_id: int, now: datetime,
                           days: int = REGISTRATION_CODE_DAYS) -> str:
    """A code that lets an LMS admin bind a Dynamic Registration to an existing account.
    Signed with SECRET_KEY (nothing stored); valid ``days`` days."""
    expires = int((require_aware(now) + timedelta(days=days)).timestamp())
    return _code_serializer(settings).dumps({"a": account_id, "e": expires})


def check_registration_code(settings: Settings, code: str | None, account_id: int, now: datetime) -> None:
    try:
        data: Any = _code_serializer(settings).loads((code or "").strip())
    except BadSignature:
        raise InvalidInput("the registration code is not valid: ask the vendor's support for a new one",
                           reason="bad_registration_code") from None
    if not isinstance(data, dict) or data.get("a") != account_id:
        raise InvalidInput("the registration code was made for another account", reason="bad_registration_code")
    if not isinstance(data.get("e"), int) or data["e"] <= require_aware(now).timestamp():
        raise InvalidInput("the registration code has expired: ask the vendor's support for a new one",
                           reason="bad_registration_code")


def registration_code_account(settings: Settings, code: str | None, now: datetime) -> int | None:
    """The account a valid, unexpired registration code was made for; None otherwise."""
    if not code or len(code) > 500:
        return None
    try:
        data: Any = _code_serializer(settings).loads(code.strip())
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("e"), int) \
            or data["e"] <= require_aware(now).timestamp():
        return None
    return int(data["a"])


# ---------------------------------------------------------------- use cases


def _insert(session: Session, account_id: int, details: PlatformDetails, created_via: str,
            now: datetime, *, needs_review: bool = False) -> RegistrationView:
    if session.scalars(select(LtiRegistration.id).where(
            LtiRegistration.issuer == details.issuer, LtiRegistration.client_id == details.client_id)).first():
        raise _duplicate_error(session, details.issuer, details.client_id)
    reg = LtiRegistration(
        account_id=account_id, issuer=details.issuer, client_id=details.client_id,
        auth_login_url=details.auth_login_url, auth_token_url=details.auth_token_url,
        auth_audience=details.auth_audience, key_set_url=details.key_set_url, extra_origins=[],
        label=details.label, created_via=created_via, created_at=now, needs_review=needs_review,
    )
    session.add(reg)
    session.flush()
    for deployment_id in details.deployment_ids:
        session.add(LtiDeployment(registration_id=reg.id, deployment_id=deployment_id, status="active",
                                  created_at=now))
    session.flush()
    return _view(session, reg)


def add_registration(sessions: sessionmaker[Session], settings: Settings, account: str | int,
                     details: PlatformDetails, now: datetime, created_via: str = "cli") -> RegistrationView:
    """Register an LMS for an account (one transaction). Same (issuer, client id) twice →
    ``InvalidInput(reason="duplicate_registration")``."""
    now = require_aware(now)
    if created_via not in CREATED_VIA:
        raise InvalidInput(f"created_via must be one of {', '.join(CREATED_VIA)}", reason="invalid_input")
    details = _clean(details, settings)
    try:
        with sessions.begin() as session:
            account_id = account_queries.get_account(session, account).id
            return _insert(session, account_id, details, created_via, now)
    except IntegrityError:  # a concurrent registration of the same pair won the race
        with sessions() as session:
            raise _duplicate_error(session, details.issuer, details.client_id) from None


def register_dynamic(sessions: sessionmaker[Session], settings: Settings, binding: AccountBinding,
                     details: PlatformDetails, now: datetime) -> RegistrationView:
    """Store what Dynamic Registration returned, bound to an existing account (with its
    registration code) or to a new organization account, in one transaction. A new account made
    this way was made by an anonymous visitor: the registration waits for staff review
    (``needs_review``; see ``mark_reviewed``)."""
    now = require_aware(now)
    details = _clean(details, settings)
    try:
        with sessions.begin() as session:
            account_id = resolve_binding(session, settings, binding, now, create=True)
            return _insert(session, account_id, details, "dynamic", now,
                           needs_review=binding.existing is None)
    except IntegrityError:
        with sessions() as session:
            raise _duplicate_error(session, details.issuer, details.client_id) from None


def check_binding(sessions: sessionmaker[Session], settings: Settings, binding: AccountBinding,
                  now: datetime) -> None:
    """Validate an account choice without writing anything (before asking the platform)."""
    with sessions() as session:
        resolve_binding(session, settings, binding, require_aware(now), create=False)


def resolve_binding(session: Session, settings: Settings, binding: AccountBinding, now: datetime,
                    *, create: bool) -> int:
    if binding.new_account_name is not None and binding.existing is not None:
        raise InvalidInput("choose an existing account or a new one, not both", reason="invalid_account_choice")
    if binding.existing is not None:
        ref = binding.existing.strip()
        if not ref:
            raise InvalidInput("enter the account's name or id", reason="invalid_account_choice")
        account = account_queries.get_account(session, ref)
        check_registration_code(settings, binding.registration_code, account.id, now)
        return account.id
    if binding.new_account_name is None:
        raise InvalidInput("choose an existing account or create a new one", reason="invalid_account_choice")
    name = binding.new_account_name.strip()
    if not name:
        raise InvalidInput("the new account's name must not be empty", reason="invalid_name")
    if len(name) > 200:
        raise InvalidInput("the new account's name is longer than 200 characters", reason="invalid_name")
    if session.scalars(select(Account.id).where(Account.name == name)).first() is not None:
        raise InvalidInput(f"an account named {name!r} already exists: choose it as an existing account "
                           "(with its registration code) or pick another name", reason="duplicate_account")
    if not create:
        return 0
    account = Account(name=name, kind="organization", annual_retake=False, created_at=now)
    session.add(account)
    session.flush()
    return account.id


def list_registrations(sessions: sessionmaker[Session], account: str | int | None = None, *,
                       needs_review: bool | None = None) -> list[RegistrationView]:
    with sessions() as session:
        query = select(LtiRegistration).order_by(LtiRegistration.id)
        if account is not None:
            query = query.where(LtiRegistration.account_id == account_queries.get_account(session, account).id)
        if needs_review is not None:
            query = query.where(LtiRegistration.needs_review.is_(needs_review))
        return [_view(session, reg) for reg in session.scalars(query)]


def mark_reviewed(sessions: sessionmaker[Session], registration_id: int, now: datetime) -> RegistrationView:
    """Staff looked at a self-made registration and its new account and trust them."""
    with sessions.begin() as session:
        reg = _get(session, registration_id, None, None)
        if not reg.needs_review:
            raise InvalidInput(f"registration {reg.id} does not wait for review"
                               + (f" (reviewed {reg.reviewed_at:%Y-%m-%d %H:%M} UTC)" if reg.reviewed_at else ""),
                               reason="not_waiting_for_review")
        reg.needs_review = False
        reg.reviewed_at = require_aware(now)
        session.flush()
        return _view(session, reg)


def find_registration(session: Session, issuer: str, client_id: str) -> LtiRegistration | None:
    return session.scalars(
        select(LtiRegistration).where(LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id)
    ).first()


def _get(session: Session, registration_id: int | None, issuer: str | None, client_id: str | None) -> LtiRegistration:
    if registration_id is not None:
        if issuer or client_id:
            raise InvalidInput("give a registration id, or --issuer with --client-id, not both",
                               reason="invalid_input")
        reg = session.get(LtiRegistration, registration_id)
        if reg is None:
            raise NotFound(f"no registration {registration_id} (see `lti-tool platform list`)",
                           reason="unknown_registration")
        return reg
    if not issuer or not client_id:
        raise InvalidInput("give a registration id, or both --issuer and --client-id", reason="invalid_input")
    reg = find_registration(session, issuer.strip(), client_id.strip())
    if reg is None:
        raise NotFound(f"no registration for issuer {issuer} and client id {client_id} "
                       "(see `lti-tool platform list`)", reason="unknown_registration")
    return reg


def get_registration(sessions: sessionmaker[Session], registration_id: int | None = None,
                     issuer: str | None = None, client_id: str | None = None) -> RegistrationView:
    with sessions() as session:
        return _view(session, _get(session, registration_id, issuer, client_id))


def remove_registration(sessions: sessionmaker[Session], registration_id: int | None = None,
                        issuer: str | None = None, client_id: str | None = None) -> RegistrationView:
    """Delete a registration with its deployments, pending logins, stored launches and score
    posts (learners, seats and progress stay with the account)."""
    with sessions.begin() as session:
        reg = _get(session, registration_id, issuer, client_id)
        view = _view(session, reg)
        session.execute(delete(LtiRegistration).where(LtiRegistration.id == reg.id))
        return view


def add_deployment(sessions: sessionmaker[Session], registration_id: int, deployment_id: str, now: datetime,
                   status: str = "active", account_ref: str | int | None = None) -> DeploymentView:
    """Add a deployment. With ``account_ref`` the deployment belongs to that account instead of the
    registration's: Blackboard serves every institution from one issuer and client id, and the
    deployment id tells them apart."""
    if status not in DEPLOYMENT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(DEPLOYMENT_STATUSES)}", reason="invalid_input")
    deployment_id = _text(deployment_id, "deployment id", _DEPLOYMENT_MAX)
    try:
        with sessions.begin() as session:
            reg = _get(session, registration_id, None, None)
            account_id = None
            if account_ref is not None:
                account = account_queries.get_account(session, account_ref)
                account_id = None if account.id == reg.account_id else account.id
            exists = session.scalars(select(LtiDeployment.id).where(
                LtiDeployment.registration_id == reg.id, LtiDeployment.deployment_id == deployment_id)).first()
            if exists is not None:
                raise InvalidInput(f"deployment {deployment_id} of registration {reg.id} already exists",
                                   reason="duplicate_deployment")
            row = LtiDeployment(registration_id=reg.id, deployment_id=deployment_id, status=status,
                                account_id=account_id, created_at=require_aware(now))
            session.add(row)
            session.flush()
            return DeploymentView(row.deployment_id, row.status, row.created_at)
    except IntegrityError:
        raise InvalidInput(f"deployment {deployment_id} of registration {registration_id} already exists",
                           reason="duplicate_deployment") from None


def set_deployment_status(sessions: sessionmaker[Session], registration_id: int, deployment_id: str,
                          status: str) -> DeploymentView:
    """Approve (``active``) or ``disable`` a deployment (e.g. one Canvas sent at its first launch)."""
    if status not in DEPLOYMENT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(DEPLOYMENT_STATUSES)}", reason="invalid_input")
    with sessions.begin() as session:
        reg = _get(session, registration_id, None, None)
        row = session.scalars(select(LtiDeployment).where(
            LtiDeployment.registration_id == reg.id, LtiDeployment.deployment_id == deployment_id.strip())).first()
        if row is None:
            raise NotFound(f"registration {reg.id} has no deployment {deployment_id!r} "
                           "(add it with `lti-tool platform deployments add`)", reason="unknown_deployment")
        row.status = status
        session.flush()
        return DeploymentView(row.deployment_id, row.status, row.created_at)


@dataclass(frozen=True)
class DeploymentRow:
    registration_id: int
    issuer: str
    client_id: str
    account_name: str
    deployment_id: str
    status: str
    created_at: datetime


def list_deployments(sessions: sessionmaker[Session], status: str | None = None) -> list[DeploymentRow]:
    with sessions() as session:
        query = (
            select(LtiDeployment, LtiRegistration.issuer, LtiRegistration.client_id, Account.name)
            .join(LtiRegistration, LtiRegistration.id == LtiDeployment.registration_id)
            .join(Account, Account.id == func.coalesce(LtiDeployment.account_id, LtiRegistration.account_id))
            .order_by(LtiDeployment.registration_id, LtiDeployment.id)
        )
        if status is not None:
            query = query.where(LtiDeployment.status == status)
        return [DeploymentRow(d.registration_id, issuer, client_id, name, d.deployment_id, d.status, d.created_at)
                for d, issuer, client_id, name in session.execute(query)]


def count_registrations(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LtiRegistration)) or 0)
