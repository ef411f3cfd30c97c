"""Dispatch launches refused by the delivery path itself (a domain that is not allowed, no
Origin, a revoked or replaced copy, a course without content) reach the dashboard's Needs
Attention list, with the learner as the LMS named them; unverified requests still write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from scorm_packages import service
from scorm_packages.tokens import make_launch_token
from store.dashboard.service import needs_attention
from store.licenses import service as licenses
from store.licenses.models import LaunchRefusal
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, make_account

Sessions = sessionmaker[Session]
NOW = T0 + timedelta(days=10)


@pytest.fixture
def settings() -> Settings:
    return load_settings({"ENV": "test", "SECRET_KEY": "s" * 48, "PUBLIC_BASE_URL": "https://courses.example.com"})


@pytest.fixture
def prepared(sessions: Sessions, settings: Settings) -> service.PreparedPackage:
    account_id = make_account(sessions, "Acme Learning").id
    with sessions.begin() as s:
        make_course(s, "PLUS-1", title="Workplace Safety", is_plus=True)
    licenses.grant_plus(sessions, account_id, 5, "annual", T0)
    return service.prepare_package(sessions, settings, account_id, "PLUS-1", "plus", "scorm12", NOW)


def token(prepared: service.PreparedPackage, learner: str = "jdoe", *, secret: str | None = None,
          generation: int | None = None) -> str:
    return make_launch_token(package_key=prepared.view.key, generation=generation or prepared.view.generation,
                             secret=secret or prepared.secret, learner_id=learner, learner_name="Doe, Jane",
                             page_origin="https://lms.example.edu", referrer_origin=None, now=NOW)


def launch(sessions: Sessions, settings: Settings, raw: str, origin: str | None = "https://lms.example.edu",
           demo_content: bool = True) -> service.DispatchOutcome:
    return service.dispatch_launch(sessions, settings.with_overrides(demo_content=demo_content),
                                   service.LaunchRequest(raw, origin), NOW)


def refusals(sessions: Sessions) -> list[tuple[str, str | None, str | None, str]]:
    with sessions() as s:
        return [(r.reason, r.learner_label, r.detail, r.license_type)
                for r in s.scalars(select(LaunchRefusal).order_by(LaunchRefusal.id))]


def test_a_domain_that_is_not_allowed_and_a_missing_origin(sessions: Sessions, settings: Settings,
                                                           prepared: service.PreparedPackage) -> None:
    service.allow_domain(sessions, prepared.view.account_id, "example.edu", NOW)
    assert launch(sessions, settings, token(prepared), origin="https://evil.example.com").kind == "domain_not_allowed"
    assert launch(sessions, settings, token(prepared), origin=None).reason == "origin_required"
    assert refusals(sessions) == [("domain_not_allowed", "Doe, Jane", "evil.example.com", "plus"),
                                  ("origin_required", "Doe, Jane", None, "plus")]
    with sessions() as s:
        items = needs_attention(s, prepared.view.account_id, NOW + timedelta(minutes=1))
    assert [(i.reason, i.action, i.learner, i.catalog_id) for i in items] == [  # newest first
        ("origin_required", "check_lms_settings", "Doe, Jane", "PLUS-1"),
        ("domain_not_allowed", "allow_domain", "Doe, Jane", "PLUS-1")]
    assert items[1].detail == "evil.example.com" and "not allowed" in items[1].message


def test_a_revoked_copy_is_recorded_only_when_its_signature_verifies(sessions: Sessions, settings: Settings,
                                                                     prepared: service.PreparedPackage) -> None:
    service.revoke_package(sessions, prepared.view.key, NOW)
    assert launch(sessions, settings, token(prepared, secret="y" * 43)).kind == "revoked"
    assert launch(sessions, settings, "not.a.token").kind == "invalid_token"
    assert refusals(sessions) == []
    assert launch(sessions, settings, token(prepared)).kind == "revoked"
    assert refusals(sessions) == [("package_revoked", "Doe, Jane", f"package {prepared.view.key}", "plus")]
    with sessions() as s:
        assert needs_attention(s, prepared.view.account_id, NOW)[0].action == "deliver_package"


def test_a_replaced_copy_and_a_course_without_content(sessions: Sessions, settings: Settings,
                                                      prepared: service.PreparedPackage) -> None:
    assert launch(sessions, settings, token(prepared, generation=5)).kind == "replaced"
    assert launch(sessions, settings, token(prepared), demo_content=False).kind == "content_unavailable"
    assert [r[0] for r in refusals(sessions)] == ["package_replaced", "content_not_available"]


def test_launches_with_a_seat_and_the_engine_refusals_are_not_doubled(sessions: Sessions, settings: Settings,
                                                                      prepared: service.PreparedPackage) -> None:
    assert launch(sessions, settings, token(prepared)).ok
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LaunchRefusal)) == 0
