"""Delivering courses (/dashboard/deliver and its sub-pages): the chosen courses, the **License**
question, the three methods (**LTI link**, **Download Packages**, **Invitations**), the labeled
zip or the streamed zip of zips, the remembered format; learners get 403, POSTs need CSRF."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import MultiDict

from scorm_packages.models import DispatchPackage
from scorm_packages.packaging import package_filename
from store.accounts.models import Account
from store.base import utcnow
from store.catalog.service import import_records
from store.licenses.service import grant_plus, grant_volume
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Form, Page, make_buyer, query_of

CATALOG = [
    {"id": "C-100", "title": "Workplace Safety", "publisher": "Safe Co", "plus": True, "volume_price_cents": 1_000, "ppu_price_cents": 2_000},
    {"id": "C-200", "title": "Advanced Forklift", "publisher": "Safe Co", "volume_price_cents": 1_000, "ppu_price_cents": 2_000},
    {"id": "C-300", "title": "Fire Drills", "publisher": "Safe Co", "volume_price_cents": 1_000, "ppu_price_cents": 2_000},
    {"id": "C-400", "title": "Not Bought", "publisher": "Safe Co", "volume_price_cents": 1_000, "ppu_price_cents": 2_000},
]
METHODS = ["LTI link", "Download Packages", "Invitations"]


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, CATALOG, full=True, now=utcnow())
    account_id = make_account(committing_sessions, name="Acme Learning", now=utcnow()).id
    for course in ("C-200", "C-300"):
        grant_volume(committing_sessions, account_id, course, 5, utcnow())
    return account_id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def method_links(page: Page) -> list[str]:
    nav = page.doc.xpath('//nav[@aria-label="Delivery method"]')
    return [" ".join(a.text_content().split()) for a in nav[0].xpath(".//a")] if nav else []


def deliver(buyer: Buyer, *courses: str, status: int = 200, **args: Any) -> Page:
    return buyer.page("/dashboard/deliver", status=status, course=list(courses), **args)


def answer(buyer: Buyer, page: Page, **changes: str) -> Page:
    """Submit the License question (a GET form; ``Buyer.submit`` folds repeated fields)."""
    form = Form(page.form_of(page.button("Continue")))
    fields = [(k, v) for k, v in form.fields() if k not in changes] + list(changes.items())
    return Page(buyer.client.get(form.action, query_string=MultiDict(fields)))


def manifest_of(data: bytes) -> Any:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("imsmanifest.xml"))


# ---------------------------------------------------------------- choosing


def test_one_course_with_one_license_offers_the_three_methods(buyer: Buyer) -> None:
    page = deliver(buyer, "C-200")
    assert page.h1 == "Deliver “Advanced Forklift”"
    assert method_links(page) == METHODS
    for name, path in zip(METHODS, ("/dashboard/deliver/lti", "/dashboard/deliver/download",
                                    "/dashboard/deliver/invitations")):
        href = page.link(name)
        assert href.split("?")[0] == path
        assert query_of(href) == {"course": "C-200", "license_type": "volume", "s": buyer.token}
    assert "Volume" in page.by_id("delivery-how").getparent().text_content()
    assert page.doc.xpath("//fieldset") == []  # nothing to ask


def test_several_license_types_ask_which_one(committing_sessions: sessionmaker[Session], account: int,
                                             buyer: Buyer) -> None:
    grant_plus(committing_sessions, account, 5, "annual", utcnow())
    grant_volume(committing_sessions, account, "C-100", 5, utcnow())
    page = deliver(buyer, "C-100")
    assert method_links(page) == []  # first the License question
    legend = page.doc.xpath("//fieldset/legend")
    assert [" ".join(x.text_content().split()) for x in legend] == ["License"]
    assert [page.label_text(r) for r in page.doc.xpath('//input[@type="radio"]')] == ["Plus", "Volume"]
    answered = answer(buyer, page, **{"license_type:C-100": "volume"})
    assert answered.status == 200 and method_links(answered) == METHODS
    assert query_of(answered.link("Download Packages"))["license_type"] == "volume"
    # The license given in the link (the dashboard's tabs give it) asks nothing.
    assert method_links(deliver(buyer, "C-100", license_type="plus")) == METHODS


def test_several_courses_ask_only_where_there_is_a_choice(committing_sessions: sessionmaker[Session], account: int,
                                                         buyer: Buyer) -> None:
    grant_plus(committing_sessions, account, 5, "annual", utcnow())
    grant_volume(committing_sessions, account, "C-100", 5, utcnow())
    page = deliver(buyer, "C-100", "C-200")
    assert page.h1 == "Deliver 2 courses"
    assert [" ".join(x.text_content().split()) for x in page.doc.xpath("//fieldset/legend")] == [
        "License for Workplace Safety"]
    answered = answer(buyer, page, **{"license_type:C-100": "plus"})
    link = answered.link("LTI link")
    assert query_of(link)["license_type:C-100"] == "plus" and query_of(link)["license_type:C-200"] == "volume"
    lti = buyer.client.get(link)
    assert lti.status_code == 200


def test_the_dashboards_deliver_selected_courses_form_lands_here(buyer: Buyer) -> None:
    tab = buyer.page("/dashboard/purchased")
    form = Form(tab.form_of(tab.button("Deliver selected courses")))
    assert form.action == "/dashboard/deliver" and form.method == "get"
    ticked = [(k, v) for k, v in form.fields()] + [("course", "C-200"), ("course", "C-300")]
    page = Page(buyer.client.get(form.action, query_string=MultiDict(ticked)))
    assert page.status == 200 and page.h1 == "Deliver 2 courses" and method_links(page) == METHODS
    assert query_of(page.link("Download Packages"))["license_type"] == "volume"
    row_link = [href for href in tab.links("Deliver Course")]
    assert len(row_link) == 2 and buyer.client.get(row_link[0]).status_code == 200


@pytest.mark.parametrize(("courses", "args", "status", "text"), [
    (["C-999"], {}, 404, "There is no course “C-999” in the catalog."),
    (["C-400"], {}, 403, "“Not Bought” cannot be delivered now"),
    (["C-200"], {"license_type": "plus"}, 403, "“Advanced Forklift” cannot be delivered under Plus: the course is "
                                              "not in the Plus catalog."),
    (["C-200"], {"license_type": "gold"}, 400, "The license must be Plus, Volume or Pay Per Use."),
    ([], {}, 400, "Choose at least one course to deliver"),
    (["C-200", "C-999"], {}, 404, "There is no course “C-999”"),
    (["x" * 201], {}, 400, "longer than 200 characters"),
])
def test_unknown_or_not_held_courses_get_a_clear_message_and_nothing_else(
        buyer: Buyer, courses: list[str], args: dict[str, str], status: int, text: str) -> None:
    for path in ("/dashboard/deliver", "/dashboard/deliver/download", "/dashboard/deliver/lti",
                 "/dashboard/deliver/invitations"):
        page = buyer.page(path, status=status, course=courses, **args)
        assert text in page.by_id("delivery-problems").text_content()
        assert method_links(page) == [] and page.buttons("Download") == []


def test_too_many_courses_and_nul_bytes_are_refused(buyer: Buyer) -> None:
    page = deliver(buyer, *(f"C-{i}" for i in range(201)), status=400)
    assert "Choose at most 200 courses" in page.text
    assert buyer.get("/dashboard/deliver", course="C-2\x0000").status_code == 400


def test_learners_get_403_on_every_delivery_page(app: Flask, committing_sessions: sessionmaker[Session],
                                                account: int) -> None:
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    for path in ("/dashboard/deliver", "/dashboard/deliver/lti", "/dashboard/deliver/download",
                 "/dashboard/deliver/invitations"):
        page = learner.page(path, status=403, course="C-200")
        assert "administrators can see the dashboard and deliver courses." in page.text
    response = learner.post("/dashboard/deliver/download", {"course": "C-200", "license_type": "volume",
                                                            "format": "scorm12"})
    assert response.status_code == 403


def test_without_a_session_inside_an_lms_the_page_says_so(app: Flask, account: int) -> None:
    response = app.test_client().get("/dashboard/deliver?course=C-200", headers={"Sec-Fetch-Dest": "iframe"})
    assert response.status_code == 401


# ---------------------------------------------------------------- LTI link


def test_lti_link_explains_deep_linking_and_shows_the_launch_url_and_custom_parameters(buyer: Buyer) -> None:
    page = buyer.page("/dashboard/deliver/lti", course="C-200", license_type="volume")
    assert page.h1 == "LTI link"
    assert page.doc.xpath('//nav[@aria-label="Delivery method"]//a[@aria-current="page"]')[0].text == "LTI link"
    assert "Add content" in page.text and "Add courses to your LMS course" in page.text
    url = page.field("Launch URL")
    assert url.get("value") == "http://tool.test/lti/launch" and url.get("readonly") is not None
    custom = page.field("Custom parameters")
    assert custom.text == "course_id=C-200\nlicense_type=volume" and custom.get("readonly") is not None
    copies = page.buttons("Copy")
    assert [b.get("data-copy-field") for b in copies] == [url.get("id"), custom.get("id")]
    assert page.doc.xpath('//script/@src') == ["/static/js/delivery-copy.js"]


# ---------------------------------------------------------------- Download Packages


def download_form(buyer: Buyer, *courses: str, license_type: str = "volume") -> tuple[Page, Any]:
    page = buyer.page("/dashboard/deliver/download", course=list(courses), license_type=license_type)
    return page, page.form_of(page.button("Download"))


def test_one_course_downloads_one_labeled_zip_and_the_format_is_remembered(
        committing_sessions: sessionmaker[Session], account: int, buyer: Buyer) -> None:
    page, form = download_form(buyer, "C-200")
    assert page.h1 == "Download Packages"
    radios = page.doc.xpath('//input[@name="format"]')
    assert [page.label_text(r) for r in radios] == ["SCORM 1.2", "SCORM 2004"]
    assert [r.get("value") for r in radios if r.get("checked") is not None] == ["scorm12"]  # nothing remembered yet
    warning = page.by_id("delivery-format-warning")
    assert "occupies two seats" in warning.text_content() and "identity linking" in warning.text_content()
    assert warning.xpath(".//a/@href")[0] == f"/dashboard/settings?s={buyer.token}"
    assert form.get("method") == "post"

    response = buyer.submit(form, "Download", format="scorm2004")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    expected = package_filename("Advanced Forklift", "C-200", "volume", "scorm2004")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{expected}"'
    assert response.headers["Cache-Control"] == "no-store"
    manifest = manifest_of(response.data)
    ns = {"cp": manifest.nsmap[None]}
    assert manifest.findtext("cp:metadata/cp:schemaversion", namespaces=ns) == "2004 4th Edition"
    assert "Volume" in manifest.findtext("cp:organizations/cp:organization/cp:title", namespaces=ns)
    with committing_sessions() as session:
        assert session.get_one(Account, account).preferred_package_format == "scorm2004"
        assert session.scalars(select(DispatchPackage.format)).all() == ["scorm2004"]
    assert "last choice" not in warning.text_content()
    again, _form = download_form(buyer, "C-200")
    assert [r.get("value") for r in again.doc.xpath('//input[@name="format"][@checked]')] == ["scorm2004"]
    assert "last choice, SCORM 2004, is preselected" in again.by_id("delivery-format-warning").text_content()


def test_several_courses_stream_one_zip_of_zips(committing_sessions: sessionmaker[Session], account: int,
                                                buyer: Buyer) -> None:
    grant_plus(committing_sessions, account, 5, "annual", utcnow())
    page = buyer.page("/dashboard/deliver/download", course=["C-100", "C-200", "C-300"],
                      **{"license_type:C-100": "plus", "license_type:C-200": "volume", "license_type:C-300": "volume"})
    assert page.by_id("delivery-progress-bar").tag == "progress"
    assert page.doc.xpath('//script/@src') == ["/static/js/delivery-download.js"]
    response = buyer.submit(page.form_of(page.button("Download")), "Download", format="scorm12")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="courses-3__scorm12.zip"'
    assert response.headers["X-Package-Count"] == "3" and "Content-Length" not in response.headers
    chunks = list(response.response)  # one chunk per package as it is built, then the zip's directory
    assert len(chunks) == 4 and all(chunks)
    data = b"".join(chunks)
    estimate = int(response.headers["X-Estimated-Length"])
    assert abs(estimate - len(data)) < len(data) * 0.1
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.namelist() == [package_filename("Workplace Safety", "C-100", "plus", "scorm12"),
                                  package_filename("Advanced Forklift", "C-200", "volume", "scorm12"),
                                  package_filename("Fire Drills", "C-300", "volume", "scorm12")]
    for name in archive.namelist():
        inner = archive.read(name)
        assert manifest_of(inner).findtext("{*}metadata/{*}schemaversion") == "1.2"
    with committing_sessions() as session:
        assert len(session.scalars(select(DispatchPackage)).all()) == 3


def test_a_revoked_package_is_made_again_with_a_new_generation(committing_sessions: sessionmaker[Session],
                                                               buyer: Buyer) -> None:
    _page, form = download_form(buyer, "C-200")
    assert buyer.submit(form, "Download", format="scorm12").status_code == 200
    with committing_sessions.begin() as session:
        package = session.scalars(select(DispatchPackage)).one()
        package.revoked_at = utcnow()
    assert buyer.submit(form, "Download", format="scorm12").status_code == 200
    with committing_sessions() as session:
        package = session.scalars(select(DispatchPackage)).one()
        assert package.revoked_at is None and package.generation == 2


def test_download_refuses_a_bad_format_and_needs_the_csrf_token(committing_sessions: sessionmaker[Session],
                                                               account: int, buyer: Buyer) -> None:
    fields = {"course": "C-200", "license_type": "volume", "format": "scorm3"}
    bad = Page(buyer.post("/dashboard/deliver/download", fields))
    assert bad.status == 400 and "Choose SCORM 1.2 or SCORM 2004." in bad.by_id("delivery-download-error").text
    no_csrf = buyer.post("/dashboard/deliver/download", {**fields, "format": "scorm12"}, csrf=False)
    assert no_csrf.status_code == 400 and "csrf_failed" in no_csrf.get_data(as_text=True)
    assert "open Course Licenses again" in no_csrf.get_data(as_text=True)  # not "the store": any page
    with committing_sessions() as session:
        assert session.scalars(select(DispatchPackage)).all() == []
        assert session.get_one(Account, account).preferred_package_format is None
    not_held = buyer.post("/dashboard/deliver/download", {**fields, "course": "C-400", "format": "scorm12"})
    assert not_held.status_code == 403
