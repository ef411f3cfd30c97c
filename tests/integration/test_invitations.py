"""Invitations: seats occupied at send time, a personal link mailed after the commit, the link
relaunching the seat for its life."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.linking import set_identity_linking
from store.accounts.service import LearnerIdentity
from store.content import ContentNotAvailable
from store.errors import InvalidInput, NotFound
from store.invitations.models import Invitation
from store.invitations.service import (
    InvalidEmails,
    InvitationNotFound,
    InvitationRefused,
    list_invitations,
    open_invitation,
    send_invitations,
)
from store.licenses import service
from store.licenses.models import CourseLaunch, LaunchRefusal, Seat, VolumeLot
from store.mail import OutboxMailer
from store.mail.models import MailMessage
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, make_account
from tests.factories.store import make_learner

Sessions = sessionmaker[Session]
LINK = "https://tool.test/invite/"


def link_for(token: str) -> str:
    return LINK + token


def setup(sessions: Sessions, seats: int = 2) -> tuple[int, int, str]:
    account_id = make_account(sessions, "Small Co").id
    admin = make_learner(sessions, account_id, "admin-1")
    with sessions.begin() as s:
        course = make_course(s, "SAFE-1", title="Fire Safety", is_plus=False).catalog_id
    service.grant_volume(sessions, account_id, course, seats, T0)
    return account_id, admin, course


def send(sessions: Sessions, account_id: int, admin: int | None, course: str, emails: str, now=T0,  # type: ignore[no-untyped-def]
         license_type: str = "volume", demo_content: bool = True):
    return send_invitations(sessions, OutboxMailer(sessions, "store@tool.test"), account_id, admin, course,
                            license_type, emails, now, link_for=link_for, demo_content=demo_content)


def mails(sessions: Sessions) -> list[MailMessage]:
    with sessions() as s:
        return list(s.scalars(select(MailMessage).order_by(MailMessage.id)))


def token_of(message: MailMessage) -> str:
    found = re.search(re.escape(LINK) + r"(\S+)", message.body)
    assert found, message.body
    return found.group(1)


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_each_address_gets_a_seat_and_a_mail_refused_ones_get_neither(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions, seats=2)
    report = send(sessions, account_id, admin, course,
                  "ada@example.com\n\nBob@Example.com\nADA@example.com\ncy@example.com\n")
    assert [s.email for s in report.sent] == ["ada@example.com", "Bob@Example.com"]
    assert all(s.is_new_seat for s in report.sent)
    assert [(r.email, r.reason) for r in report.refused] == [("cy@example.com", "no_seats")]
    assert "All seats" in report.refused[0].message and report.duplicates == 1
    assert report.course_title == "Fire Safety"
    sent = mails(sessions)
    assert [m.to_address for m in sent] == ["ada@example.com", "Bob@Example.com"]
    assert all(m.account_id == account_id and m.subject == "Your course: Fire Safety" for m in sent)
    assert "admin-1 (Small Co) invited you" in sent[0].body
    with sessions() as s:
        assert s.scalar(select(VolumeLot.seats_used)) == 2
        stored = s.scalars(select(Invitation.token_hash)).all()
    assert len(stored) == 2 and token_of(sent[0]) not in stored  # only the hash is stored
    assert count(sessions, LaunchRefusal) == 1  # the refused address is in Needs Attention


def test_the_link_opens_the_same_seat_for_its_life(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions)
    report = send(sessions, account_id, admin, course, "ada@example.com")
    token = token_of(mails(sessions)[0])
    opened = open_invitation(sessions, token, T0 + timedelta(days=1))
    seat, learner_id, catalog_id, opened_account = opened
    assert seat.id == report.sent[0].seat_id and catalog_id == course and opened_account == account_id
    again = open_invitation(sessions, token, T0 + timedelta(days=30))
    assert again.seat.id == seat.id and again.learner_id == learner_id
    with sessions() as s:
        invitation = s.scalars(select(Invitation)).one()
        launch = s.scalars(select(CourseLaunch)).one()
    assert invitation.open_count == 2 and invitation.last_opened_at == T0 + timedelta(days=30)
    assert launch.launch_count == 3  # sending, and two opens
    assert count(sessions, Seat) == 1
    with pytest.raises(InvitationRefused) as refused:  # the lot's 12 months are over
        open_invitation(sessions, token, T0 + timedelta(days=400))
    assert refused.value.reason == "license_expired" and refused.value.ask


def test_inviting_again_mails_a_new_link_and_keeps_the_seat(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions)
    first = send(sessions, account_id, admin, course, "ada@example.com")
    old = token_of(mails(sessions)[0])
    second = send(sessions, account_id, admin, course, "Ada@example.com", now=T0 + timedelta(days=2))
    assert second.sent[0].seat_id == first.sent[0].seat_id and not second.sent[0].is_new_seat
    new = token_of(mails(sessions)[1])
    with pytest.raises(InvitationNotFound):
        open_invitation(sessions, old, T0 + timedelta(days=3))
    assert open_invitation(sessions, new, T0 + timedelta(days=3)).seat.id == first.sent[0].seat_id
    assert count(sessions, Invitation) == 1


@pytest.mark.parametrize("token", ["", "short", "x" * 101, "../../etc", "a" * 30 + "\x00", "a" * 43])
def test_unknown_or_malformed_links(sessions: Sessions, token: str) -> None:
    with pytest.raises(InvitationNotFound):
        open_invitation(sessions, token, T0)


def test_bad_lists_change_nothing(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions)
    with pytest.raises(InvalidEmails) as bad:
        send(sessions, account_id, admin, course, "ada@example.com\nnope\n")
    assert bad.value.problems == ("line 2: Enter an email address like name@example.com.",)
    with pytest.raises(InvalidEmails):
        send(sessions, account_id, admin, course, "\n".join(f"p{i}@example.com" for i in range(501)))
    with pytest.raises(InvalidInput) as kind:
        send(sessions, account_id, admin, course, "ada@example.com", license_type="gold")
    assert kind.value.reason == "invalid_license_type"
    with pytest.raises(NotFound) as course_missing:
        send(sessions, account_id, admin, "NOPE-1", "ada@example.com")
    assert course_missing.value.reason == "unknown_course"
    other = make_account(sessions, "Other Co").id
    with pytest.raises(NotFound) as stranger:
        send(sessions, other, admin, course, "ada@example.com")
    assert stranger.value.reason == "unknown_learner"
    with pytest.raises(ContentNotAvailable):
        send(sessions, account_id, admin, course, "ada@example.com", demo_content=False)
    assert (count(sessions, Seat), count(sessions, Invitation), count(sessions, MailMessage)) == (0, 0, 0)


def test_a_course_the_license_does_not_cover_refuses_each_address(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions)
    report = send(sessions, account_id, admin, course, "ada@example.com", license_type="plus")
    assert [r.reason for r in report.refused] == ["not_covered"] and not report.sent
    assert mails(sessions) == []


def test_with_linking_the_invited_person_launching_by_lti_keeps_the_seat(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions)
    set_identity_linking(sessions, account_id, True)
    report = send(sessions, account_id, admin, course, "Ada@Example.com")
    lti = service.claim_seat(sessions, service.ClaimRequest(account_id, "volume", course, LearnerIdentity(
        "lti:https://lms.example.edu", "sub-9", email="ada@example.com")), T0 + timedelta(days=1))
    assert lti.seat.id == report.sent[0].seat_id and not lti.is_new_seat  # type: ignore[union-attr]


def test_the_list(sessions: Sessions) -> None:
    account_id, admin, course = setup(sessions, seats=1)
    send(sessions, account_id, admin, course, "ada@example.com")
    send(sessions, account_id, None, course, "bob@example.com", now=T0 + timedelta(hours=1))  # refused: no seat
    open_invitation(sessions, token_of(mails(sessions)[0]), T0 + timedelta(hours=2))
    with sessions() as s:
        rows = list_invitations(s, account_id, T0 + timedelta(days=1))
        assert [(r.email, r.catalog_id, r.invited_by, r.open_count, r.seat_valid) for r in rows] == [
            ("ada@example.com", course, "admin-1", 1, True)]
        assert list_invitations(s, account_id, T0 + timedelta(days=400))[0].seat_valid is False
        with pytest.raises(NotFound):
            list_invitations(s, 999_999, T0)
