"""Demo data: a synthetic catalog plus a demo organization holding every license type, so every
rule can be tried at once (``lti-tool demo seed``). With a content store, two demo courses also
get small generated SCORM packages (one 1.2, one 2004), imported like a publisher's zip, so the
player's SCORM path runs end to end."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.models import Account
from store.accounts.service import LearnerIdentity, create_account
from store.catalog.models import Bundle, Course
from store.clock import add_months
from store.content.service import ContentStore
from store.licenses import service as licenses

DEMO_ACCOUNT = "Demo Organization"
DEMO_INDIVIDUAL = "Jordan Rivera (individual)"
DEMO_PPU_CONTRACT = "DEMO-PPU-2026"
DEMO_LEARNER_SOURCE = "demo"


@dataclass
class DemoReport:
    catalog: object | None = None
    account_id: int | None = None
    created_account: bool = False
    lines: list[str] = field(default_factory=list)


def is_empty(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        accounts = session.scalar(select(func.count()).select_from(Account)) or 0
        courses = session.scalar(select(func.count()).select_from(Course)) or 0
    return accounts == 0 and courses == 0


def _pick_courses(session: Session) -> tuple[list[str], list[str]]:
    """Plus courses and Volume-able (non-Plus, not subscription-only) active courses."""
    sellable = (
        select(Course.catalog_id)
        .outerjoin(Bundle, Bundle.id == Course.bundle_id)
        .where(Course.status == "active", func.coalesce(Bundle.is_subscription_only, False).is_(False))
        .order_by(Course.catalog_id)
    )
    plus = list(session.scalars(sellable.where(Course.is_plus.is_(True)).limit(6)))
    other = list(session.scalars(sellable.where(Course.is_plus.is_(False)).limit(6)))
    return plus, other


def seed_demo_content(sessions: sessionmaker[Session], content: ContentStore, now: datetime,
                      scorm12_course: str, scorm2004_course: str) -> list[str]:
    """Generated SCORM packages imported as the content of two courses (idempotent: the same
    package again changes nothing)."""
    from store.content.scorm_fixture import build_package
    from store.content.service import import_content

    lines = []
    with sessions() as session:
        titles = dict(session.execute(select(Course.catalog_id, Course.title)
                                      .where(Course.catalog_id.in_([scorm12_course, scorm2004_course]))).all())
    with tempfile.TemporaryDirectory(prefix="demo-scorm-") as folder:
        for version, catalog_id in (("scorm12", scorm12_course), ("scorm2004", scorm2004_course)):
            path = Path(folder) / f"{catalog_id}-{version}.zip"
            path.write_bytes(build_package(version, title=titles.get(catalog_id, catalog_id),
                                           identifier=f"DEMO-{catalog_id}-{version}".replace(" ", "-")))
            result = import_content(sessions, content, catalog_id, path, now, original_filename=path.name)
            state = f"imported as version {result.version}" if result.is_new_version else "already imported"
            lines.append(f"SCORM content: {catalog_id} plays a generated {version} package ({state})")
    return lines


SEEDED_LEARNERS = ("ada-lovelace", "alan-turing", "grace-hopper", "edsger-dijkstra", "barbara-liskov")


def seed_demo(sessions: sessionmaker[Session], now: datetime, courses: int = 300, seed: int = 7,
              content: ContentStore | None = None, learner_source: str = DEMO_LEARNER_SOURCE,
              learner_prefix: str = "") -> DemoReport:
    """Import the demo catalog (delta: never retires real courses) and set up the demo accounts;
    with ``content``, give two demo courses generated SCORM packages. The seeded seat holders
    (``SEEDED_LEARNERS``) get the identity ``learner_source`` / ``learner_prefix + key``: the
    command line passes the demo LMS's, so the demo LMS launches them as the same learners."""
    from store.catalog.demo import import_demo_catalog

    report = DemoReport()
    report.catalog = import_demo_catalog(sessions, courses, seed, now)
    with sessions() as session:
        existing = session.scalars(select(Account).where(Account.name == DEMO_ACCOUNT)).first()
        plus_courses, other_courses = _pick_courses(session)
    if content is not None and plus_courses and other_courses:
        # A Plus course the demo learners launch plays SCORM 1.2; the Volume course, SCORM 2004.
        report.lines += seed_demo_content(sessions, content, now, plus_courses[0], other_courses[0])
    if existing is not None:
        report.account_id = existing.id
        report.lines.append(f"demo account {existing.id} already exists: licenses left as they are")
        return report
    if len(plus_courses) < 3 or len(other_courses) < 3:
        raise RuntimeError("the demo catalog is too small: use at least --courses 40")

    account = create_account(sessions, DEMO_ACCOUNT, now)
    report.account_id, report.created_account = account.id, True
    sub = licenses.grant_plus(sessions, account.id, 25, "annual", now, start=add_months(now, -3))
    report.lines.append(f"Plus: annual subscription, {sub.seats_total} seats, renews {sub.current_period_end:%Y-%m-%d}")
    # Recorded 14 months ago: already expired (a grant that would be over at once is refused now).
    expired = licenses.grant_volume(sessions, account.id, other_courses[0], 20, add_months(now, -14))
    current = licenses.grant_volume(sessions, account.id, other_courses[0], 30, now, start=add_months(now, -2))
    small = licenses.grant_volume(sessions, account.id, other_courses[1], 2, now, start=add_months(now, -1))
    report.lines.append(f"Volume: {other_courses[0]} lots {expired.id} (expired {expired.expires_at:%Y-%m-%d}) "
                        f"and {current.id} ({current.seats_total} seats); {other_courses[1]} lot {small.id} "
                        f"({small.seats_total} seats, fills up)")
    ppu = licenses.configure_ppu(sessions, account.id, DEMO_PPU_CONTRACT, 50_000, now)
    for catalog_id in other_courses[2:5]:
        licenses.add_to_ppu_library(sessions, account.id, catalog_id, now)
    report.lines.append(f"Pay Per Use: contract {ppu.contract_ref}, deposit {ppu.balance_cents} cents, "
                        f"library {', '.join(other_courses[2:5])}")

    # A little history, through the engine, so seats, launches and refusals show up.
    def launch(license_type: str, catalog_id: str, who: str, when: datetime) -> None:
        identity = LearnerIdentity(learner_source, learner_prefix + who, name=who.replace("-", " ").title(),
                                   email=f"{who}@demo.example")
        licenses.claim_seat(sessions, licenses.ClaimRequest(account.id, license_type, catalog_id, identity), when)

    learners = list(SEEDED_LEARNERS)
    for i, who in enumerate(learners):
        launch("plus", plus_courses[i % len(plus_courses)], who, now - timedelta(days=30 - i))
    for who in learners[:3]:
        launch("volume", other_courses[0], who, now - timedelta(days=10))
        launch("volume", other_courses[1], who, now - timedelta(days=5))  # the third is refused: no seats
    launch("ppu", other_courses[2], learners[3], now - timedelta(days=3))
    report.lines.append(f"History: {len(learners)} demo learners with Plus, Volume and PPU seats; one refused launch")

    individual = create_account(sessions, DEMO_INDIVIDUAL, now, kind="individual")
    licenses.grant_volume(sessions, individual.id, other_courses[3], 1, now)
    report.lines.append(f"Individual account {individual.id} with one Volume seat for {other_courses[3]}")
    return report
