"""The SQL a launch costs, pinned: statements sent and transactions begun on the app's engine
for the login, the launch and the player page of a learner's first launch and relaunch (counted
with SQLAlchemy events, as ``bench/lti_sql.py`` does; SQLite's ``BEGIN IMMEDIATE`` is left out,
as PostgreSQL's implicit BEGIN is not a statement). A count, not a timing: it cannot grow
silently. Also what the fast path must keep: a removed registration or a disabled deployment
is refused at once, a changed login URL is used at once, and the platform key a process
remembers is only a shortcut: the database's key set decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, update

from lti_tool.lti.models import LtiDeployment, LtiPlatformKeySet, LtiRegistration
from lti_tool.lti.testplatform import SigningKey
from lti_tool.services import services_of
from store.base import utcnow
from store.licenses.service import grant_plus, grant_volume
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401


@dataclass
class SqlCount:
    statements: int = 0
    transactions: int = 0
    steps: list[tuple[int, int]] = field(default_factory=list)

    def step(self) -> None:
        done = (sum(s for s, _ in self.steps), sum(t for _, t in self.steps))
        self.steps.append((self.statements - done[0], self.transactions - done[1]))


def _counting(app: Any) -> SqlCount:
    count = SqlCount()
    engine = services_of(app).engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith("BEGIN"):
            count.statements += 1

    @event.listens_for(engine, "begin")
    def _begin(*_args):  # type: ignore[no-untyped-def]
        count.transactions += 1

    return count


def _launch_counted(env: Any, sub: str, custom: dict[str, str]) -> list[tuple[int, int]]:
    count = _counting(env.app)
    started = f.login(env.client, env.platform)
    count.step()
    launched = f.post_launch(env.client, f.authorize(env.platform, started, sub=sub, custom=custom))
    assert launched.status_code == 303, launched.get_data(as_text=True)
    count.step()
    played = env.client.get(launched.headers["Location"])
    assert played.status_code == 200, played.get_data(as_text=True)
    count.step()
    return count.steps


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100", title="Workplace Safety")
    grant_volume(lti_env.sessions, lti_env.account_id, "C-100", 5, utcnow())
    grant_plus(lti_env.sessions, lti_env.account_id, 5, "annual", utcnow())
    # A running server has launched before: the registration and the platform key are known.
    assert f.launch(lti_env.client, lti_env.platform, sub="warm-up",
                    custom=f.course_custom("C-100", "volume")).status_code == 303
    return lti_env


@pytest.mark.parametrize("license_type", ["volume", "plus"])
def test_first_launch_and_relaunch_statements_and_transactions(env, license_type: str) -> None:
    custom = f.course_custom("C-100", license_type)
    first = _launch_counted(env, "counted-" + license_type, custom)
    # login: 1 INSERT; launch: DELETE state, SELECT registration+deployment+account, learner
    # upsert, launch INSERT, course+seats SELECT, guarded UPDATE, seat INSERT, course-launch
    # upsert; player: 1 SELECT. One transaction each.
    assert first == [(1, 1), (8, 1), (1, 1)]
    assert sum(s for s, _ in first) <= 10 and sum(t for _, t in first) <= 3
    again = _launch_counted(env, "counted-" + license_type, custom)
    assert again == [(1, 1), (6, 1), (1, 1)]  # the seat is found with the course: no UPDATE, no INSERT


def test_a_removed_deployment_or_registration_is_refused_at_once(env) -> None:
    custom = f.course_custom("C-100", "volume")
    with env.sessions.begin() as session:
        session.execute(update(LtiDeployment).values(status="disabled"))
    refused = f.launch(env.client, env.platform, sub="late", custom=custom)
    assert refused.status_code == 403 and "deployment_disabled" in refused.get_data(as_text=True)
    with env.sessions.begin() as session:
        session.execute(update(LtiDeployment).values(status="active"))
    started = f.login(env.client, env.platform)  # the login remembered the registration
    auth = f.authorize(env.platform, started, sub="later", custom=custom)
    with env.sessions.begin() as session:
        session.query(LtiRegistration).delete()
    refused = f.post_launch(env.client, auth)
    assert refused.status_code == 401, refused.get_data(as_text=True)
    assert env.counts().seats == 1  # the warm-up's only


def test_a_changed_login_url_is_used_by_the_next_login(env) -> None:
    before = f.login(env.client, env.platform).auth_url
    with env.sessions.begin() as session:
        url = session.get_one(LtiRegistration, env.registration_id).auth_login_url
        session.execute(update(LtiRegistration).values(auth_login_url=url + "/v2"))
    after = f.login(env.client, env.platform).auth_url
    assert after.startswith(url + "/v2?") and not before.startswith(url + "/v2")


def test_a_remembered_platform_key_is_only_a_shortcut(env) -> None:
    """The warm-up launch left the platform's key in the process's memory; the key set in the
    database then holds another key under the same kid (another process refetched it). A token
    signed with the new key is accepted (verified again from the database); one signed with a key
    in neither is refused."""
    replacement = SigningKey.generate(kid=env.platform.key.kid)
    env.platform.keys = [replacement]
    with env.sessions.begin() as session:
        session.execute(update(LtiPlatformKeySet).values(jwks={"keys": [replacement.public_jwk()]}))
    custom = f.course_custom("C-100", "volume")
    assert f.launch(env.client, env.platform, sub="after-rotation", custom=custom).status_code == 303
    started = f.login(env.client, env.platform)
    impostor = SigningKey.generate(kid=replacement.kid)
    refused = f.post_launch(env.client, f.authorize(env.platform, started, sub="impostor", custom=custom,
                                                    sign_with=impostor))
    assert refused.status_code == 401 and "bad_signature" in refused.get_data(as_text=True)
