"""Mail: the ``Mailer`` interface and its two backends, chosen by ``MAIL_BACKEND``.

- ``outbox`` (default): messages are stored in the ``mail_outbox`` table, nothing leaves the
  server (``lti-tool mail outbox`` lists them);
- ``smtp``: messages go to ``SMTP_HOST`` and are recorded in the same table with their status.

Callers send **after** the commit of the use case that causes the mail.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.mail.service import Mailer, OutboxEntry, OutboxMailer, list_outbox
from store.mail.smtp import SmtpConfig, SmtpMailer


def mailer_for(settings: Settings, sessions: sessionmaker[Session]) -> Mailer:
    """The mailer ``MAIL_BACKEND`` names (the web app and the command line build theirs here)."""
    if settings.mail_backend == "smtp":
        return SmtpMailer(sessions, SmtpConfig.from_settings(settings))
    return OutboxMailer(sessions, settings.mail_from)


__all__ = ["Mailer", "OutboxEntry", "OutboxMailer", "SmtpConfig", "SmtpMailer", "list_outbox", "mailer_for"]
