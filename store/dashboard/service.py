"""What the admin dashboard shows, read in one go (``dashboard``) or part by part, and the
account's remembered package format.

API (views call one function and render; reads take a read-only sessionmaker or a Session)::

    dashboard(read_sessions, account_id, now) -> Dashboard     # every part below, one read transaction
    plus_summary(session, account_id, now) -> PlusSummary | None         # "Available Plus seats: N of M"
    seats_used_per_day(session, account_id, now) -> SeatUsage | None     # the current Plus term, with the projection
    plus_courses(session, account_id) -> list[PlusCourse]                # Plus courses once launched
    purchased_courses(session, account_id, now) -> list[PurchasedCourse] # Volume courses and their lots
    ppu_library(session, account_id, now) -> PpuLibrary | None           # deposit, library, seats bought
    needs_attention(session, account_id, now, limit=100) -> list[AttentionItem]   # newest first
    package_format(session, account_id) -> str | None
    set_package_format(sessions, account_id, fmt) -> str

What the account holds comes from ``store.licenses.holdings`` (the one owner: statuses, seats,
terms); the PPU library's seats bought from ``store.licenses.queries.ppu_seat_totals`` (the same
reads as the store's library page); failed renewals from ``store.orders``' ``renewal_notices``.
Learners are counted as people when identity linking is on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from store.accounts.models import Account, Learner
from store.accounts.queries import get_account
from store.base import require_aware
from store.catalog.models import Course
from store.dashboard import rules
from store.dashboard.rules import DayCount, RunOut
from store.errors import InvalidInput, NotFound
from store.licenses import holdings
from store.licenses import holdings_rules as hr
from store.licenses import queries as license_queries
from store.licenses.models import CourseLaunch, LaunchRefusal, PlusSubscription, PpuLibraryEntry, Seat, VolumeLot
from store.licenses.rules import refusal as engine_refusal
from store.licenses.rules import REFUSALS
from store.orders.queries import renewal_notices
from store.orders.renewals import store_bought_condition
from store.progress.models import CourseProgress

PACKAGE_FORMATS = ("scorm12", "scorm2004")
ATTENTION_LIMIT = 100


# ---------------------------------------------------------------- Plus


@dataclass(frozen=True)
class PlusSummary:
    subscription_id: int
    term: str
    seats_total: int
    seats_used: int
    started_at: datetime
    term_start: datetime  # the current term's start
    period_end: datetime
    status: str  # holdings status: active, exhausted, cancelled
    renews: bool  # will renew automatically (bought in the store, auto-renew on)

    @property
    def available(self) -> int:
        return max(self.seats_total - self.seats_used, 0)

    @property
    def text(self) -> str:
        return f"Available Plus seats: {self.available} of {self.seats_total}"


def _current_plus(session: Session, account_id: int, now: datetime) -> PlusSummary | None:
    overview = holdings.account_overview(session, account_id, now)
    current = overview.current_plus
    if current is None:
        return None
    assert current.seats is not None and current.seats_used is not None and current.term is not None
    assert current.expires_at is not None
    renews = bool(session.scalar(select(PlusSubscription.id).where(
        PlusSubscription.id == current.holding_id, PlusSubscription.auto_renew.is_(True),
        PlusSubscription.cancelled_at.is_(None), store_bought_condition())))  # type: ignore[arg-type]
    return PlusSummary(current.holding_id, current.term, current.seats, current.seats_used, current.starts_at,
                       rules.current_term_start(current.starts_at, current.expires_at, current.term),
                       current.expires_at, current.status, renews)


def plus_summary(session: Session, account_id: int, now: datetime) -> PlusSummary | None:
    """The subscription new Plus seats come from (in its term), or None: "Available Plus seats:
    N of M" is ``.text``. Raises NotFound (``unknown_account``)."""
    return _current_plus(session, account_id, require_aware(now, "now"))


@dataclass(frozen=True)
class SeatUsage:
    subscription_id: int
    term_start: datetime
    period_end: datetime
    seats_total: int
    days: tuple[DayCount, ...]  # seats in use at the end of each day of the term so far
    run_out: RunOut  # when they run out at the current pace


