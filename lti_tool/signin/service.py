"""What an independent learner's pages ask of the store: the courses their account may deliver
(``store.licenses.offers``, which asks ``store.licenses.holdings``) and starting one of them
(the seat engine's ``claim_seat`` under the learner's own identity, ``login:<id>``).

Read functions take a sessionmaker and only read; the seat claim is the seat engine's own
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.logins import LoginView
from store.catalog.models import Course
from store.content import content_kind
from store.content.queries import current_package
from store.licenses import holdings
from store.licenses.labels import LICENSE_TYPES
from store.licenses.offers import OfferPage, search_licensed_courses
from store.licenses.service import ClaimRequest, SeatView, claim_seat

PER_PAGE = 20


def my_courses(read_sessions: sessionmaker[Session], login: LoginView, query: str, page: int,
               now: datetime) -> OfferPage:
    """The courses the learner's account may deliver now (every Plus course while the
    subscription runs, the courses of Volume lots in their term, the PPU library), searchable and
    paged like the deep-linking picker."""
    with read_sessions() as session:
        return search_licensed_courses(session, login.account_id, now, query, page=page, per_page=PER_PAGE)


@dataclass(frozen=True)
class CourseStart:
    outcome: Literal["seat", "refused", "unavailable", "unknown_course"]
    catalog_id: str
    license_type: str | None = None
    title: str | None = None
    seat: SeatView | None = None
    reason: str | None = None


def _license_type_for(session: Session, login: LoginView, catalog_id: str, is_plus: bool, now: datetime) -> str:
    """Under which license type the seat is asked for: one the course is deliverable under now
    (Plus first: the learner's one Plus seat covers every Plus course; Pay Per Use last: it
    spends the deposit); when none, the type whose refusal says most (a learner who already holds
    a seat reuses it under any type: the seat engine's rule)."""
    deliverable = holdings.deliverable_license_types(session, login.account_id, catalog_id, now)
    for license_type in LICENSE_TYPES:  # plus, volume, ppu
        if license_type in deliverable:
            return license_type
    return "plus" if is_plus else "volume"


def start_course(sessions: sessionmaker[Session], login: LoginView, catalog_id: str, now: datetime, *,
                 demo_content: bool) -> CourseStart:
    """A seat for the learner (new or the one they hold), unless the course has nothing to play
    yet (checked first, so no seat is taken) or the seat engine refuses."""
    with sessions() as session:
        course = session.execute(select(Course.id, Course.title, Course.is_plus)
                                 .where(Course.catalog_id == catalog_id)).first()
        if course is None:
            return CourseStart("unknown_course", catalog_id)
        if content_kind(current_package(session, course.id), demo_content=demo_content) is None:
            return CourseStart("unavailable", catalog_id, title=course.title, reason="content_not_available")
        license_type = _license_type_for(session, login, catalog_id, bool(course.is_plus), now)
    result = claim_seat(sessions, ClaimRequest(login.account_id, license_type, catalog_id, login.identity), now)
    if not result.ok:
        return CourseStart("refused", catalog_id, license_type, course.title, reason=result.reason)
    return CourseStart("seat", catalog_id, license_type, course.title, seat=result.seat)


# What a refusal means for someone who buys for themself (the seat engine's own texts speak to
# an organization's learners: "ask your LMS administrator").
REFUSALS: dict[str, tuple[str, str]] = {
    "no_license": ("You hold no license for this course.", "Buy it in the Store."),
    "license_expired": ("Your license for this course has expired.", "Buy it again in the Store."),
    "not_started": ("Your license for this course has not started yet.", "Try again once it has started."),
    "no_seats": ("Your license for this course has no seat left.", "Buy more seats in the Store."),
    "not_covered": ("This course is not included in the Plus subscription.", "Buy it as a Volume course in the "
                                                                             "Store."),
    "bundle_excluded": ("This course is only available with a Plus subscription.", "Subscribe to Plus in the "
                                                                                    "Store."),
    "course_retired": ("This course has been retired and can no longer be started.", "Choose another course in "
                                                                                     "the Store."),
    "unknown_course": ("There is no course with this id.", "Choose a course from My courses."),
}
FALLBACK_REFUSAL = ("This course cannot be opened right now.", "Contact support and quote the reason below.")


def refusal_text(reason: str | None) -> tuple[str, str]:
    return REFUSALS.get(reason or "", FALLBACK_REFUSAL)
