"""The dispatch runtime over HTTP: the package launch endpoint (seat, refusals, no cookies), the
server clock, the course player's framing for dispatch launches, and the admin download."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.player.tokens import verify_player_token
from lti_tool.services import services_of
from scorm_packages import service
from scorm_packages.manifest.checks import check_package
from scorm_packages.models import DispatchLaunch
from scorm_packages.tokens import make_launch_token
from store.licenses import service as licenses
from store.licenses.models import Seat
from tests.factories.app import override_services
from tests.factories.catalog import make_bundle, make_course
from tests.factories.licenses import make_account

Sessions = sessionmaker[Session]
LMS = "https://lms.example.edu"


@dataclass(frozen=True)
class Setup:
    account_id: int
    package: service.PreparedPackage


@pytest.fixture
def setup(app: Flask, committing_sessions: Sessions) -> Setup:
    now = datetime.now(UTC)
    account_id = make_account(committing_sessions, "Acme Learning", now).id
    with committing_sessions.begin() as s:
        make_course(s, "VOL-1", title='Fire & "Safety" <Evac>', is_plus=False)
        make_course(s, "PLUS-1", title="Workplace Safety", is_plus=True)
        make_course(s, "TED-1", title="Ideas", is_plus=True, bundle=make_bundle(s, "TED@Work"))
    licenses.grant_volume(committing_sessions, account_id, "VOL-1", 2, now)
    prepared = service.prepare_package(committing_sessions, services_of(app).settings, account_id, "VOL-1",
                                       "volume", "scorm12", now)
    return Setup(account_id, prepared)


def token_for(package: service.PreparedPackage, learner: str = "lms-7", **kw: object) -> str:
    values: dict[str, object] = {"package_key": package.view.key, "generation": package.view.generation,
                                 "secret": package.secret, "learner_id": learner, "learner_name": "Doe, Jane",
                                 "page_origin": LMS, "referrer_origin": LMS, "now": datetime.now(UTC)}
    values.update(kw)
    return make_launch_token(**values)  # type: ignore[arg-type]


def post_launch(client: FlaskClient, token: str | None, origin: str | None = LMS):  # type: ignore[no-untyped-def]
    headers = {"Origin": origin} if origin else {}
    return client.post("/dispatch/launch", data={} if token is None else {"token": token}, headers=headers)


def seats(sessions: Sessions) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Seat)) or 0)


def assert_message_page(response, status: int, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    for word in words:
        assert word in html, (word, html)
    assert "Traceback" not in html and "Set-Cookie" not in response.headers
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]  # shown in any LMS
    assert response.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- the launch


def test_first_launch_takes_a_seat_and_opens_the_player(app: Flask, client: FlaskClient, setup: Setup,
                                                        committing_sessions: Sessions) -> None:
    response = post_launch(client, token_for(setup.package))
    assert response.status_code == 303 and "Set-Cookie" not in response.headers
    location = urlsplit(response.headers["Location"])
    assert location.path == "/play"
    player_token = parse_qs(location.query)["t"][0]
    grant = verify_player_token(services_of(app).settings, player_token)
    assert grant.origin == "dispatch" and grant.catalog_id == "VOL-1"
    with committing_sessions() as s:
        launch = s.get(DispatchLaunch, grant.launch_id)
        assert launch is not None and launch.seat_id == grant.seat_id and launch.lms_origin == LMS
    assert service.lms_origin_for_launch(committing_sessions, grant.launch_id) == LMS
    assert seats(committing_sessions) == 1

    player = client.get(f"/play?t={player_token}")
    assert player.status_code == 200
    assert "Fire &amp; &#34;Safety&#34; &lt;Evac&gt;" in player.get_data(as_text=True)
    assert re.search(r"frame-ancestors \*(;|$)", player.headers["Content-Security-Policy"])

    again = post_launch(client, token_for(setup.package))
    assert again.status_code == 303 and seats(committing_sessions) == 1
    assert post_launch(client, token_for(setup.package, "lms-8")).status_code == 303
    assert seats(committing_sessions) == 2


def test_the_player_may_be_framed_only_by_allowed_domains(app: Flask, client: FlaskClient, setup: Setup,
                                                          committing_sessions: Sessions) -> None:
    service.allow_domain(committing_sessions, setup.account_id, "example.edu", datetime.now(UTC))
    response = post_launch(client, token_for(setup.package))
    assert response.status_code == 303
    player = client.get(response.headers["Location"])
    assert "frame-ancestors example.edu *.example.edu" in player.headers["Content-Security-Policy"]


def test_each_launch_origin_has_its_own_frame_rule(app: Flask) -> None:
    from lti_tool.player.tokens import PlayerGrant

    now = datetime.now(UTC)

    def grant(origin: str, launch_id: str | None) -> PlayerGrant:
        return PlayerGrant(1, "C-1", 1, launch_id, origin, now, now + timedelta(hours=1))

    hooks = services_of(app).player
    assert hooks.frame_ancestors(grant("lti", "no-such-launch")) == ()  # an unknown LTI launch: nobody
    assert hooks.frame_ancestors(grant("dispatch", None)) == ("*",)  # dispatch: the account's domains
    assert hooks.page_config(grant("lti", "x")) == {}
    assert hooks.page_config(grant("dispatch", "no-such-launch")) == {"dispatch": {"lmsOrigin": None}}


def test_revoked_package_shows_the_revocation_page_and_takes_no_seat(client: FlaskClient, setup: Setup,
                                                                     committing_sessions: Sessions) -> None:
    service.revoke_package(committing_sessions, setup.package.view.key, datetime.now(UTC))
    response = post_launch(client, token_for(setup.package))
    assert_message_page(response, 403, "This course package has been revoked; ask your LMS administrator for a new "
                                       "one.", setup.package.view.key)
    assert seats(committing_sessions) == 0


def test_unknown_domain_shows_a_page_and_takes_no_seat(client: FlaskClient, setup: Setup,
                                                       committing_sessions: Sessions) -> None:
    service.allow_domain(committing_sessions, setup.account_id, "example.edu", datetime.now(UTC))
    response = post_launch(client, token_for(setup.package), origin="https://lms.other.org")
    assert_message_page(response, 403, "may not be used from lms.other.org", "allowed LMS domains")
    assert seats(committing_sessions) == 0
    assert post_launch(client, token_for(setup.package), origin="https://moodle.example.edu").status_code == 303


def test_new_learners_are_rate_limited(app: Flask, client: FlaskClient, setup: Setup,
                                       committing_sessions: Sessions) -> None:
    override_services(app, settings=services_of(app).settings.with_overrides(dispatch_new_learners_per_minute=1))
    assert post_launch(client, token_for(setup.package, "a")).status_code == 303
    assert_message_page(post_launch(client, token_for(setup.package, "b")), 429, "Too many new learners")
    assert post_launch(client, token_for(setup.package, "a")).status_code == 303
    assert seats(committing_sessions) == 1


def test_the_seat_engines_refusal_is_shown(client: FlaskClient, setup: Setup, committing_sessions: Sessions) -> None:
    for learner in ("a", "b"):
        assert post_launch(client, token_for(setup.package, learner)).status_code == 303
    response = post_launch(client, token_for(setup.package, "c"))
    assert_message_page(response, 403, "All seats for this course are taken.", "buy more seats", "no_seats")
    assert seats(committing_sessions) == 2


@pytest.mark.parametrize("token, status, words", [
    (None, 400, "cannot read"),
    ("", 400, "cannot read"),
    ("garbage", 400, "cannot read"),
    ("a.b.c", 400, "cannot read"),
])
def test_malformed_launches_get_a_page(client: FlaskClient, setup: Setup, committing_sessions: Sessions,
                                       token: str | None, status: int, words: str) -> None:
    assert_message_page(post_launch(client, token), status, words)
    assert seats(committing_sessions) == 0


def test_forged_and_expired_launches_get_a_page(client: FlaskClient, setup: Setup,
                                                committing_sessions: Sessions) -> None:
    forged = token_for(setup.package, secret="f" * 43)
    assert_message_page(post_launch(client, forged), 401, "not signed correctly")
    old = token_for(setup.package, now=datetime.now(UTC) - timedelta(minutes=20))
    assert_message_page(post_launch(client, old), 401, "expired")
    no_learner = token_for(setup.package, learner=" ")
    assert_message_page(post_launch(client, no_learner), 400, "no learner id")
    unknown = token_for(setup.package, package_key="dpk_unknown")
    assert_message_page(post_launch(client, unknown), 404, "not recognized")
    huge = client.post("/dispatch/launch", data={"token": "x" * 70_000})
    assert huge.status_code == 413
    assert seats(committing_sessions) == 0


@pytest.mark.parametrize("claim, value", [
    ("learner", "lms-\ud800-7"), ("learner", "lms-\x00-7"), ("learner_name", "Jane \udfff Doe"),
    ("learner_name", "Jane \x00 Doe"),
], ids=["sub surrogate", "sub NUL", "name surrogate", "name NUL"])
def test_launch_tokens_with_broken_text_get_a_page(client: FlaskClient, setup: Setup, committing_sessions: Sessions,
                                                   claim: str, value: str) -> None:
    """A lone surrogate (a broken \\ud800 escape) or NUL in the LMS's learner id or name: a 400 page
    in the LMS window, no seat, no learner, no launch row; never a 500 (UnicodeEncodeError, or
    PostgreSQL's refusal of NUL)."""
    response = post_launch(client, token_for(setup.package, **{claim: value}))
    assert_message_page(response, 400, "cannot accept", "invalid_text")
    assert value not in response.get_data(as_text=True)
    assert seats(committing_sessions) == 0
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(DispatchLaunch)) == 0


