"""Accounts and licenses for tests, made through the real services (one transaction each)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from store.accounts.service import AccountView, LearnerIdentity, create_account
from store.licenses.service import ClaimRequest, ClaimResult, claim_seat

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def make_account(sessions: sessionmaker[Session], name: str = "Acme Learning", now: datetime = T0) -> AccountView:
    return create_account(sessions, name, now)


def learner(external_id: str, source: str = "lti:https://lms.example.edu") -> LearnerIdentity:
    return LearnerIdentity(source=source, external_id=external_id)


def claim(sessions: sessionmaker[Session], account_id: int, license_type: str, catalog_id: str,
          learner_id: str, now: datetime) -> ClaimResult:
    return claim_seat(sessions, ClaimRequest(account_id, license_type, catalog_id, learner(learner_id)), now)
