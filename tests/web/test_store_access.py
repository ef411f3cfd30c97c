"""Who reaches the store: admins of an LTI launch and independent learners (``current_buyer``);
learners get a 403 page on every store page; without a session a 401 page inside an LMS frame
and the sign-in page outside. The admin's navigation launch lands on the Dashboard with the
store's navigation bar, and store pages are framed by the launch's LMS."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.testplatform import ROLE_INSTRUCTOR, ROLE_LEARNER
from lti_tool.storefront.access import Buyer as AccessBuyer
from lti_tool.storefront.access import current_buyer
from store.base import utcnow
from store.licenses.models import PpuLibraryEntry
from store.licenses.service import configure_ppu
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.store import Page, make_buyer

STORE_PAGES = ("/store", "/store/courses/C-100", "/store/plus", "/store/library")
NAV = ["Store", "Cart", "Dashboard", "Order History"]


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    with committing_sessions.begin() as session:
        make_course(session, "C-100", title="Workplace Safety", is_plus=True)
    return make_account(committing_sessions, now=utcnow()).id


@pytest.mark.parametrize("path", STORE_PAGES)
def test_a_learner_gets_a_clear_403_on_every_store_page(app, committing_sessions, account, path) -> None:  # type: ignore[no-untyped-def]
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    page = learner.page(path, status=403)
    assert page.h1 == "For administrators only"
    assert "Only your organization's administrators can buy courses and licenses in the store." in page.text
    assert "<code>admins_only</code>" in page.html


def test_a_learner_cannot_add_to_the_library_either(app, committing_sessions, account) -> None:  # type: ignore[no-untyped-def]
    configure_ppu(committing_sessions, account, "PPU-1", 10_000, utcnow())
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    response = learner.post("/store/library", {"catalog_id": "C-100", "back": "/store"})
    assert response.status_code == 403 and "admins_only" in response.get_data(as_text=True)
    assert f.count(committing_sessions, PpuLibraryEntry) == 0


def test_is_admin_must_be_exactly_true(app, committing_sessions, account) -> None:  # type: ignore[no-untyped-def]
    odd = make_buyer(app, committing_sessions, account, is_admin="yes", external_id="odd")  # type: ignore[arg-type]
    assert odd.get("/store").status_code == 403


@pytest.mark.parametrize("path", STORE_PAGES)
def test_without_a_session_outside_an_lms_the_sign_in_page_opens(client, path) -> None:  # type: ignore[no-untyped-def]
    expected = "/store/signin?" + urlencode({"next": path})  # sign-in comes back here
    response = client.get(path, headers={"Sec-Fetch-Dest": "document"})
    assert response.status_code == 303 and response.headers["Location"] == expected
    assert client.get(path).headers["Location"] == expected  # no Fetch Metadata, no token
    signed_in_page = client.get(expected)
    assert signed_in_page.status_code == 200 and f'value="{path}"' in signed_in_page.get_data(as_text=True)


@pytest.mark.parametrize("path", STORE_PAGES)
def test_without_a_session_inside_an_lms_frame_a_401_page(client, path) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path, headers={"Sec-Fetch-Dest": "iframe"})
    page = Page(response)
    assert response.status_code == 401 and page.h1 == "Your session has ended"
    assert "Open the tool again from your LMS." in page.text and "<code>no_session</code>" in page.html


def test_an_ended_session_token_without_fetch_metadata_counts_as_inside_an_lms(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/store", query_string={"s": "ended-token"}).status_code == 401
    # A browser that says it is a top-level page is sent to sign in, token or not.
    response = client.get("/store", query_string={"s": "ended-token"}, headers={"Sec-Fetch-Dest": "document"})
    assert response.status_code == 303


def test_an_independent_learner_sees_the_bar_with_my_courses_and_sign_out(app, committing_sessions, account) -> None:  # type: ignore[no-untyped-def]
    buyer = make_buyer(app, committing_sessions, account, login_id=7)
    page = buyer.page("/store")
    # My courses is an independent learner's dashboard: it takes the Dashboard's place.
    assert page.nav_names() == ["Store", "Cart", "My courses", "Order History", "Sign out"]
    assert page.current_nav() == ["Store"]
    assert page.nav_link("My courses").startswith("/store/my-courses?s=")
    form = page.form_of(page.button("Sign out"))
    assert form.get("method") == "post" and form.get("action") == "/store/signout"
    assert {i.get("name") for i in form.xpath(".//input")} == {"csrf_token", "s"}


def test_an_lms_admin_sees_the_bar_without_sign_out(app, committing_sessions, account) -> None:  # type: ignore[no-untyped-def]
    page = make_buyer(app, committing_sessions, account).page("/store")
    assert page.nav_names() == NAV
    for name, path in (("Store", "/store"), ("Cart", "/store/cart"), ("Dashboard", "/dashboard"),
                       ("Order History", "/store/orders")):
        href = page.nav_link(name)
        assert href.split("?")[0] == path and "s=" in href  # the session token rides along


def test_current_buyer_reads_the_session(app, committing_sessions, account) -> None:  # type: ignore[no-untyped-def]
    admin = make_buyer(app, committing_sessions, account, registration_id=12, launch_id="L-1")
    with app.test_request_context("/store", query_string={"s": admin.token}):
        buyer = current_buyer()
    assert isinstance(buyer, AccessBuyer)
    assert (buyer.account_id, buyer.is_admin, buyer.login_id, buyer.registration_id) == (account, True, None, 12)
    assert not buyer.is_independent
    independent = make_buyer(app, committing_sessions, account, login_id=3, external_id="me")
    with app.test_request_context("/store", query_string={"s": independent.token}):
        buyer = current_buyer()
    assert buyer.login_id == 3 and buyer.is_independent and buyer.registration_id is None


# ---------------------------------------------------------------- through a real LTI launch


def test_the_admins_navigation_launch_lands_on_the_dashboard_with_the_bar(lti_env) -> None:  # type: ignore[no-untyped-def]
    response = f.launch(lti_env.client, lti_env.platform, roles=[ROLE_INSTRUCTOR],
                        target_link_uri="https://tool.test/")
    assert response.status_code == 303 and response.headers["Location"].startswith("/dashboard?s=")
    dashboard = Page(lti_env.client.get(response.headers["Location"]))
    assert dashboard.status == 200 and dashboard.h1 == "Dashboard"
    assert dashboard.nav_names() == NAV and dashboard.current_nav() == ["Dashboard"]
    store = Page(lti_env.client.get(dashboard.nav_link("Store")))
    assert store.status == 200 and store.h1 == "Store" and store.current_nav() == ["Store"]
    # Inside the LMS iframe: the page may be framed by the launch's LMS.
    policy = store.response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://lms.example.edu" in policy
    assert "'unsafe-inline'" not in policy


def test_a_learners_launch_never_reaches_the_store(lti_env) -> None:  # type: ignore[no-untyped-def]
    response = f.launch(lti_env.client, lti_env.platform, roles=[ROLE_LEARNER], target_link_uri="https://tool.test/")
    token = response.headers["Location"].split("s=")[1]
    page = Page(lti_env.client.get("/store", query_string={"s": token}))
    assert page.status == 403 and "Only your organization's administrators can buy" in page.text
