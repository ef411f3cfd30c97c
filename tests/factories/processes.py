"""Child processes of tests (app servers, workers, PgBouncer): stopping them for sure."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; the process's output."""
    process.terminate()
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()
