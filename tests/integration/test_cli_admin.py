"""The command line for identity linking, invitations, reports and account closure, on a real
database (committed data)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.accounts.models import Account, Learner
from store.base import utcnow
from store.closure.service import request_account_closure
from store.invitations.service import send_invitations
from store.licenses import service as licenses
from store.mail import OutboxMailer
from tests.factories.catalog import make_course
from tests.factories.store import make_learner

Sessions = sessionmaker[Session]


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions):  # type: ignore[no-untyped-def]
    with committing_sessions.begin() as s:
        make_course(s, "VOL-9", title="Forklift Basics", is_plus=False)

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine), input=input,
                                  catch_exceptions=False)

    return invoke


@pytest.fixture
def acme(run, committing_sessions: Sessions) -> int:  # type: ignore[no-untyped-def]
    created = run("accounts", "create", "Acme Corp", "--json")
    account_id = json.loads(created.output)["id"]
    licenses.grant_volume(committing_sessions, account_id, "VOL-9", 5, utcnow())
    return int(account_id)


def accounts(sessions: Sessions) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Account)) or 0)


def test_identity_linking_switch(run, acme: int, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    assert run("staff", "link-identities", "--account", "Acme Corp", "on").output.strip() == "identity linking on"
    first = run("seats", "claim", "--account", "Acme Corp", "--license-type", "volume", "--course", "VOL-9",
                "--learner", "sub-1", "--source", "lti:https://lms.example.edu", "--username", "ada", "--json")
    second = run("seats", "claim", "--account", "Acme Corp", "--license-type", "volume", "--course", "VOL-9",
                 "--learner", "ADA", "--source", "package:PKG", "--json")
    assert json.loads(first.output)["seat"]["id"] == json.loads(second.output)["seat"]["id"]
    assert not json.loads(second.output)["is_new_seat"]
    off = run("staff", "link-identities", "--account", "Nope", "off")
    assert off.exit_code == 1 and "[unknown_account]" in off.output


def test_invitations_list(run, acme: int, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    assert run("invitations", "list", "--account", "Acme Corp").output.strip() == "no invitations"
    admin = make_learner(committing_sessions, acme, "admin-1")
    send_invitations(committing_sessions, OutboxMailer(committing_sessions, "s@tool.test"), acme, admin, "VOL-9",
                     "volume", "ada@example.com", utcnow(), link_for=lambda t: f"https://t/i/{t}", demo_content=True)
    table = run("invitations", "list", "--account", "Acme Corp")
    assert table.exit_code == 0 and "ada@example.com" in table.output and "VOL-9" in table.output
    assert "valid" in table.output
    rows = json.loads(run("invitations", "list", "--account", str(acme), "--json").output)
    assert [(r["email"], r["course_id"], r["invited_by"], r["seat_valid"]) for r in rows] == [
        ("ada@example.com", "VOL-9", "admin-1", True)]
    assert run("invitations", "list", "--account", "Nope").exit_code == 1


def test_reports_export(run, acme: int, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        run("seats", "claim", "--account", "Acme Corp", "--license-type", "volume", "--course", "VOL-9",
            "--learner", f"u{i}", "--name", f"=Learner {i}")
    target = tmp_path / "report.csv"
    done = run("reports", "export", "--account", "Acme Corp", "--course", "VOL-9", "--status", "not_started",
               "--from", "2020-01-01", "-o", str(target))
    assert done.exit_code == 0 and done.output.strip() == f"wrote 3 rows to {target}"
    with target.open(encoding="utf-8", newline="") as file:
        lines = list(csv.reader(file))
    assert lines[0][:4] == ["learner_name", "email", "identities", "course_id"] and len(lines) == 4
    assert {line[0] for line in lines[1:]} == {"'=Learner 0", "'=Learner 1", "'=Learner 2"}
    stdout = run("reports", "export", "--account", "Acme Corp", "--to", "2020-01-01", "-o", "-")
    assert stdout.output.splitlines() == [",".join(lines[0])]  # the header only: nothing before 2020


@pytest.mark.parametrize(("args", "reason"), [
    (("--course", "NOPE"), "unknown_course"),
    (("--from", "2026-13-01"), "invalid_dates"),
    (("--from", "2026-02-01", "--to", "2026-01-01"), "invalid_dates"),
    (("--from", "2026-01-01T10:00:00"), "invalid_dates"),
    (("--from", "0001-01-01T00:00:00+01:00"), "invalid_dates"),
])
def test_reports_export_refuses_bad_filters_and_writes_nothing(run, acme: int, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               args: tuple[str, ...], reason: str) -> None:
    target = tmp_path / "report.csv"
    result = run("reports", "export", "--account", "Acme Corp", *args, "-o", str(target))
    assert result.exit_code == 1 and f"[{reason}]" in result.output
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_reports_export_to_a_missing_folder(run, acme: int, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("reports", "export", "--account", "Acme Corp", "-o", str(tmp_path / "no" / "r.csv"))
    assert result.exit_code == 1 and "[invalid_output]" in result.output
    assert run("reports", "export", "--account", "Acme Corp", "-o", str(tmp_path)).exit_code == 1


def test_closure_requests_and_closing(run, acme: int, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    assert run("staff", "requests").output.strip() == "no closure requests"
    admin = make_learner(committing_sessions, acme, "admin-1")
    request_account_closure(committing_sessions, acme, admin, "Please close\nour account.", utcnow())
    listed = run("staff", "requests")
    assert "Acme Corp" in listed.output and "    our account." in listed.output
    assert json.loads(run("staff", "requests", "--json").output)[0]["message"] == "Please close\nour account."
    run("seats", "claim", "--account", "Acme Corp", "--license-type", "volume", "--course", "VOL-9", "--learner", "u1")

    declined = run("staff", "close-account", "--account", "Acme Corp", input="n\n")
    assert declined.exit_code == 1 and "[not_confirmed]" in declined.output and "2 learners, 1 seats" in declined.output
    no_answer = run("staff", "close-account", "--account", "Acme Corp", input="")
    assert no_answer.exit_code == 1
    assert accounts(committing_sessions) == 1

    closed = run("staff", "close-account", "--account", "Acme Corp", input="y\n")
    assert closed.exit_code == 0 and "closed account" in closed.output and "1 seats" in closed.output
    assert accounts(committing_sessions) == 0
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Learner)) == 0
    assert run("staff", "requests").output.strip() == "no closure requests"
    again = run("staff", "close-account", "--account", "Acme Corp", "--yes")
    assert again.exit_code == 1 and "[unknown_account]" in again.output


def test_closing_for_scripts(run, acme: int, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    result = run("staff", "close-account", "--account", str(acme), "--yes", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["name"] == "Acme Corp" and body["account_id"] == acme and "removed" in body
    assert accounts(committing_sessions) == 0
