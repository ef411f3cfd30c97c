"""What a recorded launch leads to: the seat decision for a course launch (content not available
yet, admin confirmation, seat claim or refusal) and the pages of a launch without a course (for
admins the account's holdings, the read model of ``store.licenses.holdings``; for learners their
courses). Read functions take a sessionmaker and only read; the seat claim is the seat engine's
own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.errors import LaunchError, unauthorized
from lti_tool.lti.launch import get_launch, identity_of, parse_intent
from lti_tool.lti.roles import is_admin
from store.catalog.models import Course
from store.content import ContentNotAvailable, content_kind
from store.content.queries import current_package
from store.errors import StoreError
from store.licenses import holdings
from store.licenses import queries as license_queries
from store.licenses import rules
from store.licenses.models import CourseLaunch, PlusSubscription, Seat
from store.licenses.service import ClaimRequest, SeatView, claim_seat


@dataclass(frozen=True)
class CourseOpening:
    outcome: Literal["unavailable", "confirm", "seat", "refused"]
    launch_id: str
    account_id: int
    learner_id: int
    catalog_id: str  # catalog id
    license_type: str
    course_title: str | None = None
    seat: SeatView | None = None
    is_new_seat: bool = False
    reason: str | None = None
    is_admin: bool = False
    new_learners_left: int | None = None  # confirm: seats (PPU: deposit) left for new learners; None: no limit

    @property
    def refusal(self) -> rules.Refusal | None:
        return rules.refusal(self.reason) if self.reason else None


def _launch_gone() -> LaunchError:
    return unauthorized("launch_expired", "This launch is unknown or has expired.",
                        "Open the course again from the LMS.")


def open_course(sessions: sessionmaker[Session], launch_id: str, now: datetime, *,
                confirmed: bool, demo_content: bool) -> CourseOpening:
    """Give the launch's learner a seat for the launch's course, unless the course has nothing to
    play (no imported content and ``demo_content`` off: "not available yet", checked first, so no
    seat is taken and no admin is asked to use one), or the launcher is an admin holding no
    valid seat for it and has not confirmed yet (their first launch occupies a seat like
    anybody's: 20 learners + 1 testing admin = 21 seats). An admin is not asked to confirm a seat
    the course cannot give (not deliverable under the link's license type): the seat engine's
    refusal shows at once."""
    with sessions() as session:
        launch = get_launch(session, launch_id, now)
        if launch is None or launch.learner_id is None:
            raise _launch_gone()
        intent = parse_intent(launch.claims)
        identity = identity_of(launch.claims)
        if intent.kind != "course" or identity is None:
            raise _launch_gone()
        assert intent.catalog_id is not None and intent.license_type is not None
        account_id, learner_id = launch.account_id, launch.learner_id
        admin = is_admin(launch.claims)
        course = session.execute(select(Course.id, Course.title).where(Course.catalog_id == intent.catalog_id)).first()
        title = course.title if course is not None else None
        # An unknown course is left to the seat engine (its refusal names it).
        if course is not None and content_kind(current_package(session, course.id), demo_content=demo_content) is None:
            return CourseOpening("unavailable", launch_id, account_id, learner_id, intent.catalog_id,
                                 intent.license_type, course_title=title, reason=ContentNotAvailable.reason,
                                 is_admin=admin)
        if admin and not confirmed and title is not None:
            if (not holds_valid_seat(session, account_id, learner_id, intent.catalog_id, intent.license_type, now)
                    and _is_deliverable(session, account_id, intent.catalog_id, intent.license_type, now)):
                left = holdings.new_learners_left(session, account_id, intent.catalog_id, intent.license_type, now)
                return CourseOpening("confirm", launch_id, account_id, learner_id, intent.catalog_id,
                                     intent.license_type, course_title=title, new_learners_left=left)
    try:
        result = claim_seat(sessions, ClaimRequest(account_id, intent.license_type, intent.catalog_id, identity), now)
    except StoreError as exc:
        raise LaunchError(409, exc.reason, f"The seat could not be given right now: {exc.message}",
                          "Try again in a moment.") from exc
    if not result.ok:
        return CourseOpening("refused", launch_id, account_id, learner_id, intent.catalog_id, intent.license_type,
                             course_title=title, reason=result.reason, is_admin=admin)
    return CourseOpening("seat", launch_id, account_id, learner_id, intent.catalog_id, intent.license_type,
                         course_title=title, seat=result.seat, is_new_seat=result.is_new_seat)


def holds_valid_seat(session: Session, account_id: int, learner_id: int, course_catalog_id: str, license_type: str,
                     now: datetime) -> bool:
    """Whether the learner already holds a valid seat covering the course (a relaunch then takes
    no new seat). Uses the seat engine's own rule."""
    found = license_queries.find_course_facts(session, course_catalog_id)
    if found is None:
        return False
    _course, facts = found
    seats = license_queries.learner_seat_facts(session, account_id, learner_id, facts.id, now)
    return rules.reusable_seat(seats, facts, license_type, now) is not None


def _is_deliverable(session: Session, account_id: int, course_catalog_id: str, license_type: str,
                    now: datetime) -> bool:
    course = holdings.course_facts(session, course_catalog_id)
    return course is not None and holdings.verdict_of(session, account_id, course, license_type, now).deliverable


# ---------------------------------------------------------------- launch without a course


@dataclass(frozen=True)
class CourseSeat:
    seat_id: int
    catalog_id: str  # catalog id
    title: str
    license_type: str
    expires_at: datetime | None


def learner_courses(sessions: sessionmaker[Session], account_id: int, learner_id: int,
                    now: datetime) -> list[CourseSeat]:
    """The courses the learner holds a valid seat for: Volume/PPU seats, and the courses opened
    under a Plus seat of an active subscription."""
    out: dict[str, CourseSeat] = {}
    with sessions() as session:
        for seat, catalog_id, title in session.execute(
            select(Seat, Course.catalog_id, Course.title).join(Course, Course.id == Seat.course_pk)
            .where(Seat.account_id == account_id, Seat.learner_id == learner_id,
                   Seat.license_type.in_(("volume", "ppu")), Seat.expires_at > now)
            .order_by(Seat.occupied_at)
        ):
            out.setdefault(catalog_id, CourseSeat(seat.id, catalog_id, title, seat.license_type, seat.expires_at))
        for seat_id, catalog_id, title in session.execute(
            select(Seat.id, Course.catalog_id, Course.title)
            .join(PlusSubscription, PlusSubscription.id == Seat.subscription_id)
            .join(CourseLaunch, CourseLaunch.seat_id == Seat.id)
            .join(Course, Course.id == CourseLaunch.course_pk)
            .where(Seat.account_id == account_id, Seat.learner_id == learner_id, Seat.license_type == "plus",
                   PlusSubscription.started_at <= now, PlusSubscription.current_period_end > now)
            .order_by(CourseLaunch.first_launched_at)
        ):
            out.setdefault(catalog_id, CourseSeat(seat_id, catalog_id, title, "plus", None))
    return sorted(out.values(), key=lambda c: c.title.lower())
