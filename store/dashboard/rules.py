"""Pure rules of the admin dashboard: the Plus term a usage chart covers, seats in use per day,
the projected date seats run out at the current pace, and the action each Needs Attention item
links to. No Flask, no SQLAlchemy; explicit ``now``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from store.clock import add_months
from store.pricing import term_months

ATTENTION_WINDOW = timedelta(days=30)  # licenses expiring this soon, refusals this recent
MAX_SERIES_DAYS = 400

# Needs Attention: what the page links each item to.
BUY_SEATS = "buy_seats"
RENEW = "renew"
TOP_UP_DEPOSIT = "top_up_deposit"
ADD_TO_LIBRARY = "add_to_library"
DELIVER_REPLACEMENT = "deliver_replacement"
BUY_LICENSE = "buy_license"
DELIVER_WITH_PLUS = "deliver_with_plus"
CONTACT_SUPPORT = "contact_support"
CHECK_LINK = "check_link"
WAIT_FOR_START = "wait_for_start"
ALLOW_DOMAIN = "allow_domain"
CHECK_LMS_SETTINGS = "check_lms_settings"
DELIVER_PACKAGE = "deliver_package"
UPDATE_CARD = "update_card"

#: The action for a refused launch, by its reason code (the seat engine's, or a delivery path's).
REFUSAL_ACTIONS = {
    "no_seats": BUY_SEATS,
    "license_expired": RENEW,
    "insufficient_deposit": TOP_UP_DEPOSIT,
    "not_in_library": ADD_TO_LIBRARY,
    "course_retired": DELIVER_REPLACEMENT,
    "not_covered": BUY_LICENSE,
    "no_license": BUY_LICENSE,
    "bundle_excluded": DELIVER_WITH_PLUS,
    "retake_not_allowed": CONTACT_SUPPORT,
    "ppu_not_configured": CONTACT_SUPPORT,
    "not_started": WAIT_FOR_START,
    "unknown_course": CHECK_LINK,
    "domain_not_allowed": ALLOW_DOMAIN,
    "origin_required": CHECK_LMS_SETTINGS,
    "package_revoked": DELIVER_PACKAGE,
    "package_replaced": DELIVER_PACKAGE,
    "content_not_available": CONTACT_SUPPORT,
}
ACTIONS = frozenset(REFUSAL_ACTIONS.values()) | {RENEW, UPDATE_CARD, DELIVER_REPLACEMENT}


def refusal_action(reason: str) -> str:
    return REFUSAL_ACTIONS.get(reason, CONTACT_SUPPORT)


def current_term_start(started_at: datetime, period_end: datetime, term: str) -> datetime:
    """When the subscription's current term began: the last whole number of terms after
    ``started_at`` before ``period_end`` (renewals move ``period_end`` on by one term, counted
    from the start; a grace period may stretch it)."""
    months = term_months(term)
    start = started_at
    for n in range(1, 12 * 1000):
        following = add_months(started_at, n * months)
        if following >= period_end:
            break
        start = following
    return start


@dataclass(frozen=True)
class DayCount:
    day: date
    seats_used: int  # seats occupied by the end of that day (UTC)


def daily_series(term_start: datetime, now: datetime, before: int, per_day: Mapping[date, int]) -> tuple[DayCount, ...]:
    """Seats in use at the end of each day from the term's first day to today: ``before`` seats
    taken before the term, plus those taken each day since (``per_day``)."""
    first, last = term_start.date(), now.date()
    if last < first:
        return ()
    first = max(first, last - timedelta(days=MAX_SERIES_DAYS - 1))
    running = before + sum(n for d, n in per_day.items() if d < first)
    out = []
    day = first
    while day <= last:
        running += per_day.get(day, 0)
        out.append(DayCount(day, running))
        day += timedelta(days=1)
    return tuple(out)


@dataclass(frozen=True)
class RunOut:
    """When the seats run out at the current pace. ``on``: the day the last seat goes (today when
    they are all taken already); None when no seat was taken in the term (no pace) or none is left
    to run out. ``before_term_end``: whether that happens before the term ends (then buy seats)."""

    on: date | None
    seats_per_day: float
    before_term_end: bool
    full: bool


def project_run_out(term_start: datetime, now: datetime, used_at_start: int, used_now: int, total: int,
                    term_end: datetime) -> RunOut:
    """The pace is the seats taken in the current term per day of it so far (at least one day)."""
    left = total - used_now
    if left <= 0:
        return RunOut(now.date(), 0.0, now < term_end, True)
    elapsed_days = max((now - term_start).total_seconds() / 86400, 1.0)
    taken = max(used_now - used_at_start, 0)
    pace = taken / elapsed_days
    if pace <= 0:
        return RunOut(None, 0.0, False, False)
    days = math.ceil(left / pace)
    try:
        moment = now + timedelta(days=days)
    except OverflowError:
        return RunOut(None, pace, False, False)
    return RunOut(moment.date(), pace, moment < term_end, False)
