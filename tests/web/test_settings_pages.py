"""The account's settings (/dashboard/settings, the **Settings** link of every dashboard page):
identity linking (off by default; on, an LTI launch and a SCORM package launch of one person
occupy one seat and the report shows one person) and the account closure request (stored, listed
by `lti-tool staff requests`); CSRF, bad input and access."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti import claims
from lti_tool.services import services_of
from scorm_packages import service as packages
from scorm_packages.tokens import make_launch_token
from store.accounts.linking import is_identity_linking
from store.accounts.models import ClosureRequest
from store.closure.service import list_closure_requests
from store.licenses import service as licenses
from store.licenses.models import Seat
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.store import Buyer, Form, Page, make_buyer

Sessions = sessionmaker[Session]
SETTINGS = "/dashboard/settings"
LINK_LABEL = "Treat the same person as one learner across delivery methods"
CONFIRM_LABEL = "I want this account closed and understand that everything of it will be removed"


@pytest.fixture
def account(app: Flask, committing_sessions: Sessions) -> int:
    return make_account(committing_sessions, "Acme Learning").id


@pytest.fixture
def buyer(app: Flask, committing_sessions: Sessions, account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def save(buyer: Buyer, page: Page, button: str, **changes: str) -> Any:
    return buyer.submit(page.form_of(page.button(button)), button, **changes)


def requests_of(sessions: Sessions) -> list[Any]:
    with sessions() as session:
        return list_closure_requests(session)


# ---------------------------------------------------------------- identity linking


def test_every_dashboard_page_links_to_the_settings(buyer: Buyer) -> None:
    reports = buyer.page("/dashboard/reports")
    link = reports.link("Settings")
    assert link == f"{SETTINGS}?s={buyer.token}"
    page = Page(buyer.client.get(link))
    assert page.h1 == "Settings" and page.current_nav() == ["Dashboard"]
    assert page.doc.xpath('//nav[@aria-label="Account"]/a[@aria-current="page"]/text()') == ["Settings"]


def test_identity_linking_is_off_by_default_and_explained(buyer: Buyer) -> None:
    page = buyer.page(SETTINGS)
    assert not page.doc.xpath('//*[@id="settings-closure-pending"]')  # nothing asked yet
    box = page.field(LINK_LABEL)
    assert box.get("type") == "checkbox" and box.get("checked") is None
    help_text = page.described_by(box)
    for words in ("matched by email address", "LMS username", "occupies one seat", "share an email address",
                  "off by default"):
        assert words in help_text
    assert page.button("Save settings") is not None


def test_saving_the_setting(buyer: Buyer, committing_sessions: Sessions, account: int) -> None:
    page = buyer.page(SETTINGS)
    response = save(buyer, page, "Save settings", link_identities="on")
    assert response.status_code == 303 and response.headers["Location"] == f"{SETTINGS}?s={buyer.token}"
    assert is_identity_linking(committing_sessions, account) is True
    shown = buyer.page(SETTINGS)
    assert shown.field(LINK_LABEL).get("checked") is not None
    assert "Settings saved: the same person is now treated as one learner" in shown.doc.xpath(
        '//p[@role="status"]')[0].text_content()
    # Unticked and saved: off again.
    form = Form(shown.form_of(shown.button("Save settings")))
    unticked = [(k, v) for k, v in form.fields() if k not in ("link_identities", "s", "csrf_token")]
    assert unticked == [("form", "linking")]
    assert buyer.post(SETTINGS, unticked).status_code == 303
    assert is_identity_linking(committing_sessions, account) is False
    assert "each delivery method now counts its learners separately" in buyer.page(SETTINGS).text


def test_a_post_without_its_csrf_token_changes_nothing(buyer: Buyer, committing_sessions: Sessions,
                                                       account: int) -> None:
    response = buyer.post(SETTINGS, {"form": "linking", "link_identities": "on"}, csrf=False)
    assert response.status_code == 400 and "The form could not be accepted" in response.get_data(as_text=True)
    closure = buyer.post(SETTINGS, {"form": "closure", "confirm": "yes"}, csrf=False)
    assert closure.status_code == 400
    assert is_identity_linking(committing_sessions, account) is False and requests_of(committing_sessions) == []


def test_an_unknown_form_is_refused(buyer: Buyer) -> None:
    response = buyer.post(SETTINGS, {"form": "delete-everything"})
    assert response.status_code == 400 and "Not a settings form" in response.get_data(as_text=True)


# ---------------------------------------------------------------- closure request


def test_requesting_account_closure(app: Flask, engine: Any, buyer: Buyer, committing_sessions: Sessions) -> None:
    page = buyer.page(SETTINGS)
    assert page.field("Reason (optional)").tag == "textarea"
    assert page.field(CONFIRM_LABEL).get("required") is not None
    response = save(buyer, page, "Request account closure", reason="We moved to another vendor.\nThanks!",
                    confirm="yes")
    assert response.status_code == 303
    (request,) = requests_of(committing_sessions)
    assert (request.account_name, request.message, request.name) == ("Acme Learning",
                                                                      "We moved to another vendor.\nThanks!", "admin-1")
    shown = buyer.page(SETTINGS)
    assert "sent to vendor staff, who will act on it" in shown.by_id("settings-closure-sent").text_content()
    later = buyer.page(SETTINGS)  # the message is shown once; the request stays visible
    assert not later.doc.xpath('//*[@id="settings-closure-sent"]')
    assert later.by_id("settings-closure-pending").text_content().split() == (
        f"You asked to close this account on {request.created_at:%Y-%m-%d}. Vendor staff will act on it; until "
        "they close it, everything keeps working.").split()
    listed = CliRunner().invoke(cli, ["staff", "requests"], obj=CliContext(_engine=engine), catch_exceptions=False)
    assert listed.exit_code == 0 and "Acme Learning" in listed.output and "We moved to another vendor." in listed.output


def test_closure_needs_the_confirmation(buyer: Buyer, committing_sessions: Sessions) -> None:
    page = buyer.page(SETTINGS)
    response = save(buyer, page, "Request account closure", reason="Please close it.")
    assert response.status_code == 400
    shown = Page(response)
    box = shown.field(CONFIRM_LABEL)
    assert box.get("aria-invalid") == "true"
    assert shown.described_by(box) == "Tick the box to confirm that you want the account closed."
    assert shown.field("Reason (optional)").text == "Please close it."  # kept for the next try
    assert requests_of(committing_sessions) == []


def test_closure_refuses_a_reason_too_long_or_with_a_nul(buyer: Buyer, committing_sessions: Sessions) -> None:
    too_long = buyer.post(SETTINGS, {"form": "closure", "confirm": "yes", "reason": "x" * 2_001})
    assert too_long.status_code == 400
    shown = Page(too_long)
    assert shown.described_by(shown.field("Reason (optional)")) == "The reason is too long: at most 2,000 characters."
    nul = buyer.post(SETTINGS, {"form": "closure", "confirm": "yes", "reason": "close\x00it"})
    assert nul.status_code == 400 and "Traceback" not in nul.get_data(as_text=True)
    assert buyer.post(SETTINGS, {"form": "linking\x00", "link_identities": "on"}).status_code == 400
    assert requests_of(committing_sessions) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_learners_and_strangers_are_refused(app: Flask, client: Any, committing_sessions: Sessions, account: int,
                                            method: str) -> None:
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    if method == "GET":
        assert learner.get(SETTINGS).status_code == 403
        assert client.get(SETTINGS, headers={"Sec-Fetch-Dest": "iframe"}).status_code == 401
    else:
        assert learner.post(SETTINGS, {"form": "closure", "confirm": "yes"}).status_code == 403
        assert learner.post(SETTINGS, {"form": "linking", "link_identities": "on"}).status_code == 403
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(ClosureRequest)) == 0
    assert is_identity_linking(committing_sessions, account) is False


# ---------------------------------------------------------------- linking at work


def test_linked_an_lti_launch_and_a_package_launch_of_one_person_occupy_one_seat(lti_env) -> None:  # type: ignore[no-untyped-def]
    """The admin turns linking on in the settings; Ada launches by LTI (the LMS sends her email
    and username), then from a SCORM 1.2 package in the same LMS (which reports the username as
    its learner id): one seat, and the report shows one person with both identities."""
    env = lti_env
    now = datetime.now(UTC)
    with env.sessions.begin() as s:
        make_course(s, "VOL-1", title="Forklift Basics", is_plus=False)
    licenses.grant_volume(env.sessions, env.account_id, "VOL-1", 5, now)
    admin = make_buyer(env.app, env.sessions, env.account_id)
    page = admin.page(SETTINGS)
    assert save(admin, page, "Save settings", link_identities="on").status_code == 303

    lti = f.launch(env.client, env.platform, custom=f.course_custom("VOL-1", "volume"), sub="sub-ada",
                   name="Ada Lovelace", email="ada@example.edu", extra={claims.EXT: {"user_username": "adal"}})
    assert lti.status_code == 303 and "/play" in lti.headers["Location"]
    package = packages.prepare_package(env.sessions, services_of(env.app).settings, env.account_id, "VOL-1",
                                       "volume", "scorm12", now)
    token = make_launch_token(package_key=package.view.key, generation=package.view.generation,
                              secret=package.secret, learner_id="adal", learner_name="Lovelace, Ada",
                              page_origin="https://lms.example.edu", referrer_origin="https://lms.example.edu",
                              now=datetime.now(UTC))
    dispatched = env.client.post("/dispatch/launch", data={"token": token},
                                 headers={"Origin": "https://lms.example.edu"})
    assert dispatched.status_code == 303 and "/play" in dispatched.headers["Location"]
    with env.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Seat)) == 1

    report = admin.page("/dashboard/reports")
    rows = report.doc.xpath('//table[@class="report-table"]/tbody/tr')
    assert len(rows) == 1
    learner = " ".join(rows[0].xpath("td")[0].text_content().split())
    assert learner.startswith("Ada Lovelace ada@example.edu Linked:")
    assert "LTI (https://lms.example.edu): sub-ada" in learner and "SCORM 1.2: adal" in learner
