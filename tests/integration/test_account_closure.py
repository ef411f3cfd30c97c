"""Closing an account removes every row of it — in every table of the schema, directly or through
foreign keys — and leaves another account's rows and the catalog exactly as they were.

Two accounts get the same rich history (logins and reset links, learners of every delivery
method and their identity links, seats of every license type, launches, progress, refusals,
licenses and the deposit ledger, carts, orders paid through the local gateway, quotes, renewals,
invitations and their mail, closure requests, LMS registrations with deployments, login states,
nonces, launches, grade posts and web sessions, SCORM packages with allowed domains, launches and
used tokens). Then one is closed. The walk follows ``Base.metadata.sorted_tables`` (the full-text
search tables index the catalog only, which stays)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.lti.closure import closure_step as lti_step
from lti_tool.lti.models import (
    LtiDeployment,
    LtiLaunch,
    LtiLoginState,
    LtiPlatformKeySet,
    LtiRegistration,
    LtiScorePost,
    LtiUsedNonce,
    WebSession,
)
from scorm_packages import service as packages
from scorm_packages.service import closure_step as dispatch_step
from scorm_packages.tokens import make_launch_token
from store.accounts.linking import set_identity_linking
from store.accounts.logins import Throttle, request_password_reset, sign_up
from store.accounts.models import Login, PasswordReset
from store.accounts.service import LearnerIdentity
from store.closure.service import close_account, closure_preview, list_closure_requests, request_account_closure
from store.errors import InvalidInput, NotFound
from store.invitations.service import send_invitations
from store.licenses import service as licenses
from store.licenses.models import PlusSubscription
from store.licenses.service import ClaimRequest, claim_seat
from store.mail import OutboxMailer
from store.mail.models import MailMessage
from store.models import Base
from store.orders import service as store
from store.orders.models import SubscriptionRenewal
from store.progress.models import CourseProgress
from store.ratelimit.models import RateLimitCounter
from tests.factories.catalog import make_course
from tests.factories.licenses import T0
from tests.factories.orders import Shop, make_shop

Sessions = sessionmaker[Session]
NOW = T0 + timedelta(days=5)

# Tables that hold no account's rows, and why closing an account leaves them.
KEPT = {
    "publishers": "the catalog",
    "bundles": "the catalog",
    "courses": "the catalog",
    "course_contents": "the catalog's imported content",
    "local_gateway_methods": "the payment processor's ledger (a token, brand, last four digits; no name)",
    "local_gateway_charges": "the payment processor's ledger",
    "local_gateway_refunds": "the payment processor's ledger",
    "rate_limit_counters": "keyed hashes that expire",
    "lti_tool_keys": "the tool's own signing keys",
    "app_secrets": "the tool's own secrets",
    "lti_service_tokens": "LMS access tokens keyed by a hash, expiring within the hour",
    "lti_platform_key_sets": "public keys of LMSs (those only the closed account used are deleted)",
    "jobs": "the background jobs' schedule (one row per job, no account's data)",
}


def populate(sessions: Sessions, name: str, n: int) -> tuple[int, Shop]:
    """An account with a bit of everything; ``n`` keeps its unique values apart."""
    shop = make_shop(sessions, name)
    account_id = shop.owner.account_id
    shop.buy(store.PlusItem("annual", 5), store.VolumeItem("VOL-1", 3), now=T0)
    store.request_quote(sessions, shop.owner, "Ann", f"ann{n}@example.com", "More please",
                        [store.VolumeItem("VOL-1", 5000)], T0)
    shop.add(store.VolumeItem("VOL-1", 2), T0)  # a cart left with a line in it
    licenses.configure_ppu(sessions, account_id, f"CTR-{n}", 10_000, T0)
    licenses.add_to_ppu_library(sessions, account_id, "PPU-1", T0)
    set_identity_linking(sessions, account_id, True)

    def claim(course: str, license_type: str, who: LearnerIdentity):  # type: ignore[no-untyped-def]
        return claim_seat(sessions, ClaimRequest(account_id, license_type, course, who), T0 + timedelta(hours=1))

    lti = claim("PLUS-1", "plus", LearnerIdentity("lti:https://lms.example.edu", f"sub-{n}", name="Ada",
                                                  email=f"ada{n}@example.com", username=f"ada{n}"))
    claim("VOL-1", "volume", LearnerIdentity("lti:https://lms.example.edu", f"sub-{n}", email=f"ada{n}@example.com"))
    claim("PPU-1", "ppu", LearnerIdentity("lti:https://lms.example.edu", f"bob-{n}"))
    claim("NOPE", "plus", LearnerIdentity("lti:https://lms.example.edu", f"cy-{n}"))  # a refusal
    assert lti.seat is not None
    send_invitations(sessions, OutboxMailer(sessions, "store@tool.test"), account_id, shop.owner.learner_id,
                     "VOL-1", "volume", f"dee{n}@example.com", T0, link_for=lambda t: f"https://t/i/{t}",
                     demo_content=True)
    request_account_closure(sessions, account_id, shop.owner.learner_id, "Please close us.", T0)
    settings = load_settings({"ENV": "test", "SECRET_KEY": "s" * 48, "PUBLIC_BASE_URL": "https://tool.test"})
    prepared = packages.prepare_package(sessions, settings, account_id, "PLUS-1", "plus", "scorm12", T0)
    packages.allow_domain(sessions, account_id, f"lms{n}.example.edu", T0)
    launch = packages.dispatch_launch(sessions, settings, packages.LaunchRequest(make_launch_token(
        package_key=prepared.view.key, generation=1, secret=prepared.secret, learner_id=f"ada{n}", learner_name="A",
        page_origin=None, referrer_origin=None, now=T0), f"https://lms{n}.example.edu"), T0)
    assert launch.ok
    packages.dispatch_launch(sessions, settings, packages.LaunchRequest(make_launch_token(
        package_key=prepared.view.key, generation=1, secret=prepared.secret, learner_id="x", learner_name="X",
        page_origin=None, referrer_origin=None, now=T0), "https://elsewhere.example.com"), T0)  # refused: domain
    with sessions.begin() as s:
        sub = s.scalars(select(PlusSubscription).where(PlusSubscription.account_id == account_id)).one()
        s.add(SubscriptionRenewal(account_id=account_id, subscription_id=sub.id, period_end=sub.current_period_end,
                                  status="open", attempts=1, grace_until=sub.current_period_end + timedelta(days=7),
                                  failure_reason="card_declined"))
        s.add(CourseProgress(seat_id=lti.seat.id, course_pk=lti_course_pk(s), completion_status="incomplete", cmi={}))
        login = Login(account_id=account_id, name="Ada", email=f"Ada{n}@Example.com",
                      email_normalized=f"ada{n}@example.com", password_hash="x" * 20)
        s.add(login)
        s.flush()
        s.add(PasswordReset(login_id=login.id, token_hash=f"{n:064d}", expires_at=T0 + timedelta(hours=1)))
        s.add(MailMessage(backend="outbox", status="stored", from_address="store@tool.test",  # sent before mail
                          to_address=f" ADA{n}@example.com", subject="Reset", body="link", account_id=None))  # was tagged
        reg = LtiRegistration(account_id=account_id, issuer=f"https://lms{n}.example.edu", client_id=f"client-{n}",
                              auth_login_url=f"https://lms{n}.example.edu/auth",
                              auth_token_url=f"https://lms{n}.example.edu/token",
                              key_set_url=f"https://lms{n}.example.edu/jwks", extra_origins=[], label="LMS")
        s.add(reg)
        s.flush()
        s.add(LtiDeployment(registration_id=reg.id, deployment_id="dep-1", status="active"))
        s.add(LtiLoginState(state=f"state-{n}", nonce=f"nonce-{n}", registration_id=reg.id,
                            target_link_uri="https://tool.test/lti/launch", expires_at=NOW))
        s.add(LtiUsedNonce(registration_id=reg.id, nonce=f"used-{n}", expires_at=NOW))
        s.add(LtiPlatformKeySet(key_set_url=reg.key_set_url, jwks={"keys": []}, fetched_at=T0))
        s.add(LtiLaunch(id=f"launch-{n}", registration_id=reg.id, deployment_id="dep-1", account_id=account_id,
                        learner_id=lti.learner_id, message_type="LtiResourceLinkRequest", claims={}, expires_at=NOW))
        s.add(LtiScorePost(registration_id=reg.id, seat_id=lti.seat.id, lineitem_url="https://lms/li", payload={},
                           next_attempt_at=NOW))
        s.add(WebSession(id=f"{n:064d}", data={"account_id": account_id, "learner_id": lti.learner_id},
                         expires_at=NOW))
        s.add(RateLimitCounter(scope="signin-email", key=f"{n:064d}"[:64], window_start=T0, hits=1))
    return account_id, shop


def lti_course_pk(s: Session) -> int:
    from store.catalog.models import Course

    return int(s.scalar(select(Course.id).where(Course.catalog_id == "PLUS-1")))  # type: ignore[arg-type]


def _pk(table: Table, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


# Links that are not foreign keys: a person is a learner id; a web session names its account.
EXTRA_LINKS = {("learners", "person_id"): "learners", ("seats", "person_id"): "learners"}


def owned(session: Session, account_id: int) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row that belongs to the account: the account, and any row whose foreign key (or
    person link) points at a row that belongs to it, followed until nothing changes."""
    tables = Base.metadata.sorted_tables
    rows = {t.name: [dict(r) for r in session.execute(select(t)).mappings()] for t in tables}
    mine: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t.name: {} for t in tables}
    for row in rows["accounts"]:
        if row["id"] == account_id:
            mine["accounts"][(row["id"],)] = row
    for row in rows["web_sessions"]:
        if isinstance(row["data"], dict) and row["data"].get("account_id") == account_id:
            mine["web_sessions"][(row["id"],)] = row
    changed = True
    while changed:
        changed = False
        for table in tables:
            links = [(fk.parent.name, fk.column.table.name) for fk in table.foreign_keys]
            links += [(column, target) for (name, column), target in EXTRA_LINKS.items() if name == table.name]
            for row in rows[table.name]:
                key = _pk(table, row)
                if key in mine[table.name]:
                    continue
                if any(row[column] is not None and (row[column],) in mine[target] for column, target in links):
                    mine[table.name][key] = row
                    changed = True
    return mine


