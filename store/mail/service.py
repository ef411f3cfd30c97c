"""Sending mail: the ``Mailer`` interface, the outbox backend, and the outbox's records.

``Mailer.send(to, subject, text, account_id=None)`` is called **after** the commit of the use case that causes the
mail (a reset link is mailed once its token is stored), so a rolled-back use case never mails.
Every message is recorded in ``mail_outbox`` with its status:

- the **outbox** backend (the embedded default) stores it there (``stored``) and sends nothing:
  ``lti-tool mail outbox`` shows it;
- the **SMTP** backend (``store.mail.smtp``) records it (``sending``), commits, hands it to the
  server, then records ``sent`` or ``failed`` with the reason.

``send`` raises ``InvalidInput`` for a message it must not send (a line break in the address or
the subject would inject headers; text breaking the input rule), before anything is recorded.
It never raises because delivery failed: the use case that caused the mail has committed and
its page must answer as usual; the failure is logged and recorded (``failed`` with its error).
The worker's ``mail-retry`` job sends such messages again (``claim_retries``, then
``SmtpMailer.retry_failed``), counting ``attempts``, up to ``MAIL_MAX_ATTEMPTS`` and while the
message is younger than ``MAIL_RETRY_HOURS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.errors import InvalidInput
from store.mail.models import MailMessage
from store.text import check_text, printable

ADDRESS_MAX = 320
SUBJECT_MAX = 300
BODY_MAX = 100_000
ERROR_MAX = 500
LIST_MAX = 1000


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, *, account_id: int | None = None) -> None:
        """``account_id``: the account the message is sent for (closing the account removes it)."""
        ...


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str


def check_mail(to: str, subject: str, text: str) -> OutgoingMail:
    """The message, checked: one address, a one-line subject, text that keeps the input rule."""
    check_text(to, "recipient address", max_chars=ADDRESS_MAX)
    check_text(subject, "mail subject", max_chars=SUBJECT_MAX)
    check_text(text, "mail text", max_chars=BODY_MAX, allow_newlines=True)
    to = to.strip()
    local, at, domain = to.rpartition("@")
    if not at or not local or not domain or any(ch.isspace() or ch in "<>,;\"" for ch in to):
        raise InvalidInput("the recipient must be one email address", reason="invalid_recipient")
    return OutgoingMail(to, subject.strip(), text)


def record(sessions: sessionmaker[Session], *, backend: str, status: str, from_address: str, mail: OutgoingMail,
           now: datetime, account_id: int | None = None) -> int:
    """Add one message to the outbox (its own transaction); returns its id."""
    with sessions.begin() as session:
        message = MailMessage(backend=backend, status=status, from_address=from_address, to_address=mail.to,
                              subject=mail.subject, body=mail.text, created_at=now, account_id=account_id)
        session.add(message)
        session.flush()
        return message.id


def mark_sent(sessions: sessionmaker[Session], message_id: int, now: datetime, *, keep_body: bool) -> None:
    values: dict[str, object] = {"status": "sent", "sent_at": now, "error": None}
    if not keep_body:
        values["body"] = ""
    with sessions.begin() as session:
        session.execute(update(MailMessage).where(MailMessage.id == message_id).values(**values))


def mark_failed(sessions: sessionmaker[Session], message_id: int, error: str) -> None:
    with sessions.begin() as session:
        session.execute(update(MailMessage).where(MailMessage.id == message_id)
                        .values(status="failed", error=printable(error)[:ERROR_MAX]))


# ---------------------------------------------------------------- retrying failed deliveries


@dataclass(frozen=True)
class RetryMessage:
    id: int
    from_address: str
    mail: OutgoingMail


def claim_retries(sessions: sessionmaker[Session], now: datetime, *, max_attempts: int, max_age: timedelta,
                  limit: int = 100) -> list[RetryMessage]:
    """Failed SMTP messages younger than ``max_age`` with attempts left, each claimed for one
    more attempt (``failed`` → ``sending``, attempts + 1) by a guarded UPDATE in one transaction,
    so two workers never send one message twice."""
    with sessions.begin() as session:
        candidates = session.scalars(
            select(MailMessage).where(MailMessage.backend == "smtp", MailMessage.status == "failed",
                                      MailMessage.attempts < max_attempts, MailMessage.created_at >= now - max_age)
            .order_by(MailMessage.id).limit(limit)).all()
        claimed = []
        for m in candidates:
            won = session.execute(update(MailMessage).where(MailMessage.id == m.id, MailMessage.status == "failed")
                                  .values(status="sending", attempts=MailMessage.attempts + 1)
                                  .execution_options(synchronize_session=False)).rowcount
            if won == 1:
                claimed.append(RetryMessage(m.id, m.from_address, OutgoingMail(m.to_address, m.subject, m.body)))
    return claimed


class OutboxMailer:
    """The embedded backend: each message is stored in ``mail_outbox`` (status ``stored``) and
    goes nowhere else. Development, tests, and small installations read it with
    ``lti-tool mail outbox``."""

    backend = "outbox"

    def __init__(self, sessions: sessionmaker[Session], from_address: str) -> None:
        self._sessions = sessions
        self.from_address = from_address

    def send(self, to: str, subject: str, text: str, *, account_id: int | None = None) -> None:
        record(self._sessions, backend=self.backend, status="stored", from_address=self.from_address,
               mail=check_mail(to, subject, text), now=utcnow(), account_id=account_id)


# ---------------------------------------------------------------- reading the outbox


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    backend: str
    status: str
    from_address: str
    to_address: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None
    attempts: int  # delivery attempts so far (SMTP; retried by the mail-retry job)


def list_outbox(session: Session, limit: int = 20, *, account_id: int | None = None) -> list[OutboxEntry]:
    """The newest ``limit`` messages, newest first; with ``account_id`` only that account's."""
    if not 1 <= limit <= LIST_MAX:
        raise InvalidInput(f"limit must be between 1 and {LIST_MAX}", reason="invalid_limit")
    query = select(MailMessage)
    if account_id is not None:
        query = query.where(MailMessage.account_id == account_id)
    rows = session.scalars(query.order_by(MailMessage.created_at.desc(), MailMessage.id.desc()).limit(limit))
    return [OutboxEntry(m.id, m.backend, m.status, m.from_address, m.to_address, m.subject, m.body, m.created_at,
                        m.sent_at, m.error, m.attempts) for m in rows]
