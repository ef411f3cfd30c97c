"""Dispatch package use cases on a real database: a package only for a held license, key reuse,
revocation, allowed domains, export, and the dispatch launch through the seat engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from scorm_packages import service
from scorm_packages.models import DispatchLaunch, DispatchLaunchToken, DispatchPackage
from scorm_packages.tokens import make_launch_token
from store.accounts.models import Learner
from store.content import MASTERY_SCORE
from store.errors import InvalidInput, NotFound
from store.licenses import queries as license_queries
from store.licenses import service as licenses
from store.licenses.models import PpuLibraryEntry, Seat, VolumeLot
from tests.factories.catalog import make_bundle, make_course
from tests.factories.content import content_store, import_generated
from tests.factories.licenses import T0, make_account

Sessions = sessionmaker[Session]
NOW = T0 + timedelta(days=10)


@pytest.fixture
def settings() -> Settings:
    return load_settings({"ENV": "test", "SECRET_KEY": "s" * 48, "PUBLIC_BASE_URL": "https://courses.example.com"})


@pytest.fixture
def acme(sessions: Sessions) -> int:
    account_id = make_account(sessions, "Acme Learning").id
    with sessions.begin() as s:
        make_course(s, "PLUS-1", title="Workplace Safety", is_plus=True)
        make_course(s, "PLUS-2", title="Fire Safety", is_plus=True)
        make_course(s, "VOL-1", title="Forklift Basics", is_plus=False)
        make_course(s, "VOL-OLD", title="Old Course", is_plus=False)
        make_course(s, "PPU-1", title="Ladder Safety", is_plus=False)
        make_course(s, "TED-1", title="Ideas Worth Spreading", is_plus=True, bundle=make_bundle(s, "TED@Work"))
        make_course(s, "GONE-1", title="Retired", is_plus=True, status="retired")
    licenses.grant_plus(sessions, account_id, 5, "annual", T0)
    licenses.grant_volume(sessions, account_id, "VOL-1", 2, T0)
    licenses.grant_volume(sessions, account_id, "VOL-OLD", 2, T0 - timedelta(days=400))  # expired
    licenses.configure_ppu(sessions, account_id, "C-1", 100_000, T0)
    licenses.add_to_ppu_library(sessions, account_id, "PPU-1", T0)
    return account_id


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- licenses held


@pytest.mark.parametrize("course, license_type", [("PLUS-1", "plus"), ("TED-1", "plus"), ("VOL-1", "volume"),
                                                  ("PPU-1", "ppu")])
def test_a_package_for_each_held_license(sessions: Sessions, settings: Settings, acme: int, course: str,
                                         license_type: str) -> None:
    prepared, built = service.build_package_zip(sessions, settings, acme, course, license_type, "scorm12", NOW)
    assert prepared.view.catalog_id == course and prepared.view.license_type == license_type
    assert prepared.was_created and prepared.view.generation == 1
    assert built.filename.endswith(f"__{license_type}__scorm12.zip")


@pytest.mark.parametrize("course, license_type, error, words", [
    ("VOL-1", "plus", service.LicenseNotHeld, "not in the Plus catalog"),
    ("PLUS-1", "volume", service.LicenseNotHeld, "bought no Volume seats"),
    ("VOL-OLD", "volume", service.LicenseNotHeld, "expired on"),
    ("VOL-1", "ppu", service.LicenseNotHeld, "not in account 'Acme Learning''s Pay Per Use library"),
    ("TED-1", "volume", service.BundleExcluded, "subscription-only bundle 'TED@Work'"),
    ("TED-1", "ppu", service.BundleExcluded, "never as Pay Per Use"),
    ("GONE-1", "plus", service.CourseRetired, "retired"),
    ("NOPE", "plus", NotFound, "unknown course"),
])
def test_no_package_without_the_license(sessions: Sessions, settings: Settings, acme: int, course: str,
                                        license_type: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        service.build_package_zip(sessions, settings, acme, course, license_type, "scorm2004", NOW)
    assert count(sessions, DispatchPackage) == 0


def test_bundle_courses_stay_excluded_even_with_a_lot_or_library_entry(sessions: Sessions, settings: Settings,
                                                                       acme: int) -> None:
    """Rows the store would never create (its grants refuse bundles) still give no package."""
    with sessions.begin() as s:
        ted = license_queries.get_course_facts(s, "TED-1")[0]
        s.add(VolumeLot(account_id=acme, course_pk=ted.id, seats_total=3, seats_used=0, purchased_at=T0,
                        expires_at=T0 + timedelta(days=365), created_at=T0))
        s.add(PpuLibraryEntry(account_id=acme, course_pk=ted.id, added_at=T0))
    for license_type in ("volume", "ppu"):
        with pytest.raises(service.BundleExcluded):
            service.prepare_package(sessions, settings, acme, "TED-1", license_type, "scorm12", NOW)


def test_plus_needs_an_active_subscription_and_ppu_a_configuration(sessions: Sessions, settings: Settings) -> None:
    other = make_account(sessions, "Bare Org").id
    with sessions.begin() as s:
        make_course(s, "P-9", is_plus=True)
    with pytest.raises(service.LicenseNotHeld, match="no active Plus subscription"):
        service.prepare_package(sessions, settings, other, "P-9", "plus", "scorm12", NOW)
    with pytest.raises(service.LicenseNotHeld, match="not configured for Pay Per Use"):
        service.prepare_package(sessions, settings, other, "P-9", "ppu", "scorm12", NOW)
    licenses.grant_plus(sessions, other, 1, "monthly", T0)
    with pytest.raises(service.LicenseNotHeld, match="has expired"):
        service.prepare_package(sessions, settings, other, "P-9", "plus", "scorm12", T0 + timedelta(days=40))


@pytest.mark.parametrize("license_type, fmt", [("gold", "scorm12"), ("plus", "scorm3")])
def test_bad_kinds_are_refused(sessions: Sessions, settings: Settings, acme: int, license_type: str, fmt: str) -> None:
    with pytest.raises(InvalidInput):
        service.prepare_package(sessions, settings, acme, "PLUS-1", license_type, fmt, NOW)


# ---------------------------------------------------------------- keys: reuse, revoke


def test_building_again_reuses_the_key(sessions: Sessions, settings: Settings, acme: int) -> None:
    first, zip1 = service.build_package_zip(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    again, zip2 = service.build_package_zip(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW + timedelta(1))
    assert again.view.key == first.view.key and not again.was_created and again.view.generation == 1
    assert zip2.data == zip1.data  # same key, secret and generation: the same file
    other_format, _ = service.build_package_zip(sessions, settings, acme, "PLUS-1", "plus", "scorm2004", NOW)
    other_type, _ = service.build_package_zip(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW,
                                              base_url="https://other.example.com")
    assert other_format.view.key != first.view.key and other_type.view.key == first.view.key
    assert count(sessions, DispatchPackage) == 2
    assert [v.key for v in service.list_packages(sessions, acme)] == [first.view.key, other_format.view.key]


def test_revoke_then_rebuild_keeps_the_key_with_a_new_generation(sessions: Sessions, settings: Settings,
                                                                 acme: int) -> None:
    first = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW)
    view, changed = service.revoke_package(sessions, first.view.key, NOW)
    assert changed and view.is_revoked and view.revoked_at == NOW
    assert service.revoke_package(sessions, first.view.key, NOW + timedelta(1))[1] is False
    rebuilt = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW + timedelta(2))
    assert rebuilt.view.key == first.view.key and rebuilt.was_reactivated
    assert rebuilt.view.generation == 2 and not rebuilt.view.is_revoked and rebuilt.secret != first.secret
    with pytest.raises(service.PackageNotFound):
        service.revoke_package(sessions, "dpk_nope", NOW)


def test_an_unreadable_secret_is_replaced_at_the_next_build(sessions: Sessions, settings: Settings, acme: int) -> None:
    first = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    rotated = settings.with_overrides(secret_key="r" * 48)
    again = service.prepare_package(sessions, rotated, acme, "PLUS-1", "plus", "scorm12", NOW)
    assert again.view.key == first.view.key and again.view.generation == 2 and again.was_reactivated


def test_several_chosen_courses_in_one_transaction(sessions: Sessions, settings: Settings, acme: int) -> None:
    """``prepare_packages``: each course under its own license type, in the order given; one course
    not held and none is kept; an existing key is reused."""
    first = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW)
    with pytest.raises(service.LicenseNotHeld):
        service.prepare_packages(sessions, settings, acme, [("PLUS-1", "plus"), ("VOL-OLD", "volume")], "scorm12",
                                 NOW)
    assert count(sessions, DispatchPackage) == 1
    prepared = service.prepare_packages(sessions, settings, acme, [("PLUS-2", "plus"), ("VOL-1", "volume"),
                                                                   ("PPU-1", "ppu")], "scorm12", NOW)
    assert [(p.view.catalog_id, p.view.license_type) for p in prepared] == [
        ("PLUS-2", "plus"), ("VOL-1", "volume"), ("PPU-1", "ppu")]
    assert prepared[1].view.key == first.view.key and not prepared[1].was_created
    assert count(sessions, DispatchPackage) == 3


def test_many_packages_cost_a_few_statements(engine: Engine, sessions: Sessions, settings: Settings,
                                             acme: int) -> None:
    """Keys for many courses in one transaction take the same few statements as for one (licenses
    checked with the holdings loaded once, one locking read, one insert, one update); a repeated
    course gets the same key, a revoked key is re-activated with a new generation."""
    with sessions.begin() as s:
        for i in range(40):
            make_course(s, f"MANY-{i:02}", title=f"Course {i}", is_plus=True)
    items = [(f"MANY-{i:02}", "plus") for i in range(40)] + [("VOL-1", "volume"), ("MANY-00", "plus")]
    statements: list[str] = []

    def counted(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", counted)
    try:
        created = service.prepare_packages(sessions, settings, acme, items, "scorm2004", NOW)
        new_keys = len(statements)
        service.revoke_package(sessions, created[5].view.key, NOW)
        statements.clear()
        again = service.prepare_packages(sessions, settings, acme, items, "scorm2004", NOW + timedelta(hours=1))
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert new_keys <= 9 and len(statements) <= 10, statements
    assert all(p.was_created for p in created) and count(sessions, DispatchPackage) == 41
    assert created[-1] is created[0] and again[-1] is again[0]
    assert [p.view.key for p in again] == [p.view.key for p in created]
    assert again[5].was_reactivated and again[5].view.generation == 2 and again[5].secret != created[5].secret
    assert [p.view.generation for p in again if p is not again[5]] == [1] * 41
    assert not any(p.was_created for p in again) and {p.view.built_at for p in again} == {NOW + timedelta(hours=1)}
    with sessions() as s:
        assert set(s.scalars(select(DispatchPackage.built_at))) == {NOW + timedelta(hours=1)}


# ---------------------------------------------------------------- domains


def test_allowed_domains(sessions: Sessions, acme: int) -> None:
    assert service.list_domains(sessions, acme) == []
    assert service.allow_domain(sessions, acme, "https://LMS.Example.edu/course/1", NOW) == ("lms.example.edu", True)
    assert service.allow_domain(sessions, acme, "lms.example.edu", NOW) == ("lms.example.edu", False)
    assert service.allow_domain(sessions, acme, "*.müller.de", NOW) == ("xn--mller-kva.de", True)
    assert service.list_domains(sessions, acme) == ["lms.example.edu", "xn--mller-kva.de"]
    assert service.remove_domain(sessions, acme, "xn--mller-kva.de") == "xn--mller-kva.de"
    with pytest.raises(NotFound):
        service.remove_domain(sessions, acme, "other.example")
    for bad in ("", "not a domain", "-x.example", "a..b", "x" * 300, "https://"):
        with pytest.raises(service.InvalidDomain):
            service.allow_domain(sessions, acme, bad, NOW)
    assert service.list_domains(sessions, acme) == ["lms.example.edu"]


def test_domain_matching() -> None:
    assert service.is_domain_allowed("anything.example", [])
    assert service.is_domain_allowed(None, [])
    assert service.is_domain_allowed("lms.example.edu", ["example.edu"])
    assert service.is_domain_allowed("example.edu", ["example.edu"])
    assert not service.is_domain_allowed("badexample.edu", ["example.edu"])
    assert not service.is_domain_allowed("example.edu.evil.com", ["example.edu"])
    assert not service.is_domain_allowed(None, ["example.edu"])


def test_clean_origin() -> None:
    assert service.clean_origin("https://LMS.example.edu") == "https://lms.example.edu"
    assert service.clean_origin("https://lms.example.edu:8443/x?y") == "https://lms.example.edu:8443"
    for bad in (None, "", "null", "file:///x", "lms.example.edu", "https://x:99999"):
        assert service.clean_origin(bad) is None


# ---------------------------------------------------------------- export


def test_export_every_licensed_course(sessions: Sessions, settings: Settings, acme: int) -> None:
    plus = service.prepare_export(sessions, settings, acme, "scorm12", ["plus"], NOW)
    assert [p.view.catalog_id for p in plus] == ["PLUS-1", "PLUS-2", "TED-1"]
    everything = service.prepare_export(sessions, settings, acme, "scorm12", ["plus", "volume", "ppu"], NOW)
    assert [(p.view.catalog_id, p.view.license_type) for p in everything] == [
        ("PLUS-1", "plus"), ("PLUS-2", "plus"), ("TED-1", "plus"), ("VOL-1", "volume"), ("PPU-1", "ppu")]
    assert {p.view.key for p in plus} <= {p.view.key for p in everything}  # keys reused
    assert sum(p.was_created for p in everything) == 2
    bare = make_account(sessions, "Bare Org").id
    with pytest.raises(service.LicenseNotHeld, match="holds no Volume license"):
        service.prepare_export(sessions, settings, bare, "scorm12", ["volume"], NOW)


# ---------------------------------------------------------------- the dispatch launch


def launch_token(prepared: service.PreparedPackage, learner: str = "lms-user-1", *, generation: int | None = None,
                 secret: str | None = None, page_origin: str | None = "https://lms.example.edu",
                 name: str | None = "Doe, Jane") -> str:
    return make_launch_token(package_key=prepared.view.key, generation=generation or prepared.view.generation,
                             secret=secret or prepared.secret, learner_id=learner, learner_name=name,
                             page_origin=page_origin, referrer_origin="https://lms.example.edu", now=NOW)


def launch(sessions: Sessions, settings: Settings, token: str, origin: str | None = "https://lms.example.edu",
           limit: int = 30) -> service.DispatchOutcome:
    return service.dispatch_launch(sessions, settings, service.LaunchRequest(token, origin), NOW,
                                   new_learners_per_minute=limit)


def seats(sessions: Sessions) -> int:
    return count(sessions, Seat)


def test_first_launch_occupies_a_seat_and_the_second_none(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm2004", NOW)
    first = launch(sessions, settings, launch_token(prepared))
    assert first.ok and first.is_new_seat and first.seat and first.seat.license_type == "volume"
    assert first.package and first.package.catalog_id == "VOL-1" and first.lms_origin == "https://lms.example.edu"
    second = launch(sessions, settings, launch_token(prepared))
    assert second.ok and not second.is_new_seat and second.seat and second.seat.id == first.seat.id
    assert seats(sessions) == 1
    with sessions() as s:
        learner = s.scalars(select(Learner)).one()
        assert (learner.identity_source, learner.external_id, learner.name) == (
            f"package:{prepared.view.key}", "lms-user-1", "Doe, Jane")
        rows = s.scalars(select(DispatchLaunch).order_by(DispatchLaunch.created_at)).all()
        assert [(r.outcome, r.is_new_seat, r.seat_id) for r in rows] == [
            ("seat", True, first.seat.id), ("seat", False, first.seat.id)]
        assert {first.launch_id, second.launch_id} == {r.id for r in rows}


def test_rebuilt_package_keeps_learners_seats(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PPU-1", "ppu", "scorm12", NOW)
    first = launch(sessions, settings, launch_token(prepared))
    service.revoke_package(sessions, prepared.view.key, NOW)
    rebuilt = service.prepare_package(sessions, settings, acme, "PPU-1", "ppu", "scorm12", NOW)
    again = launch(sessions, settings, launch_token(rebuilt))
    assert again.ok and not again.is_new_seat and again.seat and first.seat and again.seat.id == first.seat.id
    old_copy = launch(sessions, settings, launch_token(prepared))
    assert old_copy.kind == "replaced" and old_copy.status == 403
    assert seats(sessions) == 1


def test_revoked_package_takes_no_seat(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    service.revoke_package(sessions, prepared.view.key, NOW)
    outcome = launch(sessions, settings, launch_token(prepared))
    assert (outcome.kind, outcome.status) == ("revoked", 403)
    assert outcome.message == "This course package has been revoked; ask your LMS administrator for a new one."
    assert seats(sessions) == 0 and count(sessions, DispatchLaunch) == 0 and count(sessions, Learner) == 0


@pytest.mark.parametrize("tamper, kind, status", [
    ("unknown", "unknown_package", 404),
    ("secret", "invalid_token", 401),
    ("garbage", "invalid_token", 400),
    ("future_generation", "replaced", 403),
])
def test_bad_launches_change_nothing(sessions: Sessions, settings: Settings, acme: int, tamper: str, kind: str,
                                     status: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    token = {
        "unknown": make_launch_token(package_key="dpk_unknown", generation=1, secret="x" * 43, learner_id="u",
                                     learner_name=None, page_origin=None, referrer_origin=None, now=NOW),
        "secret": launch_token(prepared, secret="y" * 43),
        "garbage": "not.a.token",
        "future_generation": launch_token(prepared, generation=5),
    }[tamper]
    outcome = launch(sessions, settings, token)
    assert (outcome.kind, outcome.status) == (kind, status), outcome
    assert outcome.title and outcome.message and outcome.ask
    assert seats(sessions) == 0 and count(sessions, Learner) == 0
    # Only a launch whose signature verified is recorded (a copy signed for a generation the
    # package never had is one: it holds the current secret).
    with sessions() as s:
        recorded = [(r.outcome, r.reason, r.generation) for r in s.scalars(select(DispatchLaunch))]
    assert recorded == ([("replaced", "package_replaced", 5)] if tamper == "future_generation" else [])


def test_unknown_domain_takes_no_seat(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    assert launch(sessions, settings, launch_token(prepared, "any-domain"), origin="https://anywhere.example").ok
    service.allow_domain(sessions, acme, "example.edu", NOW)
    refused = launch(sessions, settings, launch_token(prepared, "u-2"), origin="https://evil.example.com")
    assert (refused.kind, refused.status) == ("domain_not_allowed", 403)
    assert "evil.example.com" in refused.message and "allowed LMS domains" in refused.ask
    # the browser's Origin header wins over what the page claims about itself
    spoofed = launch(sessions, settings, launch_token(prepared, "u-3", page_origin="https://lms.example.edu"),
                     origin="https://evil.example.com")
    assert spoofed.kind == "domain_not_allowed"
    # No Origin header ("null" under a no-referrer policy): refused where domains are restricted,
    # since the page's own claim is signed with a secret every learner can read.
    for origin in ("null", None, ""):
        nulled = launch(sessions, settings, launch_token(prepared, "u-4"), origin=origin)
        assert (nulled.kind, nulled.status, nulled.reason) == ("domain_not_allowed", 403, "origin_required")
        assert "no Origin header" in nulled.message and "Referrer-Policy" in nulled.ask
    assert launch(sessions, settings, launch_token(prepared, "u-6"), origin="https://lms.example.edu").ok
    assert seats(sessions) == 2
    with sessions() as s:
        refusals = s.execute(select(DispatchLaunch.reason, DispatchLaunch.lms_origin)
                             .where(DispatchLaunch.outcome == "domain_not_allowed"))
        assert sorted((reason, origin or "") for reason, origin in refusals) == [
            ("domain_not_allowed", "https://evil.example.com"), ("domain_not_allowed", "https://evil.example.com"),
            ("origin_required", ""), ("origin_required", ""), ("origin_required", "")]


def test_without_a_domain_restriction_a_launch_needs_no_origin(sessions: Sessions, settings: Settings,
                                                                acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    no_origin = launch(sessions, settings, launch_token(prepared, "u-1"), origin=None)
    assert no_origin.ok and no_origin.lms_origin == "https://lms.example.edu"  # the page's claim labels it
    assert launch(sessions, settings, launch_token(prepared, "u-2", page_origin=None), origin="null").ok


def test_new_learners_are_rate_limited_per_package(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    other = service.prepare_package(sessions, settings, acme, "PLUS-2", "plus", "scorm12", NOW)
    assert launch(sessions, settings, launch_token(prepared, "a"), limit=2).ok
    assert launch(sessions, settings, launch_token(prepared, "b"), limit=2).ok
    limited = launch(sessions, settings, launch_token(prepared, "c"), limit=2)
    assert (limited.kind, limited.status) == ("rate_limited", 429) and "Wait a minute" in limited.ask
    assert launch(sessions, settings, launch_token(prepared, "a"), limit=2).ok  # known learners are never limited
    assert launch(sessions, settings, launch_token(other, "c"), limit=2).ok  # the limit is per package
    later = service.dispatch_launch(sessions, settings, service.LaunchRequest(
        make_launch_token(package_key=prepared.view.key, generation=1, secret=prepared.secret, learner_id="c",
                          learner_name=None, page_origin=None, referrer_origin=None, now=NOW + timedelta(seconds=61)),
        None), NOW + timedelta(seconds=61), new_learners_per_minute=2)
    assert later.ok and later.is_new_seat
    # a, b, c through the first package and c through the second: a learner is (package, LMS id)
    assert seats(sessions) == 4


def test_the_engines_refusal_is_passed_on(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW)
    assert launch(sessions, settings, launch_token(prepared, "a")).ok
    assert launch(sessions, settings, launch_token(prepared, "b")).ok
    full = launch(sessions, settings, launch_token(prepared, "c"))
    assert (full.kind, full.status, full.reason) == ("refused", 403, "no_seats")
    assert full.message == "All seats for this course are taken." and "buy more seats" in full.ask
    assert seats(sessions) == 2


def test_a_lost_secret_gives_a_clear_page(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    outcome = launch(sessions, settings.with_overrides(secret_key="other" * 10), launch_token(prepared))
    assert (outcome.kind, outcome.status) == ("unverifiable", 409)
    assert "download the package again" in outcome.ask and seats(sessions) == 0


def test_frame_ancestors_follow_the_allowed_domains(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    launched = launch(sessions, settings, launch_token(prepared))
    assert service.frame_ancestors_for_launch(sessions, launched.launch_id) == ("*",)
    service.allow_domain(sessions, acme, "example.edu", NOW)
    assert service.frame_ancestors_for_launch(sessions, launched.launch_id) == ("example.edu", "*.example.edu")
    assert service.frame_ancestors_for_launch(sessions, "nope") == ("*",)


def test_closing_the_account_removes_its_packages(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PLUS-1", "plus", "scorm12", NOW)
    launch(sessions, settings, launch_token(prepared))
    service.allow_domain(sessions, acme, "example.edu", NOW)
    with sessions.begin() as s:
        from store.accounts.models import Account

        s.delete(s.get(Account, acme))
    assert count(sessions, DispatchPackage) == 0 and count(sessions, DispatchLaunch) == 0


# ---------------------------------------------------------------- single-use launch tokens


def test_a_launch_token_is_accepted_once(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW)
    token = launch_token(prepared)
    first = launch(sessions, settings, token)
    assert first.ok and first.is_new_seat
    replayed = launch(sessions, settings, token)
    assert (replayed.kind, replayed.status, replayed.reason) == ("replayed", 409, "launch_replayed")
    assert "already" in replayed.message and "open it again from your LMS" in replayed.ask
    # The launch page signs a fresh token (a new jti) for every launch: a relaunch works.
    again = launch(sessions, settings, launch_token(prepared))
    assert again.ok and not again.is_new_seat
    assert seats(sessions) == 1
    with sessions() as s:
        rows = s.execute(select(DispatchLaunch.outcome, DispatchLaunch.reason, DispatchLaunch.generation)
                         .order_by(DispatchLaunch.created_at, DispatchLaunch.outcome)).all()
        assert sorted(rows) == [("replayed", "launch_replayed", 1), ("seat", None, 1), ("seat", None, 1)]
        assert s.scalar(select(func.count()).select_from(DispatchLaunchToken)) == 2


def test_a_token_without_an_id_is_refused(sessions: Sessions, settings: Settings, acme: int) -> None:
    import jwt

    prepared = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW)
    issued = int(NOW.timestamp())
    for jti in (None, "", "short", 12345, "x" * 200):
        claims = {"iss": prepared.view.key, "gen": 1, "sub": "u", "iat": issued, "exp": issued + 300}
        if jti is not None:
            claims["jti"] = jti
        token = jwt.encode(claims, prepared.secret, algorithm="HS256", headers={"kid": prepared.view.key})
        outcome = launch(sessions, settings, token)
        assert (outcome.kind, outcome.status, outcome.reason) == ("invalid_token", 400, "malformed"), jti
    assert seats(sessions) == 0 and count(sessions, DispatchLaunchToken) == 0


def test_used_token_ids_are_kept_until_the_token_expires(sessions: Sessions, settings: Settings, acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm12", NOW)
    token = launch_token(prepared)
    assert launch(sessions, settings, token).ok
    leeway = settings.lti_clock_leeway_seconds
    # Still stored (and refused) up to the moment the token itself would be refused as expired.
    almost = NOW + timedelta(seconds=300 + leeway - 1)
    assert service.dispatch_launch(sessions, settings, service.LaunchRequest(token, "https://lms.example.edu"),
                                   almost).kind == "replayed"
    # A launch sweeps nothing (the cleanup job does): an expired token is refused before its id
    # is looked at, whether its row is still there or not.
    later = NOW + timedelta(seconds=300 + leeway + 1)
    fresh = make_launch_token(package_key=prepared.view.key, generation=1, secret=prepared.secret,
                              learner_id="lms-user-1", learner_name=None, page_origin=None, referrer_origin=None,
                              now=later)
    assert service.dispatch_launch(sessions, settings, service.LaunchRequest(fresh, "https://lms.example.edu"),
                                   later).ok
    assert count(sessions, DispatchLaunchToken) == 2
    assert service.dispatch_launch(sessions, settings, service.LaunchRequest(token, "https://lms.example.edu"),
                                   later).kind == "invalid_token"  # expired
    assert service.purge_used_tokens(sessions, later) == 1
    assert count(sessions, DispatchLaunchToken) == 1
    assert service.dispatch_launch(sessions, settings, service.LaunchRequest(token, "https://lms.example.edu"),
                                   later).kind == "invalid_token"  # still refused once its id is gone


@pytest.mark.race
def test_two_identical_posts_at_once_give_one_seat_and_one_refusal(committing_sessions: Sessions,
                                                                     settings: Settings) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    account_id = make_account(committing_sessions, "Race Org").id
    with committing_sessions.begin() as s:
        make_course(s, "RACE-1", is_plus=False)
    licenses.grant_volume(committing_sessions, account_id, "RACE-1", 5, NOW)
    prepared = service.prepare_package(committing_sessions, settings, account_id, "RACE-1", "volume", "scorm12", NOW)
    for round_ in range(3):
        token = launch_token(prepared, f"racer-{round_}")
        barrier = threading.Barrier(2, timeout=60)

        def post(_: int) -> service.DispatchOutcome:
            barrier.wait()
            return launch(committing_sessions, settings, token)

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(post, range(2)))
        assert sorted(o.kind for o in outcomes) == ["replayed", "seat"]
    assert seats(committing_sessions) == 3


# ---------------------------------------------------------------- content to play


def test_a_course_without_content_takes_no_seat_where_demo_content_is_off(
        sessions: Sessions, settings: Settings, acme: int, tmp_path: Path) -> None:
    production_like = settings.with_overrides(demo_content=False)
    prepared = service.prepare_package(sessions, production_like, acme, "VOL-1", "volume", "scorm12", NOW)
    refused = launch(sessions, production_like, launch_token(prepared))
    assert (refused.kind, refused.status, refused.reason) == ("content_unavailable", 409, "content_not_available")
    assert refused.title == "This course's content is not available yet" and "No seat was used" in refused.message
    assert seats(sessions) == 0 and count(sessions, Learner) == 0
    with sessions() as s:
        assert s.execute(select(DispatchLaunch.outcome, DispatchLaunch.reason)).all() == [
            ("content_unavailable", "content_not_available")]
    # Demo content on (development, test): the demo lessons play.
    assert launch(sessions, settings, launch_token(prepared)).ok
    # Imported content plays everywhere.
    import_generated(sessions, content_store(tmp_path / "content"), "VOL-1", "scorm12", NOW, tmp_path)
    assert launch(sessions, production_like, launch_token(prepared, "other")).ok
    assert seats(sessions) == 2


def test_packages_take_the_mastery_score_without_generating_lessons(
        sessions: Sessions, settings: Settings, acme: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import store.content
    import store.content.demo

    def no_demo_lessons(*_args: object) -> None:
        raise AssertionError("packaging generated demo lessons")

    store.content._content_of.cache_clear()
    monkeypatch.setattr(store.content, "_demo_lessons", no_demo_lessons)
    monkeypatch.setattr(store.content.demo, "demo_content", no_demo_lessons)
    import_generated(sessions, content_store(tmp_path / "content"), "PLUS-2", "scorm2004", NOW, tmp_path,
                     mastery_percent=65)
    exported = {p.view.catalog_id: p.mastery_score
                for p in service.prepare_export(sessions, settings, acme, "scorm12", ["plus"], NOW)}
    assert exported["PLUS-1"] == MASTERY_SCORE and exported["PLUS-2"] == pytest.approx(0.65)
    assert service.prepare_package(sessions, settings, acme, "PLUS-2", "plus", "scorm2004", NOW).mastery_score == \
        pytest.approx(0.65)
    without = service.prepare_package(sessions, settings, acme, "VOL-1", "volume", "scorm2004", NOW)
    assert without.mastery_score == MASTERY_SCORE


# ---------------------------------------------------------------- open player sessions


def test_the_player_of_a_revoked_or_replaced_package_is_refused(sessions: Sessions, settings: Settings,
                                                                acme: int) -> None:
    prepared = service.prepare_package(sessions, settings, acme, "PPU-1", "ppu", "scorm12", NOW)
    launched = launch(sessions, settings, launch_token(prepared))
    assert launched.ok and launched.launch_id
    service.check_player_launch(sessions, launched.launch_id)  # live: nothing raised

    service.revoke_package(sessions, prepared.view.key, NOW)
    with pytest.raises(service.PackageRevoked) as revoked:
        service.check_player_launch(sessions, launched.launch_id)
    assert revoked.value.reason == "package_revoked" and "has been revoked" in revoked.value.message
    assert revoked.value.ask and revoked.value.title

    rebuilt = service.prepare_package(sessions, settings, acme, "PPU-1", "ppu", "scorm12", NOW)
    assert rebuilt.view.generation == 2
    with pytest.raises(service.PackageRevoked, match="replaced by a newer copy"):
        service.check_player_launch(sessions, launched.launch_id)  # a launch of the old copy
    relaunched = launch(sessions, settings, launch_token(rebuilt))
    assert relaunched.ok and relaunched.launch_id
    service.check_player_launch(sessions, relaunched.launch_id)
    for unknown in (None, "", "no-such-launch"):
        with pytest.raises(service.PackageRevoked, match="no longer exists"):
            service.check_player_launch(sessions, unknown)
