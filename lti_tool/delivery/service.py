"""What the delivery pages show: the chosen courses resolved against what the account holds
(``store.licenses.holdings``, the one owner of that question), the account's remembered package
format, its invitations and its outbox mail. Read functions take a sessionmaker and only read.

A **selection** is what ``/dashboard/deliver`` is asked for: catalog ids (``course``, repeated),
a license type for all of them (``license_type``) and, per course, ``license_type:<catalog id>``
(the **License** question's answer). Resolving it gives one :class:`Choice` per course (unknown
ids and courses the account cannot deliver become problems) and, once every course has exactly
one license type, the query string every sub-page carries (:meth:`Selection.query`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.catalog.models import Course
from store.dashboard.service import package_format
from store.content import ContentNotAvailable
from store.errors import StoreError
from store.invitations.service import InvitationReport, InvitationView, list_invitations, send_invitations
from store.mail import Mailer
from store.licenses import holdings
from store.licenses import queries as license_queries
from store.licenses.holdings_rules import Verdict
from store.licenses.labels import LICENSE_LABELS, license_label
from store.mail import OutboxEntry, list_outbox

MAX_COURSES = 200  # courses delivered at once (a zip of zips of at most this many packages)
MAX_ID_CHARS = 200
PER_COURSE_PREFIX = "license_type:"
OUTBOX_SHOWN = 20
INVITATIONS_SHOWN = 100


@dataclass(frozen=True)
class Wanted:
    """The selection as asked: catalog ids in order (duplicates folded), the license type for
    all, and per-course license types."""

    catalog_ids: tuple[str, ...]
    license_type: str | None
    per_course: Mapping[str, str]

    @classmethod
    def from_args(cls, courses: Sequence[str], license_type: str | None, args: Mapping[str, str]) -> Wanted:
        ids = tuple(dict.fromkeys(c.strip() for c in courses if c and c.strip()))
        per_course = {cid: args[PER_COURSE_PREFIX + cid].strip() for cid in ids
                      if (args.get(PER_COURSE_PREFIX + cid) or "").strip()}
        return cls(ids, (license_type or "").strip() or None, per_course)

    def license_type_of(self, catalog_id: str) -> str | None:
        return self.per_course.get(catalog_id) or self.license_type


@dataclass(frozen=True)
class Choice:
    catalog_id: str
    title: str
    license_types: tuple[str, ...]  # what the account can deliver it under now
    license_type: str | None  # the one chosen (None: the License question is still open)

    @property
    def field_name(self) -> str:
        return PER_COURSE_PREFIX + self.catalog_id


@dataclass(frozen=True)
class Selection:
    choices: tuple[Choice, ...]
    problems: tuple[str, ...]
    status: int = 200  # of the page when there are problems: 400 bad input, 404 unknown, 403 not held

    @property
    def needs_license(self) -> bool:
        return any(c.license_type is None for c in self.choices)

    @property
    def is_ready(self) -> bool:
        return not self.problems and not self.needs_license and bool(self.choices)

    @property
    def items(self) -> list[tuple[str, str]]:
        """(catalog id, license type) of each course, once ready."""
        return [(c.catalog_id, c.license_type) for c in self.choices if c.license_type is not None]

    def query(self) -> list[tuple[str, str]]:
        """The URL arguments of this selection (``course`` repeated; one ``license_type`` when
        every course has the same, otherwise one per course)."""
        pairs: list[tuple[str, str]] = [("course", c.catalog_id) for c in self.choices]
        types = {c.license_type for c in self.choices}
        if len(types) == 1 and None not in types:
            pairs.append(("license_type", str(types.pop())))
        else:
            pairs += [(c.field_name, c.license_type) for c in self.choices if c.license_type is not None]
        return pairs


def _day(moment: datetime | None) -> str:
    return f"{moment:%d %B %Y}" if moment else "an unknown date"


def why_not(verdict: Verdict) -> str:
    """Why a course cannot be delivered under the verdict's license type, in plain words."""
    label = license_label(verdict.license_type)
    words = {
        "course_retired": "the course is retired",
        "not_covered": "the course is not in the Plus catalog",
        "bundle_excluded": "the course belongs to a subscription-only bundle: it is delivered with Plus only",
        "no_license": f"your organization holds no {label} license for it",
        "not_started": f"your {label} license for it starts on {_day(verdict.starts_at)}",
        "license_expired": f"your {label} license for it expired on {_day(verdict.ended_at)}",
        "ppu_not_configured": "Pay Per Use is not set up for your organization",
        "not_in_library": "it is not in your Pay Per Use library",
    }
    return words.get(verdict.reason or "", f"your organization holds no {label} license for it now")


