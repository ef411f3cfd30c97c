"""The cleanup job: requests sweep nothing; expired login states, used nonces, web sessions,
stored launches and dispatch token ids are refused while their rows still exist, and the job
deletes them (and only them)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from lti_tool.jobs import cleanup
from lti_tool.lti.models import LtiLaunch, LtiLoginState, LtiUsedNonce, WebSession
from store.base import utcnow
from tests.factories import lti as f
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401

MODELS = (LtiLoginState, LtiUsedNonce, WebSession, LtiLaunch)


def _rows(env) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with env.sessions() as session:
        return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in MODELS}


def test_expired_rows_are_refused_until_the_cleanup_job_deletes_them(lti_env) -> None:  # type: ignore[no-untyped-def]
    env = lti_env
    launched = f.launch(env.client, env.platform, target_link_uri="https://tool.test/lti/launch", sub="learner-9")
    token = launched.headers["Location"].split("s=", 1)[1].split("&", 1)[0]
    f.login(env.client, env.platform)  # a login nobody finishes
    with env.sessions.begin() as session:  # launches record their nonce in the launch row now; an older row
        session.add(LtiUsedNonce(registration_id=env.registration_id, nonce="kept-from-before",
                                 expires_at=utcnow() + timedelta(hours=1)))
    before = _rows(env)
    assert all(count >= 1 for count in before.values()), before
    assert cleanup(env.sessions, utcnow()).startswith("deleted 0 expired LTI rows")
    assert _rows(env) == before
    assert env.client.get("/lti/my-courses", query_string={"s": token}).status_code == 200

    with env.sessions.begin() as session:
        for model in MODELS:
            session.execute(update(model).values(expires_at=utcnow() - timedelta(seconds=1)))
    # Expired but not deleted yet: the session is not accepted any more.
    refused = env.client.get("/lti/my-courses", query_string={"s": token})
    assert refused.status_code == 401 and "no_session" in refused.get_data(as_text=True)
    assert _rows(env) == before  # a request sweeps nothing

    summary = cleanup(env.sessions, utcnow())
    assert summary.startswith(f"deleted {sum(before.values())} expired LTI rows")
    assert _rows(env) == {name: 0 for name in before}
