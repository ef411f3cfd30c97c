"""``lti-tool packages``: build, export, list, revoke, domains, on a real database (committed)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from scorm_packages.manifest.checks import check_package
from scorm_packages.models import DispatchAllowedDomain, DispatchPackage
from store.accounts.service import create_account
from store.base import utcnow
from store.licenses import service as licenses
from tests.factories.catalog import make_bundle, make_course

Sessions = sessionmaker[Session]


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions):  # type: ignore[no-untyped-def]
    now = utcnow()
    account_id = create_account(committing_sessions, "Acme Corp", now).id
    with committing_sessions.begin() as s:
        make_course(s, "SAFE-101", title="Workplace Safety", is_plus=True)
        make_course(s, "SAFE-102", title="Workplace Safety", is_plus=True)  # same title: file names must differ
        make_course(s, "JP-7", title="職場の安全衛生", is_plus=True)
        make_course(s, "VOL-9", title="Forklift & Pallets", is_plus=False)
        make_course(s, "TED-1", title="Ideas", is_plus=True, bundle=make_bundle(s, "TED@Work"))
    licenses.grant_plus(committing_sessions, account_id, 10, "annual", now)
    licenses.grant_volume(committing_sessions, account_id, "VOL-9", 5, now)
    settings = load_settings({"ENV": "test", "SECRET_KEY": "k" * 48,
                              "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                              "PUBLIC_BASE_URL": "https://courses.example.com"})

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_settings=settings, _engine=engine),
                                  catch_exceptions=False)

    return invoke


def packages(sessions: Sessions) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(DispatchPackage)) or 0)


def config_of(data: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("config.js").decode("ascii")
    return json.loads(text.split("window.DISPATCH_CONFIG = ", 1)[1].rstrip().rstrip(";"))


def test_build_writes_a_valid_labeled_package_and_reuses_its_key(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 committing_sessions: Sessions) -> None:
    result = run("packages", "build", "--account", "Acme Corp", "--course", "VOL-9", "--license-type", "volume",
                 "--format", "scorm12", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = tmp_path / "forklift-pallets__volume__scorm12.zip"
    assert path.is_file() and check_package(path) == []
    assert "new package key" in result.output and "Forklift & Pallets \u2014 Volume" in result.output
    key = config_of(path.read_bytes())["packageKey"]
    assert config_of(path.read_bytes())["baseUrl"] == "https://courses.example.com"

    again = run("packages", "build", "--account", "Acme Corp", "--course", "VOL-9", "--license-type", "volume",
                "--format", "scorm12", "-o", str(tmp_path / "copy.zip"), "--base-url", "http://localhost:5000/",
                "--json")
    assert again.exit_code == 0, again.output
    body = json.loads(again.output)
    assert body["package_key"] == key and body["created"] is False and body["base_url"] == "http://localhost:5000"
    assert config_of((tmp_path / "copy.zip").read_bytes())["launchUrl"] == "http://localhost:5000/dispatch/launch"
    assert packages(committing_sessions) == 1


@pytest.mark.parametrize("args, message", [
    (["--course", "VOL-9", "--license-type", "plus", "--format", "scorm12"], "not in the Plus catalog"),
    (["--course", "TED-1", "--license-type", "volume", "--format", "scorm12"], "subscription-only bundle"),
    (["--course", "SAFE-101", "--license-type", "ppu", "--format", "scorm12"], "not configured for Pay Per Use"),
    (["--course", "NOPE", "--license-type", "plus", "--format", "scorm12"], "unknown course"),
    (["--course", "SAFE-101", "--license-type", "gold", "--format", "scorm12"], "--license-type must be one of"),
    (["--course", "SAFE-101", "--license-type", "plus", "--format", "scorm3"], "--format must be one of"),
    (["--course", "SAFE-101", "--license-type", "plus", "--format", "scorm12", "--base-url", "courses.example.com"],
     "--base-url"),
    (["--course", "SAFE-101", "--license-type", "plus", "--format", "scorm12", "-o", "/nonexistent/dir/x.zip"],
     "is not a directory"),
    (["--course", "SAFE-101", "--license-type", "plus", "--format", "scorm12", "-o", "package.txt"],
     "give a .zip file name"),
])
def test_build_bad_input_is_one_line_and_changes_nothing(run, committing_sessions: Sessions,  # type: ignore[no-untyped-def]
                                                         args: list[str], message: str) -> None:
    result = run("packages", "build", "--account", "Acme Corp", *args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert packages(committing_sessions) == 0


def test_build_for_an_unknown_account(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    result = run("packages", "build", "--account", "Nobody", "--course", "SAFE-101", "--license-type", "plus",
                 "--format", "scorm2004")
    assert result.exit_code == 1 and result.output.startswith("error: unknown account 'Nobody'")


def test_export_writes_every_package_and_the_csv(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 committing_sessions: Sessions) -> None:
    out = tmp_path / "export"
    result = run("packages", "export", "--account", "Acme Corp", "--format", "scorm2004", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 5 package(s)" in result.output
    with (out / "packages.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["course_id"] for r in rows] == ["JP-7", "SAFE-101", "SAFE-102", "TED-1", "VOL-9"]
    assert list(rows[0]) == ["file", "course_id", "title", "license_type", "format", "package_key", "created_at"]
    files = {r["course_id"]: r["file"] for r in rows}
    assert files == {
        "JP-7": "jp-7__plus__scorm2004.zip",
        "SAFE-101": "workplace-safety__plus__scorm2004.zip",
        "SAFE-102": "workplace-safety--safe-102__plus__scorm2004.zip",
        "TED-1": "ideas__plus__scorm2004.zip",
        "VOL-9": "forklift-pallets__volume__scorm2004.zip",
    }
    assert rows[0]["title"] == "職場の安全衛生" and {r["license_type"] for r in rows} == {"plus", "volume"}
    for row in rows:
        path = out / row["file"]
        assert check_package(path) == []
        assert config_of(path.read_bytes())["packageKey"] == row["package_key"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*files.values(), "packages.csv"])

    only_volume = run("packages", "export", "--account", "Acme Corp", "--format", "scorm2004", "--license-type",
                      "volume", "-o", str(tmp_path / "vol"))
    assert only_volume.exit_code == 0 and "wrote 1 package(s)" in only_volume.output
    assert packages(committing_sessions) == 5  # keys reused


def test_export_to_one_zip_of_zips(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                   committing_sessions: Sessions) -> None:
    """-o NAME.zip: one zip holding each package's zip and packages.csv, named as in a folder
    export, with the same package keys."""
    folder = run("packages", "export", "--account", "Acme Corp", "--format", "scorm12", "-o", str(tmp_path / "dir"))
    assert folder.exit_code == 0, folder.output
    target = tmp_path / "Export.ZIP"
    result = run("packages", "export", "--account", "Acme Corp", "--format", "scorm12", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "wrote 5 package(s) and packages.csv to" in result.output and str(target) in result.output
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["Export.ZIP"]  # no temporary file left
    with zipfile.ZipFile(target) as outer:
        assert outer.testzip() is None
        names = outer.namelist()
        assert names[-1] == "packages.csv"
        assert sorted(names) == sorted(p.name for p in (tmp_path / "dir").iterdir())
        rows = list(csv.DictReader(io.StringIO(outer.read("packages.csv").decode("utf-8"))))
        assert rows == list(csv.DictReader(io.StringIO((tmp_path / "dir" / "packages.csv").read_text("utf-8"))))
        for row in rows:
            inner = outer.read(row["file"])
            assert check_package(io.BytesIO(inner)) == []
            assert config_of(inner)["packageKey"] == row["package_key"]
    assert packages(committing_sessions) == 5  # keys reused


def test_export_to_a_zip_in_a_missing_directory(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                committing_sessions: Sessions) -> None:
    result = run("packages", "export", "--account", "Acme Corp", "--format", "scorm12", "-o",
                 str(tmp_path / "missing" / "export.zip"))
    assert result.exit_code != 0 and result.output.startswith("error: ") and "is not a directory" in result.output
    assert packages(committing_sessions) == 0 and not (tmp_path / "missing").exists()


def test_export_bad_input(run, tmp_path: Path, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x")
    for args, message in (
        (["--format", "scorm2004", "-o", str(tmp_path / "file")], "is not a directory"),
        (["--format", "scorm9", "-o", str(tmp_path / "x")], "--format must be one of"),
        (["--format", "scorm12", "--license-type", "ppu", "-o", str(tmp_path / "x")], "holds no Pay Per Use license"),
    ):
        result = run("packages", "export", "--account", "Acme Corp", *args)
        assert result.exit_code != 0 and message in result.output, result.output
        assert result.output.startswith("error: ")
    assert not (tmp_path / "x").exists() and packages(committing_sessions) == 0


def test_list_and_revoke(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "no packages yet" in run("packages", "list", "--account", "Acme Corp").output
    built = run("packages", "build", "--account", "Acme Corp", "--course", "SAFE-101", "--license-type", "plus",
                "--format", "scorm12", "-o", str(tmp_path), "--json")
    key = json.loads(built.output)["package_key"]
    listed = run("packages", "list", "--account", "Acme Corp")
    assert key in listed.output and "active" in listed.output
    revoked = run("packages", "revoke", key)
    assert revoked.exit_code == 0 and f"revoked package {key}" in revoked.output
    assert "already revoked" in run("packages", "revoke", key).output
    rows = json.loads(run("packages", "list", "--account", "Acme Corp", "--json").output)
    assert rows[0]["package_key"] == key and rows[0]["revoked_at"] and rows[0]["generation"] == 1
    rebuilt = json.loads(run("packages", "build", "--account", "Acme Corp", "--course", "SAFE-101", "--license-type",
                             "plus", "--format", "scorm12", "-o", str(tmp_path), "--json").output)
    assert rebuilt["package_key"] == key and rebuilt["reactivated"] and rebuilt["generation"] == 2
    unknown = run("packages", "revoke", "dpk_nope")
    assert unknown.exit_code == 1 and unknown.output.startswith("error: unknown package key 'dpk_nope'")


def test_domains(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    assert "any LMS domain" in run("packages", "domains", "--account", "Acme Corp").output
    added = run("packages", "domains", "--account", "Acme Corp", "--allow", "https://LMS.example.edu/x",
                "--allow", "moodle.example.org")
    assert added.exit_code == 0 and "allowed: lms.example.edu" in added.output
    again = run("packages", "domains", "--account", "Acme Corp", "--allow", "lms.example.edu", "--list")
    assert "already allowed: lms.example.edu" in again.output
    assert "lms.example.edu, moodle.example.org (and their subdomains)" in again.output
    removed = run("packages", "domains", "--account", "Acme Corp", "--remove", "moodle.example.org", "--json")
    assert json.loads(removed.output) == {"allowed_domains": ["lms.example.edu"], "any_domain": False}
    # bad input: one line, nothing changed (the good --allow before the bad one is not applied either)
    for args, message in ((["--allow", "ok.example", "--allow", "not a domain"], "not a domain name"),
                          (["--remove", "never.example"], "is not an allowed LMS domain")):
        bad = run("packages", "domains", "--account", "Acme Corp", *args)
        assert bad.exit_code != 0 and bad.output.startswith("error: ") and message in bad.output
        assert len(bad.output.strip().splitlines()) == 1
    with committing_sessions() as s:
        assert list(s.scalars(select(DispatchAllowedDomain.domain))) == ["lms.example.edu"]
    assert run("packages", "domains", "--account", "Nobody", "--list").output.startswith("error: unknown account")
