"""Temporary extraction folders (``CONTENT_DIR/.incoming/<name>``) that a killed import cannot leave
behind for long.

An import extracts into a fresh folder there and renames it, in one step, to
``CONTENT_DIR/packages/<key>``: a package folder is always complete. While it works, the import
holds an exclusive ``flock`` on ``<name>.lock`` beside its folder (created before the folder,
removed after it). A process that dies — killed, out of memory, the machine restarted — releases
its lock, so the next import or prune can tell at once that the folder is abandoned and removes
it with its lock file. A folder whose lock cannot be taken is in use and left alone.

Where locks are not available (no ``fcntl``, or a network file system that refuses them), and for
folders without a lock file (left by an older version of the tool), the age rule applies: they
are removed once unchanged for ``stale_after_seconds``.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX; elsewhere only the age rule applies
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

from store.content.archive import remove_tree

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
STALE_AFTER_SECONDS = 3600  # folders whose owner cannot be checked by a lock
CLAIM_ATTEMPTS = 5


def _try_lock(fd: int) -> bool | None:
    """True: locked by us; False: someone else holds it; None: locks are not available here."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _same_file(path: Path, fd: int) -> bool:
    """``path`` still names the file open as ``fd`` (nobody removed or replaced it)."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def extraction_folder(incoming: Path) -> Iterator[Path]:
    """A path for a new extraction folder under ``incoming`` (not created yet), held by this
    process until the block ends; the folder, if still there, and its lock file are removed then."""
    incoming.mkdir(parents=True, exist_ok=True)
    for _attempt in range(CLAIM_ATTEMPTS):
        name = uuid.uuid4().hex
        lock_path = incoming / (name + LOCK_SUFFIX)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        locked = _try_lock(fd)
        # False or a vanished lock file: a cleaner took this name in the instant between; use another.
        if locked is False or (locked and not _same_file(lock_path, fd)):
            os.close(fd)
            continue
        folder = incoming / name
        try:
            yield folder
        finally:
            remove_tree(folder)  # gone already when it was renamed into place
            _unlink(lock_path)
            os.close(fd)  # releases the lock
        return
    raise OSError(f"could not claim an extraction folder under {incoming}")


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def remove_abandoned(incoming: Path, *, stale_after_seconds: int = STALE_AFTER_SECONDS,
                     now: float | None = None) -> int:
    """Remove extraction folders whose import is over (its lock is free) and, where locks cannot
    tell, those unchanged for ``stale_after_seconds``. Returns how many folders were removed."""
    if not incoming.is_dir():
        return 0
    now = time.time() if now is None else now
    removed = 0
    entries = sorted(incoming.iterdir())
    locks = {entry.name[:-len(LOCK_SUFFIX)]: entry for entry in entries if entry.name.endswith(LOCK_SUFFIX)}
    for name, lock_path in locks.items():
        folder = incoming / name
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue  # its import just finished
        try:
            locked = _try_lock(fd)
            abandoned = (locked is True and _same_file(lock_path, fd)) or (
                locked is None and _age(lock_path, now) >= stale_after_seconds)
            if abandoned:
                if folder.exists():
                    log.warning("removing the abandoned content extraction %s (its import was interrupted)", folder)
                    remove_tree(folder)
                    removed += 1
                _unlink(lock_path)
        finally:
            os.close(fd)
    for entry in entries:
        if entry.name.endswith(LOCK_SUFFIX) or entry.name in locks:
            continue
        if _age(entry, now) >= stale_after_seconds:  # no lock file: an older tool's, or not ours
            log.warning("removing the stale content extraction %s", entry)
            if entry.is_dir():
                remove_tree(entry)
            else:
                _unlink(entry)
            removed += 1
    return removed