@pytest.fixture
def catalog(sessions: Sessions) -> None:
    with sessions.begin() as s:
        make_course(s, "PLUS-1", is_plus=True)
        make_course(s, "VOL-1", is_plus=False)
        make_course(s, "PPU-1", is_plus=False, ppu_price_cents=1_000)


def test_closing_removes_every_row_of_the_account_and_nothing_else(sessions: Sessions, catalog: None) -> None:
    closing, _ = populate(sessions, "Closing Co", 1)
    kept, _ = populate(sessions, "Staying Co", 2)
    with sessions() as s:
        before_closing = owned(s, closing)
        before_kept = owned(s, kept)
        catalog_before = [dict(r) for r in s.execute(select(Base.metadata.tables["courses"])).mappings()]
    uncovered = {name for name, rows in before_closing.items() if not rows} - set(KEPT)
    assert uncovered == set(), f"the test data leaves these tables empty: {sorted(uncovered)}"
    for name, rows in before_kept.items():
        assert not (set(rows) & set(before_closing[name])), f"{name}: a row belongs to both accounts"

    report = close_account(sessions, "Closing Co", NOW, steps=(lti_step, dispatch_step))
    assert report.name == "Closing Co"
    assert {k: v for k, v in report.removed.items() if v} == {
        "allowed_domains": 1, "invitations": 1, "learners": 6, "logins": 1, "lti_launches": 1,
        "lti_registrations": 1, "mail": 2, "orders": 1, "packages": 1, "progress": 1, "quotes": 1, "seats": 4,
        "web_sessions": 1}

    with sessions() as s:
        after_closing = owned(s, closing)
        after_kept = owned(s, kept)
        catalog_after = [dict(r) for r in s.execute(select(Base.metadata.tables["courses"])).mappings()]
        key_sets = s.scalars(select(LtiPlatformKeySet.key_set_url)).all()
        untagged = s.scalars(select(MailMessage.to_address).where(MailMessage.account_id.is_(None))).all()
    assert {name: list(rows) for name, rows in after_closing.items() if rows} == {}
    assert after_kept == before_kept  # the other account: every row, every value, unchanged
    assert catalog_after == catalog_before
    assert key_sets == ["https://lms2.example.edu/jwks"]
    assert untagged == [" ADA2@example.com"]


