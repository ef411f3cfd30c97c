"""Grade passback against a fake LMS on a real local HTTP server: the access-token cache per
(issuer, client id, token URL, scopes), the outbox sent after the commit with retries and
backoff (an injected clock, so nothing waits), 401 token refresh, line item creation, the
progress listener and `lti-tool ags flush`."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti import ags, keys, registrations
from lti_tool.lti.models import LtiLaunch, LtiScorePost, LtiServiceToken
from store import outbound
from store.base import utcnow
from store.licenses.service import grant_plus
from store.outbound import OutboundClient, OutboundPolicy
from store.progress.service import ProgressEvent
from tests.factories.catalog import make_course
from tests.factories.fake_lms import FakeLms
from tests.factories.licenses import T0, claim, make_account
from tests.factories.tcp import answer, tcp_server

Sessions = sessionmaker[Session]


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def settings() -> Settings:
    return load_settings({"ENV": "test", "SECRET_KEY": "a" * 40, "AGS_MAX_ATTEMPTS": "4"})


@pytest.fixture
def lms(committing_sessions: Sessions, settings: Settings, clock: FakeClock) -> Iterator[FakeLms]:
    with FakeLms(jwks_provider=lambda: keys.public_jwks(committing_sessions, settings, clock.now()),
                 clock=clock.now) as fake:
        yield fake


@pytest.fixture
def http(settings: Settings) -> OutboundClient:
    return outbound.client_for(settings)


def register(sessions: Sessions, settings: Settings, lms: FakeLms, client_id: str, *, account: str = "Acme",
             token_url: str | None = None, audience: str | None = None) -> int:
    with sessions() as s:
        from store.accounts.queries import find_account
        exists = find_account(s, account) is not None
    if not exists:
        make_account(sessions, account)
    view = registrations.add_registration(sessions, settings, account, registrations.PlatformDetails(
        issuer=lms.issuer, client_id=client_id, auth_login_url=lms.auth_login_url,
        auth_token_url=token_url or lms.token_url, key_set_url=lms.key_set_url, auth_audience=audience,
        deployment_ids=("dep-1",)), T0)
    lms.add_client(client_id, audience or "")
    return view.id


def platform(sessions: Sessions, registration_id: int) -> ags.Platform:
    with sessions() as s:
        found = ags._platform(s, registration_id)
    assert found is not None
    return found


def score(user: str = "user-1", given: float = 80.0) -> dict[str, Any]:
    return {"userId": user, "scoreGiven": given, "scoreMaximum": 100.0, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": "2026-01-01T09:00:00.000Z"}


def enqueue(sessions: Sessions, registration_id: int, lineitem: str | None, payload: dict[str, Any],
            lineitems: str | None = None, spec: dict[str, Any] | None = None) -> int:
    with sessions.begin() as s:
        return ags.enqueue_score(s, registration_id, None, lineitem, lineitems, payload, now=T0, lineitem_spec=spec)


def post(sessions: Sessions, post_id: int) -> LtiScorePost:
    with sessions() as s:
        row = s.get(LtiScorePost, post_id)
        assert row is not None
        return row


# ---------------------------------------------------------------- access tokens


def test_tokens_are_cached_per_issuer_client_token_url_and_scopes(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, clock: FakeClock,
        http: OutboundClient) -> None:
    a = platform(committing_sessions, register(committing_sessions, settings, lms, "client-A"))
    b = platform(committing_sessions, register(committing_sessions, settings, lms, "client-B"))
    assert a.issuer == b.issuer  # one issuer, two client ids: pylti1p3's cache would mix them

    token_a = ags.get_access_token(committing_sessions, settings, a, [ags.SCOPE_SCORE], T0, http)
    token_b = ags.get_access_token(committing_sessions, settings, b, [ags.SCOPE_SCORE], T0, http)
    assert token_a != token_b
    assert lms.tokens[token_a].client_id == "client-A" and lms.tokens[token_b].client_id == "client-B"
    assert [r.client_id for r in lms.token_requests] == ["client-A", "client-B"]

    # reused while valid, per scope set (order and duplicates do not matter)
    assert ags.get_access_token(committing_sessions, settings, a, [ags.SCOPE_SCORE], T0 + timedelta(minutes=50),
                                http) == token_a
    both = [ags.SCOPE_SCORE, ags.SCOPE_LINEITEM]
    token_a2 = ags.get_access_token(committing_sessions, settings, a, both, T0, http)
    assert token_a2 not in (token_a, token_b)
    assert ags.get_access_token(committing_sessions, settings, a, list(reversed(both)) + [ags.SCOPE_SCORE], T0,
                                http) == token_a2
    assert len(lms.token_requests) == 3
    # shortly before expiry (3600 s) a new one is fetched
    clock.current = T0 + timedelta(seconds=3550)
    token_a3 = ags.get_access_token(committing_sessions, settings, a, [ags.SCOPE_SCORE], clock.now(), http)
    assert token_a3 != token_a and len(lms.token_requests) == 4
    with committing_sessions() as s:
        rows = s.scalars(select(LtiServiceToken)).all()
        assert len(rows) == 3 and all(token_a3 not in r.access_token for r in rows)  # encrypted at rest

    keys_by_url = {ags.token_cache_key(a.issuer, a.client_id, url, [ags.SCOPE_SCORE])
                   for url in ("https://lms/token", "https://lms/token2")}
    assert len(keys_by_url) == 2


def test_client_assertion_uses_the_auth_audience_when_set(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, http: OutboundClient) -> None:
    d2l = platform(committing_sessions, register(committing_sessions, settings, lms, "client-D2L",
                                                 audience="https://api.brightspace.example/auth/token"))
    token = ags.get_access_token(committing_sessions, settings, d2l, [ags.SCOPE_SCORE], T0, http)
    assert lms.tokens[token].client_id == "client-D2L"
    lms.add_client("client-D2L", "https://somewhere-else.example/token")  # the LMS now expects another audience
    with pytest.raises(ags.ServiceError, match="HTTP 401"):
        ags.get_access_token(committing_sessions, settings, d2l, [ags.SCOPE_LINEITEM], T0, http)


# ---------------------------------------------------------------- the outbox


def test_a_score_is_sent_after_the_commit_only(committing_sessions: Sessions, settings: Settings, lms: FakeLms,
                                               clock: FakeClock, http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    lineitem = lms.add_lineitem("c1", query="type_id=7")
    with pytest.raises(RuntimeError):
        with committing_sessions.begin() as s:
            ags.enqueue_score(s, reg, None, lineitem, None, score(), now=T0)
            raise RuntimeError("the progress transaction failed")
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(LtiScorePost)) == 0

    post_id = enqueue(committing_sessions, reg, lineitem, score())
    assert not lms.scores  # enqueueing never talks to the LMS
    report = ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock)
    assert report == ags.SendReport(sent=1, retrying=0, failed=0)
    (sent,) = lms.scores
    assert sent.path.endswith("/scores") and sent.query == {"type_id": ["7"]}  # query string kept
    assert sent.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
    assert sent.body == score() and sent.client_id == "client-A"
    row = post(committing_sessions, post_id)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 1, T0, None)
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock) == ags.SendReport()


def test_retries_with_exponential_backoff_until_sent(committing_sessions: Sessions, settings: Settings,
                                                     lms: FakeLms, clock: FakeClock, http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    post_id = enqueue(committing_sessions, reg, lms.add_lineitem(), score())
    lms.fail_next("scores", 429, 500, 503)

    first = ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock)
    assert first == ags.SendReport(sent=0, retrying=1, failed=0)
    row = post(committing_sessions, post_id)
    assert row.attempts == 1 and row.next_attempt_at == T0 + timedelta(seconds=15) and "HTTP 429" in row.last_error
    # not due yet: nothing is sent
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).retrying == 1
    assert len(lms.scores) == 1

    done = ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock, wait_seconds=600)
    assert done == ags.SendReport(sent=1, retrying=0, failed=0)
    assert clock.sleeps == [15.0, 30.0, 60.0]  # 15 s, then doubling
    row = post(committing_sessions, post_id)
    assert (row.status, row.attempts) == ("sent", 4) and len(lms.scores) == 4


def test_network_errors_are_retried_and_the_post_fails_after_max_attempts(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, clock: FakeClock,
        http: OutboundClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    reg = register(committing_sessions, settings, lms, "client-A", token_url=f"http://127.0.0.1:{dead_port}/token")
    post_id = enqueue(committing_sessions, reg, lms.add_lineitem(), score())
    report = ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock,
                                     wait_seconds=3600)
    assert report == ags.SendReport(sent=0, retrying=0, failed=1)
    row = post(committing_sessions, post_id)
    assert (row.status, row.attempts) == ("failed", settings.ags_max_attempts)
    assert "could not be reached [unreachable]" in row.last_error and clock.sleeps == [15.0, 30.0, 60.0]


def test_server_errors_until_max_attempts_end_failed_with_the_last_error(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, clock: FakeClock,
        http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    post_id = enqueue(committing_sessions, reg, lms.add_lineitem(), score())
    lms.fail_next("scores", 500, 502, 500, 504, 500)
    report = ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock,
                                     wait_seconds=3600)
    assert report.failed == 1 and len(lms.scores) == 4
    row = post(committing_sessions, post_id)
    assert row.status == "failed" and row.attempts == 4 and "HTTP 504" in row.last_error


def test_a_401_refreshes_the_token_once(committing_sessions: Sessions, settings: Settings, lms: FakeLms,
                                        clock: FakeClock, http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    lineitem = lms.add_lineitem()
    ags.get_access_token(committing_sessions, settings, platform(committing_sessions, reg), [ags.SCOPE_SCORE], T0,
                         http)
    lms.revoke_tokens()  # the cached token is still "valid" for us, not for the LMS
    post_id = enqueue(committing_sessions, reg, lineitem, score())
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).sent == 1
    assert [r.headers.get("Authorization") is not None for r in lms.scores] == [True, True]
    assert len(lms.token_requests) == 2 and post(committing_sessions, post_id).attempts == 1

    again = enqueue(committing_sessions, reg, lineitem, score("user-2"))
    lms.fail_next("scores", 401, 401)  # still refused with a fresh token: not worth retrying
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).failed == 1
    row = post(committing_sessions, again)
    assert row.status == "failed" and row.attempts == 1 and "HTTP 401" in row.last_error
    assert len(lms.token_requests) == 3


def test_other_client_errors_fail_at_once(committing_sessions: Sessions, settings: Settings, lms: FakeLms,
                                          clock: FakeClock, http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    post_id = enqueue(committing_sessions, reg, f"{lms.lineitems_url()}/999", score())  # deleted line item
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock,
                                   wait_seconds=600).failed == 1
    row = post(committing_sessions, post_id)
    assert row.attempts == 1 and "HTTP 404" in row.last_error and clock.sleeps == []


def test_a_newer_score_replaces_an_unsent_one(committing_sessions: Sessions, settings: Settings, lms: FakeLms,
                                              clock: FakeClock, http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    lineitem = lms.add_lineitem()
    old = enqueue(committing_sessions, reg, lineitem, score(given=10))
    other_user = enqueue(committing_sessions, reg, lineitem, score("user-9", given=20))
    new = enqueue(committing_sessions, reg, lineitem, score(given=90))
    with committing_sessions() as s:
        assert s.get(LtiScorePost, old) is None and s.get(LtiScorePost, other_user) is not None
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).sent == 2
    assert sorted((r.body["userId"], r.body["scoreGiven"]) for r in lms.scores) == [("user-1", 90), ("user-9", 20)]
    assert post(committing_sessions, new).status == "sent"


# ---------------------------------------------------------------- line items


def test_a_missing_line_item_is_created_at_the_first_score_and_remembered(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, clock: FakeClock,
        http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    spec = {"label": "Workplace Safety", "resourceId": "SAFE-101", "tag": "volume", "resourceLinkId": "rl-1"}
    lms.add_lineitem("c1", resourceLinkId="rl-other", resourceId="X", tag="plus")  # someone else's column
    first = enqueue(committing_sessions, reg, None, score(), lineitems=lms.lineitems_url(), spec=spec)
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).sent == 1
    created = [r for r in lms.requests if r.method == "POST" and r.path.endswith("/lineitems")]
    assert len(created) == 1
    assert created[0].body == {"scoreMaximum": 100, "label": "Workplace Safety", "resourceId": "SAFE-101",
                               "tag": "volume", "resourceLinkId": "rl-1"}
    lineitem_url = post(committing_sessions, first).lineitem_url
    assert lineitem_url.startswith(lms.lineitems_url()) and lms.scores[0].path == \
        lineitem_url.removeprefix(lms.base_url) + "/scores"
    assert "_lineitem" not in lms.scores[0].body

    lookups = len([r for r in lms.requests if r.path.endswith("/lineitems")])
    second = enqueue(committing_sessions, reg, None, score("user-2"), lineitems=lms.lineitems_url(), spec=spec)
    assert post(committing_sessions, second).lineitem_url == lineitem_url  # remembered, no new lookup
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).sent == 1
    assert len([r for r in lms.requests if r.path.endswith("/lineitems")]) == lookups
    assert len(lms.scores) == 2


def test_an_existing_line_item_is_found_across_pages(committing_sessions: Sessions, settings: Settings,
                                                     lms: FakeLms, clock: FakeClock, http: OutboundClient) -> None:
    reg = register(committing_sessions, settings, lms, "client-A")
    lms.lineitems_page_size = 1
    for n in range(2):
        lms.add_lineitem("c1", resourceLinkId="rl-1", resourceId=f"OTHER-{n}", tag="volume")
    existing = lms.add_lineitem("c1", resourceLinkId="rl-1", resourceId="SAFE-101", tag="volume")
    spec = {"label": "Workplace Safety", "resourceId": "SAFE-101", "tag": "volume", "resourceLinkId": "rl-1"}
    post_id = enqueue(committing_sessions, reg, None, score(), lineitems=lms.lineitems_url(), spec=spec)
    assert ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock).sent == 1
    pages = [r for r in lms.requests if r.method == "GET" and r.path.endswith("/lineitems")]
    assert len(pages) == 3 and pages[0].query == {"resource_link_id": ["rl-1"]}
    assert not [r for r in lms.requests if r.method == "POST" and r.path.endswith("/lineitems")]
    assert post(committing_sessions, post_id).lineitem_url == existing


# ---------------------------------------------------------------- from player progress


AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


@pytest.fixture
def live_lms(committing_sessions: Sessions, settings: Settings) -> Iterator[FakeLms]:
    with FakeLms(jwks_provider=lambda: keys.public_jwks(committing_sessions, settings)) as fake:
        yield fake


def make_launch(sessions: Sessions, registration_id: int, account_id: int, claims: dict[str, Any],
                launch_id: str = "launch-1") -> str:
    now = utcnow()
    with sessions.begin() as s:
        s.add(LtiLaunch(id=launch_id, registration_id=registration_id, deployment_id="dep-1", account_id=account_id,
                        learner_id=None, message_type="LtiResourceLinkRequest", claims=claims, created_at=now,
                        expires_at=now + timedelta(hours=8)))
    return launch_id


def progress(seat_id: int, launch_id: str | None, **changes: Any) -> ProgressEvent:
    values: dict[str, Any] = dict(seat_id=seat_id, catalog_id="SAFE-101", learner_id=1, launch_id=launch_id,
                                  origin="lti", completion_status="incomplete", success_status="unknown",
                                  score_raw=None, score_max=None, score_scaled=None, total_time_seconds=60,
                                  occurred_at=utcnow(), status_changed=True)
    values.update(changes)
    return ProgressEvent(**values)


@pytest.fixture
def seat(committing_sessions: Sessions) -> tuple[int, int]:
    account = make_account(committing_sessions, "Acme")
    with committing_sessions.begin() as s:
        make_course(s, "SAFE-101", title="Workplace Safety", is_plus=True)
    grant_plus(committing_sessions, "Acme", 10, "annual", utcnow())
    result = claim(committing_sessions, account.id, "plus", "SAFE-101", "user-1", utcnow())
    assert result.seat is not None
    return account.id, result.seat.id


def claims_with_ags(**endpoint: Any) -> dict[str, Any]:
    return {"sub": "lms-user-42",
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "rl-9", "title": "Safety link"},
            "https://purl.imsglobal.org/spec/lti/claim/custom": {"course_id": "SAFE-101", "license_type": "plus"},
            AGS_CLAIM: {"scope": [ags.SCOPE_SCORE, ags.SCOPE_LINEITEM], **endpoint}}


def test_the_listener_posts_completion_and_score_of_launches_with_ags(
        committing_sessions: Sessions, settings: Settings, live_lms: FakeLms, seat: tuple[int, int]) -> None:
    account_id, seat_id = seat
    reg = register(committing_sessions, settings, live_lms, "client-A")
    lineitem = live_lms.add_lineitem()
    launch_id = make_launch(committing_sessions, reg, account_id, claims_with_ags(lineitem=lineitem,
                                                                                  lineitems=live_lms.lineitems_url()))
    listener = ags.make_progress_listener(committing_sessions, settings)

    listener(progress(seat_id, launch_id))
    listener(progress(seat_id, launch_id))  # nothing changed: no second post
    listener(progress(seat_id, launch_id, completion_status="completed", success_status="passed", score_raw=8,
                      score_max=10, score_scaled=0.8))
    started, completed = (r.body for r in live_lms.scores)
    assert started["userId"] == "lms-user-42" and started["activityProgress"] == "InProgress"
    assert started["gradingProgress"] == "Pending" and "scoreGiven" not in started
    assert completed["activityProgress"] == "Completed" and completed["gradingProgress"] == "FullyGraded"
    assert (completed["scoreGiven"], completed["scoreMaximum"]) == (8.0, 10.0)
    assert completed["timestamp"].endswith("Z")
    with committing_sessions() as s:
        rows = s.scalars(select(LtiScorePost).order_by(LtiScorePost.id)).all()
        assert [(r.status, r.seat_id) for r in rows] == [("sent", seat_id), ("sent", seat_id)]

    listener(progress(seat_id, None))  # a SCORM dispatch launch
    listener(progress(seat_id, "no-such-launch"))
    no_ags = make_launch(committing_sessions, reg, account_id, {"sub": "u"}, launch_id="launch-2")
    listener(progress(seat_id, no_ags, completion_status="completed"))
    read_only = make_launch(committing_sessions, reg, account_id,
                            {"sub": "u", AGS_CLAIM: {"scope": [ags.SCOPE_LINEITEM_READONLY], "lineitem": lineitem}},
                            launch_id="launch-3")
    listener(progress(seat_id, read_only, completion_status="completed"))
    assert len(live_lms.scores) == 2


def test_the_listener_creates_the_line_item_canvas_forgot(
        committing_sessions: Sessions, settings: Settings, live_lms: FakeLms, seat: tuple[int, int]) -> None:
    account_id, seat_id = seat
    reg = register(committing_sessions, settings, live_lms, "client-A")
    launch_id = make_launch(committing_sessions, reg, account_id, claims_with_ags(lineitems=live_lms.lineitems_url()))
    ags.make_progress_listener(committing_sessions, settings)(
        progress(seat_id, launch_id, completion_status="completed", score_raw=95))
    (created,) = [r.body for r in live_lms.requests if r.method == "POST" and r.path.endswith("/lineitems")]
    assert created == {"scoreMaximum": 100, "label": "Workplace Safety", "resourceId": "SAFE-101", "tag": "plus",
                       "resourceLinkId": "rl-9"}
    (sent,) = live_lms.scores
    assert (sent.body["scoreGiven"], sent.body["scoreMaximum"]) == (95.0, 100.0)


def test_a_failing_lms_never_breaks_the_player_and_flush_sends_later(
        engine: Engine, committing_sessions: Sessions, settings: Settings, live_lms: FakeLms,
        seat: tuple[int, int]) -> None:
    account_id, seat_id = seat
    reg = register(committing_sessions, settings, live_lms, "client-A")
    launch_id = make_launch(committing_sessions, reg, account_id,
                            claims_with_ags(lineitem=live_lms.add_lineitem()))
    live_lms.fail_next("scores", 503)
    ags.make_progress_listener(committing_sessions, settings)(progress(seat_id, launch_id, completion_status="completed"))
    with committing_sessions() as s:
        (row,) = s.scalars(select(LtiScorePost)).all()
        assert row.status == "pending" and row.attempts == 1
    with committing_sessions.begin() as s:  # as if the backoff delay had passed
        s.get(LtiScorePost, row.id).next_attempt_at = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]

    url = engine.url.render_as_string(hide_password=False)
    ctx = CliContext(_settings=settings.with_overrides(database_url=url), _engine=engine)
    flushed = CliRunner().invoke(cli, ["ags", "flush", "--json"], obj=ctx, catch_exceptions=False)
    assert flushed.exit_code == 0 and json.loads(flushed.output) == {"sent": 1, "retrying": 0, "failed": 0}
    assert len(live_lms.scores) == 2
    status = CliRunner().invoke(cli, ["ags", "status", "--json"], obj=ctx, catch_exceptions=False)
    (listed,) = json.loads(status.output)
    assert listed["status"] == "sent" and listed["attempts"] == 2 and listed["user_id"] == "lms-user-42"
    assert "sent 0, will retry 0, failed 0" in CliRunner().invoke(cli, ["ags", "flush"], obj=ctx).output


def test_build_score_edges() -> None:
    now = T0
    event = progress(1, "l", completion_status="completed", score_raw=-5, score_max=0, occurred_at=None)
    built = ags.build_score(event, "u", now)
    assert built["scoreGiven"] == 0.0 and built["scoreMaximum"] == 100.0 and built["timestamp"].startswith("2026-01-01")
    scaled = ags.build_score(progress(1, "l", score_scaled=0.5), "u", now)
    assert scaled["scoreGiven"] == 50.0 and scaled["activityProgress"] == "InProgress"
    over = ags.build_score(progress(1, "l", score_raw=12, score_max=10), "u", now)
    assert over["scoreGiven"] == 10.0
    assert ags.with_path_suffix("https://lms/li/7?x=1&y=2", "/scores") == "https://lms/li/7/scores?x=1&y=2"
    assert ags.with_path_suffix("https://lms/li/7/", "/scores") == "https://lms/li/7/scores"
    assert ags.backoff_seconds(1) == 15 and ags.backoff_seconds(3) == 60 and ags.backoff_seconds(30) == 3600


# ---------------------------------------------------------------- outbound safety


def test_a_redirecting_token_endpoint_is_not_followed_and_fails_at_once(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, clock: FakeClock,
        http: OutboundClient) -> None:
    with tcp_server(answer("200 OK", b"{}")) as inside:
        with tcp_server(answer("307 Temporary Redirect", headers={"Location": f"{inside.url}/token"})) as jump:
            reg = register(committing_sessions, settings, lms, "client-A", token_url=f"{jump.url}/token")
            post_id = enqueue(committing_sessions, reg, lms.add_lineitem(), score())
            report = ags.send_pending_scores(committing_sessions, settings, clock.now(), http, clock=clock,
                                             wait_seconds=3600)
            assert jump.connections == 1
        assert inside.connections == 0
    assert report == ags.SendReport(sent=0, retrying=0, failed=1)
    row = post(committing_sessions, post_id)
    assert (row.status, row.attempts) == ("failed", 1) and "[redirect]" in row.last_error and clock.sleeps == []


def test_a_private_lms_address_is_refused_under_the_production_policy(
        committing_sessions: Sessions, settings: Settings, lms: FakeLms, clock: FakeClock) -> None:
    """A registration whose token URL resolves to this server's own network gets no request at all."""
    def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)

    production = OutboundClient(OutboundPolicy(allow_private=False), resolver=resolver)
    port = int(lms.base_url.rsplit(":", 1)[1])
    reg = register(committing_sessions, settings, lms, "client-A", token_url=f"https://lms.example.com:{port}/lti/token")
    post_id = enqueue(committing_sessions, reg, lms.add_lineitem(), score())
    report = ags.send_pending_scores(committing_sessions, settings, clock.now(), production, clock=clock,
                                     wait_seconds=3600)
    assert report == ags.SendReport(sent=0, retrying=0, failed=1) and lms.requests == []
    row = post(committing_sessions, post_id)
    assert row.attempts == 1 and "could not be reached [refused_address]" in row.last_error
