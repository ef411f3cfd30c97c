"""Invitations (/dashboard/deliver/invitations and /invite/<token>): **Email addresses** and **Send
Invitations**; the seat is occupied at send time; an address without a seat is refused with the
reason and gets no mail; bad lines are named next to the field and nothing is sent; the account's
invitations and its **Mail outbox**; the link opens the course player outside any LMS, a replaced
link is a 404 page, a refused one says why."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.catalog.service import import_records
from store.invitations.models import Invitation
from store.invitations.rules import EMAILS_MAX_CHARS
from store.licenses.models import Seat, VolumeLot
from store.licenses.service import grant_volume
from store.mail.models import MailMessage
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Page, make_buyer
from tests.web.conftest import settings_for

CATALOG = [{"id": "C-200", "title": "Advanced Forklift", "publisher": "Safe Co", "volume_price_cents": 1_000,
            "ppu_price_cents": 2_000}]
PAGE = "/dashboard/deliver/invitations"
SELECTION = {"course": "C-200", "license_type": "volume"}


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, CATALOG, full=True, now=utcnow())
    account_id = make_account(committing_sessions, name="Acme Learning", now=utcnow()).id
    grant_volume(committing_sessions, account_id, "C-200", 2, utcnow())
    return account_id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def send(buyer: Buyer, emails: str, status: int = 200) -> Page:
    page = buyer.page(PAGE, **SELECTION)
    form = page.form_of(page.button("Send Invitations"))
    assert page.label_text(page.field("Email addresses")) == "Email addresses"
    result = Page(buyer.submit(form, "Send Invitations", emails=emails))
    assert result.status == status, result.text[:1000]
    return result


def count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def links_in_outbox(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        mails = session.execute(select(MailMessage.to_address, MailMessage.body)).all()
    found = {}
    for to, body in mails:
        match = re.search(r"http://tool\.test(/invite/\S+)", body)
        assert match, body
        found[to] = match.group(1)
    return found


def results(page: Page) -> list[str]:
    return [" ".join(li.text_content().split()) for li in page.doc.xpath('//ul[@class="delivery-result-list"]/li')]


def test_sending_occupies_the_seats_and_mails_the_links(committing_sessions: sessionmaker[Session], account: int,
                                                       buyer: Buyer) -> None:
    page = send(buyer, "ada@example.com\n\nBob@Example.com\nada@example.com")
    assert results(page) == ["ada@example.com: sent", "Bob@Example.com: sent"]
    assert "1 repeated address was sent once." in page.text
    # The seats exist before anyone opened a link.
    assert count(committing_sessions, Seat) == 2 and count(committing_sessions, Invitation) == 2
    links = links_in_outbox(committing_sessions)
    assert sorted(links) == ["Bob@Example.com", "ada@example.com"]
    # The account's invitations and its outbox, on the page.
    listed = [" ".join(li.text_content().split()) for li in page.doc.xpath('//ul[@class="delivery-invitation-list"]/li')]
    assert len(listed) == 2 and all("Advanced Forklift (Volume)" in x and "not opened yet" in x for x in listed)
    outbox = page.by_id("delivery-outbox").getparent()
    assert "To ada@example.com: Your course: Advanced Forklift" in " ".join(outbox.text_content().split())
    assert links["ada@example.com"] in outbox.text_content()


def test_no_seat_left_refuses_the_address_with_the_reason_and_mails_nothing(
        committing_sessions: sessionmaker[Session], account: int, buyer: Buyer) -> None:
    page = send(buyer, "ada@example.com\nbob@example.com\ncarol@example.com")
    sent, second, refused = results(page)
    assert sent == "ada@example.com: sent" and second == "bob@example.com: sent"
    assert refused.startswith("carol@example.com: not sent.") and "seat" in refused.lower()
    assert count(committing_sessions, Seat) == 2
    assert sorted(links_in_outbox(committing_sessions)) == ["ada@example.com", "bob@example.com"]


def test_bad_lines_are_named_next_to_the_field_and_nothing_is_sent(committing_sessions: sessionmaker[Session],
                                                                  account: int, buyer: Buyer) -> None:
    page = send(buyer, "ada@example.com\nnot an address\n\nbob@", status=400)
    field = page.field("Email addresses")
    assert field.get("aria-invalid") == "true"
    described = page.described_by(field)
    assert "line 2:" in described and "line 4:" in described and "Nothing was sent" in described
    assert field.text == "ada@example.com\nnot an address\n\nbob@"  # kept for correcting
    assert count(committing_sessions, Seat) == 0 and count(committing_sessions, MailMessage) == 0
    empty = send(buyer, "   \n", status=400)
    assert "Enter at least one email address" in empty.described_by(empty.field("Email addresses"))
    too_long = send(buyer, "a" * (EMAILS_MAX_CHARS + 1), status=400)
    assert "The list of addresses" in too_long.described_by(too_long.field("Email addresses"))
    assert count(committing_sessions, Seat) == 0 and count(committing_sessions, MailMessage) == 0


def test_sending_needs_the_csrf_token_and_an_admin(app: Flask, committing_sessions: sessionmaker[Session],
                                                  account: int, buyer: Buyer) -> None:
    response = buyer.post(PAGE, {**SELECTION, "emails": "ada@example.com"}, csrf=False)
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    assert learner.post(PAGE, {**SELECTION, "emails": "ada@example.com"}).status_code == 403
    assert count(committing_sessions, Seat) == 0 and count(committing_sessions, MailMessage) == 0


def test_the_link_opens_the_course_player_outside_any_lms(app: Flask, committing_sessions: sessionmaker[Session],
                                                         account: int, buyer: Buyer) -> None:
    send(buyer, "ada@example.com")
    link = links_in_outbox(committing_sessions)["ada@example.com"]
    client = app.test_client()  # the learner's browser: no session of the tool
    response = client.get(link)
    assert response.status_code == 303 and response.headers["Location"].startswith("/play?t=")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    player = client.get(response.headers["Location"])
    assert player.status_code == 200
    assert "frame-ancestors 'self'" in player.headers["Content-Security-Policy"]
    assert count(committing_sessions, Seat) == 1  # the seat of the invitation, reused
    with committing_sessions() as session:
        assert session.scalars(select(Invitation.open_count)).one() == 1


def test_a_replaced_or_unknown_link_is_a_clear_404(app: Flask, committing_sessions: sessionmaker[Session],
                                                  account: int, buyer: Buyer) -> None:
    send(buyer, "ada@example.com")
    old = links_in_outbox(committing_sessions)["ada@example.com"]
    with committing_sessions.begin() as session:
        session.execute(MailMessage.__table__.delete())
    send(buyer, "ada@example.com")  # a new link replaces the old one
    new = links_in_outbox(committing_sessions)["ada@example.com"]
    assert new != old
    client = app.test_client()
    page = Page(client.get(old))
    assert page.status == 404 and page.h1 == "This invitation link is not valid"
    assert "replaced by a newer invitation" in page.text
    assert Page(client.get("/invite/nonsense")).status == 404
    assert client.get(new).status_code == 303


def test_a_link_whose_seat_expired_says_why(app: Flask, committing_sessions: sessionmaker[Session], account: int,
                                           buyer: Buyer) -> None:
    send(buyer, "ada@example.com")
    link = links_in_outbox(committing_sessions)["ada@example.com"]
    past = utcnow() - timedelta(days=1)
    with committing_sessions.begin() as session:
        session.execute(update(VolumeLot).values(purchased_at=past - timedelta(days=366), expires_at=past))
        session.execute(update(Seat).values(expires_at=past))
    page = Page(app.test_client().get(link))
    assert page.status == 403 and page.h1 == "This course cannot be opened"
    assert page.by_id("invite-message").text_content().strip()


def test_smtp_accounts_see_no_outbox(engine: object, committing_sessions: sessionmaker[Session]) -> None:
    from lti_tool import create_app
    from lti_tool.services import services_of

    app = create_app(settings_for(engine, mail_backend="smtp", smtp_host="127.0.0.1"))  # type: ignore[arg-type]
    try:
        import_records(committing_sessions, CATALOG, full=True, now=utcnow())
        account_id = make_account(committing_sessions, name="Acme Learning", now=utcnow()).id
        grant_volume(committing_sessions, account_id, "C-200", 2, utcnow())
        page = make_buyer(app, committing_sessions, account_id).page(PAGE, **SELECTION)
        assert page.doc.xpath('//*[@id="delivery-outbox"]') == []
        assert page.buttons("Send Invitations")
    finally:
        services_of(app).engine.dispose()