def test_nothing_happens_without_the_account_or_when_a_step_refuses(sessions: Sessions, catalog: None) -> None:
    account_id, _ = populate(sessions, "Closing Co", 1)
    with pytest.raises(NotFound):
        close_account(sessions, "No Such Co", NOW)
    other, _ = populate(sessions, "Blackboard Co", 2)
    with sessions.begin() as s:  # a deployment of another account under this account's registration
        reg = s.scalars(select(LtiRegistration).where(LtiRegistration.account_id == account_id)).one()
        s.add(LtiDeployment(registration_id=reg.id, deployment_id="dep-other", status="active", account_id=other))
    with sessions() as s:
        before = owned(s, account_id)
    with pytest.raises(InvalidInput) as refused:
        close_account(sessions, account_id, NOW, steps=(lti_step, dispatch_step))
    assert refused.value.reason == "registration_shared"
    with sessions() as s:
        assert owned(s, account_id) == before


def test_a_closed_accounts_packages_are_refused(sessions: Sessions, catalog: None) -> None:
    account_id, _ = populate(sessions, "Closing Co", 1)
    settings = load_settings({"ENV": "test", "SECRET_KEY": "s" * 48, "PUBLIC_BASE_URL": "https://tool.test"})
    prepared = packages.prepare_package(sessions, settings, account_id, "PLUS-1", "plus", "scorm12", T0)
    close_account(sessions, account_id, NOW, steps=(lti_step, dispatch_step))
    outcome = packages.dispatch_launch(sessions, settings, packages.LaunchRequest(make_launch_token(
        package_key=prepared.view.key, generation=prepared.view.generation, secret=prepared.secret,
        learner_id="ada1", learner_name="A", page_origin=None, referrer_origin=None, now=NOW),
        "https://lms1.example.edu"), NOW)
    assert outcome.kind == "unknown_package"


