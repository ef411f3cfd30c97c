"""The staff command line end to end on a real database (committed data)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
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
    lot = run("staff", "grant-volume", "--account", str(account_id), "--course", "VOL-9", "--seats", "5",
              "--start", "2026-11-01", "--json")
    assert lot.exit_code == 0, lot.output
    assert json.loads(lot.output)["expires_at"].startswith("2027-11-01")
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
