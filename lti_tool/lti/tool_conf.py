"""Platform registrations as the login/launch see them, and a pylti1p3 ``ToolConf`` backed by
the database for code that wants pylti1p3's service objects (``Registration``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.errors import bad_request
from lti_tool.lti.models import LtiDeployment, LtiRegistration


@dataclass(frozen=True)
class RegistrationView:
    id: int
    account_id: int
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    auth_audience: str | None
    key_set_url: str
    extra_origins: tuple[str, ...]
    label: str
    # Self-made by an anonymous Dynamic Registration and not reviewed by staff yet.
    needs_review: bool = False

    @classmethod
    def of(cls, row: LtiRegistration) -> RegistrationView:
        return cls(row.id, row.account_id, row.issuer, row.client_id, row.auth_login_url, row.auth_token_url,
                   row.auth_audience, row.key_set_url, tuple(row.extra_origins or ()), row.label,
                   bool(row.needs_review))


def find_registration(session: Session, issuer: str, client_id: str | None) -> RegistrationView | None:
    """The registration for (issuer, client id); without a client id, the issuer's only one.

    Raises a 400 LaunchError when several registrations share the issuer and no client id was
    given (Blackboard and Canvas cloud use one issuer for many client ids).
    """
    if client_id:
        row = session.scalars(
            select(LtiRegistration).where(LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id)
        ).first()
        return RegistrationView.of(row) if row else None
    rows = list(session.scalars(select(LtiRegistration).where(LtiRegistration.issuer == issuer).limit(2)))
    if len(rows) > 1:
        raise bad_request(
            "ambiguous_registration",
            f"Several registrations share the issuer '{issuer}' and the login request did not say which "
            "client id it is for.",
            "Configure the LMS to send client_id with the login request (LTI 1.3 platforms normally do), "
            "or keep one registration per issuer.",
        )
    return RegistrationView.of(rows[0]) if rows else None


def get_registration(session: Session, registration_id: int) -> RegistrationView | None:
    row = session.get(LtiRegistration, registration_id)
    return RegistrationView.of(row) if row else None


def find_deployment_status(session: Session, registration_id: int, deployment_id: str) -> str | None:
    """'active', 'pending', 'disabled', or None when the deployment is unknown."""
    return session.scalars(
        select(LtiDeployment.status).where(
            LtiDeployment.registration_id == registration_id, LtiDeployment.deployment_id == deployment_id
        )
    ).first()


# ---------------------------------------------------------------- pylti1p3 adapter


def pylti_registration(reg: RegistrationView, tool_private_key_pem: str | None = None,
                       tool_public_key_pem: str | None = None) -> Registration:
    """A pylti1p3 ``Registration`` for a stored registration (e.g. for its service connector)."""
    registration = (
        Registration()
        .set_issuer(reg.issuer)
        .set_client_id(reg.client_id)
        .set_auth_login_url(reg.auth_login_url)
        .set_auth_token_url(reg.auth_token_url)
        .set_key_set_url(reg.key_set_url)
    )
    if reg.auth_audience:
        registration.set_auth_audience(reg.auth_audience)
    if tool_private_key_pem:
        registration.set_tool_private_key(tool_private_key_pem)
    if tool_public_key_pem:
        registration.set_tool_public_key(tool_public_key_pem)
    return registration


ToolKeyProvider = Callable[[], tuple[str, str] | None]  # () -> (private PEM, public PEM)


class DbToolConf(ToolConfAbstract):  # type: ignore[type-arg]
    """pylti1p3's ``ToolConfAbstract`` over the registration tables (one issuer, many client ids).

    The login and launch of this tool do not go through pylti1p3's OIDCLogin/MessageLaunch (see
    lti_tool/lti/security.py for why); this adapter serves code that uses pylti1p3 service classes.
    """

    def __init__(self, session: Session, tool_key: ToolKeyProvider | None = None) -> None:
        self._session = session
        self._tool_key = tool_key
        # Every issuer may have several client ids: never the legacy one-client lookup.
        self.issuers_relation_types = _ManyClients()

    def _to_pylti(self, reg: RegistrationView | None) -> Registration | None:
        if reg is None:
            return None
        keys = self._tool_key() if self._tool_key else None
        return pylti_registration(reg, *(keys or (None, None)))

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:  # type: ignore[override]
        return self._to_pylti(find_registration(self._session, iss, None))

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any,  # type: ignore[override]
                                    **kwargs: Any) -> Registration | None:
        return self._to_pylti(find_registration(self._session, iss, client_id or None))

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        reg = find_registration(self._session, iss, None)
        return self._deployment(reg, deployment_id)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str, *args: Any,
                                  **kwargs: Any) -> Deployment | None:
        reg = find_registration(self._session, iss, client_id or None)
        return self._deployment(reg, deployment_id)

    def _deployment(self, reg: RegistrationView | None, deployment_id: str) -> Deployment | None:
        if reg is None or find_deployment_status(self._session, reg.id, deployment_id) != "active":
            return None
        return Deployment().set_deployment_id(deployment_id)


class _ManyClients(dict):  # type: ignore[type-arg]
    """``issuers_relation_types`` answering "many client ids" for every issuer."""

    def get(self, key: Any, default: Any = None) -> str:  # noqa: ARG002
        return "one-issuer-many-client-ids"
