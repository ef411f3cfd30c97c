"""Registration service rules on a real database: URL checks, the issuer-prefix rule of Dynamic
Registration, account binding with registration codes, and racing duplicates."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from lti_tool.lti import registrations as regs
from lti_tool.lti.models import LtiRegistration
from store.accounts.models import Account
from store.errors import InvalidInput, NotFound
from tests.factories.licenses import T0, make_account

Sessions = sessionmaker[Session]


@pytest.fixture
def settings() -> Settings:
    return load_settings({"ENV": "test", "SECRET_KEY": "r" * 40})


def details(client_id: str = "client-1", *deployments: str) -> regs.PlatformDetails:
    return regs.PlatformDetails(
        issuer="https://lms.example.edu", client_id=client_id, auth_login_url="https://lms.example.edu/auth",
        auth_token_url="https://lms.example.edu/token", key_set_url="https://lms.example.edu/jwks",
        deployment_ids=deployments)


@pytest.mark.parametrize(
    ("issuer", "url", "ok"),
    [
        ("https://lms.edu", "https://lms.edu/api/openid", True),
        ("https://lms.edu", "https://lms.edu?x=1", True),
        ("https://lms.edu", "https://lms.edu", True),
        ("https://lms.edu/", "https://lms.edu/x", True),
        ("https://lms.edu/moodle", "https://lms.edu/moodle/mod/lti/openid-configuration.php", True),
        ("https://lms.edu", "https://lms.edu.evil.example/openid", False),
        ("https://lms.edu", "https://lms.education/openid", False),
        ("https://lms.edu/moodle", "https://lms.edu/moodle2/openid", False),
        ("https://lms.edu", "http://lms.edu/openid", False),
        ("https://other.edu", "https://lms.edu/openid", False),
    ],
)
def test_issuer_must_be_a_prefix_of_the_configuration_url_at_a_boundary(issuer: str, url: str, ok: bool) -> None:
    assert regs.issuer_is_prefix_of(issuer, url) is ok


def test_fetchable_urls_refuse_private_networks_in_production(settings: Settings) -> None:
    production = settings.with_overrides(env="production")
    for url in ("https://localhost/x", "https://127.0.0.1/x", "https://10.0.0.5/x", "https://[::1]/x",
                "https://169.254.169.254/latest", "https://app.localhost/x"):
        with pytest.raises(InvalidInput):
            regs.check_fetchable_url(url, production, "openid_configuration")
    assert regs.check_fetchable_url("https://lms.example.edu/x", production, "u") == "https://lms.example.edu/x"
    assert regs.check_fetchable_url("http://127.0.0.1:9/x", settings, "u") == "http://127.0.0.1:9/x"  # test env


def test_registration_codes_expire_and_are_bound_to_secret_and_account(settings: Settings) -> None:
    code = regs.make_registration_code(settings, 5, T0, days=2)
    regs.check_registration_code(settings, code, 5, T0 + timedelta(days=1))
    for bad_settings, account, when, fragment in [
        (settings, 5, T0 + timedelta(days=2, seconds=1), "expired"),
        (settings, 6, T0, "another account"),
        (settings.with_overrides(secret_key="q" * 40), 5, T0, "not valid"),
    ]:
        with pytest.raises(InvalidInput, match=fragment):
            regs.check_registration_code(bad_settings, code, account, when)
    for garbage in ("", "abc", code[:-2] + "xx"):
        with pytest.raises(InvalidInput, match="not valid"):
            regs.check_registration_code(settings, garbage, 5, T0)


def test_dynamic_registration_binds_to_a_new_or_an_existing_account(sessions: Sessions, settings: Settings) -> None:
    acme = make_account(sessions, "Acme")
    created = regs.register_dynamic(sessions, settings, regs.AccountBinding(new_account_name="  New Org  "),
                                    details("c-new"), T0)
    assert created.account_name == "New Org" and created.created_via == "dynamic" and created.deployments == ()
    with sessions() as s:
        assert s.scalar(select(Account.kind).where(Account.name == "New Org")) == "organization"

    code = regs.make_registration_code(settings, acme.id, T0)
    existing = regs.register_dynamic(sessions, settings, regs.AccountBinding(existing="Acme", registration_code=code),
                                     details("c-acme", "dep-1"), T0)
    assert existing.account_id == acme.id and [d.deployment_id for d in existing.deployments] == ["dep-1"]
    by_id = regs.register_dynamic(sessions, settings,
                                  regs.AccountBinding(existing=str(acme.id), registration_code=code),
                                  details("c-acme-2"), T0)
    assert by_id.account_id == acme.id


@pytest.mark.parametrize(
    ("binding", "error", "fragment"),
    [
        (regs.AccountBinding(), InvalidInput, "choose an existing account or create a new one"),
        (regs.AccountBinding(existing="Acme"), InvalidInput, "registration code is not valid"),
        (regs.AccountBinding(existing="Acme", registration_code="forged"), InvalidInput, "not valid"),
        (regs.AccountBinding(existing="Nobody", registration_code="x"), NotFound, "unknown account"),
        (regs.AccountBinding(existing=" "), InvalidInput, "enter the account's name or id"),
        (regs.AccountBinding(new_account_name="Acme"), InvalidInput, "already exists"),
        (regs.AccountBinding(new_account_name="  "), InvalidInput, "must not be empty"),
        (regs.AccountBinding(new_account_name="n" * 201), InvalidInput, "longer than 200"),
        (regs.AccountBinding(new_account_name="X", existing="Acme"), InvalidInput, "not both"),
    ],
)
def test_bad_account_choices_store_nothing(sessions: Sessions, settings: Settings, binding: regs.AccountBinding,
                                          error: type[Exception], fragment: str) -> None:
    make_account(sessions, "Acme")
    with pytest.raises(error, match=fragment):
        regs.check_binding(sessions, settings, binding, T0)
    with pytest.raises(error, match=fragment):
        regs.register_dynamic(sessions, settings, binding, details(), T0)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LtiRegistration)) == 0
        assert s.scalar(select(func.count()).select_from(Account)) == 1


def test_a_code_for_another_account_does_not_bind(sessions: Sessions, settings: Settings) -> None:
    make_account(sessions, "Acme")
    other = make_account(sessions, "Other")
    code = regs.make_registration_code(settings, other.id, T0)
    with pytest.raises(InvalidInput, match="another account"):
        regs.register_dynamic(sessions, settings, regs.AccountBinding(existing="Acme", registration_code=code),
                              details(), T0)


@pytest.mark.race
def test_racing_registrations_of_the_same_pair_store_one(committing_sessions: Sessions, settings: Settings) -> None:
    make_account(committing_sessions, "Acme")
    workers = 4
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def add() -> None:
        barrier.wait()
        try:
            regs.add_registration(committing_sessions, settings, "Acme", details("same", "d"), T0)
            outcomes.append("ok")
        except InvalidInput as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=add) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate_registration"] * (workers - 1) + ["ok"]
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(LtiRegistration)) == 1
