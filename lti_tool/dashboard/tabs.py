"""The dashboard's tab bar: one list of tabs (accessible names exactly as DOMAIN.md gives them) and
their URL paths, shown by ``dashboard/tabs.html`` on every dashboard page. ``create_app`` makes
:func:`dashboard_tabs` a template global. **Order History** is the store's page.

Paths are fixed here so that every dashboard page (tabs, reports, settings, delivery) links the
same way; links keep the web session token (``path_s``), as every page inside an LMS frame must.
"""

from __future__ import annotations

from dataclasses import dataclass

from lti_tool.storefront.nav import DASHBOARD_PATH, ORDERS_PATH, path_s

SETTINGS_PATH = "/dashboard/settings"
DELIVER_PATH = "/dashboard/deliver"

# (key, accessible name, path)
TABS: tuple[tuple[str, str, str], ...] = (
    ("plus", "Plus", "/dashboard/plus"),
    ("purchased", "Purchased Courses", "/dashboard/purchased"),
    ("ppu", "PPU Library", "/dashboard/ppu"),
    ("orders", "Order History", ORDERS_PATH),
    ("attention", "Needs Attention", "/dashboard/attention"),
    ("reports", "Reports", "/dashboard/reports"),
)


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    href: str
    current: bool


def tab_path(key: str) -> str:
    """The URL path of the tab ``key`` (``KeyError`` for an unknown key)."""
    return {k: path for k, _label, path in TABS}[key]


def dashboard_tabs(current: str | None = None) -> tuple[Tab, ...]:
    """The tabs for this request's session; ``current`` is the key of the tab shown."""
    return tuple(Tab(key, label, path_s(path), key == current) for key, label, path in TABS)


__all__ = ["DASHBOARD_PATH", "DELIVER_PATH", "SETTINGS_PATH", "TABS", "Tab", "dashboard_tabs", "tab_path"]
