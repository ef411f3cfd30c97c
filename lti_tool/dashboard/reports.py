"""The dashboard's **Reports** tab (blueprint ``dashboard_reports``): one row per learner and
course — per person when identity linking is on — from ``store.reports``, which also decides what
is visible (only seats of the account; a learner's self-bought license stays in their own account).

- ``GET /dashboard/reports``: the filter form (fields **Course**, **License type**, **Status**,
  **From**, **To**; button **Filter**; a GET form, so a filtered page is a link), the table, 50
  rows a page (**Previous** / **Next**) and **Download CSV** with exactly the current filters.
- ``GET /dashboard/reports.csv``: the CSV, streamed line by line from ``report_csv`` (the
  response is a generator: rows are fetched from the database in batches while it is sent).

Dates are days in UTC; **To** includes its whole day. A bad filter (an unknown course, a date that
is not a date, **From** after **To**, a choice not in the list) comes back as the page with the
message next to its field and status 400; nothing else is read. Admins only (``current_admin``:
403 for learners, 401 or the sign-in page without a session).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_wtf.csrf import CSRFError

from lti_tool.dashboard.tabs import tab_path
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from lti_tool.storefront import views as store_pages
from lti_tool.dashboard.access import current_admin
from lti_tool.storefront.access import session_ended
from store.base import utcnow
from store.errors import NotFound, StoreError
from store.licenses.labels import LICENSE_TYPES
from store.reports import rules
from store.reports.service import ReportFilters, report_courses, report_csv, report_page

bp = Blueprint("dashboard_reports", __name__)
bp.register_error_handler(CSRFError, store_pages.csrf_error)

MAX_PAGE = 100_000
FIELD_CHARS = 200
MIN_YEAR, MAX_YEAR = 1900, 2999  # the end date + 1 day must stay a date
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CHOOSE = {
    "course": "Choose a course from the list.",
    "license_type": "Choose a license type from the list.",
    "status": "Choose a status from the list.",
}
_BAD_RANGE = "The end date must be on or after the start date."
# A refusal of the report service: the form field it belongs to, and what to say there.
_REFUSALS = {
    "unknown_course": ("course", "There is no course with this catalog id: choose one from the list."),
    "invalid_text": ("course", _CHOOSE["course"]),
    "text_too_long": ("course", _CHOOSE["course"]),
    "invalid_license_type": ("license_type", _CHOOSE["license_type"]),
    "invalid_status": ("status", _CHOOSE["status"]),
    "invalid_dates": ("to", _BAD_RANGE),
}


@dataclass
class FilterForm:
    """What the filter form holds, as typed (``values``), and what it means (``filters``)."""

    values: dict[str, str]
    filters: ReportFilters = field(default_factory=ReportFilters)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def args(self) -> dict[str, str]:
        """The filters as URL arguments (empty ones left out): for the pages and the CSV link."""
        return {k: v for k, v in self.values.items() if v}


def _day(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if _DAY.match(value) else None
    except ValueError:
        day = None
    if day is None:
        errors[name] = "Enter a date as YYYY-MM-DD, for example 2026-01-31."
    elif not MIN_YEAR <= day.year <= MAX_YEAR:
        errors[name] = f"Enter a date between {MIN_YEAR} and {MAX_YEAR}."
        return None
    return day


def _moment(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def read_filters(args: Mapping[str, str]) -> FilterForm:
    """The filter form from the query string, checked as far as the form can (the course is the
    report service's to know)."""
    values = {name: (args.get(name) or "").strip()[:FIELD_CHARS]
              for name in ("course", "license_type", "status", "from", "to")}
    form = FilterForm(values)
    if values["license_type"] and values["license_type"] not in LICENSE_TYPES:
        form.errors["license_type"] = _CHOOSE["license_type"]
    if values["status"] and values["status"] not in rules.STATUSES:
        form.errors["status"] = _CHOOSE["status"]
    start = _day(values["from"], "from", form.errors)
    end = _day(values["to"], "to", form.errors)
    if start is not None and end is not None and start > end:
        form.errors["to"] = _BAD_RANGE
    if not form.errors:
        form.filters = ReportFilters(values["course"] or None, values["license_type"] or None,
                                     values["status"] or None, _moment(start),
                                     _moment(None if end is None else end + timedelta(days=1)))
    return form


def _refused(form: FilterForm, exc: StoreError) -> None:
    """A filter the report service refused: its message next to the field."""
    if isinstance(exc, NotFound) and exc.reason == "unknown_account":
        raise session_ended() from None
    name, message = _REFUSALS.get(exc.reason, ("course", exc.message))
    form.errors[name] = message


def _page_number(value: str | None) -> int:
    value = (value or "").strip()
    return min(max(int(value), 1), MAX_PAGE) if value.isascii() and value.isdigit() and len(value) < 9 else 1


def _render(form: FilterForm, account_id: int, page: Any = None) -> Response:
    status = 400 if form.errors else 200
    courses = report_courses(services().read_sessions, account_id)
    response = Response(render_template(
        "dashboard/reports.html", tab_current="reports", form=form, page=page, courses=courses,
        statuses=rules.STATUS_LABELS,
        csv_url=None if form.errors else url_for_s("dashboard_reports.report_csv_download", **form.args),
        page_url=lambda number: url_for_s("dashboard_reports.reports", **form.args, page=number),
    ), status=status)
    response.headers["Cache-Control"] = "no-store"  # learners' names and results
    return response


@bp.get(tab_path("reports"))
def reports() -> Response:
    buyer = current_admin()
    form = read_filters(request.args)
    page = None
    if not form.errors:
        try:
            page = report_page(services().read_sessions, buyer.account_id, form.filters,
                               _page_number(request.args.get("page")))
        except StoreError as exc:
            _refused(form, exc)
    return _render(form, buyer.account_id, page)


@bp.get(tab_path("reports") + ".csv")
def report_csv_download() -> Response:
    buyer = current_admin()
    form = read_filters(request.args)
    if not form.errors:
        try:
            lines = report_csv(services().read_sessions, buyer.account_id, form.filters)
        except StoreError as exc:
            _refused(form, exc)
        else:
            filename = f"learner-report-{utcnow():%Y-%m-%d}.csv"
            response = Response(lines, mimetype="text/csv")
            response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
            response.headers["Cache-Control"] = "no-store"
            return response
    return _render(form, buyer.account_id)


__all__ = ["FilterForm", "bp", "read_filters"]