def test_a_nul_in_the_launch_form_gets_a_page_framed_anywhere(client: FlaskClient, setup: Setup,
                                                             committing_sessions: Sessions) -> None:
    response = client.post("/dispatch/launch", data="token=ab%00cd",
                           content_type="application/x-www-form-urlencoded", headers={"Origin": LMS})
    assert_message_page(response, 400, "invalid_text", "NUL")
    assert seats(committing_sessions) == 0


def test_get_on_the_launch_address_explains_itself(client: FlaskClient) -> None:
    assert_message_page(client.get("/dispatch/launch"), 400, "Open the course from your LMS")


def test_server_time_is_public_and_cookie_less(client: FlaskClient) -> None:
    response = client.get("/dispatch/time")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert abs(response.get_json()["now"] - datetime.now(UTC).timestamp()) < 5
    assert "Set-Cookie" not in response.headers


# ---------------------------------------------------------------- the admin download


def session_token(client: FlaskClient, **data: object) -> str:
    with client.session_transaction() as sess:
        sess.update(data)
        token = getattr(sess, "token", "")
    return token


def download(client: FlaskClient, token: str, **params: str):  # type: ignore[no-untyped-def]
    query = {"course_id": "PLUS-1", "license_type": "plus", "format": "scorm2004", **params}
    if token:
        query["s"] = token
    return client.get("/packages/download", query_string=query)


