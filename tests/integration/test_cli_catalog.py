"""``lti-tool catalog import|search|show`` end to end on a real database (committed data)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.catalog.demo import generate_feed
from store.catalog.models import Course, Publisher

Run = Callable[..., Result]


@pytest.fixture
def run(engine: Engine, committing_sessions: sessionmaker[Session]) -> Run:
    def invoke(*args: str, input: bytes | str | None = None) -> Result:
        return CliRunner().invoke(
            cli, list(args), obj=CliContext(_engine=engine), input=input, catch_exceptions=False
        )

    return invoke


def write_feed(path: Path, records: list[dict[str, Any]], extra_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    for index, text in sorted((extra_lines or {}).items()):
        lines.insert(index, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def course_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Course)) or 0


def test_import_then_reimport(run: Run, tmp_path: Path, committing_sessions: sessionmaker[Session]) -> None:
    feed = write_feed(tmp_path / "catalog.jsonl", list(generate_feed(80)))
    first = run("catalog", "import", str(feed))
    assert first.exit_code == 0, first.output + first.stderr
    assert "full import of 80 courses (80 lines): 80 added, 0 updated, 0 unchanged, 0 retired" in first.stdout
    assert "new publishers:" in first.stdout
    assert first.stderr == ""  # no progress bar: not a terminal, small file
    assert course_count(committing_sessions) == 80

    again = run("catalog", "import", str(feed), "--json")
    assert again.exit_code == 0
    body = json.loads(again.stdout)
    assert body == {
        "ok": True, "mode": "full", "courses_in_feed": 80, "added": 0, "updated": 0,
        "unchanged": 80, "retired": 0, "publishers_added": 0, "bundles_added": 0,
    }


def test_full_retires_delta_does_not(run: Run, tmp_path: Path, committing_sessions: sessionmaker[Session]) -> None:
    records = list(generate_feed(30))
    assert run("catalog", "import", str(write_feed(tmp_path / "all.jsonl", records))).exit_code == 0
    fewer = write_feed(tmp_path / "fewer.jsonl", records[:25])

    delta = json.loads(run("catalog", "import", "--delta", str(fewer), "--json").stdout)
    assert (delta["mode"], delta["retired"], delta["unchanged"]) == ("delta", 0, 25)

    full = json.loads(run("catalog", "import", "--full", str(fewer), "--json").stdout)
    assert (full["mode"], full["retired"]) == ("full", 5)
    with committing_sessions() as session:
        retired = session.scalar(select(func.count()).select_from(Course).where(Course.status == "retired"))
    assert retired == 5
    assert course_count(committing_sessions) == 30  # retired, not deleted


def test_bad_lines_are_listed_and_nothing_is_imported(
    run: Run, tmp_path: Path, committing_sessions: sessionmaker[Session]
) -> None:
    records = list(generate_feed(40))
    for record in records[5:30]:
        record["volume_price_cents"] = -100
    feed = write_feed(tmp_path / "bad.jsonl", records, extra_lines={2: "{oops"})
    result = run("catalog", "import", str(feed))
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert err[0].startswith("line 3: invalid JSON")
    assert err[1] == "line 7: 'volume_price_cents' must not be negative, got -100"
    assert len(err) == 22  # 20 problems, "... and N more", the error line
    assert err[20] == "... and 6 more problems"
    assert err[21] == "error: the feed has 26 problems; nothing was imported [invalid_feed]"
    assert result.stdout == ""
    assert course_count(committing_sessions) == 0
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Publisher)) == 0

    as_json = run("catalog", "import", str(feed), "--json")
    assert as_json.exit_code == 1
    body = json.loads(as_json.stdout)
    assert body["ok"] is False and body["reason"] == "invalid_feed"
    assert body["problem_count"] == 26 and len(body["problems"]) == 20


def test_import_from_stdin(run: Run, committing_sessions: sessionmaker[Session]) -> None:
    text = "\n".join(json.dumps(r) for r in generate_feed(5)) + "\n"
    result = run("catalog", "import", "--delta", "-", input=text.encode())
    assert result.exit_code == 0, result.stderr
    assert "5 added" in result.stdout
    assert course_count(committing_sessions) == 5


def test_missing_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = run("catalog", "import", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "No such file" in result.stderr


@pytest.fixture
def imported(run: Run, tmp_path: Path) -> Run:
    records = [
        {"id": "FS-1", "title": "Fire Safety Basics", "publisher": "Northwind Learning",
         "volume_price_cents": 4_950, "ppu_price_cents": 7_900, "plus": True, "duration_minutes": 30},
        {"id": "FS-2", "title": "Ladder Work", "publisher": "Summit Academy", "description": "fire exits",
         "volume_price_cents": 1_000, "ppu_price_cents": 1_500, "duration_minutes": 90},
        {"id": "JP-1", "title": "情報セキュリティ基礎とリスク管理の実践ガイド完全版", "publisher": "まなびラボ出版",
         "language": "ja", "volume_price_cents": 2_000, "ppu_price_cents": 3_000, "plus": True},
        {"id": "OLD-1", "title": "Old Fire Course", "publisher": "Northwind Learning", "status": "retired",
         "volume_price_cents": 100, "ppu_price_cents": 200, "replacement_id": "FS-1"},
    ]
    assert run("catalog", "import", str(write_feed(tmp_path / "c.jsonl", records))).exit_code == 0
    return run


def test_search_table(imported: Run) -> None:
    result = imported("catalog", "search", "fire")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2 courses matching 'fire', showing 1-2 (page 1 of 1)"
    assert lines[1].split() == ["COURSE", "ID", "TITLE", "PUBLISHER", "LANG", "MIN", "PLUS", "VOLUME", "PPU", "STATUS"]
    assert lines[2].startswith("FS-1 ") and "Fire Safety Basics" in lines[2]
    assert "49.50" in lines[2] and "79.00" in lines[2] and "yes" in lines[2]
    assert lines[3].startswith("FS-2 ")


def test_search_words_filters_and_json(imported: Run) -> None:
    body = json.loads(imported("catalog", "search", "fire", "safety", "--json").stdout)
    assert body["total"] == 1 and body["courses"][0]["course_id"] == "FS-1"
    assert set(body["courses"][0]) >= {
        "course_id", "title", "publisher", "language", "duration_minutes", "is_plus",
        "volume_price_cents", "ppu_price_cents", "status",
    }
    plus = json.loads(imported("catalog", "search", "fire", "--plus", "--json").stdout)
    assert [c["course_id"] for c in plus["courses"]] == ["FS-1"]
    long = json.loads(imported("catalog", "search", "--min-duration", "60", "--json").stdout)
    assert [c["course_id"] for c in long["courses"]] == ["FS-2"]
    by_publisher = json.loads(imported("catalog", "search", "--publisher", "summit academy", "--json").stdout)
    assert [c["course_id"] for c in by_publisher["courses"]] == ["FS-2"]
    ja = json.loads(imported("catalog", "search", "--language", "ja", "--json").stdout)
    assert [c["course_id"] for c in ja["courses"]] == ["JP-1"]
    retired = json.loads(imported("catalog", "search", "old", "--include-retired", "--json").stdout)
    assert retired["courses"][0]["status"] == "retired" and retired["courses"][0]["replacement_id"] == "FS-1"
    assert json.loads(imported("catalog", "search", "old", "--json").stdout)["total"] == 0


def test_browse_and_pages(imported: Run) -> None:
    first = imported("catalog", "search", "--per-page", "2")
    assert first.stdout.splitlines()[0] == "3 courses in the catalog, showing 1-2 (page 1 of 2)"
    page2 = json.loads(imported("catalog", "search", "--per-page", "2", "--page", "2", "--json").stdout)
    assert page2["page"] == 2 and page2["pages"] == 2 and len(page2["courses"]) == 1
    past = imported("catalog", "search", "--per-page", "2", "--page", "5")
    assert past.exit_code == 0 and "past the last page" in past.stdout
    none = imported("catalog", "search", "zzzz")
    assert none.stdout.strip() == "0 courses matching 'zzzz'"


def test_wide_titles_are_cut_to_the_column(imported: Run) -> None:
    line = next(l for l in imported("catalog", "search", "情報").stdout.splitlines() if l.startswith("JP-1"))
    assert "…" in line and "まなびラボ出版" in line


def test_hostile_query_and_bad_options(imported: Run) -> None:
    for query in ('"', "*", "NEAR(", "-- -x", "'; DROP TABLE courses; --"):
        result = imported("catalog", "search", "--", query)
        assert result.exit_code == 0, (query, result.stderr)
    bad_range = imported("catalog", "search", "--min-duration", "50", "--max-duration", "10")
    assert bad_range.exit_code == 1 and "[invalid_duration]" in bad_range.stderr
    assert imported("catalog", "search", "--page", "0").exit_code == 2
    assert imported("catalog", "search", "--per-page", "1000").exit_code == 2


def test_show(imported: Run) -> None:
    shown = imported("catalog", "show", "OLD-1")
    assert shown.exit_code == 0
    assert "replacement: FS-1" in shown.stdout and "status: retired" in shown.stdout
    body = json.loads(imported("catalog", "show", "FS-1", "--json").stdout)
    assert body["course_id"] == "FS-1" and body["volume_price_cents"] == 4_950
    missing = imported("catalog", "show", "NOPE")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: no course with id 'NOPE' [course_not_found]"