def _day_of(session: Session):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", Seat.occupied_at))
    return func.date(Seat.occupied_at)  # SQLite keeps naive UTC text


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def seats_used_per_day(session: Session, account_id: int, now: datetime) -> SeatUsage | None:
    """Plus seats in use per day over the current term, and when they run out at this term's
    pace (``rules.project_run_out``). None without a subscription in its term."""
    now = require_aware(now, "now")
    plus = _current_plus(session, account_id, now)
    if plus is None:
        return None
    day = _day_of(session)
    of_sub = and_(Seat.account_id == account_id, Seat.subscription_id == plus.subscription_id)
    before = int(session.scalar(select(func.count()).select_from(Seat)
                                .where(of_sub, Seat.occupied_at < plus.term_start)) or 0)
    per_day = {_as_date(d): int(n) for d, n in session.execute(
        select(day, func.count()).where(of_sub, Seat.occupied_at >= plus.term_start).group_by(day))}
    series = rules.daily_series(plus.term_start, now, before, per_day)
    used_now = before + sum(per_day.values())
    run_out = rules.project_run_out(plus.term_start, now, before, used_now, plus.seats_total, plus.period_end)
    return SeatUsage(plus.subscription_id, plus.term_start, plus.period_end, plus.seats_total, series, run_out)


@dataclass(frozen=True)
class PlusCourse:
    catalog_id: str
    title: str
    status: str  # the course's catalog status (active, retiring, retired)
    learners: int  # people when identity linking is on
    completions: int
    first_launched_at: datetime
    last_launched_at: datetime


def _person(linked: bool):  # type: ignore[no-untyped-def]
    return func.coalesce(Learner.person_id, Learner.id) if linked else Learner.id


def _linked(session: Session, account_id: int) -> bool:
    found = session.scalar(select(Account.link_identities).where(Account.id == account_id))
    if found is None:
        raise NotFound(f"unknown account {account_id!r}", reason="unknown_account")
    return bool(found)


def plus_courses(session: Session, account_id: int) -> list[PlusCourse]:
    """Each course launched under a Plus seat of the account (a Plus course appears once its
    first learner launched it), with its learners and completions, most recently used first."""
    person = _person(_linked(session, account_id))
    completed = case((CourseProgress.completion_status == "completed", person))
    rows = session.execute(
        select(Course.catalog_id, Course.title, Course.status, func.count(func.distinct(person)),
               func.count(func.distinct(completed)), func.min(CourseLaunch.first_launched_at),
               func.max(CourseLaunch.last_launched_at))
        .select_from(CourseLaunch)
        .join(Seat, Seat.id == CourseLaunch.seat_id)
        .join(Learner, Learner.id == Seat.learner_id)
        .join(Course, Course.id == CourseLaunch.course_pk)
        .outerjoin(CourseProgress, and_(CourseProgress.seat_id == CourseLaunch.seat_id,
                                        CourseProgress.course_pk == CourseLaunch.course_pk))
        .where(Seat.account_id == account_id, Seat.license_type == "plus")
        .group_by(Course.id, Course.catalog_id, Course.title, Course.status)
        .order_by(func.max(CourseLaunch.last_launched_at).desc(), Course.catalog_id))
    return [PlusCourse(c, t, s, int(n), int(done), first, last) for c, t, s, n, done, first, last in rows]


# ---------------------------------------------------------------- Volume


@dataclass(frozen=True)
class LotRow:
    lot_id: int
    seats: int
    seats_used: int
    seats_left: int
    purchased_at: datetime
    expires_at: datetime
    status: str
    status_label: str


@dataclass(frozen=True)
class PurchasedCourse:
    catalog_id: str
    title: str
    seats_bought: int  # in lots not expired (in their term, or still to start)
    seats_used: int
    seats_left: int
    lots: tuple[LotRow, ...]  # every lot, oldest purchase first

    @property
    def next_expiry(self) -> datetime | None:
        live = [lot.expires_at for lot in self.lots if lot.status != hr.EXPIRED]
        return min(live, default=None)


