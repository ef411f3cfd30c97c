"""The README's first screen: the product's one name, every prerequisite of `make run` and
`make test`, and what `lti-tool serve` really prints."""

from __future__ import annotations

from pathlib import Path

from config import load_settings
from config.defaults import PRODUCT_NAME
from lti_tool.cli.core import start_urls

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def quick_start() -> str:
    return README.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_the_title_is_the_product_name() -> None:
    assert README.splitlines()[0] == f"# {PRODUCT_NAME}"
    assert "LTI Seat Licenses" not in README


def test_the_quick_start_names_every_prerequisite() -> None:
    section = quick_start()
    for prerequisite in ("Python 3.11+", "`make`", "Node.js ≥ 20", "npm", "chromium"):
        assert prerequisite in section, prerequisite


def test_the_quick_start_shows_what_serve_prints() -> None:
    settings = load_settings({"ENV": "development", "SECRET_KEY": "d" * 40})
    for label, url in start_urls(settings, "127.0.0.1", 5000):
        assert f"  {label:<24}{url}" in quick_start(), (label, url)
