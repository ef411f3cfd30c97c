"""A killed ``content import`` leaves nothing behind for long: its extraction folder (under
``CONTENT_DIR/.incoming``, renamed into place only when complete) is removed by the next import or
prune as soon as its lock is free, while an import still running keeps its folder. Processes are
really killed (SIGKILL), as a crash or an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.content.incoming import LOCK_SUFFIX, extraction_folder, remove_abandoned
from store.content.scorm_fixture import build_package
from store.content.service import ContentStore, import_content, prune_content
from store.progress.queries import content_versions_in_use
from tests.factories.catalog import make_course
from tests.factories.content import LIMITS, write_zip

Sessions = sessionmaker[Session]
NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 120  # generous: only a bound on waiting, never an assertion on speed

# A process that starts an extraction exactly as an import does, writes part of it, says so, and
# then waits to be killed (or, with "finish", ends normally when told to).
HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from store.content.incoming import extraction_folder
    with extraction_folder(Path(sys.argv[2])) as folder:
        (folder / "content").mkdir(parents=True)
        (folder / "content" / "part-1.html").write_text("half an extraction")
        print(folder.name, flush=True)
        sys.stdin.readline()
""")


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content", LIMITS)


@pytest.fixture
def course(committing_sessions: Sessions) -> str:
    with committing_sessions.begin() as s:
        return make_course(s, "SCO-KILL", is_plus=False).catalog_id


def start_holder(store: ContentStore) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(ROOT), str(store.incoming)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    name = ""
    while not name and time.monotonic() < deadline and process.poll() is None:
        name = process.stdout.readline().strip()
    assert name, "the holder process did not start its extraction"
    return process, store.incoming / name


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=READY_TIMEOUT_SECONDS)  # reaps it and closes its pipes
    assert process.returncode == -signal.SIGKILL


def test_a_killed_imports_folder_is_removed_by_the_next_import(committing_sessions: Sessions, store: ContentStore,
                                                               course: str, tmp_path: Path) -> None:
    killed, abandoned = start_holder(store)
    running, in_use = start_holder(store)
    try:
        kill(killed)
        assert (abandoned / "content" / "part-1.html").is_file()  # what the kill left

        result = import_content(committing_sessions, store, course,
                                write_zip(tmp_path, "ok.zip", build_package("scorm12")), NOW)

        assert not abandoned.exists() and not abandoned.with_name(abandoned.name + LOCK_SUFFIX).exists()
        assert (in_use / "content" / "part-1.html").is_file()  # a running import is never disturbed
        assert store.folder(result.storage_key).is_dir()
        assert sorted(p.name for p in store.incoming.iterdir()) == sorted([in_use.name, in_use.name + LOCK_SUFFIX])
    finally:
        running.communicate("done\n", timeout=READY_TIMEOUT_SECONDS)
    # The running one ended normally and removed its own folder and lock.
    assert running.returncode == 0 and list(store.incoming.iterdir()) == []


def test_a_killed_imports_folder_is_removed_by_prune(committing_sessions: Sessions, store: ContentStore) -> None:
    killed, abandoned = start_holder(store)
    kill(killed)
    prune_content(committing_sessions, store, content_versions_in_use())  # default ages: the lock decides
    assert list(store.incoming.iterdir()) == []


def test_a_folder_left_as_a_kill_would_leave_it(committing_sessions: Sessions, store: ContentStore,
                                                course: str, tmp_path: Path) -> None:
    """Without a second process: the files a killed import leaves (its folder with part of the
    package, its lock file with no process holding it)."""
    store.incoming.mkdir(parents=True)
    left = store.incoming / "0123456789abcdef0123456789abcdef"
    (left / "content").mkdir(parents=True)
    (left / "content" / "index.html").write_text("partial")
    left.with_name(left.name + LOCK_SUFFIX).touch()
    import_content(committing_sessions, store, course, write_zip(tmp_path, "ok.zip", build_package("scorm12")), NOW)
    assert list(store.incoming.iterdir()) == []


def test_folders_without_a_lock_follow_the_age_rule(store: ContentStore) -> None:
    """Left by an older version of the tool (or where locks are not available): removed once old."""
    store.incoming.mkdir(parents=True)
    old, young = store.incoming / "old", store.incoming / "young"
    for folder in (old, young):
        folder.mkdir()
        (folder / "f.txt").write_text("x")
    long_ago = time.time() - 7200
    os.utime(old, (long_ago, long_ago))
    assert remove_abandoned(store.incoming, stale_after_seconds=3600) == 1
    assert not old.exists() and young.is_dir()


def test_the_holder_keeps_its_folder_until_it_ends(store: ContentStore) -> None:
    with extraction_folder(store.incoming) as folder:
        folder.mkdir()
        (folder / "f.txt").write_text("x")
        assert remove_abandoned(store.incoming, stale_after_seconds=0) == 0  # in use: never removed
        assert (folder / "f.txt").is_file()
    assert list(store.incoming.iterdir()) == []
