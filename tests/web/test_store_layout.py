"""The store pages' layout rules: at a phone's width (390 px) nothing in their CSS is wider than
the screen, every store page shows the navigation bar, and their templates keep the session
token and the CSRF token in every form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "lti_tool" / "static"
TEMPLATES = ROOT / "lti_tool" / "templates"
PHONE_WIDTH_PX = 390
# The stylesheets a store page loads (base.html's and the layout's).
STORE_CSS = ("app.css", "store.css")
SIZE = re.compile(r"(-?\d+(?:\.\d+)?)(px|rem|em)\b")
WIDTH_PROPERTIES = ("width", "min-width", "flex-basis", "grid-template-columns", "flex", "max-width")


def declarations(css: str) -> list[tuple[str, str]]:
    """(property, value) of every declaration, @media conditions left out."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@media[^{]*\{", "{", css)
    out = []
    for block in re.findall(r"\{([^{}]*)\}", css):
        for part in block.split(";"):
            name, _, value = part.partition(":")
            if value:
                out.append((name.strip().lower(), value.strip()))
    return out


def px(amount: float, unit: str) -> float:
    return amount * 16 if unit in ("rem", "em") else amount


def fixed_widths_over_phone(css: str) -> list[str]:
    found = []
    for name, value in declarations(css):
        if name == "max-width" or name not in WIDTH_PROPERTIES:
            continue  # a maximum never forces a width
        for amount, unit in SIZE.findall(value):
            if px(float(amount), unit) > PHONE_WIDTH_PX:
                found.append(f"{name}: {value}")
    return found


def test_the_check_finds_a_wide_fixed_width() -> None:
    assert fixed_widths_over_phone(".x { width: 480px; }") == ["width: 480px"]
    assert fixed_widths_over_phone(".x { min-width: 30rem }") == ["min-width: 30rem"]
    assert fixed_widths_over_phone(".x { max-width: 960px; width: 100%; }") == []
    assert fixed_widths_over_phone("@media (max-width: 560px) { .x { padding: 4px; } }") == []


@pytest.mark.parametrize("name", STORE_CSS)
def test_store_pages_have_no_fixed_width_above_a_phones(name: str) -> None:
    assert fixed_widths_over_phone((STATIC / name).read_text(encoding="utf-8")) == []


def store_templates() -> list[Path]:
    return sorted(p for p in (TEMPLATES / "storefront").glob("*.html")
                  if p.name not in ("layout.html", "nav.html") and not p.name.startswith("_"))


@pytest.mark.parametrize("path", store_templates(), ids=lambda p: p.name)
def test_every_store_page_has_the_bar_and_keeps_its_tokens(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{% extends "storefront/layout.html" %}')
    for form in re.findall(r"<form\b.*?</form>", text, flags=re.S):
        assert "session_field()" in form, (path.name, form[:80])
        if 'method="post"' in form:
            assert "csrf_token()" in form, (path.name, form[:80])
    for href in re.findall(r'href="([^"]*)"', text):
        # url_for_s in the template, or a URL the view built with url_for_s / path_s.
        assert href.startswith(("{{ url_for_s(", "{% if", "{{ quote_url", "{{ cart_action", "{{ quote_links[",
                                "{{ checkout_url", "{{ cart_url", "{{ item.href")) or href == "#", (path.name, href)


def test_the_layout_loads_the_store_css_and_the_bar() -> None:
    layout = (TEMPLATES / "storefront" / "layout.html").read_text(encoding="utf-8")
    assert "store.css" in layout and 'include "storefront/nav.html"' in layout
    nav = (TEMPLATES / "storefront" / "nav.html").read_text(encoding="utf-8")
    assert '<nav class="store-nav" aria-label="Store">' in nav and 'aria-current="page"' in nav
    dashboard = (TEMPLATES / "dashboard" / "layout.html").read_text(encoding="utf-8")
    assert '{% extends "storefront/layout.html" %}' in dashboard
    assert "<h1>Dashboard</h1>" in (TEMPLATES / "dashboard" / "index.html").read_text(encoding="utf-8")
