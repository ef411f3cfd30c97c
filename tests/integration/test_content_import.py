"""Importing publishers' SCORM zips as course content, on both databases: the happy paths, the
versions a re-import makes and the attempts that keep theirs, pruning, and every bad input
refused with nothing left behind (no row, no folder, no half-extracted files)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.content import content_for
from store.content.archive import ContentRejected, ImportLimits
from store.content.models import CourseContentVersion
from store.content.scorm_fixture import build_manifest, build_package, zip_bytes
from store.content.service import ContentStore, import_content, prune_content
from store.progress.queries import content_versions_in_use
from store.errors import NotFound
from store.licenses import service as licenses
from store.progress import queries
from store.progress import service as progress
from store.progress.models import CourseProgress
from tests.factories.catalog import make_course
from tests.factories.content import LIMITS, write_zip
from tests.factories.licenses import claim, make_account

Sessions = sessionmaker[Session]
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content", LIMITS)


@pytest.fixture
def course(committing_sessions: Sessions) -> str:
    with committing_sessions.begin() as s:
        return make_course(s, "PUB-1", title="Workplace safety", is_plus=False).catalog_id


def versions(sessions: Sessions) -> list[tuple[int, bool]]:
    with sessions() as s:
        return [(r.version, r.is_current) for r in s.scalars(select(CourseContentVersion)
                                                              .order_by(CourseContentVersion.version))]


def on_disk(store: ContentStore) -> list[str]:
    if not store.root.exists():
        return []
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- happy paths


@pytest.mark.parametrize("version", ["scorm12", "scorm2004"])
def test_import_a_package(version: str, committing_sessions: Sessions, store: ContentStore, course: str,
                          tmp_path: Path) -> None:
    data = build_package(version, title="Safety & <you>", mastery_percent=70, launch_data="lang=en",
                         parameters="?from=lms")
    result = import_content(committing_sessions, store, course, write_zip(tmp_path, "pkg.zip", data), NOW)
    assert (result.catalog_id, result.version, result.scorm_version, result.is_new_version) == (course, 1, version, True)
    assert result.launch_href == "content/index.html?from=lms"
    assert result.file_count == 4 and result.mastery_score == pytest.approx(0.7)
    folder = store.folder(result.storage_key)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "content/course.css", "content/course.js", "content/index.html", "imsmanifest.xml"]
    assert (folder / "content/index.html").stat().st_mode & 0o777 == 0o644
    assert not any(store.incoming.iterdir())
    with committing_sessions() as s:
        row = s.scalars(select(CourseContentVersion)).one()
        assert (row.title, row.launch_data, row.original_filename, row.is_current) == (
            "Safety & <you>", "lang=en", "pkg.zip", True)
        found = queries.find_course(s, course)
        assert found is not None
        content = content_for(found[1], demo_content=True)
    assert content.kind == "scorm" and content.accepts_client_scores and content.package is not None
    assert content.package.storage_key == result.storage_key and content.mastery_score == pytest.approx(0.7)


def test_reimport_makes_versions_and_attempts_keep_theirs(committing_sessions: Sessions, store: ContentStore,
                                                          course: str, tmp_path: Path) -> None:
    first = import_content(committing_sessions, store, course,
                           write_zip(tmp_path, "v1.zip", build_package("scorm12", title="One")), NOW)
    same = import_content(committing_sessions, store, course,
                          write_zip(tmp_path, "again.zip", build_package("scorm12", title="One")), NOW)
    assert (same.is_new_version, same.version, same.content_id) == (False, 1, first.content_id)

    account = make_account(committing_sessions, "Acme", NOW).id
    licenses.grant_volume(committing_sessions, account, course, 5, NOW)
    early = claim(committing_sessions, account, "volume", course, "early", NOW)
    assert early.seat is not None
    started = progress.start_session(committing_sessions, early.seat.id, course, NOW, demo_content=True)
    assert started.content is not None and started.content.package is not None
    assert started.content.package.version == 1 and started.entry == "ab-initio"

    second = import_content(committing_sessions, store, course,
                            write_zip(tmp_path, "v2.zip", build_package("scorm2004", title="Two")), NOW)
    assert (second.version, second.replaced_version, second.scorm_version) == (2, 1, "scorm2004")
    assert versions(committing_sessions) == [(1, False), (2, True)]
    # The learner mid-attempt keeps version 1; a new learner plays version 2.
    again = progress.start_session(committing_sessions, early.seat.id, course, NOW + timedelta(hours=1),
                                   demo_content=True)
    assert again.content is not None and again.content.package is not None
    assert (again.content.package.version, again.content.package.scorm_version) == (1, "scorm12")
    player = progress.open_player(committing_sessions, early.seat.id, course, demo_content=True)
    assert player.content.package is not None and player.content.package.version == 1
    late = claim(committing_sessions, account, "volume", course, "late", NOW)
    assert late.seat is not None
    fresh = progress.start_session(committing_sessions, late.seat.id, course, NOW, demo_content=True)
    assert fresh.content is not None and fresh.content.package is not None and fresh.content.package.version == 2

    # Prune keeps version 1 while an attempt plays it, and removes it once none does.
    kept = prune_content(committing_sessions, store, content_versions_in_use(), recent_seconds=0)
    assert (kept.removed_versions, kept.kept_pinned, kept.removed_folders) == ((), 1, 0)
    with committing_sessions.begin() as s:
        s.execute(CourseProgress.__table__.delete().where(CourseProgress.seat_id == early.seat.id))
    pruned = prune_content(committing_sessions, store, content_versions_in_use(), recent_seconds=0)
    assert (pruned.removed_versions, pruned.kept_pinned, pruned.removed_folders) == (((course, 1),), 0, 1)
    assert versions(committing_sessions) == [(2, True)]
    assert not store.folder(first.storage_key).exists() and store.folder(second.storage_key).is_dir()


def test_demo_data_saved_before_an_import_does_not_reach_the_sco(committing_sessions: Sessions, store: ContentStore,
                                                                 course: str, tmp_path: Path) -> None:
    account = make_account(committing_sessions, "Acme", NOW).id
    licenses.grant_volume(committing_sessions, account, course, 5, NOW)
    seat = claim(committing_sessions, account, "volume", course, "ada", NOW).seat
    assert seat is not None
    progress.start_session(committing_sessions, seat.id, course, NOW, demo_content=True)
    progress.record_progress(committing_sessions, seat.id, course,
                             progress.ProgressUpdate(location="lesson-2", suspend_data='{"visited":["lesson-1"]}'),
                             NOW, demo_content=True)
    import_content(committing_sessions, store, course, write_zip(tmp_path, "p.zip", build_package("scorm12")), NOW)
    resumed = progress.start_session(committing_sessions, seat.id, course, NOW, demo_content=True)
    assert resumed.entry == "ab-initio" and resumed.cmi is not None
    assert "cmi.core.lesson_location" not in resumed.cmi and "cmi.suspend_data" not in resumed.cmi
    assert resumed.cmi["cmi.core.lesson_status"] == "incomplete"  # the learner's record is kept


# ---------------------------------------------------------------- bad input changes nothing


def raw_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def good_entries() -> list[tuple[zipfile.ZipInfo | str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(build_package("scorm12"))) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def with_entry(name: str, data: bytes = b"x", **attrs: int) -> bytes:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    for key, value in attrs.items():
        setattr(info, key, value)
    return raw_zip([*good_entries(), (info, data)])


def central_header(data: bytes, name: str) -> int:
    """Where the central directory record of ``name`` starts."""
    index = data.find(name.encode(), data.find(b"PK\x01\x02"))
    header = index - 46
    assert data[header:header + 4] == b"PK\x01\x02"
    return header


def lying_size() -> bytes:
    """A zip whose directory declares a smaller size than its file really inflates to."""
    data = bytearray(raw_zip([*good_entries(), ("content/big.txt", b"A" * 50_000)]))
    header = central_header(bytes(data), "content/big.txt")
    data[header + 24:header + 28] = (100).to_bytes(4, "little")  # uncompressed size
    return bytes(data)


def encrypted() -> bytes:
    """A zip with an entry flagged as encrypted (zipfile cannot write one: patch the flags)."""
    data = bytearray(raw_zip([*good_entries(), ("content/secret.bin", b"x")]))
    header = central_header(bytes(data), "content/secret.bin")
    data[header + 8] |= 0x1
    local = int.from_bytes(data[header + 42:header + 46], "little")
    assert data[local:local + 4] == b"PK\x03\x04"
    data[local + 6] |= 0x1
    return bytes(data)


SMALL = ImportLimits(max_total_bytes=40_000, max_file_bytes=20_000, max_files=6)


BAD_INPUTS: dict[str, tuple[Callable[[], bytes], str, ImportLimits]] = {
    "dotdot": (lambda: with_entry("../x"), "unsafe_path", LIMITS),
    "nested_dotdot": (lambda: with_entry("content/../../x"), "unsafe_path", LIMITS),
    "absolute": (lambda: with_entry("/abs/x"), "unsafe_path", LIMITS),
    "backslash": (lambda: with_entry("..\\x"), "unsafe_path", LIMITS),
    "drive_letter": (lambda: with_entry("C:/windows/x"), "unsafe_path", LIMITS),
    "symlink": (lambda: with_entry("content/link", b"/etc/passwd", external_attr=(0o120777 << 16), create_system=3),
                "symlink", LIMITS),
    "encrypted": (encrypted, "encrypted", LIMITS),
    "duplicate": (lambda: raw_zip([*good_entries(), ("content/INDEX.html", b"x")]), "duplicate_entry", LIMITS),
    "file_too_big": (lambda: with_entry("content/big.bin", b"\0" * 30_000), "file_too_big", SMALL),
    "too_big": (lambda: raw_zip([*good_entries(), *[(f"content/f{i}.bin", b"\0" * 15_000) for i in range(2)]]),
                "too_big", SMALL),
    "too_many_files": (lambda: raw_zip([*good_entries(), *[(f"content/f{i}.txt", b"x") for i in range(3)]]),
                       "too_many_files", SMALL),
    "lying_size": (lying_size, "corrupt_zip", LIMITS),
    "no_manifest": (lambda: zip_bytes({"content/index.html": b"<html></html>"}), "no_manifest", LIMITS),
    "nested_manifest": (lambda: zip_bytes({"course/imsmanifest.xml": build_manifest("scorm12", title="T"),
                                           "course/content/index.html": b"x"}), "no_manifest", LIMITS),
    "launch_missing": (lambda: zip_bytes({"imsmanifest.xml": build_manifest("scorm12", title="T", files=())}),
                       "launch_missing", LIMITS),
    "file_missing": (lambda: zip_bytes({"imsmanifest.xml": build_manifest("scorm2004", title="T",
                                                                          files=("index.html", "gone.js")),
                                        "content/index.html": b"x"}), "file_missing", LIMITS),
    "bad_manifest": (lambda: zip_bytes({"imsmanifest.xml": b"<manifest", "content/index.html": b"x"}),
                     "manifest_invalid", LIMITS),
    # Before: a 2,000-folder-deep entry exhausted mkdir's recursion (a traceback, not a reason).
    "too_deep": (lambda: with_entry("/".join(["d"] * 2000) + "/f.txt"), "path_too_deep", LIMITS),
    "too_deep_folder_entry": (lambda: with_entry("/".join(["d"] * 41) + "/"), "path_too_deep", LIMITS),
    "long_name": (lambda: with_entry("content/" + "n" * 256 + ".txt"), "path_too_long", LIMITS),
    "long_path": (lambda: with_entry("/".join(["f" * 60] * 20) + "/x.txt"), "path_too_long", LIMITS),
    "not_zip": (lambda: b"this is not a zip file at all", "not_zip", LIMITS),
    "empty": (lambda: b"", "not_zip", LIMITS),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_and_changes_nothing(case: str, committing_sessions: Sessions, course: str,
                                                  tmp_path: Path) -> None:
    make, expected, limits = BAD_INPUTS[case]
    store = ContentStore(tmp_path / "content", limits)
    path = write_zip(tmp_path, f"{case}.zip", make())
    with pytest.raises(ContentRejected) as info:
        import_content(committing_sessions, store, course, path, NOW)
    assert info.value.reason == expected, info.value.message
    assert "\n" not in info.value.message
    assert versions(committing_sessions) == []
    assert on_disk(store) == []


def test_the_good_package_passes_the_small_limits(committing_sessions: Sessions, course: str, tmp_path: Path) -> None:
    """So each limit case above fails for its limit, not for the package."""
    store = ContentStore(tmp_path / "content", SMALL)
    assert import_content(committing_sessions, store, course,
                          write_zip(tmp_path, "ok.zip", build_package("scorm12")), NOW).is_new_version


def test_unknown_course_and_missing_file_change_nothing(committing_sessions: Sessions, store: ContentStore,
                                                        course: str, tmp_path: Path) -> None:
    path = write_zip(tmp_path, "ok.zip", build_package("scorm12"))
    with pytest.raises(NotFound) as info:
        import_content(committing_sessions, store, "NO-SUCH-COURSE", path, NOW)
    assert info.value.reason == "unknown_course"
    with pytest.raises(ContentRejected) as missing:
        import_content(committing_sessions, store, course, tmp_path / "nope.zip", NOW)
    assert missing.value.reason == "file_not_found"
    assert versions(committing_sessions) == [] and on_disk(store) == []


def test_a_failed_database_write_removes_the_new_folder(committing_sessions: Sessions, store: ContentStore,
                                                        course: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import store.content.service as service

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "_record", fail)
    with pytest.raises(RuntimeError):
        import_content(committing_sessions, store, course, write_zip(tmp_path, "ok.zip", build_package("scorm12")), NOW)
    assert on_disk(store) == []


def test_one_current_version_per_course_is_a_schema_rule(committing_sessions: Sessions, store: ContentStore,
                                                         course: str, tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    result = import_content(committing_sessions, store, course,
                            write_zip(tmp_path, "ok.zip", build_package("scorm12")), NOW)
    with pytest.raises(IntegrityError), committing_sessions.begin() as s:
        row = s.get(CourseContentVersion, result.content_id)
        assert row is not None
        s.add(CourseContentVersion(
            course_pk=row.course_pk, version=2, scorm_version="scorm12", storage_key=row.storage_key,
            launch_href="x.html", title="t", manifest_identifier="m", item_identifier="i", size_bytes=1,
            file_count=1, original_filename="f.zip", imported_at=NOW, is_current=True))
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(CourseContentVersion)) == 1


def test_deep_but_reasonable_paths_are_fine(committing_sessions: Sessions, store: ContentStore, course: str,
                                            tmp_path: Path) -> None:
    deep = "content/" + "/".join(["d"] * 38) + "/deep.txt"  # 40 segments: the limit
    result = import_content(committing_sessions, store, course, write_zip(tmp_path, "deep.zip", with_entry(deep)), NOW)
    assert (store.folder(result.storage_key) / deep).is_file()


def test_prune_of_an_unknown_course_is_an_error(committing_sessions: Sessions, store: ContentStore) -> None:
    with pytest.raises(NotFound) as info:
        prune_content(committing_sessions, store, content_versions_in_use(), course_catalog_id="NOPE")
    assert info.value.reason == "unknown_course"
