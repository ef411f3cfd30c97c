"""The worker loop: run due jobs, then sleep until the next slot (at most ``poll_seconds``),
until ``stop`` is set. A stop request lets the job in progress finish; the loop then returns."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.jobs.service import JobDefinition, RunResult, ensure_jobs, next_due_at, run_due

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    worker: str  # who claims: host and process id
    lease_seconds: int
    poll_seconds: float


def _wait_seconds(sessions: sessionmaker[Session], jobs: Sequence[JobDefinition], now: datetime,
                  poll_seconds: float) -> float:
    with sessions() as session:
        due = next_due_at(session, [job.name for job in jobs])
    if due is None:
        return poll_seconds
    return min(poll_seconds, max(0.2, (due - now).total_seconds()))


def run_worker(sessions: sessionmaker[Session], jobs: Sequence[JobDefinition], config: WorkerConfig,
               clock: Callable[[], datetime], stop: threading.Event) -> list[RunResult]:
    """Run until ``stop`` is set; returns the results of the last pass. A database that is
    unreachable for a moment is logged and tried again after ``poll_seconds``."""
    ensure_jobs(sessions, [job.schedule for job in jobs], clock())
    results: list[RunResult] = []
    while not stop.is_set():
        try:
            results = run_due(sessions, jobs, config.worker, clock, config.lease_seconds, stop)
            wait = _wait_seconds(sessions, jobs, clock(), config.poll_seconds)
        except SQLAlchemyError:
            log.exception("worker %s: the database failed; trying again in %s s", config.worker,
                          config.poll_seconds)
            wait = config.poll_seconds
        stop.wait(wait)
    return results
