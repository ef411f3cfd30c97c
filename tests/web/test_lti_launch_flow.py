"""What a valid launch does: seat claimed once per learner, admin warning and confirmation,
refusal pages, launches without a course, deep-linking dispatch, the web session it starts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint
from sqlalchemy import select

from lti_tool.lti import claims
from lti_tool.lti.models import LtiLaunch, WebSession
from lti_tool.lti.testplatform import (
    ROLE_CONTEXT_ADMIN,
    ROLE_INSTITUTION_ADMIN,
    ROLE_INSTITUTION_INSTRUCTOR,
    ROLE_INSTRUCTOR,
    ROLE_LEARNER,
)
from lti_tool.lti.websession import token_hash
from lti_tool.player.tokens import verify_player_token
from lti_tool.services import services_of
from store.accounts.models import Learner
from store.base import utcnow
from store.clock import add_months
from store.licenses.models import LaunchRefusal, Seat
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories import lti as f
from tests.factories.app import override_services
from tests.factories.content import content_store, import_generated
from tests.factories.catalog import make_course
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401

PLUS = f.course_custom("C-100", "plus")


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100", title="Workplace Safety", is_plus=True)
        make_course(session, "C-200", title="Advanced Forklift", is_plus=False, ppu_price_cents=7_500)
    return lti_env


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _endpoint(app: Any, location: str) -> str:
    return app.url_map.bind("tool.test").match(urlsplit(location).path)[0]


def _grant(response: Any, app: Any) -> Any:
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert _endpoint(app, location) == "player.play"
    return verify_player_token(services_of(app).settings, _query(location)["t"])


def _web_session(env: Any, token: str) -> dict[str, Any]:
    with env.sessions() as session:
        return session.scalars(select(WebSession.data).where(WebSession.id == token_hash(token))).one()


# ---------------------------------------------------------------- learners


def test_learner_launch_claims_a_seat_once_and_opens_the_player(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    first = _grant(f.launch(env.client, env.platform, custom=PLUS, name="Lee Learner", email="lee@example.edu",
                            extra={claims.EXT: {"user_username": "lee01"}}), env.app)
    with env.sessions() as session:
        learner = session.scalars(select(Learner)).one()
        seat = session.scalars(select(Seat)).one()
        launch = session.scalars(select(LtiLaunch)).one()
    assert (learner.identity_source, learner.external_id) == ("lti:https://lms.example.edu", "learner-1")
    assert (learner.name, learner.email, learner.username) == ("Lee Learner", "lee@example.edu", "lee01")
    assert (first.seat_id, first.catalog_id, first.learner_id, first.launch_id, first.origin) == (
        seat.id, "C-100", learner.id, launch.id, "lti")
    assert launch.account_id == env.account_id and launch.learner_id == learner.id
    assert launch.message_type == "LtiResourceLinkRequest" and launch.claims["sub"] == "learner-1"
    ttl = services_of(env.app).settings.player_token_ttl_seconds
    assert abs((launch.expires_at - launch.created_at).total_seconds() - 2 * ttl) < 1

    second = _grant(f.launch(env.client, env.platform, custom=PLUS, name="Lee Q. Learner", email=None), env.app)
    assert second.seat_id == first.seat_id and second.launch_id != first.launch_id
    counts = env.counts()
    assert (counts.seats, counts.learners, counts.launches) == (1, 1, 2)
    with env.sessions() as session:
        learner = session.scalars(select(Learner)).one()
    assert (learner.name, learner.email) == ("Lee Q. Learner", "lee@example.edu")  # email kept when not sent


def test_the_launch_and_its_player_are_framed_by_that_launchs_lms_only(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    launched = f.launch(env.client, env.platform, custom=PLUS)
    assert launched.headers["Content-Security-Policy"].endswith("; frame-ancestors 'self' https://lms.example.edu")
    player = env.client.get(launched.headers["Location"])
    assert player.status_code == 200
    assert player.headers["Content-Security-Policy"].endswith("; frame-ancestors https://lms.example.edu")


def test_launch_starts_a_web_session(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    started = f.login(env.client, env.platform)
    response = f.post_launch(env.client, f.authorize(env.platform, started, custom=PLUS, roles=[ROLE_INSTRUCTOR]))
    assert response.status_code == 200  # the admin confirmation page
    token = re.search(r'name="s" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    data = _web_session(env, token)
    with env.sessions() as session:
        launch = session.scalars(select(LtiLaunch)).one()
    assert data["account_id"] == env.account_id and data["learner_id"] == launch.learner_id
    assert data["registration_id"] == env.registration_id and data["is_admin"] is True
    assert data["launch_id"] == launch.id
    with env.sessions() as session:
        assert session.get(WebSession, token) is None  # only the hash is stored


def test_canvas_institution_roles_do_not_make_a_course_learner_an_admin(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    response = f.launch(env.client, env.platform, custom=PLUS,
                        roles=[ROLE_INSTITUTION_ADMIN, ROLE_INSTITUTION_INSTRUCTOR, ROLE_LEARNER])
    _grant(response, env.app)  # straight to the player: a learner in this course


# ---------------------------------------------------------------- admins


@pytest.mark.parametrize("roles", [[ROLE_INSTRUCTOR], [ROLE_CONTEXT_ADMIN], [ROLE_INSTITUTION_ADMIN]],
                         ids=["instructor", "context admin", "institution admin without context roles"])
def test_admin_is_warned_then_confirms_and_gets_a_seat(env, roles: list[str]) -> None:
    grant_plus(env.sessions, env.account_id, 21, "annual", utcnow())
    response = f.launch(env.client, env.platform, custom=PLUS, roles=roles, sub="admin-1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Opening this course uses a seat" in page and "Workplace Safety" in page
    assert "occupies one seat" in page and "21 seats" in page
    assert "21 seats are left; 20 would remain after yours." in page
    assert "Cancel and go to the Dashboard</a>" in page
    assert env.counts().seats == 0
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    assert set(form) == {"csrf_token", "s", "launch"}
    cancel = re.search(r'href="([^"]*/lti/home[^"]*)"', page).group(1).replace("&amp;", "&")
    assert _query(cancel)["s"] == form["s"]

    # Without the CSRF token, or for another launch, nothing happens.
    no_csrf = env.client.post("/lti/launch/confirm", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert no_csrf.status_code == 400 and "csrf_failed" in no_csrf.get_data(as_text=True)
    other = env.client.post("/lti/launch/confirm", data={**form, "launch": "someone-elses-launch"})
    assert other.status_code == 403 and "confirmation_mismatch" in other.get_data(as_text=True)
    no_session = env.client.post("/lti/launch/confirm", data={**form, "s": "unknown"})
    assert no_session.status_code == 400 and "csrf_failed" in no_session.get_data(as_text=True)
    assert env.counts().seats == 0

    grant = _grant(env.client.post("/lti/launch/confirm", data=form), env.app)
    assert env.counts().seats == 1
    # Holding a seat now: the next launch goes straight to the player, same seat.
    again = _grant(f.launch(env.client, env.platform, custom=PLUS, roles=roles, sub="admin-1"), env.app)
    assert again.seat_id == grant.seat_id and env.counts().seats == 1


def test_admin_launching_an_unknown_course_gets_the_refusal_not_the_warning(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    response = f.launch(env.client, env.platform, custom=f.course_custom("C-404", "plus"), roles=[ROLE_INSTRUCTOR])
    assert response.status_code == 403 and "unknown_course" in response.get_data(as_text=True)


# ---------------------------------------------------------------- content not available


def test_a_course_without_content_is_not_available_where_demo_content_is_off(env, tmp_path: Path) -> None:
    override_services(env.app, settings=services_of(env.app).settings.with_overrides(demo_content=False))
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    learner = f.launch(env.client, env.platform, custom=PLUS, sub="learner-1")
    page = learner.get_data(as_text=True)
    assert learner.status_code == 409, page
    assert "This course's content is not available yet" in page and "No seat was used" in page
    assert "Try again later" in page and "<code>content_not_available</code>" in page and "C-100" in page
    # An admin gets the same answer before any seat warning, with what to do about it.
    admin = f.launch(env.client, env.platform, custom=PLUS, roles=[ROLE_INSTRUCTOR], sub="admin-1")
    page = admin.get_data(as_text=True)
    assert admin.status_code == 409 and "Ask vendor support to publish the course" in page
    assert "Opening this course uses a seat" not in page
    assert env.counts().seats == 0
    with env.sessions() as session:
        assert session.scalars(select(LaunchRefusal)).all() == []  # not a license refusal
    # An unknown course stays the seat engine's refusal.
    unknown = f.launch(env.client, env.platform, custom=f.course_custom("C-404", "plus"))
    assert unknown.status_code == 403 and "unknown_course" in unknown.get_data(as_text=True)

    # Once the publisher's content is imported the course plays, demo content or not.
    import_generated(env.sessions, content_store(tmp_path / "content"), "C-100", "scorm12", utcnow(), tmp_path)
    assert _grant(f.launch(env.client, env.platform, custom=PLUS, sub="learner-1"), env.app).catalog_id == "C-100"
    assert env.counts().seats == 1


# ---------------------------------------------------------------- refusals


def _refusal(env: Any, custom: dict[str, str], sub: str = "learner-1") -> str:
    """A learner's refusal page: plain words and whom to ask; the reason code and the catalog id
    only in data attributes (for support and tests), never in the text a learner reads."""
    response = f.launch(env.client, env.platform, custom=custom, sub=sub)
    page = response.get_data(as_text=True)
    assert response.status_code == 403, page
    visible = re.sub(r"<[^>]*>", " ", page)
    assert not re.search(r"\b(no_seats|license_expired|not_covered|insufficient_deposit)\b", visible), visible
    assert custom["course_id"] not in visible and "as Volume or Pay Per Use" not in visible
    assert "Nothing was charged and no seat was used" in visible
    return page


def test_no_seats_left(env) -> None:
    grant_plus(env.sessions, env.account_id, 1, "annual", utcnow())
    _grant(f.launch(env.client, env.platform, custom=PLUS, sub="first"), env.app)
    page = _refusal(env, PLUS, sub="second")
    assert "All seats for this course are taken." in page
    assert "Ask your LMS administrator to buy more seats." in page
    assert "“Workplace Safety” cannot be opened" in page
    assert 'data-reason="no_seats"' in page
    with env.sessions() as session:
        refusal = session.scalars(select(LaunchRefusal)).one()
    assert (refusal.reason, refusal.license_type, refusal.account_id) == ("no_seats", "plus", env.account_id)


def test_license_expired(env) -> None:
    now = utcnow()
    grant_volume(env.sessions, env.account_id, "C-100", 10, add_months(now, -13))  # expired
    page = _refusal(env, f.course_custom("C-100", "volume"))
    assert "license for this course has expired" in page and "renew the license" in page
    assert 'data-reason="license_expired"' in page


def test_not_covered_by_plus(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    page = _refusal(env, f.course_custom("C-200", "plus"))
    assert "not included in your organization&#39;s Plus subscription" in page
    assert "add this course to your organization&#39;s licenses" in page
    assert 'data-reason="not_covered"' in page


def test_insufficient_deposit(env) -> None:
    now = utcnow()
    configure_ppu(env.sessions, env.account_id, "PPU-1", 100, now)
    add_to_ppu_library(env.sessions, env.account_id, "C-200", now)
    page = _refusal(env, f.course_custom("C-200", "ppu"))
    assert "deposit is too low" in page and "top up the deposit" in page
    assert 'data-reason="insufficient_deposit"' in page
    assert env.counts().seats == 0


# ---------------------------------------------------------------- launches without a course


@pytest.mark.parametrize("target", ["https://tool.test/lti/launch", "https://tool.test/", "https://tool.test"])
def test_navigation_launch_takes_admins_to_the_licenses(env, target: str) -> None:
    now = utcnow()
    grant_plus(env.sessions, env.account_id, 25, "annual", now)
    grant_volume(env.sessions, env.account_id, "C-200", 10, now)
    configure_ppu(env.sessions, env.account_id, "PPU-7", 123_456, now)
    add_to_ppu_library(env.sessions, env.account_id, "C-200", now)
    response = f.launch(env.client, env.platform, roles=[ROLE_INSTRUCTOR], target_link_uri=target)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert _endpoint(env.app, location) == "dashboard.index"
    page = " ".join(env.client.get(location).get_data(as_text=True).split())
    assert "Available Plus seats: 25 of 25" in page and add_months(now, 12).strftime("%Y-%m-%d") in page
    assert "Volume</strong>: 1 course, 10 of 10 seats left" in page
    assert "deposit balance $1,234.56, 1 course in the library" in page
    assert env.counts().seats == 0


def test_navigation_launch_takes_learners_to_their_courses(env) -> None:
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())
    empty = f.launch(env.client, env.platform, target_link_uri="https://tool.test/lti/launch")
    location = empty.headers["Location"]
    assert _endpoint(env.app, location) == "lti_launch.my_courses"
    assert "You have no courses yet" in env.client.get(location).get_data(as_text=True)

    grant = _grant(f.launch(env.client, env.platform, custom=PLUS), env.app)
    response = f.launch(env.client, env.platform, target_link_uri="https://tool.test/lti/launch")
    page = env.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Workplace Safety" in page
    link = re.search(r'href="(/play\?t=[^"]+)"', page).group(1).replace("&amp;", "&")
    course = verify_player_token(services_of(env.app).settings, _query(link)["t"])
    assert (course.seat_id, course.catalog_id, course.learner_id) == (grant.seat_id, "C-100", grant.learner_id)


def test_store_pages_need_a_session(env) -> None:
    for path in ("/lti/home", "/lti/my-courses", "/lti/home?s=bogus"):
        response = env.client.get(path)
        assert response.status_code == 401 and "no_session" in response.get_data(as_text=True)
    learner = f.launch(env.client, env.platform, target_link_uri="https://tool.test/lti/launch")
    token = _query(learner.headers["Location"])["s"]
    response = env.client.get("/lti/home", query_string={"s": token})
    assert response.status_code == 403 and "admins_only" in response.get_data(as_text=True)


# ---------------------------------------------------------------- deep linking


def test_deep_linking_request_goes_to_the_picker(env) -> None:
    app = env.make_app()
    if "deeplink" not in app.blueprints:  # the picker is another module's; stand in for its endpoint
        picker = Blueprint("deeplink", __name__)
        picker.add_url_rule("/lti/deep-link", "picker", lambda: "picker")
        app.register_blueprint(picker)
    client = app.test_client()
    response = f.launch(client, env.platform, message_type=claims.DEEP_LINKING_REQUEST, roles=[ROLE_INSTRUCTOR])
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert _endpoint(app, location) == "deeplink.picker"
    params = _query(location)
    with env.sessions() as session:
        launch = session.scalars(select(LtiLaunch)).one()
    assert params["launch"] == launch.id and launch.message_type == "LtiDeepLinkingRequest"
    assert launch.claims[claims.DEEP_LINKING_SETTINGS]["data"] == "dl-data-1"
    assert _web_session(env, params["s"])["launch_id"] == launch.id
    assert env.counts().seats == 0