def _input_problems(wanted: Wanted) -> list[str]:
    problems = []
    if not wanted.catalog_ids:
        problems.append("Choose at least one course to deliver (from the Dashboard's tabs or a course page).")
    if len(wanted.catalog_ids) > MAX_COURSES:
        problems.append(f"Choose at most {MAX_COURSES} courses at a time (this selection has "
                        f"{len(wanted.catalog_ids)}).")
    if any(len(cid) > MAX_ID_CHARS for cid in wanted.catalog_ids):
        problems.append(f"A course id is longer than {MAX_ID_CHARS} characters.")
    types = {wanted.license_type, *wanted.per_course.values()} - {None}
    if not types <= set(LICENSE_LABELS):
        problems.append("The license must be Plus, Volume or Pay Per Use.")
    return problems


def resolve_selection(read_sessions: sessionmaker[Session], account_id: int, wanted: Wanted,
                      now: datetime) -> Selection:
    """Each wanted course with the license types the account can deliver it under now, and the
    chosen one: the one asked for, or the only one. Unknown courses (404), courses not
    deliverable under the type asked for or under none (403) and bad input (400) are problems."""
    problems = _input_problems(wanted)
    if problems:
        return Selection((), tuple(problems), 400)
    with read_sessions() as session:
        facts = license_queries.course_facts_by_catalog_id(session, wanted.catalog_ids)
        titles = dict(session.execute(select(Course.catalog_id, Course.title)
                                      .where(Course.catalog_id.in_(list(facts)))).all())
        verdicts = holdings.deliverabilities(session, account_id, facts.values(), now)
    unknown = [f"There is no course “{cid}” in the catalog." for cid in wanted.catalog_ids if cid not in facts]
    if unknown:
        return Selection((), tuple(unknown), 404)
    choices, refused = [], []
    for cid in wanted.catalog_ids:
        deliverability = verdicts[facts[cid].id]
        asked = wanted.license_type_of(cid)
        title = titles[cid]
        if asked is not None and asked not in deliverability.license_types:
            refused.append(f"“{title}” cannot be delivered under {license_label(asked)}: "
                           f"{why_not(deliverability.verdict(asked))}.")
        elif not deliverability.license_types:
            reasons = "; ".join(why_not(v) for v in deliverability.verdicts)
            refused.append(f"“{title}” cannot be delivered now: {reasons}.")
        else:
            only = deliverability.license_types[0] if len(deliverability.license_types) == 1 else None
            choices.append(Choice(cid, title, deliverability.license_types, asked or only))
    if refused:
        return Selection((), tuple(refused), 403)
    return Selection(tuple(choices), ())


def remembered_format(read_sessions: sessionmaker[Session], account_id: int) -> str | None:
    with read_sessions() as session:
        return package_format(session, account_id)


@dataclass(frozen=True)
class InvitationsOverview:
    invitations: tuple[InvitationView, ...]  # newest first, at most INVITATIONS_SHOWN
    total: int
    outbox: tuple[OutboxEntry, ...] | None  # None: mail goes out by SMTP (no outbox to show)


def invitations_overview(read_sessions: sessionmaker[Session], account_id: int, show_outbox: bool,
                         now: datetime) -> InvitationsOverview:
    """The account's invitations and, when the mail backend is the outbox, its newest mails."""
    with read_sessions() as session:
        found = list_invitations(session, account_id, now)
        outbox = tuple(list_outbox(session, OUTBOX_SHOWN, account_id=account_id)) if show_outbox else None
    return InvitationsOverview(tuple(found[:INVITATIONS_SHOWN]), len(found), outbox)


@dataclass(frozen=True)
class CourseInvitations:
    """What sending did for one course: the service's report, or why nothing was sent."""

    choice: Choice
    report: InvitationReport | None
    error: str | None = None


def invite_to_courses(sessions: sessionmaker[Session], mailer: Mailer, account_id: int, admin_learner_id: int,
                      choices: Sequence[Choice], emails: str, now: datetime, *, link_for: Callable[[str], str],
                      demo_content: bool) -> list[CourseInvitations]:
    """``send_invitations`` for each chosen course (each address gets one link per course). The
    caller checks the addresses first (``store.invitations.rules.parse_addresses``): the service
    raises ``InvalidEmails`` otherwise. A course the service refuses as a whole (no content to
    play yet, …) is reported with its reason; the other courses are still sent."""
    out = []
    for choice in choices:
        assert choice.license_type is not None
        try:
            report = send_invitations(sessions, mailer, account_id, admin_learner_id, choice.catalog_id,
                                      choice.license_type, emails, now, link_for=link_for,
                                      demo_content=demo_content)
        except ContentNotAvailable:
            out.append(CourseInvitations(choice, None, "the course has nothing to play yet: no seat was taken"))
        except StoreError as exc:
            out.append(CourseInvitations(choice, None, exc.message))
        else:
            out.append(CourseInvitations(choice, report))
    return out


__all__ = ["MAX_COURSES", "Choice", "CourseInvitations", "InvitationsOverview", "Selection", "Wanted",
           "invitations_overview", "invite_to_courses", "remembered_format", "resolve_selection", "why_not"]
