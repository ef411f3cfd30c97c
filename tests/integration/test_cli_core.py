"""`lti-tool db upgrade` (what `make run` runs first) leaves the tool with a signing key."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti.models import ToolKey


def test_db_upgrade_creates_the_first_tool_key_once(engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    def run() -> str:
        result = CliRunner().invoke(cli, ["db", "upgrade"], obj=CliContext(_settings=load_settings({"ENV": "test"}), _engine=engine), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    first = run()
    assert "tool signing key:" in first
    assert run().splitlines()[-1] == first.splitlines()[-1]  # the same key, not a second one
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(ToolKey).where(ToolKey.retired_at.is_(None))) == 1
