"""The staff command line end to end on a real database (committed data)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.base import utcnow
from store.clock import add_months
from store.licenses.models import PlusSubscription, PpuConfig, Seat, VolumeLot
from tests.factories.catalog import make_bundle, make_course

Sessions = sessionmaker[Session]


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions):  # type: ignore[no-untyped-def]
    with committing_sessions.begin() as s:
        make_course(s, "SAFE-101", is_plus=True, ppu_price_cents=1_500)
        make_course(s, "VOL-9", is_plus=False)
        make_course(s, "TED-1", is_plus=True, bundle=make_bundle(s, "TED@Work"))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine), catch_exceptions=False)

    return invoke


def counts(sessions: Sessions) -> tuple[int, ...]:
    with sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0 for m in (PlusSubscription, VolumeLot, PpuConfig, Seat))


def test_full_staff_flow(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    created = run("accounts", "create", "Acme Corp", "--json")
    assert created.exit_code == 0, created.output
    account_id = json.loads(created.output)["id"]
    assert run("staff", "grant-plus", "--account", "Acme Corp", "--seats", "10", "--term", "annual").exit_code == 0
    start = utcnow() - timedelta(days=40)  # relative: a lot whose 12 months are over is refused
    lot = run("staff", "grant-volume", "--account", str(account_id), "--course", "VOL-9", "--seats", "5",
              "--start", f"{start:%Y-%m-%d}", "--json")
    assert lot.exit_code == 0, lot.output
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    assert json.loads(lot.output)["expires_at"].startswith(f"{add_months(day, 12):%Y-%m-%d}")
    ppu = run("staff", "ppu-configure", "--account", "Acme Corp", "--contract", "C-77", "--deposit", "3000", "--json")
    assert json.loads(ppu.output)["balance_cents"] == 3000
    assert "balance $40.00 (4000 cents)" in run("staff", "deposit", "--account", "Acme Corp", "--add", "1000").output
    assert run("staff", "ppu-library-add", "--account", "Acme Corp", "--course", "SAFE-101").exit_code == 0
    assert run("staff", "retake", "--account", "Acme Corp", "on").output.strip() == "annual retake on"

    claimed = run("seats", "claim", "--account", "Acme Corp", "--license-type", "plus", "--course", "SAFE-101",
                  "--learner", "u-1", "--json")
    body = json.loads(claimed.output)
    assert claimed.exit_code == 0 and body["ok"] and body["is_new_seat"] and body["seat"]["course_id"] == "SAFE-101"
    again = run("seats", "claim", "--account", "Acme Corp", "--license-type", "plus", "--course", "SAFE-101",
                "--learner", "u-1")
    assert again.exit_code == 0 and again.output.startswith("existing seat")
    refused = run("seats", "claim", "--account", "Acme Corp", "--license-type", "plus", "--course", "VOL-9",
                  "--learner", "u-2")
    assert refused.exit_code == 3 and "not_covered" in refused.output
    ppu_seat = run("seats", "claim", "--account", "Acme Corp", "--license-type", "ppu", "--course", "SAFE-101",
                   "--learner", "u-3", "--json")
    assert json.loads(ppu_seat.output)["seat"]["price_cents"] == 1500

    listed = json.loads(run("seats", "list", "--account", "Acme Corp", "--json").output)
    assert {(r["license_type"], r["learner_external_id"]) for r in listed} == {("plus", "u-1"), ("ppu", "u-3")}
    by_course = json.loads(run("seats", "list", "--account", "Acme Corp", "--course", "SAFE-101", "--json").output)
    assert len(by_course) == 2
    accounts = json.loads(run("accounts", "list", "--json").output)
    assert accounts[0]["plus_seats_used"] == 1 and accounts[0]["ppu_balance_cents"] == 2500
    assert "Acme Corp" in run("accounts", "list").output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["staff", "grant-plus", "--account", "Nobody", "--seats", "5", "--term", "annual"], "unknown account"),
        (["staff", "grant-plus", "--account", "Acme", "--seats", "0", "--term", "annual"], "at least 1"),
        (["staff", "grant-plus", "--account", "Acme", "--seats", "-4", "--term", "monthly"], "at least 1"),
        (["staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "100001"], "at most 100,000"),
        (["staff", "grant-volume", "--account", "Acme", "--course", "TED-1", "--seats", "5"], "bundle_excluded"),
        (["staff", "grant-volume", "--account", "Acme", "--course", "NOPE", "--seats", "5"], "unknown course"),
        (["staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "5", "--start", "soon"],
         "--start must be"),
        (["staff", "deposit", "--account", "Acme", "--add", "500"], "not configured for Pay Per Use"),
        (["staff", "ppu-configure", "--account", "Acme", "--contract", " ", "--deposit", "5"], "contract"),
        (["staff", "ppu-configure", "--account", "Acme", "--contract", "C", "--deposit", "-5"], "0 or more"),
        (["seats", "claim", "--account", "Nobody", "--license-type", "plus", "--course", "VOL-9", "--learner", "x"],
         "unknown account"),
        (["accounts", "create", "Acme"], "already exists"),
        # Dates: before, 9999-12-31 was a traceback and 1900-01-01 an expired lot without a word.
        (["staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "5", "--start", "9999-12-31"],
         "is more than a year from now"),
        (["staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "5", "--start", "1900-01-01"],
         "a Volume lot bought 1900-01-01 would already be over (its 12 months ended 1901-01-01) [invalid_start]"),
        (["staff", "grant-plus", "--account", "Acme", "--seats", "5", "--term", "annual", "--start", "9999-12-31"],
         "[invalid_start]"),
        (["staff", "grant-plus", "--account", "Acme", "--seats", "5", "--term", "monthly", "--start", "1900-01-01"],
         "would already be over"),
        (["staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "5", "--start",
          "0001-01-01T00:00:00+01:00"], "out of range [invalid_start]"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_changes_nothing(run, committing_sessions: Sessions,  # type: ignore[no-untyped-def]
                                                                    args: list[str], fragment: str) -> None:
    assert run("accounts", "create", "Acme").exit_code == 0
    before = counts(committing_sessions)
    result = run(*args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.output
    assert counts(committing_sessions) == before


def test_grant_plus_start_does_not_apply_to_a_running_subscription(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    """Before: --start was silently ignored when seats were added to the active subscription."""
    assert run("accounts", "create", "Acme").exit_code == 0
    started = json.loads(run("staff", "grant-plus", "--account", "Acme", "--seats", "5", "--term", "annual",
                             "--json").stdout)
    before = counts(committing_sessions)
    refused = run("staff", "grant-plus", "--account", "Acme", "--seats", "3", "--term", "annual",
                  "--start", f"{utcnow() + timedelta(days=30):%Y-%m-%d}")
    assert refused.exit_code == 1 and refused.stdout == ""
    term = f"({started['started_at'][:10]} to {started['current_period_end'][:10]})"
    assert refused.stderr == (f"error: account already has an active annual subscription {term}: seats are added "
                              "to it from now, so a start date does not apply; leave --start out "
                              "[start_not_applicable]\n")
    assert counts(committing_sessions) == before
    added = run("staff", "grant-plus", "--account", "Acme", "--seats", "3", "--term", "annual", "--json")
    assert added.exit_code == 0 and json.loads(added.stdout)["seats_total"] == 8


def test_a_start_within_a_year_is_fine(run) -> None:  # type: ignore[no-untyped-def]
    assert run("accounts", "create", "Acme").exit_code == 0
    soon = (utcnow() + timedelta(days=300)).strftime("%Y-%m-%d")
    lot = run("staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "5", "--start", soon)
    assert lot.exit_code == 0, lot.stderr
    long_ago = (utcnow() - timedelta(days=300)).strftime("%Y-%m-%d")
    old = run("staff", "grant-volume", "--account", "Acme", "--course", "VOL-9", "--seats", "5", "--start", long_ago)
    assert old.exit_code == 0, old.stderr  # still valid for two more months
