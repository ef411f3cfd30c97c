"""Deep linking end to end: a TestPlatform deep-linking launch through /lti/login + /lti/launch,
the picker (access, listing per license type, search, pages, selection, ambiguity), and the
signed LtiDeepLinkingResponse verified against the tool's JWKS from /lti/jwks."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

from lti_tool.lti import claims
from lti_tool.lti import content_items as ci
from lti_tool.lti.deeplink import consume_request
from lti_tool.lti.models import LtiLaunch
from lti_tool.lti.testplatform import ROLE_INSTRUCTOR, ROLE_LEARNER
from store.base import utcnow
from store.clock import add_months
from store.licenses.models import VolumeLot
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories import lti as f
from tests.factories.catalog import make_bundle, make_course
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401

RETURN_URL = "https://lms.example.edu/deep_link_return"


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    now = utcnow()
    with lti_env.sessions.begin() as session:
        ted = make_bundle(session, "TED@Work", subscription_only=True)
        make_course(session, "C-100", title="Workplace Safety", is_plus=True, publisher="Safe Co")
        make_course(session, "C-200", title="Advanced Forklift", is_plus=False)
        make_course(session, "C-300", title="Chemical Handling", is_plus=False)
        make_course(session, "C-400", title="Ideas Worth Spreading", is_plus=True, bundle=ted)
        make_course(session, "C-500", title="Crane Operation", is_plus=False)
        make_course(session, "C-600", title="Ladder Work", is_plus=False)
    account = lti_env.account_id
    grant_plus(lti_env.sessions, account, 10, "annual", now)
    grant_volume(lti_env.sessions, account, "C-100", 10, now)
    grant_volume(lti_env.sessions, account, "C-200", 10, now)
    grant_volume(lti_env.sessions, account, "C-600", 10, add_months(now, -13))  # recorded 13 months ago: expired
    configure_ppu(lti_env.sessions, account, "PPU-1", 50_000, now)
    add_to_ppu_library(lti_env.sessions, account, "C-300", now)
    return lti_env


# ---------------------------------------------------------------- page helpers


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.picks: list[tuple[str, str, bool]] = []  # (value, input type, checked)
        self.shown: list[str] = []
        self.selects: dict[str, dict[str, Any]] = {}
        self.buttons: list[tuple[str, str]] = []
        self.q = ""
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input":
            name, kind = a.get("name", ""), a.get("type", "text")
            if name == "pick":
                self.picks.append((a.get("value", ""), kind, "checked" in a))
            elif name == "shown":
                self.shown.append(a.get("value", ""))
            elif name == "q":
                self.q = a.get("value", "")
            elif kind == "hidden":
                self.hidden[name] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name", "")
            self.selects[self._select] = {"options": [], "selected": None}
        elif tag == "option" and self._select is not None:
            entry = self.selects[self._select]
            entry["options"].append(a.get("value", ""))
            if "selected" in a:
                entry["selected"] = a.get("value", "")
        elif tag == "button":
            self.buttons.append((a.get("name", ""), a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            entry = self.selects[self._select or ""]
            if entry["selected"] is None and entry["options"]:
                entry["selected"] = entry["options"][0]
            self._select = None


@dataclass
class Picker:
    status: int
    text: str
    hidden: dict[str, str]
    picks: list[tuple[str, str, bool]]
    shown: list[str]
    selects: dict[str, dict[str, Any]]
    buttons: list[tuple[str, str]]
    q: str

    @property
    def checked(self) -> list[str]:
        return [value for value, _kind, checked in self.picks if checked]

    @property
    def licenses(self) -> dict[str, str]:
        return {name.removeprefix("license-"): entry["selected"] for name, entry in self.selects.items()
                if name.startswith("license-")}

    def license_options(self, catalog_id: str) -> list[str]:
        return list(self.selects[f"license-{catalog_id}"]["options"])


def _picker(response: Any) -> Picker:
    text = response.get_data(as_text=True)
    parser = _FormParser()
    parser.feed(text)
    return Picker(response.status_code, text, parser.hidden, parser.picks, parser.shown, parser.selects,
                  parser.buttons, parser.q)


def _post(env: Any, page: Picker, *, action: str | None = None, picks: list[str] | None = None,
          licenses: dict[str, str] | None = None, q: str | None = None, license_type: str | None = None,
          goto: int | None = None, remove: str | None = None, client: Any = None, drop: tuple[str, ...] = ()) -> Any:
    """Submit the picker form as a browser would: hidden fields, the ticks on the page (the current
    ones unless ``picks``), the license selects (as shown unless overridden) and the button."""
    data: list[tuple[str, str]] = [(k, v) for k, v in page.hidden.items() if k not in drop]
    data.append(("q", page.q if q is None else q))
    data.append(("type", page.selects["type"]["selected"] if license_type is None else license_type))
    for value in page.shown:
        data.append(("shown", value))
    for value in page.checked if picks is None else picks:
        data.append(("pick", value))
    chosen = {**page.licenses, **(licenses or {})}
    for catalog_id, value in chosen.items():
        data.append((f"license-{catalog_id}", value or ""))
    if action:
        data.append(("action", action))
    if goto is not None:
        data.append(("goto", str(goto)))
    if remove:
        data.append(("remove", remove))
    return (client or env.client).post("/lti/deep-link", data=MultiDict(data))


def _follow(env: Any, response: Any, client: Any = None) -> Picker:
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert urlsplit(location).path == "/lti/deep-link"
    return _picker((client or env.client).get(location))


@dataclass
class DeepLinkStart:
    location: str
    launch_id: str
    token: str


def _start(env: Any, *, client: Any = None, accept_multiple: bool = True, data: Any = "dl-data-1",
           sub: str = "admin-1") -> DeepLinkStart:
    settings = env.platform.deep_linking_settings(return_url=RETURN_URL, data=data, accept_multiple=accept_multiple)
    response = f.launch(client or env.client, env.platform, message_type=claims.DEEP_LINKING_REQUEST,
                        roles=[ROLE_INSTRUCTOR], sub=sub, deep_linking=settings)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    params = _query(location)
    return DeepLinkStart(location, params["launch"], params["s"])


def _open(env: Any, start: DeepLinkStart, client: Any = None) -> Picker:
    page = _picker((client or env.client).get(start.location))
    assert page.status == 200, page.text
    return page


def _returned(response: Any) -> tuple[str, str]:
    """The auto-post form of the return page: (action, JWT)."""
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    form = re.search(r'<form method="post" action="([^"]+)" id="dl-return">', text)
    token = re.search(r'<input type="hidden" name="JWT" value="([^"]+)">', text)
    assert form and token, text
    assert "js/deeplink.js" in text and "Continue to the LMS" in text  # auto-submit, button as fallback
    return html.unescape(form.group(1)), html.unescape(token.group(1))


def _verify(env: Any, token: str) -> dict[str, Any]:
    """Verify the response JWT like the LMS does: the key named by kid in the tool's JWKS."""
    jwks = env.client.get("/lti/jwks").get_json()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header.get("typ") == "JWT"
    matching = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert len(matching) == 1
    key = jwt.PyJWK(matching[0]).key
    return jwt.decode(token, key, algorithms=["RS256"], audience=env.platform.issuer, issuer=env.platform.client_id,
                      options={"require": ["iss", "aud", "exp", "iat", "nonce"]})


