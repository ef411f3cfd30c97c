"""The dashboard's pages (/dashboard and its tabs Plus, Purchased Courses, PPU Library, Needs
Attention) for an account holding Plus, Volume lots (one expired), a PPU deposit and library,
with refused launches, a retiring course and a failed renewal: the summary line, the chart and
its table, each tab's figures and links, who may see them, and /lti/home sending admins here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.clock import add_months
from store.licenses import service as licenses
from tests.factories.catalog import make_course
from tests.factories.dashboard import claim, make_dashboard_account
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Page, make_buyer, query_of

Sessions = sessionmaker[Session]
TABS = ["Plus", "Purchased Courses", "PPU Library", "Order History", "Needs Attention", "Reports"]


@dataclass
class Org:
    account_id: int
    now: datetime
    admin: Buyer


@pytest.fixture
def org(app: Flask, committing_sessions: Sessions) -> Org:
    now = utcnow()
    account_id = make_dashboard_account(committing_sessions, now)
    return Org(account_id, now, make_buyer(app, committing_sessions, account_id))


def rows(page: Page) -> list[list[str]]:
    return [[" ".join(" ".join(td.itertext()).split()) for td in tr.xpath("td")]
            for tr in page.doc.xpath("//table[contains(@class, 'dashboard-table')]/tbody/tr")]


def tab_names(page: Page) -> list[str]:
    return [" ".join(a.text_content().split()) for a in page.doc.xpath('//nav[@aria-label="Dashboard"]//a')]


def current_tab(page: Page) -> list[str]:
    return [" ".join(a.text_content().split()) for a in page.doc.xpath('//nav[@aria-label="Dashboard"]//a[@aria-current="page"]')]


def assert_token_kept(page: Page, admin: Buyer) -> None:
    for href in page.doc.xpath("//a/@href"):
        if href.startswith("/"):
            assert query_of(href).get("s") == admin.token, href


# ---------------------------------------------------------------- the summary and the chart


def test_the_dashboard_shows_the_plus_summary_chart_and_overview(org: Org) -> None:
    page = org.admin.page("/dashboard")
    assert page.h1 == "Dashboard" and page.current_nav() == ["Dashboard"]
    assert tab_names(page) == TABS and current_tab(page) == []
    assert page.by_id("dashboard-plus-summary").text_content().strip() == "Available Plus seats: 8 of 10"
    # The chart: an SVG with a text alternative stating the figures, and the same numbers as a table.
    svg = page.doc.xpath("//svg")[0]
    assert svg.get("role") == "img"
    label = page.by_id(svg.get("aria-labelledby")).text_content()
    today = org.now.date()
    assert f"2 in use on {today:%Y-%m-%d}, 8 of 10 seats left" in label
    assert "run out" in label or "last to the end of the term" in label
    assert len(svg.xpath(".//*[local-name()='polyline']")) == 1
    table = page.doc.xpath("//details//table")[0]
    assert table.xpath("caption")[0].text_content().startswith("Plus seats used")
    figures = [[c.text_content() for c in tr.xpath("td")] for tr in table.xpath("tbody/tr")]
    assert figures[0] == [f"{today - timedelta(days=4):%Y-%m-%d}", "0", "10"]
    assert figures[-1] == [f"{today:%Y-%m-%d}", "2", "8"] and len(figures) == 5
    # The overview: Needs Attention counts with a link, holdings per license type.
    count = page.by_id("dashboard-attention-count").text_content()
    assert "1 refused launch" in count and "1 retiring course" in count and "1 failed renewal" in count
    assert page.link("Review the items that need attention").startswith("/dashboard/attention?s=")
    holdings = " ".join(page.doc.xpath("//ul[@class='dashboard-holdings']")[0].text_content().split())
    assert "Plus: 8 of 10 seats left" in holdings
    assert "Volume: 2 courses, 19 of 21 seats left" in holdings  # the expired lot counts for nothing
    assert "Pay Per Use: deposit balance $70.00, 1 course in the library, 2 seats bought" in holdings
    assert_token_kept(page, org.admin)


def test_the_summary_changes_as_learners_occupy_seats(org: Org, committing_sessions: Sessions) -> None:
    assert "Available Plus seats: 8 of 10" in org.admin.page("/dashboard").text
    assert claim(committing_sessions, org.account_id, "plus", "P-1", "gus", utcnow()).ok
    page = org.admin.page("/dashboard")
    assert page.by_id("dashboard-plus-summary").text_content().strip() == "Available Plus seats: 7 of 10"
    last = page.doc.xpath("//details//table/tbody/tr")[-1]
    assert [c.text_content() for c in last.xpath("td")][1:] == ["3", "7"]


def test_without_plus_the_dashboard_says_so_and_links_to_the_plus_page(app: Flask, committing_sessions: Sessions) -> None:
    account_id = make_account(committing_sessions, "Empty Org", now=utcnow()).id
    page = make_buyer(app, committing_sessions, account_id).page("/dashboard")
    assert "has no Plus subscription" in page.by_id("dashboard-plus-summary").text_content()
    assert page.link("Subscribe to Plus in the store").startswith("/store/plus?s=")
    assert not page.doc.xpath("//svg") and "Nothing needs your attention." in page.text


# ---------------------------------------------------------------- the tabs


def test_the_plus_tab_lists_launched_courses_with_deliver_links(org: Org) -> None:
    page = org.admin.page("/dashboard/plus")
    assert current_tab(page) == ["Plus"] and "Available Plus seats: 8 of 10" in page.text
    table = rows(page)
    assert [r[0] for r in table] == ["Crane Signals OLD-1", "Workplace Safety P-1"]  # most recently used first
    assert table[1][1:6] == ["1", "0", f"{org.now - timedelta(days=3):%Y-%m-%d}",
                             f"{org.now - timedelta(days=3):%Y-%m-%d}", "active"]
    assert table[0][5] == "retiring"
    links = page.links("Deliver Course")
    assert len(links) == 2
    assert query_of(links[1]) == {"s": org.admin.token, "course": "P-1", "license_type": "plus"}
    assert links[1].startswith("/dashboard/deliver?")
    assert "Loading Docks" not in page.text  # a Volume course


def test_deliver_selected_courses_is_a_get_form_with_a_checkbox_per_course(org: Org) -> None:
    page = org.admin.page("/dashboard/purchased")
    form = page.form_of(page.button("Deliver selected courses"))
    assert form.get("method") == "get" and form.get("action") == "/dashboard/deliver"
    hidden = {i.get("name"): i.get("value") for i in form.xpath(".//input[@type='hidden']")}
    assert hidden == {"s": org.admin.token, "license_type": "volume"}
    box = page.field("Advanced Forklift")
    assert (box.get("type"), box.get("name"), box.get("value")) == ("checkbox", "course", "V-1")


def test_the_purchased_courses_tab_shows_seats_and_every_lot(org: Org) -> None:
    page = org.admin.page("/dashboard/purchased")
    assert current_tab(page) == ["Purchased Courses"]
    headers = [" ".join(th.text_content().split()) for th in page.doc.xpath("//table//th")]
    assert headers == ["Course", "Seats bought", "Seats used", "Seats left", "Lots and expiry", "Actions"]
    table = rows(page)
    forklift, docks = table
    assert forklift[:4] == ["Advanced Forklift V-1", "20", "1", "19 of 20 seats left"]
    expired_on = add_months(org.now - timedelta(days=380), 12)
    assert f"0 of 5 seats left: expired {expired_on:%Y-%m-%d}" in forklift[4] and "5 of 5" not in forklift[4]
    assert f"19 of 20 seats left: expires {add_months(org.now - timedelta(days=2), 12):%Y-%m-%d}" in forklift[4]
    assert docks[:4] == ["Loading Docks V-2", "1", "1", "0 of 1 seat left"]
    assert query_of(page.links("Deliver Course")[0])["course"] == "V-1"
    buy = page.links("Buy More Seats")
    assert buy[0].startswith("/store/courses/V-1?") and query_of(buy[0]) == {"s": org.admin.token, "buy": "1"}


def test_the_ppu_tab_shows_the_deposit_seats_bought_and_the_low_balance_notice(org: Org) -> None:
    page = org.admin.page("/dashboard/ppu")
    assert current_tab(page) == ["PPU Library"]
    assert page.by_id("dashboard-balance").text_content() == "$70.00"
    assert page.by_id("dashboard-seats-bought").text_content() == "2"
    notice = page.by_id("dashboard-low-balance").text_content()
    assert "below the price of ten seats" in notice and "$150.00" in notice  # 10 × $15.00
    assert rows(page) == [["Ladder Safety PPU-1", "$15.00", "2 ($30.00)", "active", "Deliver Course"]]
    assert query_of(page.link("Deliver Course"))["license_type"] == "ppu"


def test_the_ppu_tab_without_pay_per_use(app: Flask, committing_sessions: Sessions) -> None:
    account_id = make_account(committing_sessions, "No PPU", now=utcnow()).id
    page = make_buyer(app, committing_sessions, account_id).page("/dashboard/ppu")
    assert "does not use Pay Per Use" in page.text and not page.buttons("Deliver selected courses")


def test_needs_attention_lists_items_newest_first_with_what_to_do(org: Org) -> None:
    page = org.admin.page("/dashboard/attention")
    assert current_tab(page) == ["Needs Attention"]
    items = page.doc.xpath("//li[contains(@class, 'dashboard-attention-item')]")
    kinds = [" ".join(i.xpath(".//p[1]/strong")[0].text_content().split()) for i in items]
    assert kinds == ["Failed renewal", "Refused launch", "Retiring course"]
    texts = [" ".join(i.text_content().split()) for i in items]
    assert "Bea could not open Loading Docks V-2 (Volume). All seats for this course are taken." in texts[1]
    assert "reason no_seats" in texts[1]  # the code, as secondary text
    assert "suggested replacement is Crane Signals Today" in texts[2]
    links = {" ".join(a.text_content().split()): a.get("href") for a in page.doc.xpath("//p[@class='dashboard-todo']/a")}
    assert set(links) == {"Update the card on the Plus page", "Buy seats", "Deliver the replacement"}
    assert links["Buy seats"].startswith("/store/courses/V-2?") and query_of(links["Buy seats"])["buy"] == "1"
    assert links["Update the card on the Plus page"].startswith("/store/plus?")
    assert links["Deliver the replacement"].startswith("/dashboard/deliver?")
    assert query_of(links["Deliver the replacement"]) == {"s": org.admin.token, "course": "NEW-1"}
    assert_token_kept(page, org.admin)


def test_needs_attention_renew_links_the_plus_page(app: Flask, committing_sessions: Sessions) -> None:
    now = utcnow()
    with committing_sessions.begin() as s:
        make_course(s, "P-9", title="Fire Drill")
    account_id = make_account(committing_sessions, "Monthly Org", now=now).id
    licenses.grant_plus(committing_sessions, account_id, 3, "monthly", now - timedelta(days=5))  # never renews
    page = make_buyer(app, committing_sessions, account_id).page("/dashboard/attention")
    assert "will not renew" in page.text
    assert page.link("Renew the Plus subscription").startswith("/store/plus?s=")


def test_every_link_and_form_keeps_the_session_token(org: Org) -> None:
    for path in ("/dashboard", "/dashboard/plus", "/dashboard/purchased", "/dashboard/ppu", "/dashboard/attention"):
        page = org.admin.page(path)
        assert_token_kept(page, org.admin)
        for form in page.doc.xpath("//form"):
            assert form.xpath(f".//input[@type='hidden'][@name='s'][@value='{org.admin.token}']"), path


def test_every_table_column_has_a_header(org: Org) -> None:
    for path in ("/dashboard", "/dashboard/plus", "/dashboard/purchased", "/dashboard/ppu"):
        page = org.admin.page(path)
        for th in page.doc.xpath("//th"):
            assert th.text_content().strip(), path
        for table in page.doc.xpath("//table"):
            widths = {len(tr.xpath("td|th")) for tr in table.xpath(".//tr")}
            assert len(widths) == 1, path


# ---------------------------------------------------------------- who may see it


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/plus", "/dashboard/purchased", "/dashboard/ppu",
                                  "/dashboard/attention"])
def test_learners_get_403_and_no_session_401(app: Flask, committing_sessions: Sessions, path: str) -> None:
    account_id = make_account(committing_sessions, "Acme", now=utcnow()).id
    learner = make_buyer(app, committing_sessions, account_id, is_admin=False, external_id="learner-1")
    refused = learner.get(path)
    assert refused.status_code == 403 and "admins_only" in refused.get_data(as_text=True)
    assert "Available Plus seats" not in refused.get_data(as_text=True)
    framed = app.test_client().get(path, headers={"Sec-Fetch-Dest": "iframe"})
    assert framed.status_code == 401 and "no_session" in framed.get_data(as_text=True)
    ended = app.test_client().get(path, query_string={"s": "no-such-session"})
    assert ended.status_code == 401
    outside = app.test_client().get(path, headers={"Sec-Fetch-Dest": "document"})
    assert outside.status_code == 303 and outside.headers["Location"].startswith("/store/signin")


def test_lti_home_sends_admins_to_the_dashboard_and_refuses_learners(app: Flask, committing_sessions: Sessions) -> None:
    account_id = make_account(committing_sessions, "Acme", now=utcnow()).id
    admin = make_buyer(app, committing_sessions, account_id)
    response = admin.get("/lti/home")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.split("?")[0] == "/dashboard" and query_of(location) == {"s": admin.token}
    learner = make_buyer(app, committing_sessions, account_id, is_admin=False, external_id="learner-1")
    assert learner.get("/lti/home").status_code == 403


def test_the_store_bar_links_the_dashboard(org: Org) -> None:
    page = org.admin.page("/store")
    href = page.nav_link("Dashboard")
    assert href.split("?")[0] == "/dashboard" and query_of(href) == {"s": org.admin.token}


@pytest.mark.parametrize("query", ["x=%00", "s%00=1", "course=%ED%A0%80"])
def test_nul_and_invalid_text_in_the_query_get_400(org: Org, query: str) -> None:
    for path in ("/dashboard", "/dashboard/attention"):
        response = org.admin.client.get(f"{path}?s={org.admin.token}&{query}")
        assert response.status_code == 400 and "invalid_text" in response.get_data(as_text=True)


def test_odd_query_arguments_are_ignored(org: Org) -> None:
    for path in ("/dashboard", "/dashboard/plus", "/dashboard/purchased", "/dashboard/ppu", "/dashboard/attention"):
        assert org.admin.get(path, page="-1", course="x" * 5000, license_type="<b>").status_code == 200
    assert org.admin.get("/dashboard/unknown-tab").status_code == 404


def test_a_closed_account_is_an_ended_session(app: Flask, committing_sessions: Sessions) -> None:
    from lti_tool.lti.models import WebSession
    from lti_tool.lti.websession import token_hash

    account_id = make_account(committing_sessions, "Gone", now=utcnow()).id
    admin = make_buyer(app, committing_sessions, account_id)
    with committing_sessions.begin() as s:
        stored = s.get(WebSession, token_hash(admin.token))
        stored.data = {**stored.data, "account_id": 999_999_999}
    response = admin.get("/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "no longer exists" in page and "no_session" in page
