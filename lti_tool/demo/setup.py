"""The demo LMS's registration with the tool, and what the demo page shows (demo courses under
each license, the demo account's seats). Development only: nothing here runs in production.

``ensure_demo_registration`` is idempotent and race-safe: one ``INSERT … ON CONFLICT DO
NOTHING`` on the registration's unique key (issuer, client id) and one on the deployment's, so
two processes opening ``/demo`` at once end with one registration and one deployment. A demo
registration whose account or URLs changed (the demo account was seeded again) is updated in
the same transaction. The platform's private key is not stored at all: it is derived from
``SECRET_KEY`` (lti_tool/demo/keys.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.demo.platform import DemoPlatformError
from lti_tool.lti.models import LtiDeployment, LtiRegistration
from lti_tool.lti.testplatform import TestPlatform
from lti_tool.lti.tool_conf import RegistrationView
from store.accounts.models import Account
from store.catalog.models import Bundle, Course
from store.database import upsert_insert
from store.demo import DEMO_ACCOUNT
from store.money import format_money
from store.licenses import queries as license_queries
from store.licenses.models import PpuLibraryEntry, VolumeLot

DEMO_LABEL = "Demo LMS (development)"
COURSES_PER_LICENSE = 5


@dataclass(frozen=True)
class DemoAccount:
    id: int
    name: str


def find_demo_account(sessions: sessionmaker[Session]) -> DemoAccount | None:
    """The account ``lti-tool demo seed`` creates ("Demo Organization"), if it exists."""
    with sessions() as session:
        row = session.execute(
            select(Account.id, Account.name).where(Account.name == DEMO_ACCOUNT, Account.kind == "organization")
        ).first()
    return DemoAccount(row[0], row[1]) if row else None


@dataclass(frozen=True)
class DemoRegistration:
    registration: RegistrationView
    created: bool  # this call inserted the registration (the frame-ancestors list must be reread)


def ensure_demo_registration(sessions: sessionmaker[Session], account_id: int, platform: TestPlatform,
                             now: datetime) -> DemoRegistration:
    """The registration (created_via 'demo') and active deployment of ``platform`` for the
    demo account, created when missing. Raises ``DemoPlatformError`` when the issuer and client
    id are taken by a registration that is not the demo's."""
    urls = {"auth_login_url": platform.auth_login_url, "auth_token_url": platform.auth_token_url,
            "key_set_url": platform.key_set_url}
    with sessions.begin() as session:
        insert = upsert_insert(session)
        created = session.execute(
            insert(LtiRegistration)
            .values(account_id=account_id, issuer=platform.issuer, client_id=platform.client_id, extra_origins=[],
                    label=DEMO_LABEL, created_via="demo", created_at=now, **urls)
            .on_conflict_do_nothing(index_elements=["issuer", "client_id"])
        ).rowcount == 1
        row = session.scalars(
            select(LtiRegistration).where(LtiRegistration.issuer == platform.issuer,
                                          LtiRegistration.client_id == platform.client_id)
        ).one()
        if row.created_via != "demo":
            raise DemoPlatformError(
                f"the issuer {platform.issuer} and client id {platform.client_id} are registered already, not by "
                f"the demo LMS (registration {row.id}): remove it with `lti-tool platform remove` to use the demo")
        stale = row.account_id != account_id or any(getattr(row, name) != value for name, value in urls.items())
        if stale:
            session.execute(update(LtiRegistration).where(LtiRegistration.id == row.id)
                            .values(account_id=account_id, **urls))
            session.refresh(row)
        session.execute(
            insert(LtiDeployment)
            .values(registration_id=row.id, deployment_id=platform.deployment_id, status="active", created_at=now)
            .on_conflict_do_nothing(index_elements=["registration_id", "deployment_id"])
        )
        session.execute(update(LtiDeployment)
                        .where(LtiDeployment.registration_id == row.id,
                               LtiDeployment.deployment_id == platform.deployment_id,
                               LtiDeployment.status != "active")
                        .values(status="active"))
        return DemoRegistration(RegistrationView.of(row), created or stale)


def find_demo_registration(sessions: sessionmaker[Session], issuer: str, client_id: str) -> RegistrationView | None:
    with sessions() as session:
        row = session.scalars(
            select(LtiRegistration).where(LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id,
                                          LtiRegistration.created_via == "demo")
        ).first()
        return RegistrationView.of(row) if row else None


# ---------------------------------------------------------------- what the page offers