def _picker_url(shown: Picker, **args: str) -> str:
    return "/lti/deep-link?" + urlencode({"launch": shown.hidden["launch"], "s": shown.hidden["s"], **args})


def _launches(env: Any) -> int:
    return f.count(env.sessions, LtiLaunch)


# ---------------------------------------------------------------- access


def test_only_the_admin_session_of_that_launch_opens_the_picker(env) -> None:
    start = _start(env)
    page = _open(env, start)
    assert page.hidden["s"] == start.token and page.hidden["launch"] == start.launch_id
    assert page.hidden["csrf_token"]
    assert env.client.get_cookie("lti_session") is None  # no cookie needed: the token travels in links/forms

    no_session = env.client.get("/lti/deep-link", query_string={"launch": start.launch_id})
    assert no_session.status_code == 403 and "no_session" in no_session.get_data(as_text=True)
    bogus = env.client.get("/lti/deep-link", query_string={"launch": start.launch_id, "s": "bogus"})
    assert bogus.status_code == 403 and "no_session" in bogus.get_data(as_text=True)
    other_launch = env.client.get("/lti/deep-link", query_string={"launch": "another-launch", "s": start.token})
    assert other_launch.status_code == 403 and "not_your_launch" in other_launch.get_data(as_text=True)
    missing = env.client.get("/lti/deep-link", query_string={"s": start.token})
    assert missing.status_code == 403

    # A second admin's deep-linking session cannot open the first one's picker.
    second = _start(env, sub="admin-2")
    crossed = env.client.get("/lti/deep-link", query_string={"launch": start.launch_id, "s": second.token})
    assert crossed.status_code == 403 and "not_your_launch" in crossed.get_data(as_text=True)