def purchased_courses(session: Session, account_id: int, now: datetime) -> list[PurchasedCourse]:
    """Volume courses with the seats bought, used and left (over lots not expired) and each lot
    with its expiry and status, by title. Raises NotFound (``unknown_account``)."""
    overview = holdings.account_overview(session, account_id, require_aware(now, "now"))
    by_course: dict[str, list[holdings.Holding]] = defaultdict(list)
    titles: dict[str, str] = {}
    for held in overview.volume:
        assert held.catalog_id is not None
        by_course[held.catalog_id].append(held)
        titles[held.catalog_id] = held.title
    out = []
    for catalog_id, lots in by_course.items():
        rows = tuple(LotRow(h.holding_id, h.seats or 0, h.seats_used or 0, h.seats_left or 0, h.starts_at,
                            h.expires_at or h.starts_at, h.status, h.status_label)
                     for h in sorted(lots, key=lambda h: (h.starts_at, h.holding_id)))
        live = [r for r in rows if r.status != hr.EXPIRED]
        bought, used = sum(r.seats for r in live), sum(r.seats_used for r in live)
        out.append(PurchasedCourse(catalog_id, titles[catalog_id], bought, used, bought - used, rows))
    return sorted(out, key=lambda c: (c.title.lower(), c.catalog_id))


# ---------------------------------------------------------------- Pay Per Use


@dataclass(frozen=True)
class LibraryCourse:
    catalog_id: str
    title: str
    price_cents: int  # what one new learner costs
    status: str
    status_label: str
    seats_bought: int  # seats bought from the deposit for this course
    spent_cents: int


@dataclass(frozen=True)
class PpuLibrary:
    contract_ref: str
    is_enabled: bool
    balance_cents: int  # the deposit left
    courses: tuple[LibraryCourse, ...]

    @property
    def seats_bought(self) -> int:
        return sum(c.seats_bought for c in self.courses)

    @property
    def spent_cents(self) -> int:
        return sum(c.spent_cents for c in self.courses)


def ppu_library(session: Session, account_id: int, now: datetime) -> PpuLibrary | None:
    """The PPU deposit and library with the seats bought per course; None when Pay Per Use is not
    set up. The same reads as the store's library page (holdings' overview and
    ``ppu_seat_totals``)."""
    overview = holdings.account_overview(session, account_id, require_aware(now, "now"))
    if overview.ppu is None:
        return None
    totals = license_queries.ppu_seat_totals(session, account_id)
    courses = []
    for item in overview.ppu_library:
        assert item.catalog_id is not None
        total = totals.get(item.catalog_id, license_queries.PpuSeatTotal(0, 0))
        courses.append(LibraryCourse(item.catalog_id, item.title, item.price_cents or 0, item.status,
                                     item.status_label, total.seats, total.cents))
    return PpuLibrary(overview.ppu.contract_ref, overview.ppu.is_enabled, overview.ppu.balance_cents, tuple(courses))


# ---------------------------------------------------------------- Needs Attention


REFUSED_LAUNCH = "refused_launch"
EXPIRING_LICENSE = "expiring_license"
RETIRING_COURSE = "retiring_course"
FAILED_RENEWAL = "failed_renewal"

_PATH_REFUSALS = {
    "domain_not_allowed": "A SCORM package was opened from an LMS domain that is not allowed.",
    "origin_required": "A SCORM package was opened without the browser saying which site opened it.",
    "package_revoked": "A copy of a revoked SCORM package was opened.",
    "package_replaced": "An old copy of a SCORM package was opened (a newer one replaced it).",
    "content_not_available": "The course has no content to play yet.",
}


