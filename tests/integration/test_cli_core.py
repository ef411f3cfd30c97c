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


def test_serve_names_the_urls_a_newcomer_needs() -> None:
    from lti_tool.cli.core import start_urls

    development = load_settings({"ENV": "development", "SECRET_KEY": "d" * 40, "DEMO_PLATFORM": "true"})
    urls = dict(start_urls(development, "127.0.0.1", 5000))
    assert urls == {"Demo LMS (start here):": "http://localhost:5000/demo",
                    "Install in an LMS:": "http://127.0.0.1:5000/lti/install",
                    "Store:": "http://127.0.0.1:5000/store", "Health:": "http://127.0.0.1:5000/healthz"}
    without_demo = development.with_overrides(demo_platform=False)
    assert [url for _label, url in start_urls(without_demo, "localhost", 8000)][0] == "http://localhost:8000/lti/install"