def test_learners_and_course_launches_get_no_picker(env) -> None:
    learner = f.launch(env.client, env.platform, target_link_uri="https://tool.test/lti/launch", roles=[ROLE_LEARNER])
    token = _query(learner.headers["Location"])["s"]
    with env.sessions() as session:
        learner_launch = session.scalars(select(LtiLaunch.id)).one()
    response = env.client.get("/lti/deep-link", query_string={"launch": learner_launch, "s": token})
    assert response.status_code == 403 and "admins_only" in response.get_data(as_text=True)
    posted = env.client.post("/lti/deep-link", data={"launch": learner_launch, "s": token, "action": "respond"})
    assert posted.status_code in (400, 403)  # no CSRF token of a picker page, and not an admin anyway

    # An admin's navigation launch is no deep-linking request.
    nav = f.launch(env.client, env.platform, target_link_uri="https://tool.test/lti/launch", roles=[ROLE_INSTRUCTOR],
                   sub="admin-9")
    nav_token = _query(nav.headers["Location"])["s"]
    with env.sessions() as session:
        nav_launch = session.scalars(select(LtiLaunch.id).where(LtiLaunch.id != learner_launch)).one()
    response = env.client.get("/lti/deep-link", query_string={"launch": nav_launch, "s": nav_token})
    assert response.status_code == 404 and "deep_link_expired" in response.get_data(as_text=True)


def test_expired_launch_gets_a_clear_page(env) -> None:
    start = _start(env)
    page = _open(env, start)
    with env.sessions.begin() as session:
        session.execute(update(LtiLaunch).where(LtiLaunch.id == start.launch_id).values(expires_at=utcnow()))
    response = env.client.get(start.location)
    text = response.get_data(as_text=True)
    assert response.status_code == 404 and "deep_link_expired" in text and "has expired" in text
    assert "Traceback" not in text
    posted = _post(env, page, action="respond", picks=["C-200"])
    assert posted.status_code == 404


def test_forms_need_the_csrf_token(env) -> None:
    page = _open(env, _start(env))
    response = _post(env, page, action="respond", picks=["C-200"], drop=("csrf_token",))
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)
    assert _launches(env) == 1


# ---------------------------------------------------------------- listing


