"""App-wide LTI page plumbing: the frame-ancestors policy and the cookie-less web session."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template_string, session
from sqlalchemy import select, update

from lti_tool.extensions import csrf
from lti_tool.lti.models import WebSession
from lti_tool.lti.testplatform import SigningKey, TestPlatform
from lti_tool.lti.websession import token_hash
from lti_tool.services import services_of
from store.base import utcnow
from tests.factories import lti as f
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401


def _policy(response) -> str:  # type: ignore[no-untyped-def]
    return response.headers.get("Content-Security-Policy", "")


def _frame(response) -> str:  # type: ignore[no-untyped-def]
    """The frame-ancestors directive alone."""
    directives = [d.strip() for d in _policy(response).split(";")]
    found = [d for d in directives if d.startswith("frame-ancestors")]
    return found[0] if found else ""


def test_html_pages_may_be_framed_by_the_lms_of_their_own_registration_only(lti_env) -> None:
    other = TestPlatform(issuer="https://canvas.instructure.com", client_id="10000000000042",
                         auth_login_url="https://sso.canvaslms.com/api/lti/authorize_redirect")
    f.make_registration(lti_env.sessions, lti_env.account_id, other, extra_origins=[
        "https://*.instructure.com", "https://school.example.edu:8443/", "https://evil.example; script-src *",
        "javascript:alert(1)",
    ])
    client = lti_env.make_app().test_client()
    canvas_login = client.get("/lti/login", query_string=other.login_params(f.LAUNCH_URL))
    sources = _frame(canvas_login).split()
    assert sources[:2] == ["frame-ancestors", "'self'"]
    assert set(sources[2:]) == {"https://canvas.instructure.com", "https://sso.canvaslms.com",
                                "https://*.instructure.com", "https://school.example.edu:8443"}
    assert "https://lms.example.edu" not in sources  # another registration's LMS never frames this one
    own_login = client.get("/lti/login", query_string=lti_env.platform.login_params(f.LAUNCH_URL))
    assert _frame(own_login) == "frame-ancestors 'self' https://lms.example.edu"
    for response in (canvas_login, own_login):
        assert response.mimetype == "text/html"
        assert "script-src *" not in _policy(response) and "javascript" not in _policy(response)
        assert "X-Frame-Options" not in response.headers
        assert response.headers["Referrer-Policy"] == "same-origin"
    # Pages of no registration: the tool frames them only; error pages may show in any frame (the
    # learner in an LMS frame must read why a launch failed; an error page has nothing to hijack).
    assert _frame(client.get("/lti/install")) == "frame-ancestors 'self'"
    assert _frame(client.get("/lti/login")) == "frame-ancestors *"  # 400
    assert _frame(client.get("/lti/home")) == "frame-ancestors *"  # 401
    # Non-HTML responses carry no policy, but every response says nosniff.
    js = client.get("/static/js/lti-storage.js")
    assert "Content-Security-Policy" not in js.headers
    assert js.headers["X-Content-Type-Options"] == "nosniff"
    js.close()
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"


def test_every_html_page_gets_a_script_and_style_policy(lti_env) -> None:
    client = lti_env.make_app().test_client()
    for response in (client.get("/lti/install"), client.get("/lti/login"),
                     client.get("/lti/login", query_string=lti_env.platform.login_params(f.LAUNCH_URL))):
        policy = _policy(response)
        for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                          "base-uri 'none'"):
            assert directive in policy, (directive, policy)
        assert "'unsafe-inline'" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_templates_carry_no_inline_script_or_style() -> None:
    """What the policy would block: inline <style>, style= attributes, on*= handlers and
    executable inline <script> (JSON data blocks are not executed and are fine)."""
    import re as _re
    from pathlib import Path

    for template in (Path(__file__).parents[2] / "lti_tool" / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "<style" not in text, template
        assert not _re.search(r"\sstyle=\"", text), template
        assert not _re.search(r"\son[a-z]+=\"", text), template
        for tag in _re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template, tag)


def test_many_registrations_do_not_grow_anybodys_policy(lti_env) -> None:
    """Each anonymous registration used to add its origins to every page of every customer."""
    key = SigningKey.generate()  # one RSA key for all: generating 300 would be most of the test's time
    for n in range(300):
        f.make_registration(lti_env.sessions, lti_env.account_id,
                            TestPlatform(issuer=f"https://lms{n}.example.org", client_id=f"c{n}",
                                         auth_login_url=f"https://lms{n}.example.org/auth", keys=[key]))
    client = lti_env.make_app().test_client()
    login = client.get("/lti/login", query_string=lti_env.platform.login_params(f.LAUNCH_URL))
    assert _frame(login) == "frame-ancestors 'self' https://lms.example.edu"


def test_frame_policy_merges_into_a_view_policy_and_drops_x_frame_options(lti_env) -> None:
    app = lti_env.make_app()
    extra = Blueprint("csp_probe", __name__)

    @extra.get("/probe/csp")
    def probe():  # type: ignore[no-untyped-def]
        return "<p>x</p>", 200, {"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "DENY"}

    app.register_blueprint(extra)
    response = app.test_client().get("/probe/csp")
    assert _policy(response) == ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 "object-src 'none'; base-uri 'none'; frame-ancestors 'self'")
    assert "X-Frame-Options" not in response.headers


def _session_app(lti_env):  # type: ignore[no-untyped-def]
    app = lti_env.make_app()
    probe = Blueprint("session_probe", __name__)

    @probe.get("/probe/session")
    def read():  # type: ignore[no-untyped-def]
        return {"value": session.get("value"), "token": getattr(session, "token", None)}

    @probe.post("/probe/session")
    @csrf.exempt
    def write():  # type: ignore[no-untyped-def]
        session["value"] = "hello"
        return render_template_string("{{ url_for_s('session_probe.read') }}|{{ session_field() }}")

    app.register_blueprint(probe)
    return app


def test_web_session_travels_in_query_form_or_header(lti_env) -> None:
    app = _session_app(lti_env)
    client = app.test_client()
    empty = client.get("/probe/session").get_json()
    assert empty["value"] is None
    assert f.count(lti_env.sessions, WebSession) == 0  # an empty session is never stored

    written = client.post("/probe/session").get_data(as_text=True)
    link, field = written.split("|")
    token = link.split("s=")[1]
    assert link == f"/probe/session?s={token}"
    assert field == f'<input type="hidden" name="s" value="{token}">'
    with lti_env.sessions() as db:
        stored = db.scalars(select(WebSession)).one()
    assert stored.id == token_hash(token) and stored.data == {"value": "hello"}
    ttl = services_of(app).settings.player_token_ttl_seconds
    assert abs((stored.expires_at - stored.created_at) - timedelta(seconds=ttl)) < timedelta(seconds=1)
    assert not client.get_cookie("lti_session")  # no cookie over plain HTTP

    fresh = app.test_client()  # no cookies at all
    assert fresh.get("/probe/session", query_string={"s": token}).get_json()["value"] == "hello"
    assert fresh.get("/probe/session", headers={"X-Session": token}).get_json()["value"] == "hello"
    tampered = ("y" if token.startswith("x") else "x") + token[1:]
    assert fresh.get("/probe/session", query_string={"s": tampered}).get_json()["value"] is None
    assert fresh.get("/probe/session", query_string={"s": token * 5}).get_json()["value"] is None

    with lti_env.sessions.begin() as db:
        db.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert fresh.get("/probe/session", query_string={"s": token}).get_json()["value"] is None


def test_web_session_form_field_is_read_on_post(lti_env) -> None:
    app = _session_app(lti_env)
    client = app.test_client()
    token = client.post("/probe/session").get_data(as_text=True).split("|")[0].split("s=")[1]
    probe = Blueprint("session_form_probe", __name__)

    @probe.post("/probe/form")
    @csrf.exempt
    def form():  # type: ignore[no-untyped-def]
        return {"value": session.get("value")}

    other = lti_env.make_app()
    other.register_blueprint(probe)
    assert other.test_client().post("/probe/form", data={"s": token}).get_json() == {"value": "hello"}


def test_web_session_cookie_on_https(lti_env) -> None:
    app = _session_app(lti_env)
    client = app.test_client()
    response = client.post("/probe/session", base_url="https://tool.test")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("lti_session="))
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in header
    # The cookie alone finds the session on HTTPS.
    assert client.get("/probe/session", base_url="https://tool.test").get_json()["value"] == "hello"
