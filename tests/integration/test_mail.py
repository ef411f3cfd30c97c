"""The mail backends on real databases: the outbox backend, and the SMTP backend against a local
SMTP server written for the tests (plain, STARTTLS with login, TLS from the first byte, a refused
connection, a server that never answers, an untrusted certificate, a refused recipient)."""

from __future__ import annotations

import atexit
import email
import socket
import time
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from store.base import utcnow
from store.errors import InvalidInput
from store.mail import OutboxMailer, SmtpConfig, SmtpMailer, list_outbox, mailer_for
from store.mail.models import MailMessage
from tests.factories.smtp_server import make_certificate, smtp_server, trusting_context

Sessions = sessionmaker[Session]

# A port that stays closed for the whole run: bound (no other server gets it), never listening.
_CLOSED = socket.socket()
_CLOSED.bind(("127.0.0.1", 0))
atexit.register(_CLOSED.close)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


def _config(port: int, **overrides: object) -> SmtpConfig:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "from_address": "store@tool.test",
                                 "starttls": False, "timeout_seconds": 5.0, "helo_name": "tool.test"}
    values.update(overrides)
    return SmtpConfig(**values)  # type: ignore[arg-type]


def _only_message(sessions: Sessions) -> MailMessage:
    with sessions() as session:
        rows = list(session.scalars(select(MailMessage)))
    assert len(rows) == 1
    return rows[0]


def _count(sessions: Sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(MailMessage)) or 0


# ---------------------------------------------------------------- outbox


def test_the_outbox_backend_stores_each_message_and_lists_the_newest_first(sessions: Sessions) -> None:
    mailer = OutboxMailer(sessions, "store@tool.test")
    mailer.send("jane@example.com", "First", "Hello Jane,\n\nline two\n")
    mailer.send("  joe@example.com ", "Second", "Hi")
    with sessions() as session:
        entries = list_outbox(session, 10)
        assert [e.subject for e in entries] == ["Second", "First"]
        assert entries[0].to_address == "joe@example.com"
        assert entries[1].body == "Hello Jane,\n\nline two\n"
        assert {e.status for e in entries} == {"stored"} and {e.backend for e in entries} == {"outbox"}
        assert entries[1].from_address == "store@tool.test"
        assert [e.subject for e in list_outbox(session, 1)] == ["Second"]
        with pytest.raises(InvalidInput):
            list_outbox(session, 0)


