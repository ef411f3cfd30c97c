"""Running background jobs on their schedules, from any number of workers on any number of hosts.

- ``ensure_jobs`` adds the row of each job that has none (due at once).
- ``claim_slot`` is the lock: one conditional UPDATE moves a due job (``next_run_at <= now``,
  no live lease) to its next slot and stamps the claim's token. On PostgreSQL a second worker's
  UPDATE waits for the first one's row lock, then re-checks the condition against the new row
  and changes nothing; SQLite takes one writer at a time (``BEGIN IMMEDIATE``). Either way
  exactly one worker gets rowcount 1 per slot: a job never runs twice in one slot, and, while its
  lease holds, never twice at once.
- ``run_job`` runs a claimed job outside any transaction (jobs open their own) and records the
  result under the claim's token. A failure is logged with its traceback (``logging.exception``),
  recorded as ``error`` with one line, and the job is due again after a short backoff (30 s,
  60 s, … never later than its next slot): a failing job is retried, never dropped.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.database import upsert_insert
from store.jobs import rules
from store.jobs.models import Job
from store.jobs.rules import Schedule

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """A job ran to its end but reports a failure (e.g. the payment gateway could not be
    reached for some renewals); the message is recorded as the job's error line."""


@dataclass(frozen=True)
class JobDefinition:
    """A job: its schedule and what it runs. ``run(now)`` returns a one-line summary and raises
    on failure."""

    schedule: Schedule
    run: Callable[[datetime], str]

    @property
    def name(self) -> str:
        return self.schedule.name


@dataclass(frozen=True)
class RunResult:
    name: str
    ok: bool
    summary: str | None
    error: str | None


@dataclass(frozen=True)
class JobStatus:
    name: str
    interval_seconds: int
    next_run_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_result: str | None
    last_error: str | None
    last_summary: str | None
    failures_in_a_row: int
    running_by: str | None


def ensure_jobs(sessions: sessionmaker[Session], schedules: Iterable[Schedule], now: datetime) -> None:
    """Add a row, due now, for each job that has none (one transaction; safe when several
    workers start at once)."""
    with sessions.begin() as session:
        for schedule in schedules:
            session.execute(upsert_insert(session)(Job).values(name=schedule.name, next_run_at=now,
                                                               failures_in_a_row=0)
                            .on_conflict_do_nothing(index_elements=["name"]))


def claim_slot(sessions: sessionmaker[Session], schedule: Schedule, worker: str, now: datetime,
               lease_seconds: int) -> str | None:
    """Claim the job's due slot for ``worker``: the claim's token, or None when the job is not
    due or another worker holds it."""
    token = secrets.token_hex(16)
    with sessions.begin() as session:
        claimed = session.execute(
            update(Job)
            .where(Job.name == schedule.name, Job.next_run_at <= now,
                   or_(Job.lease_until.is_(None), Job.lease_until <= now))
            .values(next_run_at=rules.next_slot(now, schedule.interval_seconds), run_token=token,
                    running_by=worker[:200], lease_until=now + timedelta(seconds=lease_seconds),
                    last_started_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    return token if claimed == 1 else None


def _finish(session: Session, name: str, token: str, values: dict[str, object]) -> bool:
    released = {"run_token": None, "running_by": None, "lease_until": None}
    done = session.execute(update(Job).where(Job.name == name, Job.run_token == token)
                           .values(**released, **values).execution_options(synchronize_session=False))
    return done.rowcount == 1


def record_success(sessions: sessionmaker[Session], name: str, token: str, now: datetime, summary: str) -> None:
    with sessions.begin() as session:
        _finish(session, name, token, {"last_finished_at": now, "last_result": "ok", "last_error": None,
                                       "last_summary": summary[:rules.ERROR_MAX], "failures_in_a_row": 0})


def record_failure(sessions: sessionmaker[Session], schedule: Schedule, token: str, now: datetime,
                   error: str) -> None:
    """Record the failure and make the job due again after its backoff."""
    with sessions.begin() as session:
        failures = session.scalar(select(Job.failures_in_a_row).where(Job.name == schedule.name,
                                                                      Job.run_token == token)) or 0
        _finish(session, schedule.name, token, {
            "last_finished_at": now, "last_result": "error", "last_error": error, "last_summary": None,
            "failures_in_a_row": failures + 1,
            "next_run_at": rules.retry_at(now, schedule.interval_seconds, failures + 1)})


def run_job(sessions: sessionmaker[Session], job: JobDefinition, worker: str, clock: Callable[[], datetime],
            lease_seconds: int) -> RunResult | None:
    """Run the job if its slot is due and this worker wins the claim; None otherwise."""
    started = clock()
    token = claim_slot(sessions, job.schedule, worker, started, lease_seconds)
    if token is None:
        return None
    try:
        summary = job.run(started)
    except Exception as exc:  # every failure is recorded and retried; nothing is dropped
        log.exception("job %s failed (worker %s)", job.name, worker)
        error = rules.error_line(exc)
        record_failure(sessions, job.schedule, token, clock(), error)
        return RunResult(job.name, False, None, error)
    log.info("job %s: %s", job.name, summary)
    record_success(sessions, job.name, token, clock(), summary)
    return RunResult(job.name, True, summary, None)


def run_due(sessions: sessionmaker[Session], jobs: Sequence[JobDefinition], worker: str,
            clock: Callable[[], datetime], lease_seconds: int,
            stop: threading.Event | None = None) -> list[RunResult]:
    """One pass: every due job this worker wins, one after the other (none after ``stop`` is
    set)."""
    results = []
    for job in jobs:
        if stop is not None and stop.is_set():
            break
        result = run_job(sessions, job, worker, clock, lease_seconds)
        if result is not None:
            results.append(result)
    return results


def next_due_at(session: Session, names: Iterable[str]) -> datetime | None:
    """The earliest slot of these jobs (None: none has a row yet)."""
    return session.scalar(select(Job.next_run_at).where(Job.name.in_(list(names)))
                          .order_by(Job.next_run_at).limit(1))


def job_statuses(session: Session, schedules: Sequence[Schedule]) -> list[JobStatus]:
    """Each job's last run, result and next run, in the order given (jobs that never ran show
    ``None``)."""
    rows = {job.name: job for job in session.scalars(select(Job).where(Job.name.in_([s.name for s in schedules])))}
    out = []
    for schedule in schedules:
        job = rows.get(schedule.name)
        if job is None:
            out.append(JobStatus(schedule.name, schedule.interval_seconds, None, None, None, None, None, None, 0, None))
            continue
        out.append(JobStatus(schedule.name, schedule.interval_seconds, job.next_run_at, job.last_started_at,
                             job.last_finished_at, job.last_result, job.last_error, job.last_summary,
                             job.failures_in_a_row, job.running_by))
    return out
