"""What the store pages show, read from the catalog and from what the account holds
(``store.licenses.holdings``, the one owner of that question), and the Pay Per Use library
additions. Read functions take a sessionmaker and only read; each page costs a fixed, small
number of statements whatever it lists (holdings are loaded once per page, never per row).
The buttons follow ``lti_tool.storefront.rules``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.storefront import rules
from store.accounts.models import Account, Learner
from store.catalog import queries as catalog
from store.catalog.models import Course
from store.catalog.queries import CourseSummary, SearchPage
from store.licenses import holdings
from store.licenses import holdings_rules as hr
from store.licenses import queries as license_queries
from store.licenses import rules as license_rules
from store.licenses.labels import license_label
from store.licenses.service import MAX_LIBRARY_ADDS, add_courses_to_ppu_library
from store.orders import offers
from store.orders.queries import last_billing
from store.pricing import TierRow, volume_tier_table

PER_PAGE = 20
MAX_QUERY_CHARS = 200


# ---------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class CatalogQuery:
    q: str = ""
    plus_only: bool = False
    publisher: str = ""
    language: str = ""
    duration: str = ""  # a key of rules.DURATIONS_BY_KEY, "" for any
    page: int = 1


@dataclass(frozen=True)
class Badge:
    label: str
    kind: str  # held | library | upcoming | expired


@dataclass(frozen=True)
class CatalogRow:
    course: CourseSummary
    badges: tuple[Badge, ...]
    addable: bool  # may be ticked for Add to Library


@dataclass(frozen=True)
class CatalogPage:
    query: CatalogQuery
    result: SearchPage
    rows: tuple[CatalogRow, ...]
    ppu_enabled: bool

    @property
    def any_addable(self) -> bool:
        return any(row.addable for row in self.rows)


@dataclass(frozen=True)
class CatalogFilters:
    publishers: tuple[str, ...]
    languages: tuple[str, ...]


def catalog_filters(read_sessions: sessionmaker[Session]) -> CatalogFilters:
    """The Publisher and Language choices: the small publishers table and a few index seeks
    (``store.catalog.queries``), never a scan of the catalog."""
    with read_sessions() as session:
        return CatalogFilters(tuple(catalog.publisher_names(session)), tuple(catalog.catalog_languages(session)))


def _badges(verdicts: hr.Deliverability) -> tuple[Badge, ...]:
    out = []
    for verdict in verdicts.verdicts:
        if verdict.deliverable:
            out.append(Badge("In PPU library", "library") if verdict.license_type == "ppu"
                       else Badge(f"{license_label(verdict.license_type)} licensed", "held"))
        elif verdict.license_type == "volume" and verdict.reason == "not_started" and verdict.starts_at:
            out.append(Badge(f"Volume from {verdict.starts_at:%Y-%m-%d}", "upcoming"))
        elif verdict.license_type == "volume" and verdict.reason == "license_expired":
            out.append(Badge("Volume expired", "expired"))
    return tuple(out)


def catalog_page(read_sessions: sessionmaker[Session], account_id: int, query: CatalogQuery,
                 now: datetime) -> CatalogPage:
    """One page of the catalog search with each course's badge (what the account holds for it)
    and, for Pay Per Use accounts, whether it may be added to the library. Raises InvalidInput
    for a bad page or duration (the view checks its input first)."""
    duration = rules.DURATIONS_BY_KEY.get(query.duration)
    with read_sessions() as session:
        result = catalog.search_courses(
            session, query.q, plus_only=query.plus_only, publisher=query.publisher or None,
            language=query.language or None, min_duration=duration.min_minutes if duration else None,
            max_duration=duration.max_minutes if duration else None, page=query.page, per_page=PER_PAGE)
        facts = license_queries.course_facts_by_catalog_id(session, (c.catalog_id for c in result.courses))
        held = holdings.load_holdings(session, account_id, (f.id for f in facts.values()))
    ppu = held.ppu
    ppu_enabled = ppu is not None and ppu.is_enabled
    rows = []
    for course in result.courses:
        found = facts.get(course.catalog_id)
        if found is None:  # removed between the two reads
            continue
        addable = (ppu is not None and ppu_enabled and found.status != "retired"
                   and not found.is_subscription_only_bundle and found.id not in ppu.library)
        rows.append(CatalogRow(course, _badges(hr.deliverability(found, held, now)), addable))
    return CatalogPage(query, result, tuple(rows), ppu_enabled)


# ---------------------------------------------------------------- a course


@dataclass(frozen=True)
class CoursePage:
    course: CourseSummary
    description: str
    topics: tuple[str, ...]
    replacement_title: str | None
    offer: rules.CourseOffer
    verdicts: hr.Deliverability
    tiers: tuple[TierRow, ...]


def course_page(read_sessions: sessionmaker[Session], settings: Settings, account_id: int, catalog_id: str,
                now: datetime) -> CoursePage:
    """The course (any status) with what the account may do with it: what it delivers (the
    holdings), and what it may buy by the orders domain's rules (``plus_offer``,
    ``volume_offer``). Raises NotFound (``course_not_found``) for an unknown catalog id."""
    with read_sessions() as session:
        course = catalog.get_course(session, catalog_id)
        summary = catalog.summarize_course(course)
        facts = license_queries.course_facts_by_catalog_id(session, [course.catalog_id])[course.catalog_id]
        held = holdings.load_holdings(session, account_id, [course.id])
        refusals = {rules.PLUS: offers.plus_offer(session, settings, account_id, now).problem,
                    rules.VOLUME: offers.volume_offer(session, settings, account_id, course.catalog_id, now).problem}
        description = course.description
        topics = tuple(str(t) for t in course.topics or () if isinstance(t, str))
        replacement_title = course.replacement.title if course.replacement is not None else None
    verdicts = hr.deliverability(facts, held, now)
    ppu = held.ppu
    offer = rules.course_offer(
        rules.CourseFacts(summary.is_plus, summary.status, summary.is_subscription_only),
        verdicts.license_types, refusals,
        ppu_enabled=ppu is not None and ppu.is_enabled, in_library=ppu is not None and facts.id in ppu.library)
    return CoursePage(summary, description, topics, replacement_title, offer, verdicts,
                      tuple(volume_tier_table(summary.volume_price_cents)))


# ---------------------------------------------------------------- the Plus subscription


@dataclass(frozen=True)
class PlusPage:
    subscription: license_rules.Subscription | None  # the one in its term (shown as "Your subscription")
    offer: offers.PlusOffer  # what the account may buy (the orders domain's rules and prices)

    @property
    def may_buy(self) -> bool:
        return self.offer.can_buy


def plus_page(read_sessions: sessionmaker[Session], settings: Settings, account_id: int, now: datetime) -> PlusPage:
    with read_sessions() as session:
        subscription = license_rules.active_subscription(license_queries.subscriptions_of(session, account_id), now)
        offer = offers.plus_offer(session, settings, account_id, now)
    return PlusPage(subscription, offer)


# ---------------------------------------------------------------- the Pay Per Use library


@dataclass(frozen=True)
class LibraryRow:
    catalog_id: str
    title: str
    price_cents: int
    status: str
    status_label: str
    seats: int  # seats bought from the deposit for this course
    spent_cents: int


@dataclass(frozen=True)
class LibraryPage:
    ppu: holdings.PpuOverview | None  # None: Pay Per Use is not set up for the account
    rows: tuple[LibraryRow, ...]
    low_balance: rules.LowBalance | None

    @property
    def seats(self) -> int:
        return sum(row.seats for row in self.rows)

    @property
    def spent_cents(self) -> int:
        return sum(row.spent_cents for row in self.rows)


def library_page(read_sessions: sessionmaker[Session], account_id: int, now: datetime) -> LibraryPage:
    """The deposit, the library's courses with the seats bought from the deposit for each, and
    the low-balance notice. Raises NotFound (``unknown_account``)."""
    with read_sessions() as session:
        overview = holdings.account_overview(session, account_id, now)
        totals = license_queries.ppu_seat_totals(session, account_id) if overview.ppu is not None else {}
    rows = []
    for item in overview.ppu_library:
        assert item.catalog_id is not None and item.price_cents is not None
        total = totals.get(item.catalog_id, license_queries.PpuSeatTotal(0, 0))
        rows.append(LibraryRow(item.catalog_id, item.title, item.price_cents, item.status, item.status_label,
                               total.seats, total.cents))
    low = None
    if overview.ppu is not None:
        low = rules.library_low_balance(overview.ppu.is_enabled, overview.ppu.balance_cents,
                                        ((row.title, row.price_cents, row.status) for row in rows))
    return LibraryPage(overview.ppu, tuple(rows), low)


def add_to_library(sessions: sessionmaker[Session], account_id: int, catalog_ids: list[str],
                   now: datetime) -> list[str]:
    """Add courses to the account's PPU library (one transaction; all or nothing): the ones
    that were not there yet."""
    return add_courses_to_ppu_library(sessions, account_id, catalog_ids, now)


def billing_defaults(session: Session, account_id: int, learner_id: int) -> dict[str, str]:
    """The checkout form filled in: the billing details of the account's last paid purchase,
    else the buyer's name and email (from the LMS, or the sign-up) and the organization's name."""
    billing = last_billing(session, account_id)
    if billing is not None:
        return {"name": billing.name, "email": billing.email, "company": billing.company,
                "address": billing.address, "country": billing.country}
    learner = session.get(Learner, learner_id)
    account = session.get(Account, account_id)
    company = account.name if account is not None and account.kind != "individual" else ""
    return {"name": (learner.name or "") if learner else "", "email": (learner.email or "") if learner else "",
            "company": company}


def course_titles(read_sessions: sessionmaker[Session], catalog_ids: list[str]) -> dict[str, str]:
    """Titles by catalog id (for messages), in one query."""
    with read_sessions() as session:
        return {str(cid): str(title) for cid, title in session.execute(
            select(Course.catalog_id, Course.title).where(Course.catalog_id.in_(catalog_ids)))}


__all__ = ["MAX_LIBRARY_ADDS", "Badge", "CatalogFilters", "CatalogPage", "CatalogQuery", "CatalogRow", "CoursePage",
           "LibraryPage", "LibraryRow", "PlusPage", "add_to_library", "billing_defaults", "catalog_filters", "catalog_page",
           "course_page",
           "course_titles", "library_page", "plus_page"]