def test_admins_download_the_package_zip(app: Flask, client: FlaskClient, setup: Setup,
                                         committing_sessions: Sessions) -> None:
    licenses.grant_plus(committing_sessions, setup.account_id, 3, "annual", datetime.now(UTC))
    token = session_token(client, account_id=setup.account_id, is_admin=True)
    response = download(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="workplace-safety__plus__scorm2004.zip"'
    assert response.headers["Cache-Control"] == "no-store"
    assert check_package(io.BytesIO(response.data)) == []
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert "http://tool.test/dispatch/launch" in archive.read("config.js").decode()
    again = download(client, token)
    assert again.data == response.data  # same key, same file


def test_download_refusals(client: FlaskClient, setup: Setup, committing_sessions: Sessions) -> None:
    assert download(client, "").status_code == 401
    learner = session_token(client, account_id=setup.account_id, is_admin=False)
    refused = download(client, learner)
    assert refused.status_code == 403 and "Only your organization" in refused.get_data(as_text=True)
    admin = session_token(client, account_id=setup.account_id, is_admin=True)
    no_license = download(client, admin)
    assert no_license.status_code == 403 and "no active Plus subscription" in no_license.get_data(as_text=True)
    bundle = download(client, admin, course_id="TED-1", license_type="volume")
    assert bundle.status_code == 403 and "subscription-only bundle" in bundle.get_data(as_text=True)
    assert download(client, admin, course_id="NOPE").status_code == 404
    bad = download(client, admin, license_type="gold", format="scorm3")
    assert bad.status_code == 400 and "license_type must be one of" in bad.get_data(as_text=True)
    with committing_sessions() as s:
        from scorm_packages.models import DispatchPackage

        assert s.scalar(select(func.count()).select_from(DispatchPackage)) == 1  # only the fixture's


# ---------------------------------------------------------------- replays, the Origin rule, content


def test_a_launch_request_is_accepted_once(client: FlaskClient, setup: Setup, committing_sessions: Sessions) -> None:
    token = token_for(setup.package)
    assert post_launch(client, token).status_code == 303
    assert_message_page(post_launch(client, token), 409, "This launch was already used", "launch_replayed")
    assert post_launch(client, token_for(setup.package)).status_code == 303  # a fresh token: a relaunch
    assert seats(committing_sessions) == 1
    with committing_sessions() as s:
        assert sorted(s.scalars(select(DispatchLaunch.outcome))) == ["replayed", "seat", "seat"]


@pytest.mark.parametrize("origin", [None, "null"])
def test_restricted_domains_need_the_browsers_origin(client: FlaskClient, setup: Setup,
                                                     committing_sessions: Sessions, origin: str | None) -> None:
    assert post_launch(client, token_for(setup.package, "before"), origin=origin).status_code == 303  # no restriction
    service.allow_domain(committing_sessions, setup.account_id, "example.edu", datetime.now(UTC))
    response = post_launch(client, token_for(setup.package), origin=origin)
    assert_message_page(response, 403, "cannot check where it was opened", "did not say which site opened the course",
                        "Referrer-Policy", "origin_required", setup.package.view.key)
    assert seats(committing_sessions) == 1
    assert post_launch(client, token_for(setup.package), origin=LMS).status_code == 303


def test_a_course_without_content_shows_not_available_where_demo_content_is_off(
        app: Flask, client: FlaskClient, setup: Setup, committing_sessions: Sessions) -> None:
    override_services(app, settings=services_of(app).settings.with_overrides(demo_content=False))
    response = post_launch(client, token_for(setup.package))
    assert_message_page(response, 409, "This course&#39;s content is not available yet", "No seat was used",
                        "content_not_available")
    assert seats(committing_sessions) == 0


# ---------------------------------------------------------------- revocation stops open players


def test_revoking_a_package_stops_its_open_player_sessions(app: Flask, client: FlaskClient, setup: Setup,
                                                            committing_sessions: Sessions) -> None:
    url = post_launch(client, token_for(setup.package)).headers["Location"]
    token = parse_qs(urlsplit(url).query)["t"][0]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(url).status_code == 200
    assert client.post("/play/api/session", headers=bearer, json={}).status_code == 200
    assert client.post("/play/api/commit", headers=bearer, json={"location": "lesson-2"}).status_code == 200

    service.revoke_package(committing_sessions, setup.package.view.key, datetime.now(UTC))
    page = client.get(url)
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "This course package has been revoked; ask your LMS administrator for a new one." in html
    assert "Traceback" not in html
    calls = [
        client.get("/play/api/state", headers=bearer),
        client.post("/play/api/session", headers=bearer, json={}),
        client.post("/play/api/commit", headers=bearer, json={"location": "lesson-3"}),
        client.post("/play/api/quiz", headers=bearer, json={"answers": {}}),
        client.post("/play/api/beacon", data=json.dumps({"token": token, "location": "lesson-3"})),
        client.post("/play/api/cmi", headers=bearer, json={"scorm_version": "scorm12", "cmi": {}}),
    ]
    for response in calls:
        assert response.status_code == 403, response.get_data(as_text=True)
        body = response.get_json()
        assert body["error"] == "package_revoked" and "has been revoked" in body["message"]
        assert "download a new copy" in body["ask"]
    with committing_sessions() as s:
        from store.progress.models import CourseProgress

        assert s.scalars(select(CourseProgress.location)).one() == "lesson-2"  # nothing saved after the revocation

    # Rebuilt (a new generation): the old copy's player stays refused, the new copy plays.
    rebuilt = service.prepare_package(committing_sessions, services_of(app).settings, setup.account_id, "VOL-1",
                                      "volume", "scorm12", datetime.now(UTC))
    replaced = client.get("/play/api/state", headers=bearer)
    assert replaced.status_code == 403 and "replaced by a newer copy" in replaced.get_json()["message"]
    fresh = post_launch(client, token_for(rebuilt))
    assert fresh.status_code == 303 and client.get(fresh.headers["Location"]).status_code == 200
    assert seats(committing_sessions) == 1