def test_lists_only_deliverable_courses_with_their_license_types(env) -> None:
    page = _open(env, _start(env))
    rows = dict(re.findall(r'<label for="pick-\d+">([^<]+)</label>.*?<td class="dl-types">(.*?)</td>', page.text, re.S))
    badges = {title: re.findall(r'<span class="badge">([^<]+)</span>', cell) for title, cell in rows.items()}
    assert badges == {
        "Advanced Forklift": ["Volume"],
        "Chemical Handling": ["Pay Per Use"],
        "Ideas Worth Spreading": ["Plus"],  # subscription-only bundle: Plus only
        "Workplace Safety": ["Plus", "Volume"],
    }  # not "Crane Operation" (no license) nor "Ladder Work" (its lot expired)
    assert page.shown == ["C-200", "C-300", "C-400", "C-100"]  # title order
    assert all(kind == "checkbox" for _v, kind, _c in page.picks)
    assert "Safe Co" in page.text and "<code>C-100</code>" in page.text


def test_license_filter_and_search(env) -> None:
    page = _open(env, _start(env))
    volume = _follow(env, _post(env, page, action="search", license_type="volume"))
    assert volume.shown == ["C-200", "C-100"] and volume.selects["type"]["selected"] == "volume"
    ppu = _follow(env, _post(env, volume, action="search", license_type="ppu"))
    assert ppu.shown == ["C-300"]
    found = _follow(env, _post(env, ppu, action="search", license_type="", q="forklift"))
    assert found.shown == ["C-200"] and found.q == "forklift"
    nothing = _follow(env, _post(env, found, action="search", q="crane"))  # in the catalog, not licensed
    assert nothing.shown == [] and "No licensed course matches" in nothing.text
    bad = env.client.get(_picker_url(page, type="gold"))
    assert bad.status_code == 400 and "invalid_filter" in bad.get_data(as_text=True)


def test_pages_and_selection_kept_across_pages_and_searches(env) -> None:
    with env.sessions.begin() as session:
        for n in range(20):
            make_course(session, f"C-9{n:02d}", title=f"Zeta Plus {n:02d}", is_plus=True)
    page = _open(env, _start(env))
    assert len(page.shown) == 20 and "Page 1 of 2" in page.text and ("goto", "2") in page.buttons
    page = _follow(env, _post(env, page, picks=["C-200"], goto=2))
    assert "Page 2 of 2" in page.text and page.shown == ["C-916", "C-917", "C-918", "C-919"]
    page = _follow(env, _post(env, page, picks=["C-918"], goto=1))
    assert "C-200" in page.checked and "Selected (2)" in re.sub(r"<[^>]+>", "", page.text)
    searched = _follow(env, _post(env, page, action="search", q="zeta 19"))
    assert searched.shown == ["C-919"] and searched.checked == []
    searched = _follow(env, _post(env, searched, picks=["C-919"], action="search", q="forklift"))
    assert searched.checked == ["C-200"] and set(searched.licenses) == {"C-200", "C-918", "C-919"}
    # Unticking a shown course drops it; Remove drops one from the selection panel.
    searched = _follow(env, _post(env, searched, picks=[]))
    assert set(searched.licenses) == {"C-918", "C-919"}
    searched = _follow(env, _post(env, searched, remove="C-919"))
    assert set(searched.licenses) == {"C-918"} and searched.licenses["C-918"] == "plus"  # one type: preselected
    beyond = env.client.get(_picker_url(page, page="99"))
    assert beyond.status_code == 200 and "Page 2 of 2" in beyond.get_data(as_text=True)


# ---------------------------------------------------------------- the response