@dataclass(frozen=True)
class AttentionItem:
    kind: str  # refused_launch | expiring_license | retiring_course | failed_renewal
    at: datetime  # when it arose (the newest first)
    action: str  # what the page links to: rules.ACTIONS (buy_seats, renew, deliver_replacement, …)
    message: str
    reason: str | None = None  # refusals: the reason code; failed renewals: the gateway's reason
    catalog_id: str | None = None
    course_title: str | None = None
    learner: str | None = None  # refused launches: the learner's name, address or id
    license_type: str | None = None
    expires_at: datetime | None = None  # expiring licenses; failed renewals: until when access lasts
    replacement_catalog_id: str | None = None
    replacement_title: str | None = None
    detail: str | None = None  # e.g. the LMS host that is not allowed


def _refusals(session: Session, account_id: int, now: datetime, limit: int) -> list[AttentionItem]:
    rows = session.execute(
        select(LaunchRefusal, Learner.name, Learner.email, Learner.external_id, Course.catalog_id, Course.title)
        .outerjoin(Learner, Learner.id == LaunchRefusal.learner_id)
        .outerjoin(Course, Course.id == LaunchRefusal.course_pk)
        .where(LaunchRefusal.account_id == account_id, LaunchRefusal.is_resolved.is_(False),
               LaunchRefusal.created_at > now - rules.ATTENTION_WINDOW)
        .order_by(LaunchRefusal.created_at.desc(), LaunchRefusal.id.desc()).limit(limit))
    out = []
    for refusal, name, email, external_id, catalog_id, title in rows:
        known = refusal.reason in REFUSALS
        message = engine_refusal(refusal.reason).message if known else _PATH_REFUSALS.get(
            refusal.reason, "The launch was refused.")
        out.append(AttentionItem(REFUSED_LAUNCH, refusal.created_at, rules.refusal_action(refusal.reason), message,
                                 reason=refusal.reason, catalog_id=catalog_id, course_title=title,
                                 learner=name or email or external_id or refusal.learner_label,
                                 license_type=refusal.license_type, detail=refusal.detail))
    return out


def _expiring(session: Session, account_id: int, now: datetime) -> list[AttentionItem]:
    soon = now + rules.ATTENTION_WINDOW
    out = []
    overview = holdings.account_overview(session, account_id, now)
    for held in overview.volume:
        if held.delivers and held.expires_at is not None and held.expires_at <= soon:
            out.append(AttentionItem(EXPIRING_LICENSE, max(held.expires_at - rules.ATTENTION_WINDOW, held.starts_at),
                                     rules.RENEW, f"{held.seats} Volume seats of this course expire on "
                                     f"{held.expires_at:%Y-%m-%d}.", catalog_id=held.catalog_id,
                                     course_title=held.title, license_type="volume", expires_at=held.expires_at))
    plus = _current_plus(session, account_id, now)
    if plus is not None and not plus.renews and plus.period_end <= soon:
        out.append(AttentionItem(EXPIRING_LICENSE, max(plus.period_end - rules.ATTENTION_WINDOW, plus.term_start),
                                 rules.RENEW, f"The Plus subscription ends on {plus.period_end:%Y-%m-%d} and will not "
                                 "renew.", license_type="plus", expires_at=plus.period_end))
    return out


def _retiring(session: Session, account_id: int, now: datetime) -> list[AttentionItem]:
    """Retiring courses the account delivers: a Volume lot not expired, in the PPU library, or
    launched under a Plus seat."""
    replacement = aliased(Course)
    used = or_(
        Course.id.in_(select(VolumeLot.course_pk).where(VolumeLot.account_id == account_id,
                                                        VolumeLot.expires_at > now)),
        Course.id.in_(select(PpuLibraryEntry.course_pk).where(PpuLibraryEntry.account_id == account_id)),
        Course.id.in_(select(CourseLaunch.course_pk).join(Seat, Seat.id == CourseLaunch.seat_id)
                      .where(Seat.account_id == account_id, Seat.license_type == "plus")),
    )
    rows = session.execute(
        select(Course.catalog_id, Course.title, Course.updated_at, replacement.catalog_id, replacement.title)
        .outerjoin(replacement, replacement.id == Course.replacement_course_pk)
        .where(Course.status == "retiring", used).order_by(Course.title))
    out = []
    for catalog_id, title, updated_at, new_id, new_title in rows:
        message = (f"This course is retiring; its suggested replacement is {new_title}." if new_id
                   else "This course is retiring; it has no suggested replacement.")
        out.append(AttentionItem(RETIRING_COURSE, min(updated_at, now),
                                 rules.DELIVER_REPLACEMENT if new_id else rules.CONTACT_SUPPORT, message,
                                 catalog_id=catalog_id, course_title=title, replacement_catalog_id=new_id,
                                 replacement_title=new_title))
    return out


