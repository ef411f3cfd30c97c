"""Every holding state through every caller, on both databases: the pure rule, the SQL condition,
deep-linking offers and search, packaging, export, the seat engine, the LTI launch, the dispatch
launch, the account overview and ``licenses list --json`` must agree:

deliverable ⇔ offered ⇔ packageable ⇔ a new learner gets a seat (unless every seat is taken or
the deposit is too low, when the engine refuses with ``no_seats`` / ``insufficient_deposit``),
and when not deliverable every caller gives the same reason.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti import claims
from lti_tool.lti.models import LtiLaunch, LtiRegistration
from lti_tool.lti.service import open_course
from lti_tool.lti.testplatform import ROLE_INSTRUCTOR, ROLE_LEARNER
from scorm_packages import service as packages
from scorm_packages.models import DispatchPackage
from scorm_packages.tokens import encrypt_secret, make_launch_token, new_public_key, new_secret
from store.accounts.service import upsert_learner
from store.catalog.models import Course
from store.clock import add_months
from store.errors import StoreError
from store.licenses import holdings, holdings_rules, offers
from store.licenses.models import PlusSubscription, PpuConfig, PpuLibraryEntry, VolumeLot
from store.licenses.rules import LICENSE_TYPES
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories.catalog import make_bundle, make_course
from tests.factories.licenses import claim, learner, make_account

Sessions = sessionmaker[Session]

# The command line reads the real clock, so the states are built around it.
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
ISSUER = "https://lms.example.edu"
LMS = "https://lms.example.edu"

COURSES = {  # catalog id: (title, is Plus)
    "PLUS-1": ("Workplace Safety", True),
    "OTHER-1": ("Forklift Basics", False),
    "TED-1": ("Ideas Worth Spreading", True),
    "OLD-1": ("Ladder Rescue", True),  # retired by the cases that need it
}


@dataclass(frozen=True)
class World:
    sessions: Sessions
    account_id: int
    course_pks: dict[str, int]

    def retire(self, catalog_id: str) -> None:
        with self.sessions.begin() as s:
            s.execute(update(Course).where(Course.catalog_id == catalog_id).values(status="retired"))


Setup = Callable[[World], None]


def plus(seats: int = 10, *, start: datetime = NOW - DAY, term: str = "annual") -> Setup:
    def setup(world: World) -> None:
        grant_plus(world.sessions, world.account_id, seats, term, NOW, start=start)
    return setup


def plus_expired(world: World) -> None:
    start = add_months(NOW, -3)
    grant_plus(world.sessions, world.account_id, 10, "monthly", start, start=start)


def plus_cancelled(world: World) -> None:
    plus()(world)
    with world.sessions.begin() as s:
        s.execute(update(PlusSubscription).values(auto_renew=False, cancelled_at=NOW - timedelta(hours=1)))


def holder(catalog_id: str, license_type: str) -> Setup:
    """A learner who takes a seat before the state is reached (the last seat, when seats are 1)."""
    def setup(world: World) -> None:
        assert claim(world.sessions, world.account_id, license_type, catalog_id, "holder", NOW - timedelta(hours=2)).ok
    return setup


def volume(catalog_id: str = "OTHER-1", seats: int = 10, *, start: datetime = NOW - DAY) -> Setup:
    def setup(world: World) -> None:
        # Recorded when it was bought if that is past (a grant already over is refused when made now).
        grant_volume(world.sessions, world.account_id, catalog_id, seats, min(NOW, start), start=start)
    return setup


def raw_lot(catalog_id: str) -> Setup:
    """A lot the grants refuse to make (say the course joined a subscription-only bundle later)."""
    def setup(world: World) -> None:
        with world.sessions.begin() as s:
            s.add(VolumeLot(account_id=world.account_id, course_pk=world.course_pks[catalog_id], seats_total=10,
                            seats_used=0, purchased_at=NOW - DAY, expires_at=add_months(NOW - DAY, 12)))
    return setup


def ppu(deposit: int = 100_000, *, library: str | None = "OTHER-1") -> Setup:
    def setup(world: World) -> None:
        configure_ppu(world.sessions, world.account_id, "CTR-9", deposit, NOW - DAY)
        if library:
            add_to_ppu_library(world.sessions, world.account_id, library, NOW - DAY)
    return setup


def raw_library(catalog_id: str) -> Setup:
    def setup(world: World) -> None:
        configure_ppu(world.sessions, world.account_id, "CTR-9", 100_000, NOW - DAY)
        with world.sessions.begin() as s:
            s.add(PpuLibraryEntry(account_id=world.account_id, course_pk=world.course_pks[catalog_id],
                                  added_at=NOW - DAY))
    return setup


def ppu_disabled(world: World) -> None:
    ppu()(world)
    with world.sessions.begin() as s:
        s.execute(update(PpuConfig).values(is_enabled=False))


def retire(catalog_id: str) -> Setup:
    return lambda world: world.retire(catalog_id)


@dataclass(frozen=True)
class Case:
    id: str
    license_type: str
    course: str
    steps: tuple[Setup, ...]
    reason: str | None  # the verdict: None = deliverable
    statuses: tuple[str, ...]  # the overview's holdings of this type (for Volume/PPU: of this course)
    new_learner: str | None = None  # a deliverable course's refusal of a new learner
    holder_relaunches: bool = False  # a seat taken before keeps working


CASES = [
    Case("plus active", "plus", "PLUS-1", (plus(),), None, ("active",)),
    Case("plus not started", "plus", "PLUS-1", (plus(start=NOW + 30 * DAY),), "not_started", ("not_started",)),
    Case("plus expired", "plus", "PLUS-1", (plus_expired,), "license_expired", ("expired",)),
    Case("plus exhausted", "plus", "PLUS-1", (plus(1), holder("PLUS-1", "plus")), None, ("exhausted",),
         new_learner="no_seats", holder_relaunches=True),
    Case("plus cancelled in term", "plus", "PLUS-1", (plus_cancelled,), None, ("cancelled",)),
    Case("plus on a non-Plus course", "plus", "OTHER-1", (plus(),), "not_covered", ("active",)),
    Case("plus on a subscription-only bundle course", "plus", "TED-1", (plus(),), None, ("active",)),
    Case("plus on a retired course", "plus", "OLD-1",
         (plus(), holder("OLD-1", "plus"), retire("OLD-1")), "course_retired", ("active",), holder_relaunches=True),
    Case("plus held nothing", "plus", "PLUS-1", (), "no_license", ()),
    Case("volume active", "volume", "OTHER-1", (volume(),), None, ("active",)),
    Case("volume not started", "volume", "OTHER-1", (volume(start=NOW + 30 * DAY),), "not_started",
         ("not_started",)),
    Case("volume expired", "volume", "OTHER-1", (volume(start=add_months(NOW, -13)),), "license_expired",
         ("expired",)),
    Case("volume expired, renewal not started", "volume", "OTHER-1",
         (volume(start=add_months(NOW, -13)), volume(start=NOW + 30 * DAY)), "not_started",
         ("expired", "not_started")),
    Case("volume exhausted", "volume", "OTHER-1", (volume(seats=1), holder("OTHER-1", "volume")), None,
         ("exhausted",), new_learner="no_seats", holder_relaunches=True),
    Case("volume lot of another course", "volume", "OTHER-1", (volume("PLUS-1"),), "no_license", ()),
    Case("volume on a subscription-only bundle course", "volume", "TED-1", (raw_lot("TED-1"),), "bundle_excluded",
         ("bundle_excluded",)),
    Case("volume on a retired course", "volume", "OTHER-1",
         (volume(), holder("OTHER-1", "volume"), retire("OTHER-1")), "course_retired", ("course_retired",),
         holder_relaunches=True),
    Case("volume held nothing", "volume", "OTHER-1", (), "no_license", ()),
    Case("ppu with deposit", "ppu", "OTHER-1", (ppu(),), None, ("active",)),
    Case("ppu without deposit", "ppu", "OTHER-1", (ppu(0),), None, ("insufficient_deposit",),
         new_learner="insufficient_deposit"),
    Case("ppu course not in the library", "ppu", "OTHER-1", (ppu(library="PLUS-1"),), "not_in_library", ()),
    Case("ppu switched off", "ppu", "OTHER-1", (ppu_disabled,), "ppu_not_configured", ("disabled",)),
    Case("ppu on a subscription-only bundle course", "ppu", "TED-1", (raw_library("TED-1"),), "bundle_excluded",
         ("bundle_excluded",)),
    Case("ppu on a retired course", "ppu", "OTHER-1", (ppu(), holder("OTHER-1", "ppu"), retire("OTHER-1")),
         "course_retired", ("course_retired",), holder_relaunches=True),
    Case("ppu held nothing", "ppu", "OTHER-1", (), "ppu_not_configured", ()),
]


@pytest.fixture
def settings() -> Settings:
    return load_settings({"ENV": "test", "SECRET_KEY": "s" * 48, "PUBLIC_BASE_URL": "https://courses.example.com"})


@pytest.fixture
def world(sessions: Sessions) -> World:
    account_id = make_account(sessions, "Acme Learning", now=NOW - 400 * DAY).id
    with sessions.begin() as s:
        ted = make_bundle(s, "TED@Work", subscription_only=True)
        pks = {cid: make_course(s, cid, title=title, is_plus=is_plus, bundle=ted if cid == "TED-1" else None,
                                ppu_price_cents=7_500).id
               for cid, (title, is_plus) in COURSES.items()}
    return World(sessions, account_id, pks)


# ---------------------------------------------------------------- callers


def _package_row(world: World, settings: Settings, catalog_id: str, license_type: str) -> tuple[str, str]:
    """A package made while the license was held (its key and secret)."""
    key, secret = new_public_key(), new_secret()
    with world.sessions.begin() as s:
        s.add(DispatchPackage(public_key=key, account_id=world.account_id, course_pk=world.course_pks[catalog_id],
                              license_type=license_type, format="scorm12",
                              secret_encrypted=encrypt_secret(settings, secret), generation=1,
                              created_at=NOW - 2 * DAY, built_at=NOW - 2 * DAY, revoked_at=None))
    return key, secret


def _dispatch(world: World, settings: Settings, key: str, secret: str, learner_id: str) -> packages.DispatchOutcome:
    token = make_launch_token(package_key=key, generation=1, secret=secret, learner_id=learner_id,
                              learner_name=None, page_origin=LMS, referrer_origin=LMS, now=NOW)
    return packages.dispatch_launch(world.sessions, settings, packages.LaunchRequest(token, LMS), NOW)


def _lti_launch(world: World, catalog_id: str, license_type: str, sub: str, role: str) -> str:
    """A verified launch as ``record_launch`` stores it (the token checks have their own tests)."""
    with world.sessions.begin() as s:
        registration = s.scalars(select(LtiRegistration.id).where(LtiRegistration.account_id == world.account_id)
                                 ).first()
        if registration is None:
            reg = LtiRegistration(account_id=world.account_id, issuer=ISSUER, client_id="tool-1",
                                  auth_login_url=f"{ISSUER}/auth", auth_token_url=f"{ISSUER}/token",
                                  key_set_url=f"{ISSUER}/jwks", extra_origins=[], label="LMS", created_via="cli")
            s.add(reg)
            s.flush()
            registration = reg.id
        body = {"iss": ISSUER, "sub": sub, claims.MESSAGE_TYPE: claims.RESOURCE_LINK_REQUEST, claims.ROLES: [role],
                claims.CUSTOM: {"course_id": catalog_id, "license_type": license_type}}
        learner_pk = upsert_learner(s, world.account_id, learner(sub, f"lti:{ISSUER}"), NOW)
        launch = LtiLaunch(id=secrets.token_urlsafe(32), registration_id=registration, deployment_id="dep-1",
                           account_id=world.account_id, learner_id=learner_pk,
                           message_type=claims.RESOURCE_LINK_REQUEST, claims=body, created_at=NOW,
                           expires_at=NOW + DAY)
        s.add(launch)
        return launch.id


def _cli_json(engine: Engine, sessions: Sessions, *args: str) -> Any:
    ctx = CliContext(_engine=engine)
    ctx.sessions = sessions  # the test's transaction: rolled back afterwards
    ctx.read_sessions = sessions
    result = CliRunner().invoke(cli, list(args), obj=ctx, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# ---------------------------------------------------------------- the table


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_caller_agrees(case: Case, world: World, settings: Settings, engine: Engine) -> None:
    for step in case.steps:
        step(world)
    sessions, account, cid, lt = world.sessions, world.account_id, case.course, case.license_type
    deliverable = case.reason is None

    # The pure rule, on the facts as loaded.
    with sessions() as s:
        course = holdings.course_facts(s, cid)
        assert course is not None
        verdicts = holdings_rules.deliverability(course, holdings.load_holdings(s, account, [course.id]), NOW)
        assert holdings.verdict_of(s, account, course, lt, NOW) == verdicts.verdict(lt)
    verdict = verdicts.verdict(lt)
    assert verdict.reason == case.reason and verdict.deliverable is deliverable
    if case.reason == "not_started":
        assert verdict.starts_at == NOW + 30 * DAY
    if case.reason == "license_expired":
        assert verdict.ended_at is not None and verdict.ended_at <= NOW

    # The SQL condition, and deep linking's offers and search built on it.
    with sessions() as s:
        assert (cid in holdings.deliverable_catalog_ids(s, account, lt, NOW)) is deliverable
        assert (cid in holdings.deliverable_catalog_ids(s, account, None, NOW)) is bool(verdicts.license_types)
        assert offers.offers_for(s, account, [cid], NOW)[cid].license_types == verdicts.license_types
        word = COURSES[cid][0].split()[0].lower()
        for query in ("", word):
            page = offers.search_licensed_courses(s, account, NOW, query, license_type=lt)
            assert (cid in {o.catalog_id for o in page.offers}) is deliverable

    # The overview read model and `licenses list --json`.
    with sessions() as s:
        overview = holdings.account_overview(s, account, NOW)
    rows = [h for h in overview.of_type(lt) if lt == "plus" or h.catalog_id == cid]
    assert tuple(h.status for h in rows) == case.statuses
    if lt != "plus":  # a course-specific holding delivers exactly when its course is deliverable
        assert any(h.delivers for h in rows) is deliverable
    elif case.course == "PLUS-1":
        assert any(h.delivers for h in rows) is deliverable
    listed = _cli_json(engine, sessions, "licenses", "list", "--account", "Acme Learning", "--json")
    assert [(r["license_type"], r["course_id"], r["status"], r["seats"], r["seats_used"]) for r in listed] == [
        (h.license_type, h.catalog_id, h.status, h.seats, h.seats_used) for h in overview.holdings]

    # Packaging and export.
    package: tuple[str, str]
    if deliverable:
        prepared = packages.prepare_package(sessions, settings, account, cid, lt, "scorm12", NOW)
        package = (prepared.view.key, prepared.secret)
    else:
        with pytest.raises(StoreError) as refused:
            packages.prepare_package(sessions, settings, account, cid, lt, "scorm12", NOW)
        assert refused.value.reason == case.reason
        package = _package_row(world, settings, cid, lt)
    try:
        exported = {p.view.catalog_id for p in packages.prepare_export(sessions, settings, account, "scorm12", [lt],
                                                                      NOW)}
    except packages.LicenseNotHeld:
        exported = set()
    assert (cid in exported) is deliverable

    # A new learner: the seat engine, an LTI launch, a dispatch launch.
    expected = case.reason or case.new_learner
    engine_claim = claim(sessions, account, lt, cid, "engine-new", NOW)
    assert engine_claim.reason == expected and engine_claim.ok is (expected is None)
    opening = open_course(sessions, _lti_launch(world, cid, lt, "lti-new", ROLE_LEARNER), NOW, confirmed=False,
                          demo_content=True)
    assert (opening.outcome, opening.reason) == (("seat", None) if expected is None else ("refused", expected))
    admin = open_course(sessions, _lti_launch(world, cid, lt, "lti-admin", ROLE_INSTRUCTOR), NOW, confirmed=False,
                        demo_content=True)
    # An admin is warned before a seat is taken, but never asked to confirm a seat the course cannot give.
    assert (admin.outcome, admin.reason) == (("confirm", None) if deliverable else ("refused", case.reason))
    dispatched = _dispatch(world, settings, *package, "pkg-new")
    assert (dispatched.kind, dispatched.reason) == (("seat", "seat") if expected is None else ("refused", expected))

    if case.holder_relaunches:
        again = claim(sessions, account, lt, cid, "holder", NOW)
        assert again.ok and not again.is_new_seat


# ---------------------------------------------------------------- the SQL condition = the rule


def test_the_sql_condition_and_the_pure_rule_agree_on_many_accounts(sessions: Sessions) -> None:
    """Seeded random holdings, with terms that start or end exactly now: for every account,
    course and license type, the SQL condition lists the course exactly when the rule says
    deliverable."""
    rng = random.Random(20261203)
    starts = [NOW, NOW - DAY, NOW + DAY, add_months(NOW, -12), add_months(NOW, -1), add_months(NOW, -13),
              NOW - timedelta(seconds=1), NOW + timedelta(seconds=1)]
    with sessions.begin() as s:
        ted = make_bundle(s, "TED@Work", subscription_only=True)
        kinds = [(True, None, "active"), (False, None, "active"), (True, ted, "active"), (True, None, "retired"),
                 (False, None, "retired"), (False, None, "retiring")]
        pks = [make_course(s, f"K-{n}", is_plus=plus_, bundle=bundle, status=status).id
               for n, (plus_, bundle, status) in enumerate(kinds)]
    accounts = []
    for n in range(12):
        account_id = make_account(sessions, f"Org {n}", now=NOW - 400 * DAY).id
        accounts.append(account_id)
        with sessions.begin() as s:
            for _ in range(rng.randint(0, 2)):
                start, months = rng.choice(starts), rng.choice([1, 12])
                s.add(PlusSubscription(account_id=account_id, term="monthly" if months == 1 else "annual",
                                       seats_total=5, seats_used=rng.randint(0, 5), started_at=start,
                                       current_period_end=add_months(start, months), auto_renew=rng.random() < .5))
            for _ in range(rng.randint(0, 4)):
                start = rng.choice(starts)
                s.add(VolumeLot(account_id=account_id, course_pk=rng.choice(pks), seats_total=3,
                                seats_used=rng.randint(0, 3), purchased_at=start, expires_at=add_months(start, 12)))
            if rng.random() < .7:
                s.add(PpuConfig(account_id=account_id, contract_ref="C", is_enabled=rng.random() < .7,
                                balance_cents=rng.choice([0, 100_000])))
                for pk in rng.sample(pks, rng.randint(0, len(pks))):
                    s.add(PpuLibraryEntry(account_id=account_id, course_pk=pk, added_at=NOW - DAY))
    checked = delivered = 0
    with sessions() as s:
        for account_id in accounts:
            by_sql = {lt: set(holdings.deliverable_catalog_ids(s, account_id, lt, NOW)) for lt in LICENSE_TYPES}
            for n in range(len(kinds)):
                facts = holdings.course_facts(s, f"K-{n}")
                assert facts is not None
                found = holdings.deliverability_of(s, account_id, facts, NOW)
                for lt in LICENSE_TYPES:
                    assert (f"K-{n}" in by_sql[lt]) is found.verdict(lt).deliverable, (account_id, n, lt)
                    checked += 1
                    delivered += found.verdict(lt).deliverable
    assert checked == 12 * len(kinds) * 3 and 0 < delivered < checked
