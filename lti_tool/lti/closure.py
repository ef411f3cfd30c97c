"""The LTI part of closing an account (``store.closure.service.close_account`` runs it in its
transaction, wired by ``lti-tool staff close-account``): the account's web sessions (their data
names the account; no foreign key), its registrations with their deployments, login states, used
nonces, stored launches and grade posts (through the schema's cascades), and the cached key sets
of LMSs no other registration uses.

A registration that carries another account's deployment (Blackboard: one registration, a
deployment per institution) would take that account's deployment with it: closing is refused
(``registration_shared``) until staff move or remove those deployments.

Cached LMS access tokens (``lti_service_tokens``) are keyed by a hash of issuer, client id and
scopes, with nothing naming an account; they expire within the hour and nothing can use them once
the registration is gone.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lti_tool.lti.models import LtiDeployment, LtiLaunch, LtiPlatformKeySet, LtiRegistration, WebSession
from store.errors import InvalidInput


def closure_step(session: Session, account_id: int) -> Mapping[str, int]:
    shared = session.execute(
        select(LtiRegistration.id, func.count(LtiDeployment.id))
        .join(LtiDeployment, LtiDeployment.registration_id == LtiRegistration.id)
        .where(LtiRegistration.account_id == account_id, LtiDeployment.account_id.is_not(None),
               LtiDeployment.account_id != account_id)
        .group_by(LtiRegistration.id)).all()
    if shared:
        ids = ", ".join(str(reg) for reg, _n in shared)
        raise InvalidInput(f"registration {ids} also serves other accounts' deployments; move or remove those "
                           "deployments first (lti-tool platform deployments); nothing was changed",
                           reason="registration_shared")
    registrations = select(LtiRegistration.id).where(LtiRegistration.account_id == account_id)
    own_urls = select(LtiRegistration.key_set_url).where(LtiRegistration.account_id == account_id)
    others_urls = select(LtiRegistration.key_set_url).where(LtiRegistration.account_id != account_id)
    removed = {
        "lti_registrations": int(session.scalar(select(func.count()).select_from(registrations.subquery())) or 0),
        "lti_launches": int(session.scalar(select(func.count()).select_from(LtiLaunch)
                                           .where(LtiLaunch.account_id == account_id)) or 0),
    }
    removed["web_sessions"] = int(session.execute(
        delete(WebSession).where(WebSession.data["account_id"].as_integer() == account_id)).rowcount or 0)
    session.execute(delete(LtiPlatformKeySet).where(LtiPlatformKeySet.key_set_url.in_(own_urls),
                                                    LtiPlatformKeySet.key_set_url.not_in(others_urls)))
    # The registrations themselves (and what hangs off them) go with the account row.
    return removed
