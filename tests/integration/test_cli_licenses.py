"""``lti-tool licenses list`` and ``accounts list``: the account overview read model on the command
line, on a real database (committed data)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.base import utcnow
from store.licenses.models import PlusSubscription
from tests.factories.catalog import make_course

Sessions = sessionmaker[Session]
KEYS = {"license_type", "course_id", "title", "seats", "seats_used", "starts_at", "expires_at", "status",
        "balance_cents"}


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions):  # type: ignore[no-untyped-def]
    with committing_sessions.begin() as s:
        make_course(s, "SAFE-101", title="Workplace Safety", is_plus=True, ppu_price_cents=1_500)
        make_course(s, "VOL-9", title="Forklift Basics", is_plus=False)
    settings = load_settings({"ENV": "test", "SECRET_KEY": "k" * 48,
                              "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                              "PUBLIC_BASE_URL": "https://courses.example.com"})

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_settings=settings, _engine=engine),
                                  catch_exceptions=False)

    assert invoke("accounts", "create", "Acme Corp").exit_code == 0
    return invoke


def test_licenses_list_shows_every_holding_with_its_status(run, committing_sessions: Sessions,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    future = (utcnow() + timedelta(days=30)).date().isoformat()
    assert run("staff", "grant-plus", "--account", "Acme Corp", "--seats", "3", "--term", "annual").exit_code == 0
    # The case: a Volume lot bought to start next month.
    assert run("staff", "grant-volume", "--account", "Acme Corp", "--course", "VOL-9", "--seats", "5",
               "--start", future).exit_code == 0
    assert run("staff", "ppu-configure", "--account", "Acme Corp", "--contract", "C-77", "--deposit", "0").exit_code == 0
    assert run("staff", "ppu-library-add", "--account", "Acme Corp", "--course", "SAFE-101").exit_code == 0
    with committing_sessions.begin() as s:
        s.execute(update(PlusSubscription).values(auto_renew=False))

    listed = json.loads(run("licenses", "list", "--account", "Acme Corp", "--json").output)
    assert all(set(row) == KEYS for row in listed)
    plus, lot, library = listed
    assert (plus["license_type"], plus["course_id"], plus["seats"], plus["seats_used"], plus["status"]) == (
        "plus", None, 3, 0, "cancelled")
    assert (lot["license_type"], lot["course_id"], lot["seats"], lot["status"]) == ("volume", "VOL-9", 5, "not_started")
    assert lot["starts_at"] == f"{future}T00:00:00+00:00" and lot["expires_at"].endswith("+00:00")
    assert (library["license_type"], library["course_id"], library["seats"], library["seats_used"],
            library["expires_at"], library["status"], library["balance_cents"]) == (
        "ppu", "SAFE-101", None, None, None, "insufficient_deposit", 0)
    assert plus["balance_cents"] is None and library["title"] == "Workplace Safety"

    account_id = json.loads(run("accounts", "list", "--json").output)[0]["id"]
    table = run("licenses", "list", "--account", str(account_id)).output.splitlines()  # by id this time
    assert table[0].split() == ["TYPE", "COURSE", "TITLE", "SEATS", "STARTS", "EXPIRES", "STATUS"]
    assert table[2].split()[:2] == ["volume", "VOL-9"] and table[2].endswith("not_started")
    assert [line.rindex("  ") for line in table[:4]] == [table[0].rindex("  ")] * 4  # STATUS column aligned
    assert table[-1] == "pay per use: contract C-77, deposit $0.00"

    # The same read model feeds accounts list: the lot that has not started is not valid yet.
    accounts = json.loads(run("accounts", "list", "--json").output)
    assert (accounts[0]["valid_volume_lots"], accounts[0]["plus_seats_total"], accounts[0]["ppu_balance_cents"]) == (
        0, 3, 0)
    # ... and packaging refuses it with the reason, as every caller does.
    built = run("packages", "build", "--account", "Acme Corp", "--course", "VOL-9", "--license-type", "volume",
                "--format", "scorm12", "-o", str(tmp_path))
    assert built.exit_code == 1
    assert built.output.strip() == (f"error: account 'Acme Corp''s Volume seats for course 'VOL-9' start on {future}: "
                                    "packages can be made from then [not_started]")


def test_an_account_without_licenses(run) -> None:  # type: ignore[no-untyped-def]
    assert run("licenses", "list", "--account", "Acme Corp").output.startswith("no licenses")
    assert json.loads(run("licenses", "list", "--account", "Acme Corp", "--json").output) == []


@pytest.mark.parametrize(("args", "fragment"), [
    (["licenses", "list", "--account", "Nobody"], "unknown account 'Nobody'"),
    (["licenses", "list", "--account", "999", "--json"], "unknown account"),
])
def test_bad_input_is_one_line_and_exit_1(run, args: list[str], fragment: str) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and fragment in lines[0] and lines[0].endswith("[unknown_account]")
