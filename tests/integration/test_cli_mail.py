"""`lti-tool mail outbox`: newest first, limited, JSON, and no raw control characters."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.base import utcnow
from store.mail import OutboxMailer
from store.mail.service import check_mail, claim_retries, mark_failed, record


def _run(engine: Engine, *args: str) -> Result:
    return CliRunner().invoke(cli, ["mail", "outbox", *args], obj=CliContext(_engine=engine), catch_exceptions=False)


def test_mail_outbox_lists_newest_first_with_escaped_control_characters(
        engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    assert _run(engine).output.strip() == "the outbox is empty"
    mailer = OutboxMailer(committing_sessions, "store@tool.test")
    mailer.send("jane@example.com", "Reset your password", "Hello Jane,\n\nhttps://tool.test/store/reset/T1\n")
    mailer.send("joe@example.com", "Evil \x1b[31mred\u202e", "body \x1b]0;title\x07 end")
    failed = record(committing_sessions, backend="smtp", status="sending", from_address="store@tool.test",
                    mail=check_mail("ann@example.com", "Third", "x"), now=utcnow())
    mark_failed(committing_sessions, failed, "connection refused: nothing accepts connections")

    listed = _run(engine)
    assert listed.exit_code == 0, listed.output
    text = listed.output
    assert text.index("ann@example.com") < text.index("joe@example.com") < text.index("jane@example.com")
    assert "https://tool.test/store/reset/T1" in text
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "Evil \\x1b[31mred\\u202e" in text and "body \\x1b]0;title\\x07 end" in text
    assert "failed  (smtp)" in text and "Error: connection refused" in text

    limited = _run(engine, "--limit", "1", "--json")
    assert limited.exit_code == 0, limited.output
    rows = json.loads(limited.output)
    assert [r["to_address"] for r in rows] == ["ann@example.com"]
    assert rows[0]["status"] == "failed" and rows[0]["error"].startswith("connection refused")
    assert rows[0]["attempts"] == 1
    as_json = _run(engine, "--json").output
    assert "\x1b" not in as_json and "\\u001b[31m" in as_json
    assert [r["subject"] for r in json.loads(as_json)][1] == "Evil \x1b[31mred\u202e"


def test_mail_outbox_shows_the_attempts_of_a_retried_message(
        engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    failed = record(committing_sessions, backend="smtp", status="sending", from_address="store@tool.test",
                    mail=check_mail("ann@example.com", "Invitation", "x"), now=utcnow())
    mark_failed(committing_sessions, failed, "connection refused")
    assert "failed  (smtp)\n" in _run(engine).output
    claimed = claim_retries(committing_sessions, utcnow(), max_attempts=5, max_age=timedelta(hours=24))
    assert [m.id for m in claimed] == [failed]
    mark_failed(committing_sessions, failed, "connection refused again")
    text = _run(engine).output
    assert "failed  (smtp, 2 attempts)" in text and "Error: connection refused again" in text
    assert json.loads(_run(engine, "--json").output)[0]["attempts"] == 2


def test_mail_outbox_refuses_a_bad_limit(engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    result = _run(engine, "--limit", "0")
    assert result.exit_code != 0 and "--limit" in result.output
