"""Independent learners' pages: Sign up, Sign in, Sign out, Forgot password? / Send reset link,
Set new password, My courses (with Start course), every message, the web session they start
(cookie-less over http, a first-party SameSite=Lax cookie on HTTPS) and the pages' policies."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from lti_tool import create_app
from lti_tool.lti.models import WebSession
from lti_tool.lti.websession import TOP_COOKIE_NAME, token_hash
from lti_tool.player.tokens import verify_player_token
from lti_tool.services import services_of
from store.accounts.models import Account, Learner, Login, PasswordReset
from store.base import utcnow
from store.licenses import service as licenses
from store.licenses.models import Seat
from store.mail import OutboxMailer, list_outbox
from store.mail.models import MailMessage
from tests.factories.app import override_services
from tests.factories.catalog import make_course
from tests.web.conftest import settings_for

Sessions = sessionmaker[Session]
PASSWORD = "correct horse battery"


# ---------------------------------------------------------------- page helpers


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: dict[str, str] = {}
        self.labels: dict[str, str] = {}  # for= → text
        self.inputs: dict[str, dict[str, str]] = {}  # id → attributes
        self._text: list[str] | None = None
        self._tag: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input":
            if self.forms and a.get("name"):
                self.forms[-1].fields[a["name"]] = a.get("value", "")
            if a.get("id"):
                self.inputs[a["id"]] = a
        elif tag in ("a", "button", "label"):
            self._tag, self._text = (tag, a), []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._tag is None or tag != self._tag[0] or self._text is None:
            return
        text = " ".join("".join(self._text).split())
        kind, a = self._tag
        if kind == "a":
            self.links[text] = a.get("href", "")
        elif kind == "button" and self.forms:
            self.forms[-1].buttons.append(text)
        elif kind == "label":
            self.labels[a.get("for", "")] = text
        self._tag, self._text = None, None


def parse(response: TestResponse) -> _Parser:
    parser = _Parser()
    parser.feed(response.get_data(as_text=True))
    return parser


def form_with(response: TestResponse, button: str) -> Form:
    for form in parse(response).forms:
        if button in form.buttons:
            return form
    raise AssertionError(f"no form with a {button!r} button in:\n{response.get_data(as_text=True)}")


def submit(client: FlaskClient, response: TestResponse, button: str, **values: str) -> TestResponse:
    form = form_with(response, button)
    return client.post(form.action, data={**form.fields, **values})


def text_of(response: TestResponse) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split()))


def token_in(url: str) -> str:
    return parse_qs(urlsplit(url).query)["s"][0]


def frame_ancestors(response: TestResponse) -> str:
    return next(d.strip() for d in response.headers["Content-Security-Policy"].split(";")
                if d.strip().startswith("frame-ancestors"))


def sessions_of(app: Flask) -> Sessions:
    return services_of(app).sessions


def count(app: Flask, model: Any) -> int:
    with sessions_of(app)() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def sign_up(client: FlaskClient, name: str = "Jane Doe", email: str = "jane@example.com",
            password: str = PASSWORD) -> TestResponse:
    return submit(client, client.get("/store/signup"), "Sign up", name=name, email=email, password=password)


def sign_in(client: FlaskClient, email: str = "jane@example.com", password: str = PASSWORD,
            page: str = "/store/signin", **extra: str) -> TestResponse:
    return submit(client, client.get(page), "Sign in", email=email, password=password, **extra)


def signed_in(client: FlaskClient) -> str:
    """Sign up and sign in; the session token."""
    assert sign_up(client).status_code == 303
    response = sign_in(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    return token_in(response.location)


def field_error(response: TestResponse, name: str) -> str:
    """The error shown next to field ``name`` (and tied to it with aria-describedby)."""
    page = parse(response)
    described = page.inputs[name].get("aria-describedby", "").split()
    assert f"{name}-error" in described and page.inputs[name].get("aria-invalid") == "true"
    found = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1).replace("&#39;", "'")


# ---------------------------------------------------------------- sign-up


def test_sign_up_page(client: FlaskClient) -> None:
    page = client.get("/store/signup")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<h1>Sign up</h1>" in page.get_data(as_text=True)
    parsed = parse(page)
    assert parsed.labels == {"name": "Your name", "email": "Email", "password": "Password"}
    assert parsed.inputs["password"]["type"] == "password" and parsed.inputs["password"]["autocomplete"] == "new-password"
    assert parsed.inputs["password"]["aria-describedby"] == "password-hint"  # requirements next to the field
    assert "At least 12 characters (at most 200), and not your email address." in text_of(page)
    form = form_with(page, "Sign up")
    assert form.method == "post" and {"csrf_token", "s"} <= set(form.fields)
    assert "Sign in" in parsed.links
    assert frame_ancestors(page) == "frame-ancestors 'self'"  # never framed by another site


def test_sign_up_creates_an_individual_account_and_goes_to_sign_in(app: Flask, client: FlaskClient) -> None:
    response = sign_up(client, name="Jane Doe", email="Jane@Example.com")
    assert response.status_code == 303 and response.location.startswith("/store/signin?created=1")
    page = client.get(response.location)
    assert "Your account is ready. Sign in with your email address and password." in text_of(page)
    with sessions_of(app)() as s:
        account = s.scalars(select(Account)).one()
        assert (account.name, account.kind) == ("Jane Doe", "individual")
        assert s.scalars(select(Login)).one().email_normalized == "jane@example.com"


@pytest.mark.parametrize(("values", "field_name", "message", "status"), [
    ({"name": ""}, "name", "Enter your name.", 400),
    ({"email": "jane.example.com"}, "email", "Enter an email address like name@example.com.", 400),
    ({"password": "too short"}, "password", "Use at least 12 characters.", 400),
    ({"password": "x" * 201}, "password", "Use at most 200 characters.", 400),
    ({"email": "longname@example.com", "password": "LONGNAME@example.com"}, "password",
     "Your password must not be your email address.", 400),
])
def test_sign_up_problems_show_next_to_their_field_and_change_nothing(
        app: Flask, client: FlaskClient, values: dict[str, str], field_name: str, message: str, status: int) -> None:
    data = {"name": "Jane Doe", "email": "jane@example.com", "password": PASSWORD, **values}
    response = submit(client, client.get("/store/signup"), "Sign up", **data)
    assert response.status_code == status
    assert field_error(response, field_name) == message
    page = parse(response)
    assert page.inputs["password"].get("value") is None  # a password is never sent back
    if field_name != "name":
        assert page.inputs["name"]["value"] == data["name"]
    assert count(app, Account) == 0 and count(app, Login) == 0


def test_an_email_that_has_an_account_already(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    response = sign_up(client, name="Other", email="JANE@example.com")
    assert response.status_code == 409
    assert field_error(response, "email").startswith("An account with this email address exists already.")
    assert count(app, Account) == 1


# ---------------------------------------------------------------- sign-in


def test_sign_in_page(client: FlaskClient) -> None:
    page = client.get("/store/signin")
    assert page.status_code == 200 and "<h1>Sign in</h1>" in page.get_data(as_text=True)
    parsed = parse(page)
    assert parsed.labels == {"email": "Email", "password": "Password"}
    assert parsed.inputs["password"]["autocomplete"] == "current-password"
    assert parsed.links["Forgot password?"].startswith("/store/reset")
    assert parsed.links["Sign up"].startswith("/store/signup")
    assert form_with(page, "Sign in").fields["next"] == "/store"


def test_sign_in_starts_a_new_session_for_the_buyer_of_their_own_account(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    before = client.get("/store/signin")
    old_token = form_with(before, "Sign in").fields["s"]
    response = submit(client, before, "Sign in", email="JANE@example.com", password=PASSWORD)
    assert response.status_code == 303 and urlsplit(response.location).path == "/store"
    token = token_in(response.location)
    assert token != old_token  # regenerated: a planted token never gains the identity
    assert "Set-Cookie" not in response.headers  # plain http: the token travels in links
    with sessions_of(app)() as s:
        data = s.scalar(select(WebSession.data).where(WebSession.id == token_hash(token)))
        login = s.scalars(select(Login)).one()
        learner = s.scalars(select(Learner)).one()
    assert data == {"account_id": login.account_id, "learner_id": learner.id, "login_id": login.id,
                    "is_admin": True, "top_level": True}


def test_wrong_password_and_unknown_email_get_the_same_answer(client: FlaskClient) -> None:
    sign_up(client)
    wrong = sign_in(client, password="not my password")
    unknown = sign_in(client, email="nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert frame_ancestors(response) == "frame-ancestors 'self'"  # a form: no other site may frame it
        assert "The email address or the password is not correct." in text_of(response)
    strip = lambda r: re.sub(r'value="[^"]*"|s=[\w-]+', "", r.get_data(as_text=True))  # noqa: E731 - tokens differ
    assert strip(wrong).replace("jane@example.com", "X") == strip(unknown).replace("nobody@example.com", "X")


def test_empty_sign_in_fields(client: FlaskClient) -> None:
    response = sign_in(client, email="", password="")
    assert response.status_code == 400
    assert field_error(response, "email") == "Enter your email address."
    assert field_error(response, "password") == "Enter your password."


def test_sign_in_is_rate_limited_per_email(app: Flask, client: FlaskClient) -> None:
    override_services(app, settings=services_of(app).settings.with_overrides(signin_per_email_per_hour=2))
    sign_up(client)
    assert sign_in(client, password="wrong one here").status_code == 401
    assert sign_in(client, password="wrong two here").status_code == 401
    limited = sign_in(client)  # even the right password, until the window ends
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many attempts for this email address or from your network. Try again in" in text_of(limited)


@pytest.mark.parametrize(("next_value", "expected"), [
    ("/store/cart", "/store/cart"),
    ("/store/courses/C-1?x=1", "/store/courses/C-1?x=1"),
    ("/store/my-courses?s=planted&page=2", "/store/my-courses?page=2"),
    ("https://evil.example/store", "/store"),
    ("//evil.example/store", "/store"),
    ("/\\evil.example", "/store"),
    ("/lti/home", "/store"),
    ("/store/signout", "/store"),
])
def test_sign_in_goes_back_only_to_store_pages(client: FlaskClient, next_value: str, expected: str) -> None:
    sign_up(client)
    response = sign_in(client, page=f"/store/signin?next={next_value.replace('&', '%26').replace('?', '%3F')}")
    assert response.status_code == 303
    location = urlsplit(response.location)
    query = [p for p in location.query.split("&") if not p.startswith("s=")]
    assert location.path + ("?" + "&".join(query) if query else "") == expected
    assert len(parse_qs(location.query)["s"]) == 1


@pytest.fixture
def https_client(engine: Engine, committing_sessions: Sessions) -> Iterator[FlaskClient]:
    application = create_app(settings_for(engine, public_base_url="https://tool.test"))
    try:
        yield application.test_client()
    finally:
        services_of(application).engine.dispose()


def test_on_https_the_session_cookie_is_first_party_lax(https_client: FlaskClient) -> None:
    client = https_client
    sign_up(client)
    response = sign_in(client)
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith(TOP_COOKIE_NAME + "=")]
    assert len(cookies) == 1
    cookie = cookies[0].lower()
    assert "samesite=lax" in cookie and "secure" in cookie and "httponly" in cookie and "partitioned" not in cookie
    # The cookie alone (no token in the URL) opens the learner's pages.
    token = token_in(response.location)
    client.set_cookie(TOP_COOKIE_NAME, token, domain="localhost")
    assert client.get("/store/my-courses").status_code == 200
    out = submit(client, client.get("/store/signout"), "Sign out")
    assert any(v.startswith(TOP_COOKIE_NAME + "=;") for k, v in out.headers.items() if k == "Set-Cookie")


# ---------------------------------------------------------------- sign-out


def test_sign_out_ends_the_session(app: Flask, client: FlaskClient) -> None:
    token = signed_in(client)
    page = client.get(f"/store/signout?s={token}")
    assert page.status_code == 200 and "You are signed in as Jane Doe." in text_of(page)
    # The store's one navigation bar, without its own Sign out button on this page (the page has one).
    assert parse(page).links["My courses"].startswith("/store/my-courses?s=")
    assert page.get_data(as_text=True).count(">Sign out</button>") == 1
    response = submit(client, page, "Sign out")
    assert response.status_code == 303 and response.location == "/store/signin?signed_out=1"
    assert "You have signed out." in text_of(client.get(response.location))
    with sessions_of(app)() as s:
        assert s.scalar(select(WebSession).where(WebSession.id == token_hash(token))) is None
    again = client.get(f"/store/my-courses?s={token}")
    assert again.status_code == 303 and again.location.startswith("/store/signin")
    assert "You are not signed in." in text_of(client.get("/store/signout"))


# ---------------------------------------------------------------- password reset


def reset_link(app: Flask) -> str:
    with sessions_of(app)() as s:
        body = list_outbox(s, 1)[0].body
    found = re.search(r"http://tool\.test(/store/reset/\S+)", body)
    assert found, body
    return found.group(1)


def test_forgot_password_answers_the_same_for_unknown_emails_and_mails_a_link(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    page = client.get("/store/reset")
    assert page.status_code == 200 and parse(page).labels == {"email": "Email"}
    assert "Forgot password?" in text_of(page)
    unknown = submit(client, page, "Send reset link", email="nobody@example.com")
    known = submit(client, client.get("/store/reset"), "Send reset link", email="JANE@example.com")
    assert unknown.status_code == known.status_code == 200
    assert text_of(unknown) == text_of(known)
    assert ("If an account exists for that email address, we have sent it a link to set a new password. "
            "The link works once, within 60 minutes.") in text_of(known)
    with sessions_of(app)() as s:
        mail = list_outbox(s, 5)
    assert [m.to_address for m in mail] == ["jane@example.com"]
    assert mail[0].status == "stored" and mail[0].subject == "Reset your password"


def test_a_malformed_email_on_forgot_password(client: FlaskClient) -> None:
    response = submit(client, client.get("/store/reset"), "Send reset link", email="nope")
    assert response.status_code == 400
    assert field_error(response, "email") == "Enter an email address like name@example.com."


def test_the_reset_link_sets_a_new_password_once_and_signs_out_other_sessions(app: Flask, client: FlaskClient) -> None:
    old_token = signed_in(client)
    submit(client, client.get("/store/reset"), "Send reset link", email="jane@example.com")
    link = reset_link(app)
    page = client.get(link)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    parsed = parse(page)
    assert parsed.labels == {"password": "New password"}
    assert parsed.inputs["password"]["aria-describedby"] == "password-hint"
    short = submit(client, page, "Set new password", password="short")
    assert short.status_code == 400 and field_error(short, "password") == "Use at least 12 characters."
    done = submit(client, page, "Set new password", password="a brand new passphrase")
    assert done.status_code == 303 and done.location == "/store/signin?reset=1"
    assert "Your password has been changed. Sign in with your new password." in text_of(client.get(done.location))
    # The session signed in with the old password is over.
    assert client.get(f"/store/my-courses?s={old_token}").status_code == 303
    assert sign_in(client).status_code == 401
    assert sign_in(client, password="a brand new passphrase").status_code == 303
    # The link works once.
    used = client.get(link)
    assert used.status_code == 400 and "The password reset link was used already, has expired, or is incomplete." in \
        text_of(used)
    assert submit(client, page, "Set new password", password="another passphrase").status_code == 400


def test_an_expired_or_unknown_reset_link(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    submit(client, client.get("/store/reset"), "Send reset link", email="jane@example.com")
    link = reset_link(app)
    with sessions_of(app).begin() as s:
        s.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    for url in (link, "/store/reset/nonsense", "/store/reset/" + "x" * 300):
        response = client.get(url)
        assert response.status_code == 400 and "This reset link is not valid" in text_of(response)
        assert "reset_link_invalid" in text_of(response)


# ---------------------------------------------------------------- my courses


def test_my_courses_needs_a_sign_in(client: FlaskClient) -> None:
    response = client.get("/store/my-courses?page=2")
    assert response.status_code == 303
    assert response.location == "/store/signin?next=/store/my-courses?page%3D2"
    assert form_with(client.get(response.location), "Sign in").fields["next"] == "/store/my-courses?page=2"


def test_an_lms_session_is_not_an_independent_learner(app: Flask, client: FlaskClient) -> None:
    now = utcnow()
    with sessions_of(app).begin() as s:
        s.add(WebSession(id=token_hash("lms-token"), data={"account_id": 1, "learner_id": 1, "is_admin": False,
                                                           "launch_id": "x"}, created_at=now,
                         expires_at=now + timedelta(hours=1)))
    response = client.get("/store/my-courses?s=lms-token")
    assert response.status_code == 403 and "This page is for independent learners" in text_of(response)


def test_my_courses_empty_state(client: FlaskClient) -> None:
    token = signed_in(client)
    page = client.get(f"/store/my-courses?s={token}")
    assert page.status_code == 200
    assert "You have no courses yet. Courses you buy in the Store appear here, ready to start." in text_of(page)
    links = parse(page).links
    assert links["Go to the Store"] == f"/store?s={token}" and links["Store"] == f"/store?s={token}"
    # The store's one navigation bar: My courses is this learner's dashboard; Sign out is a POST button.
    assert links["My courses"].startswith("/store/my-courses?s=") and "Dashboard" not in links
    assert links["Cart"] == f"/store/cart?s={token}" and links["Order History"] == f"/store/orders?s={token}"
    body = page.get_data(as_text=True)
    assert '<nav class="store-nav" aria-label="Store">' in body and 'aria-current="page">My courses' in body
    signout = form_with(page, "Sign out")
    assert signout.method == "post" and signout.action == "/store/signout" and "csrf_token" in signout.fields
    assert client.get(f"/store/my-courses?s={token}&page=abc").status_code == 400


def _account_of(app: Flask) -> tuple[int, int]:
    with sessions_of(app)() as s:
        login = s.scalars(select(Login)).one()
        learner = s.scalars(select(Learner)).one()
    return login.account_id, learner.id


def test_start_course_claims_the_seat_and_opens_the_player(app: Flask, client: FlaskClient) -> None:
    token = signed_in(client)
    account_id, learner_id = _account_of(app)
    with sessions_of(app).begin() as s:
        make_course(s, "VOL-1", title="Forklift Safety", is_plus=False)
        make_course(s, "NOT-MINE", title="Someone Else's", is_plus=False)
    licenses.grant_volume(sessions_of(app), account_id, "VOL-1", 1, utcnow())
    page = client.get(f"/store/my-courses?s={token}")
    assert "Forklift Safety" in text_of(page) and "Someone Else's" not in text_of(page)
    started = submit(client, page, "Start course")
    assert started.status_code == 303 and started.location.startswith("/play?t=")
    grant = verify_player_token(services_of(app).settings, parse_qs(urlsplit(started.location).query)["t"][0])
    assert (grant.origin, grant.catalog_id, grant.learner_id, grant.launch_id) == ("login", "VOL-1", learner_id, None)
    player = client.get(started.location)
    assert player.status_code == 200 and frame_ancestors(player) == "frame-ancestors 'self'"
    again = submit(client, client.get(f"/store/my-courses?s={token}"), "Start course")  # reuses the seat
    assert again.status_code == 303
    with sessions_of(app)() as s:
        seat = s.scalars(select(Seat)).one()
    assert (seat.account_id, seat.learner_id, seat.license_type) == (account_id, learner_id, "volume")


def test_start_course_refusals(app: Flask, client: FlaskClient) -> None:
    token = signed_in(client)
    with sessions_of(app).begin() as s:
        make_course(s, "VOL-2", title="Unlicensed", is_plus=False)
    form = form_with(client.get(f"/store/signout?s={token}"), "Sign out")  # any form of the session: its CSRF token
    post = lambda course: client.post(f"/store/my-courses/start?s={token}",  # noqa: E731
                                      data={"csrf_token": form.fields["csrf_token"], "course": course})
    refused = post("VOL-2")
    assert refused.status_code == 403 and "You hold no license for this course." in text_of(refused)
    assert "no_license" in text_of(refused)
    unknown = post("NOPE-1")
    assert unknown.status_code == 404 and "There is no course with this id." in text_of(unknown)
    missing = post("")
    assert missing.status_code == 400 and "No course was chosen" in text_of(missing)
    no_csrf = client.post(f"/store/my-courses/start?s={token}", data={"course": "VOL-2"})
    assert no_csrf.status_code == 400 and "The form has expired" in text_of(no_csrf)
    assert count(app, Seat) == 0


def test_a_course_without_content_takes_no_seat(app: Flask, client: FlaskClient) -> None:
    override_services(app, settings=services_of(app).settings.with_overrides(demo_content=False))
    token = signed_in(client)
    account_id, _ = _account_of(app)
    with sessions_of(app).begin() as s:
        make_course(s, "VOL-3", title="Nothing to play", is_plus=False)
    licenses.grant_volume(sessions_of(app), account_id, "VOL-3", 1, utcnow())
    response = submit(client, client.get(f"/store/my-courses?s={token}"), "Start course")
    assert response.status_code == 409 and "This course's content is not available yet" in text_of(response)
    assert count(app, Seat) == 0


def test_plus_courses_are_listed_searchable_and_paged(app: Flask, client: FlaskClient) -> None:
    token = signed_in(client)
    account_id, _ = _account_of(app)
    with sessions_of(app).begin() as s:
        for n in range(25):
            make_course(s, f"PLUS-{n:02d}", title=f"Plus Course {n:02d}", is_plus=True)
        make_course(s, "PLUS-X", title="Zebra Handling", is_plus=True)
    licenses.grant_plus(sessions_of(app), account_id, 1, "annual", utcnow())
    first = client.get(f"/store/my-courses?s={token}")
    assert "26 courses, page 1 of 2" in text_of(first) and text_of(first).count("Start course") == 20
    second = client.get(parse(first).links["Next page"])
    assert "page 2 of 2" in text_of(second) and "Zebra Handling" in text_of(second)
    found = client.get(f"/store/my-courses?s={token}&q=zebra")
    assert "1 course" in text_of(found) and "Zebra Handling" in text_of(found)
    assert "None of your courses matches" in text_of(client.get(f"/store/my-courses?s={token}&q=qwertyuiop"))


def test_the_app_mails_through_the_configured_backend(app: Flask) -> None:
    assert isinstance(services_of(app).mail, OutboxMailer)
    services_of(app).mail.send("x@example.com", "Hi", "Hello")
    assert count(app, MailMessage) == 1


def test_sign_up_and_reset_requests_are_rate_limited(app: Flask, client: FlaskClient) -> None:
    override_services(app, settings=services_of(app).settings.with_overrides(signin_per_ip_per_hour=1,
                                                                            password_reset_per_email_per_hour=1))
    assert sign_up(client).status_code == 303
    limited = sign_up(client, email="second@example.com")
    assert limited.status_code == 429 and "Too many attempts" in text_of(limited)
    assert parse(limited).inputs["email"]["value"] == "second@example.com"
    assert count(app, Account) == 1
    assert submit(client, client.get("/store/reset"), "Send reset link", email="jane@example.com").status_code == 200
    again = submit(client, client.get("/store/reset"), "Send reset link", email="jane@example.com")
    assert again.status_code == 429 and "Retry-After" in again.headers and "Too many attempts" in text_of(again)
    assert count(app, MailMessage) == 1
