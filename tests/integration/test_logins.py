"""Independent learners' logins on real databases: sign-up (one transaction, unique
case-insensitive emails, a race on one address), sign-in (wrong password, unknown address,
rate limits), password reset (mailed after the commit, single use, expiry, no enumeration)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.logins import (
    FormProblems,
    LoginView,
    ResetLinkInvalid,
    SignInFailed,
    Throttle,
    get_login,
    request_password_reset,
    reset_link_is_valid,
    reset_password,
    sign_in,
    sign_up,
)
from store.accounts.models import Account, Learner, Login, PasswordReset
from store.accounts.service import create_account
from store.mail import OutboxMailer, list_outbox
from store.mail.models import MailMessage
from store.ratelimit.models import RateLimitCounter
from store.ratelimit.service import RateLimited
from tests.factories.licenses import T0

Sessions = sessionmaker[Session]

PASSWORD = "correct horse battery"
THROTTLE = Throttle("test-secret", signin_per_email_per_hour=3, per_client_per_hour=5, reset_per_email_per_hour=2)
CLIENT = "192.0.2.10"
LINK = "https://tool.test/store/reset/"


def counts(sessions: Sessions) -> tuple[int, ...]:
    with sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0
                     for m in (Account, Login, Learner, PasswordReset, MailMessage))


def signed_up(sessions: Sessions, name: str = "Jane Doe", email: str = "Jane@Example.com",
              password: str = PASSWORD, client: str = CLIENT) -> LoginView:
    return sign_up(sessions, THROTTLE, client, name, email, password, T0)


def request_reset(sessions: Sessions, email: str, now=T0, client: str = CLIENT) -> None:  # type: ignore[no-untyped-def]
    request_password_reset(sessions, OutboxMailer(sessions, "store@tool.test"), THROTTLE, client, email,
                           lambda token: LINK + token, 3600, now)


def mailed_token(sessions: Sessions) -> str:
    with sessions() as s:
        body = list_outbox(s, 1)[0].body
    found = re.search(re.escape(LINK) + r"(\S+)", body)
    assert found, body
    return found.group(1)


# ---------------------------------------------------------------- sign-up


def test_sign_up_creates_the_account_its_login_and_its_own_learner(sessions: Sessions) -> None:
    login = signed_up(sessions, name="  Jane   Doe ", email=" Jane@Example.com ")
    with sessions() as s:
        account = s.get(Account, login.account_id)
        assert account is not None and (account.name, account.kind) == ("Jane Doe", "individual")
        row = s.get(Login, login.id)
        assert row is not None
        assert (row.email, row.email_normalized, row.name) == ("Jane@Example.com", "jane@example.com", "Jane Doe")
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
        learner = s.get(Learner, login.learner_id)
        assert learner is not None and learner.account_id == account.id
        assert (learner.identity_source, learner.external_id) == (f"login:{login.id}", str(login.id))
        assert (learner.name, learner.email) == ("Jane Doe", "Jane@Example.com")
        assert get_login(s, login.id) == login
    assert login.identity.source == f"login:{login.id}"


def test_an_email_is_taken_whatever_its_case_and_nothing_changes(sessions: Sessions) -> None:
    signed_up(sessions)
    before = counts(sessions)
    with pytest.raises(FormProblems) as taken:
        signed_up(sessions, name="Someone Else", email="jANE@example.COM")
    assert taken.value.reason == "email_taken" and "exists already" in taken.value.problems["email"]
    assert counts(sessions) == before


def test_the_account_is_named_after_the_person_and_unique(sessions: Sessions) -> None:
    create_account(sessions, "Jane Doe", T0)  # an organization took the name
    first = signed_up(sessions, email="jane1@example.com")
    second = signed_up(sessions, email="jane2@example.com")
    with sessions() as s:
        names = [s.get(Account, v.account_id).name for v in (first, second)]  # type: ignore[union-attr]
    assert names == ["Jane Doe (2)", "Jane Doe (3)"]


@pytest.mark.parametrize(("name", "email", "password", "fields"), [
    ("", "jane@example.com", PASSWORD, {"name"}),
    ("Jane", "jane.example.com", PASSWORD, {"email"}),
    ("Jane", "jane@example", PASSWORD, {"email"}),
    ("Jane", "jane@example.com", "short pass", {"password"}),  # 10 characters
    ("Jane", "jane@example.com", "x" * 201, {"password"}),
    ("Jane", "longaddress@example.com", "LongAddress@Example.com", {"password"}),  # the email itself
    ("Jane\nDoe", "jane@example.com", PASSWORD, {"name"}),
    ("", "", "", {"name", "email", "password"}),
])
def test_sign_up_problems_are_named_per_field_and_change_nothing(sessions: Sessions, name: str, email: str,
                                                                  password: str, fields: set[str]) -> None:
    with pytest.raises(FormProblems) as problems:
        signed_up(sessions, name=name, email=email, password=password)
    assert set(problems.value.problems) == fields
    assert counts(sessions) == (0, 0, 0, 0, 0)
    with sessions() as s:  # a refused form is not counted against the client
        assert s.scalar(select(func.count()).select_from(RateLimitCounter)) == 0


def test_twelve_characters_are_enough_and_two_hundred_the_most(sessions: Sessions) -> None:
    signed_up(sessions, email="a@example.com", password="x" * 12)
    signed_up(sessions, email="b@example.com", password="y" * 200)
    assert counts(sessions)[1] == 2


@pytest.mark.race
def test_simultaneous_sign_ups_with_one_email_make_one_account(committing_sessions: Sessions) -> None:
    n = 6
    barrier = threading.Barrier(n, timeout=60)
    throttle = Throttle("s", per_client_per_hour=100)

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            sign_up(committing_sessions, throttle, f"198.51.100.{i}", f"Racer {i}",
                    "Race@Example.com" if i % 2 else "race@example.com", PASSWORD, T0)
        except FormProblems as exc:
            return exc.reason
        return "created"

    with ThreadPoolExecutor(max_workers=n) as pool:
        outcome = Counter(pool.map(attempt, range(n)))
    assert outcome == {"created": 1, "email_taken": n - 1}
    assert counts(committing_sessions)[:3] == (1, 1, 1)


@pytest.mark.race
def test_simultaneous_sign_ups_with_one_name_get_distinct_account_names(committing_sessions: Sessions) -> None:
    n = 4
    barrier = threading.Barrier(n, timeout=60)
    throttle = Throttle("s", per_client_per_hour=100)

    def attempt(i: int) -> int:
        barrier.wait()
        return sign_up(committing_sessions, throttle, CLIENT, "Sam Same", f"sam{i}@example.com", PASSWORD,
                       T0).account_id

    with ThreadPoolExecutor(max_workers=n) as pool:
        account_ids = list(pool.map(attempt, range(n)))
    with committing_sessions() as s:
        names = sorted(s.get(Account, i).name for i in account_ids)  # type: ignore[union-attr]
    assert names == ["Sam Same", "Sam Same (2)", "Sam Same (3)", "Sam Same (4)"]


def test_sign_ups_are_limited_per_client(sessions: Sessions) -> None:
    for i in range(THROTTLE.per_client_per_hour):
        signed_up(sessions, email=f"user{i}@example.com")
    with pytest.raises(RateLimited):
        signed_up(sessions, email="one.more@example.com")
    signed_up(sessions, email="elsewhere@example.com", client="203.0.113.7")
    assert counts(sessions)[1] == THROTTLE.per_client_per_hour + 1


# ---------------------------------------------------------------- sign-in


def test_sign_in_with_the_right_password_in_any_case_of_the_email(sessions: Sessions) -> None:
    login = signed_up(sessions)
    assert sign_in(sessions, THROTTLE, CLIENT, "  JANE@example.com", PASSWORD, T0) == login
    with sessions() as s:
        assert s.get(Login, login.id).last_signin_at == T0  # type: ignore[union-attr]


def test_a_wrong_password_and_an_unknown_email_fail_the_same_way(sessions: Sessions) -> None:
    signed_up(sessions)
    failures = []
    for email, password in (("jane@example.com", "wrong password!"), ("nobody@example.com", PASSWORD),
                            ("jane@example.com", PASSWORD + " "), ("jane@example.com", "x" * 10_000)):
        with pytest.raises(SignInFailed) as failed:
            sign_in(sessions, Throttle("s", signin_per_email_per_hour=10), CLIENT, email, password, T0)
        failures.append((failed.value.reason, failed.value.message))
    assert len(set(failures)) == 1 and failures[0][0] == "wrong_credentials"


def test_empty_fields_are_form_problems_and_not_counted(sessions: Sessions) -> None:
    with pytest.raises(FormProblems) as problems:
        sign_in(sessions, THROTTLE, CLIENT, " ", "", T0)
    assert set(problems.value.problems) == {"email", "password"}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(RateLimitCounter)) == 0


def test_sign_in_is_limited_per_email_even_for_the_right_password(sessions: Sessions) -> None:
    signed_up(sessions)
    for _ in range(THROTTLE.signin_per_email_per_hour):
        with pytest.raises(SignInFailed):
            sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", "guess guess guess", T0)
    with pytest.raises(RateLimited) as limited:
        sign_in(sessions, THROTTLE, "203.0.113.9", "Jane@example.com", PASSWORD, T0 + timedelta(minutes=10))
    assert limited.value.limit.scope == "signin-email" and limited.value.retry_after_seconds == 50 * 60
    # An unknown address is limited the same way (nothing tells it apart).
    for _ in range(THROTTLE.signin_per_email_per_hour):
        with pytest.raises(SignInFailed):
            sign_in(sessions, THROTTLE, "203.0.113.10", "nobody@example.com", PASSWORD, T0)
    with pytest.raises(RateLimited):
        sign_in(sessions, THROTTLE, "203.0.113.11", "nobody@example.com", PASSWORD, T0)
    # The next hour counts afresh.
    assert sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", PASSWORD, T0 + timedelta(hours=1)).name == "Jane Doe"
    with sessions() as s:  # keys are keyed hashes, never an address
        keys = [k for k, in s.execute(select(RateLimitCounter.key))]
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_sign_in_is_limited_per_client_across_emails(sessions: Sessions) -> None:
    for i in range(THROTTLE.per_client_per_hour):
        with pytest.raises(SignInFailed):
            sign_in(sessions, THROTTLE, CLIENT, f"user{i}@example.com", PASSWORD, T0)
    with pytest.raises(RateLimited) as limited:
        sign_in(sessions, THROTTLE, CLIENT, "another@example.com", PASSWORD, T0)
    assert limited.value.limit.scope == "signin-client"


# ---------------------------------------------------------------- password reset


def test_a_reset_link_is_mailed_after_the_commit_and_sets_a_new_password_once(sessions: Sessions) -> None:
    login = signed_up(sessions)
    request_reset(sessions, "JANE@example.com")
    with sessions() as s:
        mail = list_outbox(s, 5)
        stored = s.scalars(select(PasswordReset)).one()
    assert len(mail) == 1 and mail[0].to_address == "Jane@Example.com" and mail[0].subject == "Reset your password"
    assert "Hello Jane Doe" in mail[0].body and "60 minutes" in mail[0].body
    token = mailed_token(sessions)
    assert token not in stored.token_hash and len(stored.token_hash) == 64  # only its hash is kept
    with sessions() as s:
        assert reset_link_is_valid(s, token, T0)
    changed = reset_password(sessions, token, "a brand new passphrase", T0 + timedelta(minutes=5))
    assert changed == login
    assert sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", "a brand new passphrase", T0).id == login.id
    with pytest.raises(SignInFailed):
        sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", PASSWORD, T0)
    with pytest.raises(ResetLinkInvalid):  # single use
        reset_password(sessions, token, "yet another passphrase", T0 + timedelta(minutes=6))
    with sessions() as s:
        assert not reset_link_is_valid(s, token, T0 + timedelta(minutes=6))


def test_a_reset_link_expires(sessions: Sessions) -> None:
    signed_up(sessions)
    request_reset(sessions, "jane@example.com")
    token = mailed_token(sessions)
    with sessions() as s:
        assert reset_link_is_valid(s, token, T0 + timedelta(minutes=59))
        assert not reset_link_is_valid(s, token, T0 + timedelta(hours=1))
    with pytest.raises(ResetLinkInvalid):
        reset_password(sessions, token, "a brand new passphrase", T0 + timedelta(hours=1))
    assert sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", PASSWORD, T0).name == "Jane Doe"


def test_a_bad_new_password_keeps_the_link_usable_and_changes_nothing(sessions: Sessions) -> None:
    signed_up(sessions)
    request_reset(sessions, "jane@example.com")
    token = mailed_token(sessions)
    for bad in ("too short", "jane@example.com", "JANE@EXAMPLE.COM"):
        with pytest.raises(FormProblems) as problems:
            reset_password(sessions, token, bad, T0)
        assert set(problems.value.problems) == {"password"}
    with sessions() as s:
        assert reset_link_is_valid(s, token, T0)
    assert sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", PASSWORD, T0).name == "Jane Doe"


def test_using_one_link_uses_up_the_others(sessions: Sessions) -> None:
    signed_up(sessions)
    request_reset(sessions, "jane@example.com")
    first = mailed_token(sessions)
    request_reset(sessions, "jane@example.com", now=T0 + timedelta(minutes=1))
    second = mailed_token(sessions)
    assert first != second
    reset_password(sessions, second, "a brand new passphrase", T0 + timedelta(minutes=2))
    with pytest.raises(ResetLinkInvalid):
        reset_password(sessions, first, "another new passphrase", T0 + timedelta(minutes=3))


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 5000])
def test_unknown_reset_links_are_invalid(sessions: Sessions, token: str) -> None:
    signed_up(sessions)
    with sessions() as s:
        assert not reset_link_is_valid(s, token, T0)
    with pytest.raises(ResetLinkInvalid):
        reset_password(sessions, token, "a brand new passphrase", T0)


def test_a_reset_for_an_unknown_email_answers_the_same_and_mails_nothing(sessions: Sessions) -> None:
    signed_up(sessions)
    assert request_reset(sessions, "nobody@example.com") is None  # type: ignore[func-returns-value]
    assert counts(sessions)[3:] == (0, 0)  # no link, no mail
    with pytest.raises(FormProblems):
        request_reset(sessions, "not an email")


def test_reset_requests_are_limited_per_email(sessions: Sessions) -> None:
    signed_up(sessions)
    for _ in range(THROTTLE.reset_per_email_per_hour):
        request_reset(sessions, "jane@example.com")
    with pytest.raises(RateLimited):
        request_reset(sessions, "Jane@Example.com", client="203.0.113.50")
    assert counts(sessions)[4] == THROTTLE.reset_per_email_per_hour  # mails
    for _ in range(THROTTLE.reset_per_email_per_hour):
        request_reset(sessions, "nobody@example.com")
    with pytest.raises(RateLimited):  # unknown addresses alike
        request_reset(sessions, "nobody@example.com", client="203.0.113.51")


def test_a_password_reset_while_signing_in_makes_the_checked_password_an_old_one(
        sessions: Sessions, monkeypatch: pytest.MonkeyPatch) -> None:
    login = signed_up(sessions)
    from store.accounts import logins as module
    real_verify = module.verify_password

    def verify_then_reset(password_hash: str, password: str) -> bool:
        ok = real_verify(password_hash, password)
        with sessions.begin() as s:  # the reset lands between the check and the sign-in's update
            s.execute(update(Login).where(Login.id == login.id).values(password_hash="$argon2id$changed"))
        return ok

    monkeypatch.setattr(module, "verify_password", verify_then_reset)
    with pytest.raises(SignInFailed):
        sign_in(sessions, THROTTLE, CLIENT, "jane@example.com", PASSWORD, T0)
    with sessions() as s:
        assert s.get(Login, login.id).last_signin_at is None  # type: ignore[union-attr]
