"""Accessibility measured in the browser: axe-core (npm, pinned in ``tests/browser/node``) runs in
the page or frame under test and its violations are returned, worst first.

``axe.min.js`` is evaluated through the browser's debugging protocol (``page.evaluate``), not
added as a ``<script>``: the pages' content security policy rightly refuses inline scripts, and the
check must see the page exactly as users get it. A missing axe-core fails the test (``make
install`` installs it); it never skips.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
IMPACTS = ("minor", "moderate", "serious", "critical")


@cache
def axe_source() -> str:
    if not AXE.is_file():
        raise AssertionError(f"axe-core is not installed at {AXE}: run `make install`")
    return AXE.read_text(encoding="utf-8")


def violations(target: Any, *, min_impact: str = "serious") -> list[dict[str, Any]]:
    """axe's violations of ``min_impact`` or worse in a Playwright page or frame (WCAG 2.0/2.1
    A and AA rules plus axe's best practices)."""
    if target.evaluate("() => typeof window.axe") != "object":
        target.evaluate(axe_source())
    result = target.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations'],
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    floor = IMPACTS.index(min_impact)
    found = [v for v in result if IMPACTS.index(v["impact"] or "minor") >= floor]
    return sorted(found, key=lambda v: -IMPACTS.index(v["impact"]))


def assert_accessible(target: Any, where: str, *, min_impact: str = "serious") -> None:
    found = violations(target, min_impact=min_impact)
    assert not found, f"axe found {len(found)} violation(s) at {where}: " + "; ".join(
        f"{v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}" for v in found)


def no_sideways_scroll(page: Any, where: str) -> None:
    """The page does not scroll sideways (a phone's width: nothing wider than the viewport)."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{where} scrolls sideways by {overflow}px at {page.viewport_size['width']}px"


def check_page(page: Any, where: str) -> None:
    """axe-core finds nothing serious or critical, and the page does not scroll sideways."""
    assert_accessible(page, f"{where} at {page.viewport_size['width']}px")
    no_sideways_scroll(page, where)
