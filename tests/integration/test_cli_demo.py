"""`lti-tool demo seed`: what `make run` does on an empty database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.base import utcnow
from store.catalog.models import Bundle, Course, Publisher
from store.licenses.models import LaunchRefusal, PlusSubscription, PpuConfig, Seat, VolumeLot


def test_demo_seed_sets_up_every_license_type_once(engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run("demo", "seed", "--if-empty")  # the default catalog size, as `make run` does
    assert "demo account id" in out
    now = utcnow()
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Course)) == 300
        assert (s.scalar(select(func.count()).select_from(Publisher)) or 0) >= 100
        assert s.scalar(select(func.count()).select_from(Bundle).where(Bundle.is_subscription_only.is_(True))) == 1
        assert s.scalar(select(func.count()).select_from(Course).where(Course.is_plus.is_(True))) > 0
        sub = s.scalars(select(PlusSubscription)).one()
        assert sub.started_at < now < sub.current_period_end and sub.seats_used == 5
        lots = s.scalars(select(VolumeLot)).all()
        assert any(lot.expires_at <= now for lot in lots) and any(lot.expires_at > now for lot in lots)
        assert s.scalars(select(PpuConfig.balance_cents)).one() < 50_000  # one PPU seat was bought
        assert (s.scalar(select(func.count()).select_from(Seat)) or 0) >= 10
        assert s.scalars(select(LaunchRefusal.reason)).all() == ["no_seats"]
        # The seat holders are the demo LMS's people (its issuer on the other loopback name, sub "demo-<key>"):
        # launching one from /demo reuses their seats.
        from lti_tool.demo.platform import PEOPLE, issuer_for
        from store.accounts.models import Learner
        holders = set(s.execute(select(Learner.identity_source, Learner.external_id)
                                .join(Seat, Seat.learner_id == Learner.id)).all())
        issuer = issuer_for("http://localhost:5000")
        assert holders and holders <= {(f"lti:{issuer}", person.sub) for person in PEOPLE}
    assert "skipped" in run("demo", "seed", "--if-empty")
    # Without --if-empty a second run keeps the demo licenses as they are.
    assert "already exists" in run("demo", "seed")
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(PlusSubscription)) == 1


def test_demo_seed_never_runs_in_production(engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    production = load_settings({"ENV": "production", "SECRET_KEY": "p" * 40, "PAYMENTS_TEST_MODE": "true"})
    result = CliRunner().invoke(cli, ["demo", "seed", "--courses", "40"],
                                obj=CliContext(_settings=production, _engine=engine))
    assert result.exit_code == 1
    assert result.output.strip().endswith("never for a production database (ENV=production) [demo_in_production]")
    assert "Traceback" not in result.output
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Course)) == 0


def test_demo_seed_says_what_plays_where_demo_content_is_off(engine: Engine, committing_sessions: sessionmaker[Session],
                                                             tmp_path: Path) -> None:
    settings = load_settings({"ENV": "development", "SECRET_KEY": "d" * 40, "DEMO_CONTENT": "false",
                              "CONTENT_DIR": str(tmp_path / "content")})
    result = CliRunner().invoke(cli, ["demo", "seed", "--courses", "40"],
                                obj=CliContext(_settings=settings, _engine=engine), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "note: DEMO_CONTENT is off" in result.output and "not available yet" in result.output
