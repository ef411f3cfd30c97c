"""Report data for tests: an account with a Volume and a Plus course, and report rows in bulk (many
learners with a Volume seat and a launch of one course, written with three ``INSERT … SELECT``
statements, no Python loop over the rows)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, cast, insert, literal, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.models import Learner
from store.base import UTCDateTime
from store.catalog.models import Course
from store.licenses import service as licenses
from store.licenses.models import CourseLaunch, Seat, VolumeLot
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account

LMS_SOURCE = "lti:https://lms.example.edu"


def report_account(sessions: sessionmaker[Session], name: str, volume: tuple[str, str], plus: tuple[str, str],
                   seats: int, at: datetime) -> int:
    """An account holding ``seats`` Volume seats of the course ``volume`` (catalog id, title) and
    a Plus subscription of ``seats`` seats that covers the Plus course ``plus``."""
    account_id = make_account(sessions, name).id
    with sessions.begin() as s:
        make_course(s, volume[0], title=volume[1], is_plus=False)
        make_course(s, plus[0], title=plus[1], is_plus=True)
    licenses.grant_volume(sessions, account_id, volume[0], seats, at)
    licenses.grant_plus(sessions, account_id, seats, "annual", at)
    return account_id


def bulk_launches(sessions: sessionmaker[Session], account_id: int, catalog_id: str, n: int, at: datetime) -> None:
    """n learners ("Learner 1" … with l1@example.com …), each with a Volume seat of a new lot of
    n seats and one launch of the course at ``at``."""
    with sessions.begin() as s:
        course_pk = s.scalar(select(Course.id).where(Course.catalog_id == catalog_id))
        lot = VolumeLot(account_id=account_id, course_pk=course_pk, seats_total=n, seats_used=0, purchased_at=at,
                        expires_at=at + timedelta(days=365), created_at=at)
        s.add(lot)
        s.flush()
        numbers = select(literal(1).label("i")).cte("numbers", recursive=True)
        numbers = numbers.union_all(select(numbers.c.i + 1).where(numbers.c.i < n))
        moment = literal(at, UTCDateTime())
        s.execute(insert(Learner).from_select(
            ["account_id", "identity_source", "external_id", "name", "email", "delivery", "created_at", "updated_at"],
            select(literal(account_id), literal(LMS_SOURCE), literal("L") + cast(numbers.c.i, String),
                   literal("Learner ") + cast(numbers.c.i, String),
                   literal("l") + cast(numbers.c.i, String) + literal("@example.com"), literal("lti"), moment,
                   moment)))
        s.execute(insert(Seat).from_select(
            ["account_id", "learner_id", "license_type", "scope", "course_pk", "lot_id", "attempt", "occupied_at",
             "expires_at"],
            select(literal(account_id), Learner.id, literal("volume"), literal(f"volume:{course_pk}"),
                   literal(course_pk), literal(lot.id), literal(1), moment, literal(lot.expires_at, UTCDateTime()))
            .where(Learner.account_id == account_id, Learner.identity_source == LMS_SOURCE,
                   Learner.external_id.like("L%"))))
        s.execute(insert(CourseLaunch).from_select(
            ["seat_id", "course_pk", "first_launched_at", "last_launched_at", "launch_count"],
            select(Seat.id, literal(course_pk), Seat.occupied_at, Seat.occupied_at, literal(1))
            .where(Seat.account_id == account_id, Seat.lot_id == lot.id)))
