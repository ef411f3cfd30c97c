"""`lti-tool content import/list/prune` and the demo seed's generated SCORM courses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.content.models import CourseContentVersion
from store.content.scorm_fixture import build_package
from tests.factories.catalog import make_course

Sessions = sessionmaker[Session]


def run(engine: Engine, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def course(committing_sessions: Sessions) -> str:
    with committing_sessions.begin() as s:
        return make_course(s, "PUB-7", title="Forklift basics").catalog_id


def test_import_list_and_prune(engine: Engine, committing_sessions: Sessions, course: str, tmp_path: Path) -> None:
    content_dir = Path(os.environ["APP_CONTENT_DIR"])
    first = tmp_path / "forklift-v1.zip"
    first.write_bytes(build_package("scorm12", title="Forklift basics", mastery_percent=75))
    code, out, err = run(engine, "content", "import", "--course", course, str(first))
    assert code == 0, err
    assert out.startswith(f"{course}: imported forklift-v1.zip as content version 1: SCORM 1.2, launches "
                          "content/index.html, 4 files")
    assert "mastery score 75%" in out
    assert (content_dir / "packages").is_dir()

    code, out, _ = run(engine, "content", "import", "--course", course, str(first))
    assert code == 0 and "already its current content (version 1); nothing changed" in out

    second = tmp_path / "forklift-v2.zip"
    second.write_bytes(build_package("scorm2004", title="Forklift basics 2"))
    code, out, err = run(engine, "content", "import", "--course", course, str(second), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["version"], data["scorm_version"], data["replaced_version"], data["is_new_version"]) == (
        2, "scorm2004", 1, True)

    code, out, _ = run(engine, "content", "list", "--course", course)
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2 and " v1  old " in lines[0] and " v2  current " in lines[1]
    code, out, _ = run(engine, "content", "list", "--json")
    assert [(r["version"], r["is_current"], r["pinned_attempts"]) for r in json.loads(out)] == [(1, False, 0), (2, True, 0)]

    code, out, _ = run(engine, "content", "prune", "--json")
    assert code == 0 and json.loads(out)["removed_versions"] == [[course, 1]]
    with committing_sessions() as s:
        assert s.scalars(select(CourseContentVersion.version)).all() == [2]


@pytest.mark.parametrize("case", ["not_zip", "unknown_course", "missing_file", "escaping_path", "no_manifest",
                                  "too_deep"])
def test_bad_imports_exit_non_zero_with_one_line(case: str, engine: Engine, committing_sessions: Sessions,
                                                 course: str, tmp_path: Path) -> None:
    import io
    import zipfile

    path = tmp_path / "bad.zip"
    target = course
    if case == "not_zip":
        path.write_text("hello")
    elif case == "unknown_course":
        path.write_bytes(build_package("scorm12"))
        target = "NO-SUCH"
    elif case == "missing_file":
        path = tmp_path / "nope.zip"
    elif case == "too_deep":  # before: a RecursionError traceback
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("imsmanifest.xml", "<manifest/>")
            archive.writestr("/".join(["d"] * 2000) + "/f.txt", "x")
        path.write_bytes(buffer.getvalue())
    elif case == "escaping_path":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("imsmanifest.xml", "<manifest/>")
            archive.writestr("../evil.sh", "rm -rf /")
        path.write_bytes(buffer.getvalue())
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("index.html", "<html></html>")
        path.write_bytes(buffer.getvalue())
    code, out, err = run(engine, "content", "import", "--course", target, str(path))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    if case == "too_deep":
        assert "is 2000 folders deep; at most 39 are allowed [path_too_deep]" in err
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(CourseContentVersion)) == 0
    packages = Path(os.environ["APP_CONTENT_DIR"]) / "packages"
    assert not packages.exists() or not any(packages.iterdir())


def test_demo_seed_gives_demo_courses_generated_scorm_packages(engine: Engine,
                                                               committing_sessions: Sessions) -> None:
    code, out, err = run(engine, "demo", "seed", "--courses", "40")
    assert code == 0, err
    assert "plays a generated scorm12 package (imported as version 1)" in out
    assert "plays a generated scorm2004 package (imported as version 1)" in out
    with committing_sessions() as s:
        rows = s.scalars(select(CourseContentVersion).order_by(CourseContentVersion.scorm_version)).all()
        assert [(r.scorm_version, r.is_current, r.file_count) for r in rows] == [
            ("scorm12", True, 4), ("scorm2004", True, 4)]
        keys = [r.storage_key for r in rows]
    packages = Path(os.environ["APP_CONTENT_DIR"]) / "packages"
    assert all((packages / key / "content" / "index.html").is_file() for key in keys)
    # Seeding again imports nothing new (the generated packages are the same bytes).
    code, out, _ = run(engine, "demo", "seed", "--courses", "40")
    assert code == 0 and out.count("already imported") == 2
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(CourseContentVersion)) == 2


@pytest.mark.parametrize("command", ["prune", "list"])
def test_an_unknown_course_is_an_error(command: str, engine: Engine, committing_sessions: Sessions,
                                       course: str) -> None:
    """Before: ``content prune --course NOPE`` said it removed nothing and exited 0."""
    code, out, err = run(engine, "content", command, "--course", "NOPE")
    assert (code, out) == (1, "")
    assert err == "error: course 'NOPE' is not in the catalog [unknown_course]\n"
    assert run(engine, "content", command, "--course", course)[0] == 0
