"""The services keep the input rule themselves, whoever calls them (web, CLI, dynamic
registration, tests): NUL and surrogates refused with ``invalid_text``, lengths checked against
the columns with ``text_too_long``, before anything reaches the database — on both databases,
where PostgreSQL used to answer a DataError (NUL, VARCHAR overflow) and SQLite stored it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.lti import registrations
from lti_tool.lti.registrations import PlatformDetails
from store.accounts.models import Account, Learner
from store.accounts.service import LearnerIdentity, create_account
from store.licenses import service as licenses
from store.licenses.models import PpuConfig, Seat
from store.text import InvalidText
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, make_account

Sessions = sessionmaker[Session]
ISSUER = "https://lms.example.edu"


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(("identity", "reason", "field"), [
    (LearnerIdentity("lti:" + ISSUER, "u\x00"), "invalid_text", "learner id"),
    (LearnerIdentity("lti:" + ISSUER, "u\ud800"), "invalid_text", "learner id"),
    (LearnerIdentity("lti:" + ISSUER, "u" * 4001), "text_too_long", "learner id"),
    (LearnerIdentity("lti:" + ISSUER + "\x00", "u1"), "invalid_text", "identity source"),
    (LearnerIdentity("s" * 301, "u1"), "text_too_long", "identity source"),
    (LearnerIdentity("lti:" + ISSUER, "u1", name="N" * 301), "text_too_long", "learner name"),
    (LearnerIdentity("lti:" + ISSUER, "u1", name="Ada\x00"), "invalid_text", "learner name"),
    (LearnerIdentity("lti:" + ISSUER, "u1", email="e" * 321), "text_too_long", "learner email"),
    (LearnerIdentity("lti:" + ISSUER, "u1", username="u\udfff"), "invalid_text", "learner username"),
])
def test_claim_seat_checks_the_learner_before_the_transaction(sessions: Sessions, identity: LearnerIdentity,
                                                              reason: str, field: str) -> None:
    account_id = make_account(sessions).id
    with sessions.begin() as s:
        make_course(s, "PLUS-1", is_plus=True)
    licenses.grant_plus(sessions, account_id, 5, "annual", T0)
    with pytest.raises(InvalidText) as info:
        licenses.claim_seat(sessions, licenses.ClaimRequest(account_id, "plus", "PLUS-1", identity), T0)
    assert (info.value.reason, info.value.field) == (reason, field)
    assert count(sessions, Learner) == 0 and count(sessions, Seat) == 0
    fine = LearnerIdentity("lti:" + ISSUER, "u" * 4000, name="Ada\tLovelace\n", email="a@b.c", username="ada")
    assert licenses.claim_seat(sessions, licenses.ClaimRequest(account_id, "plus", "PLUS-1", fine), T0).ok


def test_ppu_contract_and_account_names(sessions: Sessions) -> None:
    account_id = make_account(sessions).id
    for contract, reason in (("C" * 201, "text_too_long"), ("C\x00", "invalid_text"), ("C\ud800", "invalid_text")):
        with pytest.raises(InvalidText) as info:
            licenses.configure_ppu(sessions, account_id, contract, 100, T0)
        assert info.value.reason == reason
    assert count(sessions, PpuConfig) == 0
    assert licenses.configure_ppu(sessions, account_id, " " + "C" * 200 + " ", 100, T0).contract_ref == "C" * 200
    before = count(sessions, Account)
    for name in ("A\x00", "A\ud800", "Two\nlines"):
        with pytest.raises(InvalidText):
            create_account(sessions, name, T0)
    assert count(sessions, Account) == before


@pytest.mark.parametrize("change", [
    {"issuer": ISSUER + "/\x00"}, {"client_id": "cid\x00"}, {"auth_login_url": ISSUER + "/login\ud800"},
    {"key_set_url": ISSUER + "/jw\nks"}, {"label": "Moodle\x00"}, {"deployment_ids": ("d1", "d\x00")},
])
def test_registrations_refuse_broken_text(sessions: Sessions, change: dict[str, object]) -> None:
    """What an LMS returns to Dynamic Registration or staff type: refused, not a PostgreSQL error."""
    account_id = make_account(sessions).id
    details = {"issuer": ISSUER, "client_id": "cid", "auth_login_url": ISSUER + "/login",
               "auth_token_url": ISSUER + "/token", "key_set_url": ISSUER + "/jwks", "label": "Moodle",
               "deployment_ids": ("d1",), **change}
    settings = load_settings({"ENV": "test"})
    with pytest.raises(InvalidText) as info:
        registrations.add_registration(sessions, settings, account_id, PlatformDetails(**details), T0)  # type: ignore[arg-type]
    assert info.value.reason == "invalid_text"
    assert registrations.list_registrations(sessions, None) == []
