"""The product's background jobs, each calling the same service function as its CLI command
(one owner), on the schedule its setting gives:

=====================  =============================  =======================================
job                    what it calls                  the same as
=====================  =============================  =======================================
``cleanup``            expired login states, used     (ran on every login before)
                       nonces, web sessions, stored
                       launches, dispatch token ids
``ags-flush``          ``ags.send_pending_scores``    ``lti-tool ags flush``
``billing-renew``      ``orders.renew_due``           ``lti-tool billing renew``
``billing-reconcile``  ``orders.reconcile_pending``   ``lti-tool billing reconcile``
``mail-retry``         ``SmtpMailer.retry_failed``    (SMTP failures are recorded, then retried)
=====================  =============================  =======================================

``lti-tool worker`` runs them (``store.jobs.worker``); ``lti-tool jobs status`` shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti import ags
from lti_tool.lti.login import purge_expired
from scorm_packages.service import purge_used_tokens
from store.jobs import JobDefinition, JobFailed, Schedule
from store.mail import SmtpMailer, mailer_for
from store.orders import service as orders_service
from store.payments import gateway_for

JOB_NAMES = ("cleanup", "ags-flush", "billing-renew", "billing-reconcile", "mail-retry")
RECONCILE_OLDER_THAN = timedelta(seconds=60)  # the default of `lti-tool billing reconcile`


def schedules(settings: Settings) -> list[Schedule]:
    """Every job and its interval, in the order a worker runs due jobs."""
    intervals = (settings.job_cleanup_seconds, settings.job_ags_flush_seconds, settings.job_billing_renew_seconds,
                 settings.job_billing_reconcile_seconds, settings.job_mail_retry_seconds)
    return [Schedule(name, interval) for name, interval in zip(JOB_NAMES, intervals, strict=True)]


def cleanup(sessions: sessionmaker[Session], now: datetime) -> str:
    lti_rows = purge_expired(sessions, now)
    token_ids = purge_used_tokens(sessions, now)
    return f"deleted {lti_rows} expired LTI rows (login states, nonces, sessions, launches), {token_ids} dispatch token ids"


def flush_scores(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> str:
    report = ags.send_pending_scores(sessions, settings, now)
    return f"sent {report.sent}, will retry {report.retrying}, failed {report.failed}"


def _summary(summary: str, has_errors: bool, failure: str) -> str:
    """The run's summary, or a ``JobFailed`` (recorded, retried) when the run reports errors."""
    if has_errors:
        raise JobFailed(f"{failure}: {summary}")
    return summary


def renew(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> str:
    report = orders_service.renew_due(sessions, settings, gateway_for(settings, sessions), now)
    return _summary(f"renewed {len(report.renewed)}, declined {len(report.declined)}, ended {len(report.ended)}, "
                    f"waiting {len(report.waiting)}, gateway unreachable {len(report.unknown)}",
                    report.has_errors, "the payment gateway could not be reached for some renewals")


def reconcile(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> str:
    report = orders_service.reconcile_pending(sessions, gateway_for(settings, sessions), now,
                                              older_than=RECONCILE_OLDER_THAN)
    return _summary(f"completed {len(report.completed)}, failed {len(report.failed)}, "
                    f"cancelled {len(report.cancelled)}, still pending {len(report.still_pending)}",
                    report.has_errors, "some pending orders could not be settled yet")


def retry_mail(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> str:
    mailer = mailer_for(settings, sessions)
    if not isinstance(mailer, SmtpMailer):
        return "MAIL_BACKEND is outbox: nothing is delivered, nothing to retry"
    report = mailer.retry_failed(now, max_attempts=settings.mail_max_attempts,
                                 max_age=timedelta(hours=settings.mail_retry_hours))
    return f"sent {report.sent}, failed again {report.failed}"


def product_jobs(settings: Settings, sessions: sessionmaker[Session]) -> list[JobDefinition]:
    """The jobs a worker runs, bound to this database and these settings."""
    runs: dict[str, Callable[[datetime], str]] = {
        "cleanup": lambda now: cleanup(sessions, now),
        "ags-flush": lambda now: flush_scores(sessions, settings, now),
        "billing-renew": lambda now: renew(sessions, settings, now),
        "billing-reconcile": lambda now: reconcile(sessions, settings, now),
        "mail-retry": lambda now: retry_mail(sessions, settings, now),
    }
    return [JobDefinition(schedule, runs[schedule.name]) for schedule in schedules(settings)]
