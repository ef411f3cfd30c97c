"""The SMTP backend: each message goes to the SMTP server with ``smtplib`` under one total
deadline, and is recorded in the outbox with its status (``store.mail.service``).

- **Transport security**: STARTTLS after the greeting (``SMTP_STARTTLS``, port 587) or TLS from
  the first byte (``SMTP_SSL``, port 465), with certificate and host name verification; plain SMTP
  only when both are off (a relay on the same host), and then the password is never sent.
- **A total deadline** (``SMTP_TIMEOUT_SECONDS``) for name resolution, connect, TLS handshake,
  login and sending together: every socket operation gets only the time left (the deadline
  sockets of ``store.outbound``), so a server that answers one byte at a time cannot hold a page.
- **Failures** (refused connection, timeout, TLS, a refusal by the server) are logged and
  recorded as ``failed`` with the reason; ``send`` does not raise for them (the use case that
  caused the mail has committed already).
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.base import utcnow
from store.mail.service import OutgoingMail, check_mail, claim_retries, mark_failed, mark_sent, record
from store.outbound import DeadlineSocket, DeadlineSSLSocket, Resolver, resolve_within, system_resolver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    from_address: str
    username: str = ""
    password: str = ""
    starttls: bool = True
    implicit_tls: bool = False
    timeout_seconds: float = 10.0
    helo_name: str = "localhost"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(host=settings.smtp_host, port=settings.smtp_port, from_address=settings.mail_from,
                   username=settings.smtp_username, password=settings.smtp_password,
                   starttls=settings.smtp_starttls, implicit_tls=settings.smtp_ssl,
                   timeout_seconds=float(settings.smtp_timeout_seconds),
                   helo_name=urlsplit(settings.public_base_url).hostname or "localhost")


class SmtpRefused(Exception):
    """A step this client refuses to take (e.g. sending the password over plain text)."""


def default_tls_context() -> ssl.SSLContext:
    """A verifying context (the system's CAs) whose sockets keep the deadline."""
    context = ssl.create_default_context()
    context.sslsocket_class = DeadlineSSLSocket
    return context


class _DeadlineSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` whose socket gives each operation only the time left before
    ``deadline`` (``time.monotonic()``), resolving the host within it too; TLS from the first
    byte when ``implicit_tls``."""

    def __init__(self, host: str, port: int, *, deadline: float, tls_context: ssl.SSLContext, helo_name: str,
                 implicit_tls: bool, resolver: Resolver) -> None:
        self._deadline = deadline
        self._tls_context = tls_context
        self._implicit_tls = implicit_tls
        self._resolver = resolver
        # local_hostname given: smtplib would otherwise ask DNS for this host's name (unbounded).
        super().__init__(host, port, local_hostname=helo_name, timeout=max(0.001, deadline - time.monotonic()))

    @property
    def is_encrypted(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:  # noqa: ARG002 - the deadline rules
        last_error: OSError | None = None
        for family, type_, proto, _canonname, sockaddr in resolve_within(host, port, self._deadline, self._resolver):
            sock = DeadlineSocket(family, type_, proto)
            sock.deadline = self._deadline
            try:
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last_error = exc
                if isinstance(exc, TimeoutError):
                    raise
                continue
            return self._tls(sock, host) if self._implicit_tls else sock
        raise last_error or OSError(f"{host} has no address")

    def _tls(self, sock: DeadlineSocket, host: str) -> socket.socket:
        try:
            sock._arm()  # the handshake runs inside wrap_socket with the time left now
            tls = self._tls_context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        assert isinstance(tls, DeadlineSSLSocket)
        tls.deadline = self._deadline
        return tls

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        assert isinstance(self.sock, DeadlineSocket)
        self.sock._arm()
        answer = super().starttls(context=self._tls_context)
        assert isinstance(self.sock, DeadlineSSLSocket)
        self.sock.deadline = self._deadline
        return answer


def build_message(from_address: str, mail: OutgoingMail, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    # A domain given: make_msgid would otherwise ask DNS for this host's name.
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or "localhost")
    message.set_content(mail.text)
    return message


def describe(exc: BaseException) -> str:
    """A failure in one line for the outbox and the log (no password: smtplib never puts it in
    an exception)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"the server refused: {exc.smtp_code} {text}".replace("\r", " ").replace("\n", " ")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the server refused the recipient: " + "; ".join(
            f"{code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
            for code, msg in exc.recipients.values()).replace("\r", " ").replace("\n", " ")
    if isinstance(exc, TimeoutError):
        return "timed out: the SMTP server did not finish within the deadline"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing accepts connections at the SMTP host and port"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    return f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " ")


@dataclass
class RetryReport:
    sent: int = 0
    failed: int = 0


class SmtpMailer:
    backend = "smtp"

    def __init__(self, sessions: sessionmaker[Session], config: SmtpConfig, *,
                 tls_context: ssl.SSLContext | None = None, resolver: Resolver = system_resolver) -> None:
        self._sessions = sessions
        self.config = config
        self.from_address = config.from_address
        if tls_context is not None:
            tls_context.sslsocket_class = DeadlineSSLSocket
        self._tls_context = tls_context or default_tls_context()
        self._resolver = resolver

    def send(self, to: str, subject: str, text: str, *, account_id: int | None = None) -> None:
        mail = check_mail(to, subject, text)
        now = utcnow()
        message_id = record(self._sessions, backend=self.backend, status="sending",
                            from_address=self.config.from_address, mail=mail, now=now, account_id=account_id)
        self._attempt(message_id, self.config.from_address, mail, now)

    def retry_failed(self, now: datetime, *, max_attempts: int, max_age: timedelta) -> RetryReport:
        """Send again the messages the server did not take (the mail job): each claimed once,
        recorded ``sent`` or ``failed`` again with the new reason."""
        report = RetryReport()
        for message in claim_retries(self._sessions, now, max_attempts=max_attempts, max_age=max_age):
            if self._attempt(message.id, message.from_address, message.mail, now):
                report.sent += 1
            else:
                report.failed += 1
        return report

    def _attempt(self, message_id: int, from_address: str, mail: OutgoingMail, now: datetime) -> bool:
        """One delivery of a recorded message, and its new status; True when the server took it."""
        try:
            self.deliver(build_message(from_address, mail, now), mail.to)
        except (smtplib.SMTPException, OSError, SmtpRefused, ValueError) as exc:
            reason = describe(exc)
            log.warning("mail %s to the SMTP server %s:%s failed: %s", message_id, self.config.host,
                        self.config.port, reason)
            mark_failed(self._sessions, message_id, reason)
            return False
        mark_sent(self._sessions, message_id, utcnow(), keep_body=False)
        log.info("mail %s sent through %s:%s", message_id, self.config.host, self.config.port)
        return True

    def deliver(self, message: EmailMessage, to: str) -> None:
        """One SMTP session within the deadline: connect, (STARTTLS), (login), send, quit."""
        config = self.config
        deadline = time.monotonic() + config.timeout_seconds
        client = _DeadlineSMTP(config.host, config.port, deadline=deadline, tls_context=self._tls_context,
                               helo_name=config.helo_name, implicit_tls=config.implicit_tls, resolver=self._resolver)
        try:
            client.ehlo()
            if config.starttls:
                if not client.has_extn("starttls"):
                    raise SmtpRefused("the SMTP server does not offer STARTTLS (SMTP_STARTTLS is on)")
                client.starttls()
                client.ehlo()
            if config.username:
                if not client.is_encrypted:
                    raise SmtpRefused("refusing to send the SMTP password over an unencrypted connection "
                                      "(turn SMTP_STARTTLS or SMTP_SSL on)")
                client.login(config.username, config.password)
            client.send_message(message, from_addr=config.from_address, to_addrs=[to])
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the server has accepted the message already
        finally:
            client.close()
