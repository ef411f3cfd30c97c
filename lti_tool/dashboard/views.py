"""The dashboard's pages (blueprint ``dashboard``): the summary with the chart, and the tabs
**Plus**, **Purchased Courses**, **PPU Library** and **Needs Attention** (paths in ``tabs.py``).
Each view finds the admin (``access.current_admin``: 401 / sign-in without a session, 403 for
learners), reads from ``store.dashboard.service`` in one read transaction and renders; nothing
is written. Pages work inside an LMS iframe without cookies (every link keeps the session token).

- ``GET /dashboard``: "Available Plus seats: N of M" (or how to subscribe), the chart of Plus seats
  used per day over the term with the run-out projection (inline SVG from ``chart.py``, the same
  figures as a table), the count of Needs Attention items and what the account holds.
- ``GET /dashboard/plus``: Plus courses once launched (learners, completions, first/last launch).
- ``GET /dashboard/purchased``: Volume courses: seats bought, used, left, each lot's expiry.
- ``GET /dashboard/ppu``: the Pay Per Use deposit, library and seats bought from it.
- ``GET /dashboard/attention``: what needs the admin, newest first, each with a link to act.

**Deliver Course** links and the "Deliver selected courses" form go to ``/dashboard/deliver``
(``tabs.DELIVER_PATH``) with ``course`` (catalog ids) and ``license_type``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, render_template, request
from sqlalchemy.orm import Session

from lti_tool.dashboard import chart as charts
from lti_tool.dashboard import rules
from lti_tool.dashboard.access import current_admin
from lti_tool.dashboard.tabs import DELIVER_PATH, tab_path
from lti_tool.lti.errors import unauthorized
from lti_tool.lti.views import render_launch_error
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from lti_tool.storefront import rules as store_rules
from lti_tool.storefront.nav import DASHBOARD_PATH, path_s
from store.base import utcnow
from store.dashboard import service
from store.dashboard.service import AttentionItem, SeatUsage
from store.errors import NotFound
from store.licenses import holdings_rules as hr

bp = Blueprint("dashboard", __name__)


@bp.errorhandler(NotFound)
def account_gone(_error: NotFound) -> tuple[str, int]:
    """The session's account was closed meanwhile: like an ended session."""
    return render_launch_error(unauthorized("no_session", "The account of this session no longer exists.",
                                            "Open the tool again from your LMS."))

T = TypeVar("T")

ATTENTION_KINDS = {
    service.REFUSED_LAUNCH: ("refused launch", "refused launches"),
    service.EXPIRING_LICENSE: ("license expiring soon", "licenses expiring soon"),
    service.RETIRING_COURSE: ("retiring course", "retiring courses"),
    service.FAILED_RENEWAL: ("failed renewal", "failed renewals"),
}


def _render(template: str, tab: str | None, **context: Any) -> Response:
    page = render_template(template, tab_current=tab, deliver_href=deliver_href, todo_href=todo_href,
                           tab_href=lambda key: path_s(tab_path(key)), seats_left=rules.seats_left_text,
                           deliver_action=request.script_root + DELIVER_PATH, status_labels=hr.STATUS_LABELS,
                           **context)
    response = Response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


def _read(read: Callable[[Session, int, datetime], T]) -> T:
    account_id = current_admin().account_id
    with services().read_sessions() as session:
        return read(session, account_id, utcnow())


def deliver_href(catalog_id: str, license_type: str | None = None) -> str:
    """**Deliver Course** of one course (the delivery page asks the license type when not given)."""
    args = {"course": catalog_id, **({"license_type": license_type} if license_type else {})}
    return path_s(DELIVER_PATH, **args)


_TARGETS: dict[str, Callable[[rules.Todo], str]] = {
    "store_buy": lambda t: url_for_s("storefront.course", catalog_id=t.catalog_id, buy=1),
    "store_course": lambda t: url_for_s("storefront.course", catalog_id=t.catalog_id),
    "store_plus": lambda t: url_for_s("storefront.plus"),
    "deliver": lambda t: deliver_href(t.catalog_id or "", t.license_type),
    "tab_ppu": lambda t: path_s(tab_path("ppu")),
    "tab_purchased": lambda t: path_s(tab_path("purchased")),
}


def todo_href(todo: rules.Todo) -> str | None:
    return _TARGETS[todo.target](todo) if todo.target else None


def _todo(item: AttentionItem) -> rules.Todo:
    return rules.todo(item.action, catalog_id=item.catalog_id, license_type=item.license_type,
                      replacement_catalog_id=item.replacement_catalog_id)


def _chart(usage: SeatUsage | None) -> dict[str, Any]:
    if usage is None:
        return {"chart": None}
    days = [(d.day, d.seats_used) for d in usage.days]
    last_day = usage.period_end.date()
    run_out = usage.run_out
    projection = charts.run_out_text(full=run_out.full, on=run_out.on, pace=run_out.seats_per_day,
                                     before_term_end=run_out.before_term_end, term_last_day=last_day)
    return {"chart": charts.seat_chart(days, usage.seats_total, last_day, pace=run_out.seats_per_day,
                                       run_out=run_out.on),
            "chart_text": charts.describe(days, usage.seats_total, projection), "projection": projection}


def _attention_counts(items: tuple[AttentionItem, ...]) -> list[str]:
    counts = Counter(item.kind for item in items)
    return [f"{n} {ATTENTION_KINDS[kind][0 if n == 1 else 1]}" for kind, n in counts.items() if kind in ATTENTION_KINDS]


@bp.get(DASHBOARD_PATH)
def index() -> Response:
    account_id = current_admin().account_id
    page = service.dashboard(services().read_sessions, account_id, utcnow())
    return _render("dashboard/index.html", None, d=page, attention_counts=_attention_counts(page.attention),
                   **_chart(page.seat_usage))


@bp.get(tab_path("plus"))
def plus() -> Response:
    summary, courses = _read(lambda s, a, now: (service.plus_summary(s, a, now), service.plus_courses(s, a)))
    return _render("dashboard/plus.html", "plus", summary=summary, courses=courses)


@bp.get(tab_path("purchased"))
def purchased() -> Response:
    return _render("dashboard/purchased.html", "purchased", courses=_read(service.purchased_courses))


@bp.get(tab_path("ppu"))
def ppu() -> Response:
    library = _read(service.ppu_library)
    low = None if library is None else store_rules.library_low_balance(
        library.is_enabled, library.balance_cents, ((c.title, c.price_cents, c.status) for c in library.courses))
    return _render("dashboard/ppu.html", "ppu", library=library, low=low)


@bp.get(tab_path("attention"))
def attention() -> Response:
    items = _read(lambda s, a, now: service.needs_attention(s, a, now))
    return _render("dashboard/attention.html", "attention", rows=[(item, _todo(item)) for item in items],
                   kinds=ATTENTION_KINDS)


__all__ = ["attention", "bp", "deliver_href", "index", "plus", "ppu", "purchased", "todo_href"]
