"""The cookie-less launch through LTI Platform Storage, and the new-window fallback."""

from __future__ import annotations

import re

from tests.factories import lti as f
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from store.base import utcnow
from store.licenses.service import grant_plus
from tests.factories.catalog import make_course

COURSE = f.course_custom("C-100", "plus")


def _setup(env) -> None:  # type: ignore[no-untyped-def]
    with env.sessions.begin() as session:
        make_course(session, "C-100")
    grant_plus(env.sessions, env.account_id, 5, "annual", utcnow())


def _cookie_less_launch(env):  # type: ignore[no-untyped-def]
    """Login with lti_storage_target; the browser keeps no cookie; the LMS posts the launch with
    lti_storage_target as Canvas does."""
    started = f.login(env.client, env.platform, storage_target="post_message_forwarding")
    env.client.delete_cookie(started.cookie_name, domain="localhost", path="/lti/launch")
    auth = f.authorize(env.platform, started, custom=COURSE)
    page = f.post_launch(env.client, auth, lti_storage_target="post_message_forwarding")
    return started, auth, page


def test_launch_without_cookie_reads_the_state_back_from_platform_storage(lti_env) -> None:
    _setup(lti_env)
    started, auth, page = _cookie_less_launch(lti_env)
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    config = f.page_config(page)
    assert config["mode"] == "launch"
    assert config["platformOrigin"] == "https://lms.example.edu"
    assert config["storageTarget"] == "post_message_forwarding"
    assert config["storageKey"] == started.config["storageKey"]
    assert "storageValue" not in config  # the page never knows the expected value
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))
    assert fields["id_token"] == auth.fields["id_token"] and fields["state"] == started.state
    assert fields["lti_storage_state"] == ""
    assert page.headers["Cache-Control"] == "no-store"
    counts = lti_env.counts()
    assert (counts.seats, counts.learners, counts.launches, counts.login_states) == (0, 0, 0, 1)

    # The page's script got the value stored at login (lti.get_data) and posts it.
    response = f.post_launch(lti_env.client, auth, lti_storage_target="post_message_forwarding",
                             lti_storage_state=started.config["storageValue"])
    assert response.status_code == 303, response.get_data(as_text=True)
    assert lti_env.counts().seats == 1


def test_platform_storage_value_must_match_the_login(lti_env) -> None:
    _setup(lti_env)
    started, auth, _page = _cookie_less_launch(lti_env)
    for wrong in ("", started.state, "0" * 64):
        response = f.post_launch(lti_env.client, auth, lti_storage_state=wrong)
        assert response.status_code == 401
        assert "state_mismatch" in response.get_data(as_text=True)
    # The value of another login of the same browser does not fit either.
    other = f.login(lti_env.client, lti_env.platform, storage_target="_parent")
    response = f.post_launch(lti_env.client, auth, lti_storage_state=other.config["storageValue"])
    assert response.status_code == 401
    counts = lti_env.counts()
    assert (counts.seats, counts.learners, counts.launches) == (0, 0, 0)


def test_platform_storage_confirmation_must_come_from_our_own_page(lti_env) -> None:
    _setup(lti_env)
    started, auth, _page = _cookie_less_launch(lti_env)
    fields = {**auth.fields, "lti_storage_state": started.config["storageValue"]}
    for site in ("cross-site", "same-site", "none"):
        response = lti_env.client.post("/lti/launch", data=fields, headers={"Sec-Fetch-Site": site})
        assert response.status_code == 401 and "cross_site_launch" in response.get_data(as_text=True)
    assert lti_env.counts().launches == 0
    response = lti_env.client.post("/lti/launch", data=fields, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303
    assert lti_env.counts().launches == 1


def test_storage_page_is_only_shown_for_a_live_login(lti_env) -> None:
    _setup(lti_env)
    started, auth, _page = _cookie_less_launch(lti_env)
    response = lti_env.client.post("/lti/launch", data={**auth.fields, "state": "forged-state",
                                                        "lti_storage_target": "_parent"})
    assert response.status_code == 401 and "unknown_state" in response.get_data(as_text=True)


def test_static_script_is_served(lti_env) -> None:
    response = lti_env.client.get("/static/js/lti-storage.js")
    assert response.status_code == 200
    script = response.get_data(as_text=True)
    assert "lti.get_data" in script and "cfg.platformOrigin" in script
    response.close()
