"""The input rule on the command line, on both databases: every argument is checked before click
parses it (NUL, and lone surrogates, which is what Python makes of an invalid UTF-8 byte in
``sys.argv``); lengths are checked against the columns before the database sees them; and data
printed by the CLI never reaches the terminal raw (control characters escaped). Each refusal is
one line ``error: … [reason]`` on stderr, exit 1, no traceback, nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.accounts.models import Account, Learner
from store.catalog.models import Course
from store.licenses.models import PpuConfig, Seat
from tests.factories.catalog import make_course

Sessions = sessionmaker[Session]
Run = Callable[..., Result]


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions) -> Run:
    with committing_sessions.begin() as s:
        make_course(s, "SAFE-101", is_plus=True)
        s.add(Account(name="Acme", kind="organization", annual_retake=False))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine), catch_exceptions=False)

    return invoke


def refused(result: Result, *fragments: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def counts(sessions: Sessions) -> tuple[int, ...]:
    with sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0 for m in (Account, Learner, Seat, PpuConfig,
                                                                                 Course))


CLAIM = ("seats", "claim", "--account", "Acme", "--license-type", "plus", "--course", "SAFE-101")


def test_seats_claim_learner_of_5000_chars(run: Run, committing_sessions: Sessions) -> None:
    """The issue: crashed on PostgreSQL (learners.external_id is VARCHAR(4000))."""
    run("staff", "grant-plus", "--account", "Acme", "--seats", "5", "--term", "annual")
    before = counts(committing_sessions)
    line = refused(run(*CLAIM, "--learner", "x" * 5000), "learner id is longer than 4,000 characters",
                   "[text_too_long]")
    assert "xxxx" not in line
    for option, size, what in (("--name", 301, "learner name"), ("--email", 321, "learner email"),
                               ("--source", 301, "identity source")):
        refused(run(*CLAIM, "--learner", "u1", option, "y" * size), f"{what} is longer than", "[text_too_long]")
    assert counts(committing_sessions) == before
    ok = run(*CLAIM, "--learner", "x" * 4000)
    assert ok.exit_code == 0, ok.stderr


def test_ppu_configure_contract_of_300_chars(run: Run, committing_sessions: Sessions) -> None:
    """The issue: crashed on PostgreSQL (ppu_configs.contract_ref is VARCHAR(200))."""
    refused(run("staff", "ppu-configure", "--account", "Acme", "--contract", "C" * 300, "--deposit", "100"),
            "contract reference is longer than 200 characters", "[text_too_long]")
    refused(run("staff", "ppu-configure", "--account", "Acme", "--contract", "C-1\nC-2", "--deposit", "100"),
            "contract reference must be one line", "[invalid_text]")
    assert counts(committing_sessions)[3] == 0


def test_account_names_are_one_line_within_the_column(run: Run, committing_sessions: Sessions) -> None:
    before = counts(committing_sessions)
    refused(run("accounts", "create", "Two\nLines"), "account name must be one line", "[invalid_text]")
    refused(run("accounts", "create", "N" * 201), "longer than 200 characters")
    assert counts(committing_sessions) == before


@pytest.mark.parametrize("args, named", [
    (("accounts", "create", "Caf\udce9"), "argument 3"),  # surrogateescape of the byte 0xE9
    (("accounts", "create", "A\x00B"), "argument 3"),
    ((*CLAIM, "--learner", "u\udcff"), "--learner"),
    ((*CLAIM, "--learner=u\udcff"), "--learner"),
    (("staff", "ppu-configure", "--account", "Acme", "--contract", "C\x00", "--deposit", "1"), "--contract"),
    (("catalog", "import", "feed-\udcff.jsonl"), "argument 3"),
    (("catalog", "search", "safety\udcff"), "argument 3"),
    (("catalog", "show", "SAFE-\x00"), "argument 3"),
    (("content", "prune", "--course", "\ud800"), "--course"),
    (("platform", "add", "--account", "Acme", "--issuer", "https://lms\x00.example"), "--issuer"),
    (("packages", "domains", "--account", "Acme", "--allow", "lms.\udcffexample.edu"), "--allow"),
])
def test_every_argument_follows_the_rule(run: Run, committing_sessions: Sessions, args: tuple[str, ...],
                                         named: str) -> None:
    before = counts(committing_sessions)
    line = refused(run(*args), f"error: {named} ", "[invalid_text]", "nothing was changed")
    assert "\udcff" not in line and "\x00" not in line
    assert counts(committing_sessions) == before


def test_a_raw_invalid_byte_in_argv_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """The real process: the shell passes bytes, Python decodes them with surrogateescape."""
    script = Path(sys.executable).with_name("lti-tool")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'never-created.db'}", "ENV": "test"}
    for argv in ([b"catalog", b"import", b"caf\xe9.jsonl"], [b"accounts", b"create", b"\xff\xfe"]):
        done = subprocess.run([str(script), *argv], capture_output=True, env=env, timeout=120, check=False)
        stderr = done.stderr.decode()
        assert done.returncode == 1, stderr
        assert stderr.count("\n") == 1 and stderr.startswith("error: argument 3 contains invalid text"), stderr
        assert "Traceback" not in stderr and "[invalid_text]" in stderr
    assert not (tmp_path / "never-created.db").exists()


def test_a_feed_with_a_lone_surrogate_is_refused_per_line(run: Run, tmp_path: Path,
                                                           committing_sessions: Sessions) -> None:
    """The issue: ``catalog import`` with ``\\ud800`` in the JSON feed printed a traceback."""
    good = {"id": "C-1", "title": "Fire", "publisher": "P", "volume_price_cents": 1, "ppu_price_cents": 1}
    lines = [json.dumps(good), json.dumps({**good, "id": "C-2", "title": "Bad \ud800 title"}),
             json.dumps({**good, "id": "C-3", "status": "\ud800"}), json.dumps({**good, "id": "C-4\u0000"})]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="ascii")  # json.dumps escapes: "\ud800" as six characters
    before = counts(committing_sessions)
    result = run("catalog", "import", str(feed))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    problems = result.stderr.splitlines()
    assert problems[0] == "line 2: 'title' contains invalid text (a lone surrogate: invalid UTF-8 or a broken \\u escape)"
    assert problems[1].startswith('line 3: unknown status "\\ud800"')
    assert problems[2] == "line 4: 'id' contains a NUL character"
    assert problems[-1] == "error: the feed has 3 problems; nothing was imported [invalid_feed]"
    as_json = run("catalog", "import", str(feed), "--json")
    body = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and body["problem_count"] == 3 and "\\ud800" in as_json.stdout
    assert counts(committing_sessions) == before


def test_a_10_mb_description_is_refused(run: Run, tmp_path: Path, committing_sessions: Sessions) -> None:
    feed = tmp_path / "big.jsonl"
    feed.write_text(json.dumps({"id": "C-1", "title": "T", "publisher": "P", "volume_price_cents": 1,
                                "ppu_price_cents": 1, "description": "d" * 10_000_000}) + "\n")
    result = run("catalog", "import", str(feed), "--delta")
    assert result.exit_code == 1
    assert "line 1: 'description' is longer than 20,000 characters" in result.stderr
    assert counts(committing_sessions)[4] == 1  # only the fixture's course


def test_printed_data_has_control_characters_escaped(run: Run, tmp_path: Path) -> None:
    """Titles and names come from feeds and LMSs: a terminal escape sequence in one is shown as
    text, never run by the terminal."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": "ESC-1", "title": "Safety \x1b[2J\x07 101", "publisher": "\u202eevil",
                                "description": "one\ntwo \x9b three", "volume_price_cents": 1,
                                "ppu_price_cents": 1}) + "\n")
    assert run("catalog", "import", str(feed), "--delta").exit_code == 0
    for args in (("catalog", "show", "ESC-1"), ("catalog", "search", "safety")):
        out = run(*args).stdout
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\x9b" not in out
        assert "\\x1b[2J" in out
    shown = run("catalog", "show", "ESC-1").stdout
    assert "\\u202eevil" in shown and "\\x9b" in shown
    as_json = run("catalog", "show", "ESC-1", "--json").stdout
    assert "\x9b" not in as_json and "\u202e" not in as_json
    data = json.loads(as_json)
    assert (data["title"], data["publisher"]) == ("Safety \x1b[2J\x07 101", "\u202eevil")  # the data itself unchanged

    run("staff", "grant-plus", "--account", "Acme", "--seats", "5", "--term", "annual")
    assert run(*CLAIM, "--learner", "lms\x1b]0;pwned\x07").exit_code == 0
    assert run(*CLAIM, "--learner", "two\nrows").exit_code == 0  # an opaque LMS id may hold a line break
    listed = run("seats", "list", "--account", "Acme").stdout
    assert "\x1b" not in listed and "lms\\x1b]0;pwned" in listed
    assert "two\\x0arows" in listed and len(listed.splitlines()) == 3  # header and one line per seat