def test_round_trip_two_courses_verified_against_the_jwks(env) -> None:
    start = _start(env)
    page = _open(env, start)
    page = _follow(env, _post(env, page, picks=["C-200", "C-300"]))
    assert page.licenses == {"C-200": "volume", "C-300": "ppu"}  # one type each: preselected
    action, token = _returned(_post(env, page, action="respond"))
    assert action == RETURN_URL

    body = _verify(env, token)
    assert body["iss"] == env.platform.client_id and body["aud"] == env.platform.issuer
    assert body[claims.DEPLOYMENT_ID] == env.platform.deployment_id
    assert body[claims.MESSAGE_TYPE] == "LtiDeepLinkingResponse" and body[claims.VERSION] == "1.3.0"
    assert body[ci.DATA] == "dl-data-1"
    assert len(body["nonce"]) >= 20 and 0 < body["exp"] - body["iat"] <= 600
    with env.sessions() as session:
        assert session.scalars(select(LtiLaunch)).first() is None  # the request is used up
    items = body[ci.CONTENT_ITEMS]
    assert [i["title"] for i in items] == ["Advanced Forklift — Volume", "Chemical Handling — Pay Per Use"]
    for item, (course, license_type) in zip(items, [("C-200", "volume"), ("C-300", "ppu")], strict=True):
        assert item["type"] == "ltiResourceLink"
        assert item["url"] == "http://tool.test/lti/launch" and "?" not in item["url"]
        assert item["custom"] == {"course_id": course, "license_type": license_type}
        assert item["lineItem"] == {"scoreMaximum": 100, "label": item["title"], "resourceId": course,
                                    "tag": license_type}
    assert body[ci.MSG] == "2 courses added"

    # The LMS then launches one of the links: the launch finds course and license type.
    launched = f.launch(env.client, env.platform, custom=items[0]["custom"], sub="learner-7",
                        target_link_uri=items[0]["url"])
    assert launched.status_code == 303 and urlsplit(launched.headers["Location"]).path.startswith("/play")

    # The request is answered: the picker and a second response are refused.
    again = _post(env, page, action="respond")
    assert again.status_code == 409 and "deep_link_answered" in again.get_data(as_text=True)
    assert env.client.get(start.location).status_code == 409


def test_data_absent_is_not_invented(env) -> None:
    page = _open(env, _start(env, data=None))
    page = _follow(env, _post(env, page, picks=["C-400"]))
    body = _verify(env, _returned(_post(env, page, action="respond"))[1])
    assert ci.DATA not in body and [i["title"] for i in body[ci.CONTENT_ITEMS]] == ["Ideas Worth Spreading — Plus"]


def test_ambiguous_course_needs_a_license_choice(env) -> None:
    page = _open(env, _start(env))
    page = _follow(env, _post(env, page, picks=["C-100", "C-200"]))
    assert page.licenses == {"C-100": "", "C-200": "volume"}
    assert page.license_options("C-100") == ["", "plus", "volume"]  # "— choose —" first
    refused = _picker(_post(env, page, action="respond"))
    assert refused.status == 422 and "Choose the license type for “Workplace Safety”" in html.unescape(refused.text)
    assert "Nothing was sent" in refused.text and _launches(env) == 1
    _action, token = _returned(_post(env, refused, action="respond", licenses={"C-100": "plus"}))
    items = _verify(env, token)[ci.CONTENT_ITEMS]
    assert [(i["custom"]["course_id"], i["custom"]["license_type"]) for i in items] == [
        ("C-100", "plus"), ("C-200", "volume")]
    assert items[0]["title"] == "Workplace Safety — Plus"


def test_nothing_selected_is_refused(env) -> None:
    page = _open(env, _start(env))
    refused = _picker(_post(env, page, action="respond"))
    assert refused.status == 422 and "Select at least one course" in refused.text and _launches(env) == 1


def test_tampered_or_expired_selection_is_rejected(env) -> None:
    page = _open(env, _start(env))
    # A license type the course is not delivered under (Forklift is Volume only).
    page = _follow(env, _post(env, page, picks=["C-200"]))
    tampered = _picker(_post(env, page, action="respond", licenses={"C-200": "plus"}))
    text = html.unescape(tampered.text)
    assert tampered.status == 422 and "“Advanced Forklift” cannot be delivered under Plus now" in text
    assert _launches(env) == 1
    # A course the account holds no license for, or that is not in the catalog.
    for course in ("C-500", "C-600", "C-404"):
        refused = _picker(_post(env, tampered, picks=["C-200", course], action="respond",
                                licenses={"C-200": "volume"}))
        assert refused.status == 422 and _launches(env) == 1
        assert course == "C-404" or "is not covered by any license" in html.unescape(refused.text)
    # The lot expires between picking and sending.
    with env.sessions.begin() as session:
        session.execute(update(VolumeLot).values(expires_at=utcnow()))
    expired = _picker(_post(env, tampered, action="respond", licenses={"C-200": "volume"}))
    assert expired.status == 422 and "can no longer be delivered" in html.unescape(expired.text)
    assert _launches(env) == 1