def _renewals(session: Session, account_id: int, now: datetime) -> list[AttentionItem]:
    out = []
    for notice in renewal_notices(session, account_id, now):
        if notice.status == "open":
            message = (f"The Plus subscription's renewal payment was declined ({notice.failure_message or notice.failure_reason}); "
                       f"access lasts until {notice.grace_until:%Y-%m-%d} while it is tried again.")
            action = rules.UPDATE_CARD
        else:
            message = "The Plus subscription ended: its renewal payment was declined."
            action = rules.RENEW
        out.append(AttentionItem(FAILED_RENEWAL, notice.last_attempt_at or notice.period_end, action, message,
                                 reason=notice.failure_reason, license_type="plus", expires_at=notice.grace_until))
    return out


def needs_attention(session: Session, account_id: int, now: datetime, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """What needs the admin, newest first: refused launches of the last 30 days (the seat engine's
    and the delivery paths': learner, course, reason), licenses expiring within 30 days, retiring
    courses the account delivers (with the suggested replacement), failed renewals. Each item has
    an ``action`` code for the page to link. Raises NotFound (``unknown_account``)."""
    now = require_aware(now, "now")
    get_account(session, account_id)
    items = (_refusals(session, account_id, now, limit) + _expiring(session, account_id, now)
             + _retiring(session, account_id, now) + _renewals(session, account_id, now))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


# ---------------------------------------------------------------- the page


@dataclass(frozen=True)
class Dashboard:
    account_id: int
    account_name: str
    link_identities: bool
    package_format: str | None
    plus: PlusSummary | None
    seat_usage: SeatUsage | None
    plus_courses: tuple[PlusCourse, ...]
    purchased_courses: tuple[PurchasedCourse, ...]
    ppu: PpuLibrary | None
    attention: tuple[AttentionItem, ...]


def dashboard(read_sessions: sessionmaker[Session], account_id: int, now: datetime) -> Dashboard:
    """Everything the dashboard page shows, in one read transaction. Raises NotFound
    (``unknown_account``)."""
    now = require_aware(now, "now")
    with read_sessions() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"unknown account {account_id!r}", reason="unknown_account")
        return Dashboard(account.id, account.name, account.link_identities, account.preferred_package_format,
                         plus_summary(session, account_id, now), seats_used_per_day(session, account_id, now),
                         tuple(plus_courses(session, account_id)), tuple(purchased_courses(session, account_id, now)),
                         ppu_library(session, account_id, now), tuple(needs_attention(session, account_id, now)))


# ---------------------------------------------------------------- the delivery format


def package_format(session: Session, account_id: int) -> str | None:
    """The SCORM format the account's admins chose last (``scorm12`` / ``scorm2004``), or None."""
    return session.scalar(select(Account.preferred_package_format).where(Account.id == account_id))


def set_package_format(sessions: sessionmaker[Session], account_id: int, fmt: str) -> str:
    """Remember the account's package format. Raises InvalidInput (``invalid_format``) and
    NotFound (``unknown_account``)."""
    if fmt not in PACKAGE_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(PACKAGE_FORMATS)}", reason="invalid_format")
    with sessions.begin() as session:
        account = get_account(session, account_id)
        account.preferred_package_format = fmt
        return fmt


__all__ = ["AttentionItem", "Dashboard", "DayCount", "LibraryCourse", "LotRow", "PlusCourse", "PlusSummary",
           "PpuLibrary", "PurchasedCourse", "RunOut", "SeatUsage", "dashboard", "needs_attention", "package_format",
           "plus_courses", "plus_summary", "ppu_library", "purchased_courses", "seats_used_per_day",
           "set_package_format"]