def test_closure_requests(sessions: Sessions, catalog: None) -> None:
    shop = make_shop(sessions, "Asking Co")
    account_id, learner_id = shop.owner.account_id, shop.owner.learner_id
    first = request_account_closure(sessions, account_id, learner_id, "  We stop at the end of the year.\n ", T0)
    request_account_closure(sessions, account_id, None, "", T0 + timedelta(hours=1))
    with sessions() as s:
        rows = list_closure_requests(s)
        preview = closure_preview(s, "Asking Co")
    assert [(r.account_name, r.name, r.message) for r in rows] == [("Asking Co", None, ""),
                                                                    ("Asking Co", None,  # the LMS sent no name
                                                                     "We stop at the end of the year.")]
    assert rows[1].learner_id == learner_id
    assert first.id == rows[1].id and preview.learners == 1 and preview.orders == 0
    with pytest.raises(InvalidInput):
        request_account_closure(sessions, account_id, learner_id, "x" * 2001, T0)
    with pytest.raises(InvalidInput):
        request_account_closure(sessions, account_id, learner_id, "bad\x00", T0)
    other = make_shop(sessions, "Other Co").owner
    with pytest.raises(NotFound):
        request_account_closure(sessions, account_id, other.learner_id, "hi", T0)
    with pytest.raises(NotFound):
        request_account_closure(sessions, 999_999, None, "hi", T0)
    request_account_closure(sessions, other.account_id, None, "Close us too.", T0 + timedelta(hours=2))
    with sessions() as s:
        assert [r.message for r in list_closure_requests(s, other.account_id)] == ["Close us too."]
        assert len(list_closure_requests(s, account_id)) == 2 and len(list_closure_requests(s)) == 3


def test_an_independent_learners_reset_mail_goes_with_their_account(sessions: Sessions) -> None:
    throttle = Throttle("test-secret", signin_per_email_per_hour=3, per_client_per_hour=5, reset_per_email_per_hour=2)
    login = sign_up(sessions, throttle, "192.0.2.10", "Jane Doe", "Jane@Example.com", "correct horse battery", T0)
    request_password_reset(sessions, OutboxMailer(sessions, "store@tool.test"), throttle, "192.0.2.10",
                           "jane@example.com", lambda token: "https://t/reset/" + token, 3600, T0)
    with sessions() as s:
        assert s.scalars(select(MailMessage.account_id)).all() == [login.account_id]
    report = close_account(sessions, login.account_id, NOW)
    assert report.removed["logins"] == 1 and report.removed["mail"] == 1
    with sessions() as s:
        assert s.scalars(select(MailMessage)).all() == [] and s.scalars(select(Login)).all() == []