def test_single_selection_when_the_platform_accepts_one_item(env) -> None:
    page = _open(env, _start(env, accept_multiple=False))
    assert {kind for _v, kind, _c in page.picks} == {"radio"} and "one course at a time" in page.text
    two = _picker(_post(env, page, picks=["C-200", "C-300"], action="respond"))
    assert two.status == 422 and "one course at a time" in two.text and "Selected (0)" in re.sub(r"<[^>]+>", "", two.text)
    page = _follow(env, _post(env, page, picks=["C-200"]))
    page = _follow(env, _post(env, page, picks=["C-300"]))  # picking another replaces it
    assert page.checked == ["C-300"] and set(page.licenses) == {"C-300"}
    body = _verify(env, _returned(_post(env, page, action="respond"))[1])
    assert [i["custom"]["course_id"] for i in body[ci.CONTENT_ITEMS]] == ["C-300"]


def test_cancel_returns_no_items(env) -> None:
    start = _start(env)
    page = _follow(env, _post(env, _open(env, start), picks=["C-200"]))
    response = _post(env, page, action="cancel")
    assert "No course was added" in response.get_data(as_text=True)
    body = _verify(env, _returned(response)[1])
    assert body[ci.CONTENT_ITEMS] == [] and body[ci.MSG] == "No course selected" and ci.ERRORMSG not in body
    assert body[ci.DATA] == "dl-data-1" and _launches(env) == 0
    assert _post(env, page, action="cancel").status_code == 409


def test_the_launch_is_consumed_once(env) -> None:
    start = _start(env)
    now = utcnow()
    assert consume_request(env.sessions, start.launch_id, now) is True
    assert consume_request(env.sessions, start.launch_id, now) is False
    # Consumed by another process (say a double submit won there): this one sends nothing.
    response = env.client.get(start.location)
    assert response.status_code == 404


def test_a_second_process_continues_the_selection(env) -> None:
    start = _start(env)
    page = _follow(env, _post(env, _open(env, start), picks=["C-200"]))
    other = env.make_app().test_client()
    moved = _picker(other.get(start.location))
    assert moved.status == 200 and moved.licenses == {"C-200": "volume"}
    _action, token = _returned(_post(env, moved, action="respond", client=other))
    assert [i["custom"]["course_id"] for i in _verify(env, token)[ci.CONTENT_ITEMS]] == ["C-200"]
    assert _post(env, page, action="respond").status_code == 409


def test_a_submit_that_loses_the_race_sends_nothing(env, monkeypatch) -> None:
    """Two submits at once: both passed the checks, only the one whose DELETE of the launch row
    wins sends a response."""
    from lti_tool.lti import deeplink

    start = _start(env)
    page = _follow(env, _post(env, _open(env, start), picks=["C-200"]))
    with env.app.app_context():
        seen = deeplink.load_request(env.sessions, start.launch_id, env.account_id, utcnow())
    assert seen is not None
    assert consume_request(env.sessions, start.launch_id, utcnow())  # the other submit won
    monkeypatch.setattr(deeplink, "load_request", lambda *_args: seen)
    lost = _post(env, page, action="respond")
    text = lost.get_data(as_text=True)
    assert lost.status_code == 409 and "deep_link_answered" in text and 'name="JWT"' not in text
