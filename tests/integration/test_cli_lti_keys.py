"""The tool's signing keys on a real database: made on first need (once, even when processes
race), encrypted at rest, rotated with an overlap; and the `lti-tool keys` commands."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import jwt
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti import keys
from lti_tool.lti.models import ToolKey
from tests.factories.licenses import T0

Sessions = sessionmaker[Session]


@pytest.fixture
def settings() -> Settings:
    return load_settings({"ENV": "test", "SECRET_KEY": "x" * 40, "TOOL_KEY_OVERLAP_DAYS": "7"})


def verify(token: str, jwks: dict) -> dict:  # type: ignore[type-arg]
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK.from_dict(key).key, algorithms=["RS256"], audience="someone")


def test_first_need_creates_one_encrypted_key_that_signs_what_the_jwks_verifies(
        sessions: Sessions, settings: Settings) -> None:
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ToolKey)) == 0
    jwks = keys.public_jwks(sessions, settings, T0)
    assert len(jwks["keys"]) == 1
    published = jwks["keys"][0]
    assert published["kty"] == "RSA" and published["alg"] == "RS256" and published["use"] == "sig"
    assert "d" not in published and "p" not in published  # public parts only
    assert jwt.PyJWK.from_dict(published).key.key_size == 2048

    signing = keys.current_signing_key(sessions, settings, T0)
    kid, pem = signing  # unpacks as (kid, PEM)
    assert kid == published["kid"] and pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert verify(signing.sign({"aud": "someone", "x": 1}), jwks)["x"] == 1
    assert keys.ensure_tool_key(sessions, settings, T0) == kid  # no second key

    with sessions() as s:
        stored = s.execute(text("SELECT private_key_encrypted FROM lti_tool_keys")).scalar_one()
    assert "PRIVATE KEY" not in stored and pem.splitlines()[1][:20] not in stored
    assert len(kid) >= 16


def test_rotation_keeps_the_old_key_published_for_the_overlap_then_drops_it(
        sessions: Sessions, settings: Settings) -> None:
    first = keys.ensure_tool_key(sessions, settings, T0)
    old_token = keys.current_signing_key(sessions, settings, T0).sign({"aud": "someone"})

    rotated = keys.rotate_keys(sessions, settings, T0 + timedelta(days=30))
    assert rotated.retired_kids == (first,) and rotated.new_kid != first
    assert keys.current_signing_key(sessions, settings, T0 + timedelta(days=30)).kid == rotated.new_kid

    during = keys.public_jwks(sessions, settings, T0 + timedelta(days=36))
    assert [k["kid"] for k in during["keys"]] == [rotated.new_kid, first]
    verify(old_token, during)  # a token signed before the rotation still verifies

    after = keys.public_jwks(sessions, settings, T0 + timedelta(days=37, seconds=1))
    assert [k["kid"] for k in after["keys"]] == [rotated.new_kid]
    views = keys.list_keys(sessions, settings, T0 + timedelta(days=37, seconds=1))
    assert [(v.kid, v.state) for v in views] == [(rotated.new_kid, "signing"), (first, "expired")]

    again = keys.rotate_keys(sessions, settings, T0 + timedelta(days=40))
    assert again.purged_kids == (first,) and again.retired_kids == (rotated.new_kid,)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ToolKey).where(ToolKey.retired_at.is_(None))) == 1
        assert s.scalar(select(func.count()).select_from(ToolKey)) == 2


def test_a_changed_secret_key_is_reported_and_rotation_recovers(sessions: Sessions, settings: Settings) -> None:
    keys.ensure_tool_key(sessions, settings, T0)
    changed = settings.with_overrides(secret_key="y" * 40)
    with pytest.raises(keys.ToolKeyUnreadable):
        keys.current_signing_key(sessions, changed, T0)
    keys.rotate_keys(sessions, changed, T0)
    assert keys.current_signing_key(sessions, changed, T0).private_key_pem.startswith("-----BEGIN")


@pytest.mark.race
def test_processes_starting_at_once_create_a_single_key(committing_sessions: Sessions, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    workers = 6
    barrier = threading.Barrier(workers)
    kids: list[str] = []
    errors: list[BaseException] = []
    make_key = keys._new_key_row

    def make_key_then_wait(*args):  # type: ignore[no-untyped-def]
        row = make_key(*args)
        barrier.wait()  # every worker has seen "no key yet" and holds a candidate: now they all insert
        return row

    monkeypatch.setattr(keys, "_new_key_row", make_key_then_wait)

    def start() -> None:
        try:
            kids.append(keys.ensure_tool_key(committing_sessions, settings, T0))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(kids)) == 1 and len(kids) == workers
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(ToolKey)) == 1


# ---------------------------------------------------------------- CLI


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions, settings: Settings):  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    ctx_settings = settings.with_overrides(database_url=url)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_settings=ctx_settings, _engine=engine),
                                  catch_exceptions=False)

    return invoke


def test_keys_commands(run) -> None:  # type: ignore[no-untyped-def]
    empty = run("keys", "list")
    assert empty.exit_code == 0 and "no keys yet" in empty.output
    first = run("keys", "rotate", "--json")
    assert first.exit_code == 0, first.output
    new_kid = json.loads(first.output)["new_kid"]
    second = run("keys", "rotate")
    assert second.exit_code == 0 and f"retired {new_kid}" in second.output
    listed = json.loads(run("keys", "list", "--json").output)
    assert [k["state"] for k in listed] == ["signing", "retired"]
    assert listed[1]["kid"] == new_kid and listed[1]["published_until"]
    assert "signing" in run("keys", "list").output
