"""Integration fixtures: commands that read settings from the environment (the CLI) keep
imported course content under the test's tmp folder, never in the checkout's var/content."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _content_dir_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APP_CONTENT_DIR", str(tmp_path / "content"))