@dataclass(frozen=True)
class DemoCourse:
    catalog_id: str
    title: str
    license_type: str
    note: str  # what to expect, e.g. "2 of 30 seats left" or "not covered: shows a refusal"
    is_covered: bool


def demo_courses(sessions: sessionmaker[Session], account_id: int, now: datetime,
                 currency: str = "USD") -> list[DemoCourse]:
    """A short list per license type: courses the account's licenses cover, then one that is not
    covered (its launch shows the refusal page)."""
    out: list[DemoCourse] = []
    sellable = (
        select(Course.catalog_id, Course.title)
        .outerjoin(Bundle, Bundle.id == Course.bundle_id)
        .where(Course.status == "active")
        .order_by(Course.catalog_id)
    )
    with sessions() as session:
        for catalog_id, title in session.execute(sellable.where(Course.is_plus.is_(True)).limit(COURSES_PER_LICENSE)):
            out.append(DemoCourse(catalog_id, title, "plus", "in the Plus catalog", True))
        not_plus = session.execute(sellable.where(Course.is_plus.is_(False)).limit(1)).first()
        if not_plus:
            out.append(DemoCourse(not_plus[0], not_plus[1], "plus", "not in the Plus catalog: refused", False))

        lots = session.execute(
            select(Course.catalog_id, Course.title,
                   func.sum(VolumeLot.seats_total - VolumeLot.seats_used).filter(VolumeLot.expires_at > now,
                                                                                  VolumeLot.purchased_at <= now))
            .join(VolumeLot, VolumeLot.course_pk == Course.id)
            .where(VolumeLot.account_id == account_id)
            .group_by(Course.catalog_id, Course.title).order_by(Course.catalog_id).limit(COURSES_PER_LICENSE)
        ).all()
        for catalog_id, title, left in lots:
            left = int(left or 0)
            note = f"{left} seat{'s' if left != 1 else ''} left for new learners" if left else \
                "no seat left for new learners: refused"
            out.append(DemoCourse(catalog_id, title, "volume", note, True))
        no_lot = session.execute(
            sellable.where(Course.is_plus.is_(False),
                           ~Course.id.in_(select(VolumeLot.course_pk).where(VolumeLot.account_id == account_id)))
            .limit(1)
        ).first()
        if no_lot:
            out.append(DemoCourse(no_lot[0], no_lot[1], "volume", "no Volume license: refused", False))

        config = license_queries.find_ppu_config(session, account_id)
        if config is not None:
            library = session.execute(
                select(Course.catalog_id, Course.title, Course.ppu_price_cents)
                .join(PpuLibraryEntry, PpuLibraryEntry.course_pk == Course.id)
                .where(PpuLibraryEntry.account_id == account_id).order_by(Course.catalog_id)
                .limit(COURSES_PER_LICENSE)
            ).all()
            for catalog_id, title, price in library:
                out.append(DemoCourse(catalog_id, title, "ppu",
                                      f"a new learner's seat costs {format_money(price, currency)} from the deposit",
                                      True))
            outside = session.execute(
                sellable.where(~Course.id.in_(select(PpuLibraryEntry.course_pk)
                                              .where(PpuLibraryEntry.account_id == account_id)),
                               Course.is_plus.is_(False))
                .limit(1)
            ).first()
            if outside:
                out.append(DemoCourse(outside[0], outside[1], "ppu", "not in the PPU library: refused", False))
    return out


@dataclass(frozen=True)
class DemoSeat:
    id: int
    learner: str
    license_type: str
    catalog_id: str | None
    attempt: int
    occupied_at: datetime
    is_valid: bool
    via_demo_lms: bool


@dataclass(frozen=True)
class DemoSeats:
    total: int
    valid: int
    recent: tuple[DemoSeat, ...]


def demo_seats(sessions: sessionmaker[Session], account_id: int, issuer: str | None, now: datetime,
               limit: int = 12) -> DemoSeats:
    """The demo account's seats, newest first (reads only)."""
    source = f"lti:{issuer}" if issuer else None
    with sessions() as session:
        rows = license_queries.list_seats(session, account_id, now)
    recent = tuple(
        DemoSeat(r.id, r.learner_name or r.learner_external_id, r.license_type, r.catalog_id, r.attempt, r.occupied_at,
                 r.is_valid, r.learner_source == source)
        for r in rows[:limit]
    )
    return DemoSeats(len(rows), sum(1 for r in rows if r.is_valid), recent)
