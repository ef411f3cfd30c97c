"""The course player opened from an emailed invitation (origin ``invite``): framed by the tool
only, playing the invited seat."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.player.tokens import ORIGINS, issue_player_token
from lti_tool.services import services_of
from store.invitations.service import open_invitation, send_invitations
from store.licenses import service as licenses
from store.mail import OutboxMailer
from store.mail.models import MailMessage
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account

NOW = datetime.now(UTC)


def test_an_invitation_opens_the_player_framed_by_the_tool_only(app: Flask, client: FlaskClient,
                                                                 committing_sessions: sessionmaker[Session]) -> None:
    assert "invite" in ORIGINS
    account_id = make_account(committing_sessions, "Small Co", NOW).id
    with committing_sessions.begin() as s:
        course = make_course(s, "INV-1", is_plus=False).catalog_id
    licenses.grant_volume(committing_sessions, account_id, course, 3, NOW)
    send_invitations(committing_sessions, OutboxMailer(committing_sessions, "store@tool.test"), account_id, None,
                     course, "volume", "ada@example.com", NOW, link_for=lambda t: f"http://tool.test/i/{t}",
                     demo_content=True)
    with committing_sessions() as s:
        body = s.scalars(select(MailMessage.body)).one()
    token = re.search(r"http://tool.test/i/(\S+)", body).group(1)  # type: ignore[union-attr]
    opened = open_invitation(committing_sessions, token, NOW)
    player = issue_player_token(services_of(app).settings, seat_id=opened.seat.id, catalog_id=opened.catalog_id,
                                learner_id=opened.learner_id, launch_id=None, origin="invite")
    response = client.get(f"/play?t={player}")
    assert response.status_code == 200
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    session = client.post("/play/api/session", headers={"Authorization": f"Bearer {player}"})
    assert session.status_code == 200
