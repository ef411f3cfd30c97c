"""An admin's navigation launch (``/lti/home``) ends on the dashboard, which shows each holding
with its status (Plus, Volume lots, the PPU library); and the refusal page without a seat
question for what cannot be delivered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from lti_tool.lti.testplatform import ROLE_INSTRUCTOR
from store.base import utcnow
from store.licenses.models import PlusSubscription
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.licenses import claim
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.store import Page, query_of


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100", title="Workplace Safety", is_plus=True, ppu_price_cents=2_000)
        make_course(session, "C-200", title="Advanced Forklift", is_plus=False)
        make_course(session, "C-300", title="Crane Signals", is_plus=False)
    return lti_env


def _text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return Page(response).text


def test_the_dashboard_shows_each_holdings_status(env) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    start = now + timedelta(days=20)
    grant_plus(env.sessions, env.account_id, 5, "annual", now)
    with env.sessions.begin() as session:
        session.execute(update(PlusSubscription).values(auto_renew=False))
    grant_volume(env.sessions, env.account_id, "C-200", 10, now, start=start)
    grant_volume(env.sessions, env.account_id, "C-300", 1, now)
    assert claim(env.sessions, env.account_id, "volume", "C-300", "holder", now).ok
    configure_ppu(env.sessions, env.account_id, "PPU-7", 1_000, now)
    add_to_ppu_library(env.sessions, env.account_id, "C-100", now)

    response = f.launch(env.client, env.platform, roles=[ROLE_INSTRUCTOR], target_link_uri="https://tool.test/")
    location = response.headers["Location"]
    assert response.status_code == 303 and location.split("?")[0] == "/dashboard"
    token = query_of(location)["s"]
    page = _text(env.client.get(location))
    assert "Available Plus seats: 5 of 5" in page and "cancelled (runs to the end of its term)" in page
    purchased = _text(env.client.get("/dashboard/purchased", query_string={"s": token}))
    assert "Advanced Forklift" in purchased and f"starts {start:%Y-%m-%d}" in purchased
    assert "Crane Signals" in purchased and "0 of 1 seat left" in purchased
    ppu = _text(env.client.get("/dashboard/ppu", query_string={"s": token}))
    assert "$10.00" in ppu and "$20.00" in ppu and "deposit too low for a new learner" in ppu


def test_lti_home_redirects_admins_to_the_dashboard(env) -> None:  # type: ignore[no-untyped-def]
    response = f.launch(env.client, env.platform, roles=[ROLE_INSTRUCTOR], target_link_uri="https://tool.test/")
    token = query_of(response.headers["Location"])["s"]
    home = env.client.get("/lti/home", query_string={"s": token})
    assert home.status_code == 303 and home.headers["Location"] == f"/dashboard?s={token}"
    dashboard = env.client.get(home.headers["Location"])
    assert "<h1>Dashboard</h1>" in dashboard.get_data(as_text=True)
    # Inside the LMS iframe: the page may be framed by the launch's LMS.
    assert "frame-ancestors 'self' https://lms.example.edu" in dashboard.headers["Content-Security-Policy"]


def test_an_admin_is_not_asked_to_take_a_seat_a_course_cannot_give(env) -> None:  # type: ignore[no-untyped-def]
    grant_volume(env.sessions, env.account_id, "C-200", 10, utcnow(), start=utcnow() + timedelta(days=20))
    response = f.launch(env.client, env.platform, roles=[ROLE_INSTRUCTOR],
                        custom=f.course_custom("C-200", "volume"))
    page = response.get_data(as_text=True)
    assert response.status_code == 403 and "<code>not_started</code>" in page
    assert "has not started yet" in page and "Continue and use a seat" not in page
    assert env.counts().seats == 0