@pytest.mark.parametrize(("to", "subject", "text", "reason"), [
    ("jane@example.com\r\nBcc: everyone@example.com", "Hi", "x", "invalid_text"),  # header injection
    ("jane@example.com", "Hi\nBcc: everyone@example.com", "x", "invalid_text"),
    ("jane@example.com", "Hi", "a NUL \x00 here", "invalid_text"),
    ("not an address", "Hi", "x", "invalid_recipient"),
    ("jane@example.com, joe@example.com", "Hi", "x", "invalid_recipient"),
    ("jane@example.com", "x" * 301, "x", "text_too_long"),
])
def test_a_message_that_must_not_be_sent_is_refused_and_nothing_is_recorded(
        sessions: Sessions, to: str, subject: str, text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        OutboxMailer(sessions, "store@tool.test").send(to, subject, text)
    assert refused.value.reason == reason
    assert _count(sessions) == 0


def test_the_backend_follows_the_setting(sessions: Sessions) -> None:
    base = {"ENV": "test", "DATABASE_URL": "sqlite://"}
    assert isinstance(mailer_for(load_settings(base), sessions), OutboxMailer)
    smtp = mailer_for(load_settings({**base, "MAIL_BACKEND": "smtp", "SMTP_HOST": "mail.example.com",
                                     "SMTP_PORT": "465", "SMTP_SSL": "true", "SMTP_STARTTLS": "false",
                                     "MAIL_FROM": "shop@example.com"}), sessions)
    assert isinstance(smtp, SmtpMailer)
    assert (smtp.config.host, smtp.config.port, smtp.config.implicit_tls, smtp.config.starttls) == (
        "mail.example.com", 465, True, False)
    assert smtp.from_address == "shop@example.com"


# ---------------------------------------------------------------- SMTP


def test_smtp_plain_relay_sends_and_records_the_message_as_sent_without_its_text(sessions: Sessions) -> None:
    with smtp_server(tls_files=None) as server:
        SmtpMailer(sessions, _config(server.port)).send("jane@example.com", "Reset your password",
                                                       "Hello Jane,\n\nhttps://tool.test/store/reset/abc\n")
    assert len(server.messages) == 1
    received = server.messages[0]
    assert received.rcpt_to == ["<jane@example.com>"] and received.mail_from == "<store@tool.test>"
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    assert parsed["Subject"] == "Reset your password" and parsed["To"] == "jane@example.com"
    assert parsed["From"] == "store@tool.test" and parsed["Message-ID"].endswith("@tool.test>")
    assert "https://tool.test/store/reset/abc" in parsed.get_content()
    message = _only_message(sessions)
    assert (message.backend, message.status, message.error) == ("smtp", "sent", None)
    assert message.sent_at is not None
    assert message.body == ""  # a sent message's text (a reset link) is not kept


def test_smtp_starttls_and_login(sessions: Sessions, certificate: tuple[Path, Path]) -> None:
    with smtp_server(tls_files=certificate, credentials=("shop", "s3cret pass")) as server:
        mailer = SmtpMailer(sessions, _config(server.port, starttls=True, username="shop", password="s3cret pass"),
                            tls_context=trusting_context(certificate[0]))
        mailer.send("jane@example.com", "Hi", "Hello")
    assert server.commands[:3] == ["EHLO", "STARTTLS", "EHLO"]
    assert "AUTH PLAIN" in server.commands or "AUTH LOGIN" in server.commands
    assert len(server.messages) == 1 and server.messages[0].tls and server.messages[0].user == "shop"
    assert _only_message(sessions).status == "sent"


def test_smtp_tls_from_the_first_byte(sessions: Sessions, certificate: tuple[Path, Path]) -> None:
    with smtp_server(tls_files=certificate, implicit_tls=True, credentials=("shop", "pw")) as server:
        SmtpMailer(sessions, _config(server.port, implicit_tls=True, username="shop", password="pw"),
                   tls_context=trusting_context(certificate[0])).send("jane@example.com", "Hi", "Hello")
    assert len(server.messages) == 1 and server.messages[0].tls
    assert _only_message(sessions).status == "sent"


def test_a_refused_connection_is_recorded_as_failed_and_does_not_raise(sessions: Sessions) -> None:
    SmtpMailer(sessions, _config(_CLOSED.getsockname()[1])).send("jane@example.com", "Hi", "Hello")
    message = _only_message(sessions)
    assert message.status == "failed" and message.sent_at is None
    assert message.error is not None and "connection refused" in message.error
    assert message.body == "Hello"  # kept: it was not delivered


def test_a_server_that_never_answers_is_cut_off_at_the_deadline(sessions: Sessions) -> None:
    with smtp_server(silent=True) as server:
        started = time.monotonic()
        SmtpMailer(sessions, _config(server.port, timeout_seconds=1.0)).send("jane@example.com", "Hi", "Hello")
        elapsed = time.monotonic() - started
    message = _only_message(sessions)
    assert message.status == "failed" and "timed out" in (message.error or "")
    assert elapsed < 25  # the deadline contract against a generous bound (the server waits 30 s)


def test_a_server_that_trickles_is_cut_off_at_the_total_deadline(sessions: Sessions) -> None:
    """Each byte arrives well within any per-read timeout; only a total deadline stops it."""
    with smtp_server(trickle=True) as server:
        started = time.monotonic()
        SmtpMailer(sessions, _config(server.port, timeout_seconds=1.0)).send("jane@example.com", "Hi", "Hello")
        elapsed = time.monotonic() - started
    message = _only_message(sessions)
    assert message.status == "failed" and "timed out" in (message.error or "")
    assert elapsed < 15  # the greeting alone takes 20 s to trickle in


def test_an_untrusted_certificate_fails_and_the_password_is_never_sent(sessions: Sessions,
                                                                       certificate: tuple[Path, Path]) -> None:
    with smtp_server(tls_files=certificate, credentials=("shop", "pw")) as server:
        # The default context trusts the system's CAs only: the self-signed certificate fails.
        SmtpMailer(sessions, _config(server.port, starttls=True, username="shop", password="pw")).send(
            "jane@example.com", "Hi", "Hello")
    message = _only_message(sessions)
    assert message.status == "failed" and "TLS failed" in (message.error or "")
    assert not any(c.startswith("AUTH") for c in server.commands) and server.messages == []


def test_no_password_over_an_unencrypted_connection(sessions: Sessions) -> None:
    with smtp_server(credentials=("shop", "pw")) as server:
        SmtpMailer(sessions, _config(server.port, username="shop", password="pw")).send(
            "jane@example.com", "Hi", "Hello")
    message = _only_message(sessions)
    assert message.status == "failed" and "unencrypted" in (message.error or "")
    assert not any(c.startswith("AUTH") for c in server.commands) and server.messages == []


def test_starttls_required_but_not_offered_fails(sessions: Sessions) -> None:
    with smtp_server(tls_files=None) as server:
        SmtpMailer(sessions, _config(server.port, starttls=True)).send("jane@example.com", "Hi", "Hello")
    message = _only_message(sessions)
    assert message.status == "failed" and "does not offer STARTTLS" in (message.error or "")
    assert server.messages == []


def test_a_refused_recipient_and_a_wrong_password_are_recorded(sessions: Sessions,
                                                               certificate: tuple[Path, Path]) -> None:
    with smtp_server(refuse_rcpt=True) as server:
        SmtpMailer(sessions, _config(server.port)).send("nobody@example.com", "Hi", "Hello")
    with smtp_server(tls_files=certificate, credentials=("shop", "right")) as server:
        SmtpMailer(sessions, _config(server.port, starttls=True, username="shop", password="wrong"),
                   tls_context=trusting_context(certificate[0])).send("jane@example.com", "Hi", "Hello")
        assert server.messages == []
    with sessions() as session:
        failed = {e.to_address: e.error or "" for e in list_outbox(session, 10)}
    assert "550" in failed["nobody@example.com"] and "no such mailbox" in failed["nobody@example.com"]
    assert "535" in failed["jane@example.com"] and "wrong" not in failed["jane@example.com"]


# ---------------------------------------------------------------- retries (the mail job)


def test_a_failed_message_is_sent_again_by_the_retry_once_the_server_takes_it(sessions: Sessions) -> None:
    SmtpMailer(sessions, _config(_CLOSED.getsockname()[1])).send("jane@example.com", "Your invitation", "Join us")
    assert _only_message(sessions).status == "failed"
    with smtp_server(tls_files=None) as server:
        mailer = SmtpMailer(sessions, _config(server.port))
        report = mailer.retry_failed(utcnow(), max_attempts=5, max_age=timedelta(hours=24))
        again = mailer.retry_failed(utcnow(), max_attempts=5, max_age=timedelta(hours=24))
    assert (report.sent, report.failed) == (1, 0) and (again.sent, again.failed) == (0, 0)
    assert len(server.messages) == 1 and b"Join us" in server.messages[0].data
    message = _only_message(sessions)
    assert (message.status, message.attempts, message.error, message.body) == ("sent", 2, None, "")


def test_retries_stop_after_the_last_attempt_and_for_old_messages(sessions: Sessions) -> None:
    closed = SmtpMailer(sessions, _config(_CLOSED.getsockname()[1]))
    closed.send("jane@example.com", "Hi", "Hello")
    day = timedelta(hours=24)
    for attempt in (2, 3):
        report = closed.retry_failed(utcnow(), max_attempts=3, max_age=day)
        assert (report.sent, report.failed) == (0, 1)
        assert (_only_message(sessions).attempts, _only_message(sessions).status) == (attempt, "failed")
    assert closed.retry_failed(utcnow(), max_attempts=3, max_age=day).failed == 0  # attempts used up
    later = utcnow() + timedelta(hours=25)
    assert closed.retry_failed(later, max_attempts=10, max_age=day).failed == 0  # too old to send now
    assert closed.retry_failed(utcnow(), max_attempts=10, max_age=day).failed == 1
