"""worker and jobs commands: run the background jobs on their schedules; show their state."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import asdict
from datetime import datetime
from typing import NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.cli.base import CliContext, cli, echo, emit_json, fail, json_option, pass_ctx
from lti_tool.jobs import JOB_NAMES, product_jobs, schedules
from store.base import utcnow
from store.jobs import JobDefinition, JobStatus, RunResult, ensure_jobs, job_statuses, run_due
from store.jobs.worker import WorkerConfig, run_worker



def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _echo_result(result: RunResult) -> None:
    if result.ok:
        echo(f"{result.name}: ok — {result.summary}")
    else:
        echo(f"{result.name}: error — {result.error}", err=True)


def _selected(ctx: CliContext, only: tuple[str, ...]) -> list[JobDefinition]:
    jobs = product_jobs(ctx.settings, ctx.sessions)
    return [job for job in jobs if not only or job.name in only]


def _no_jobs_table(exc: SQLAlchemyError) -> NoReturn:
    fail(f"cannot use the jobs table ({type(exc).__name__}); run `lti-tool db upgrade` first [no_jobs_table]")


def _run_once(ctx: CliContext, jobs: list[JobDefinition], config: WorkerConfig) -> None:
    results = run_due(ctx.sessions, jobs, config.worker, utcnow, config.lease_seconds)
    if not results:
        echo("no job was due")
    for result in results:
        _echo_result(result)
    if any(not r.ok for r in results):
        sys.exit(1)


@cli.command()
@click.option("--once", is_flag=True,
              help="Run the jobs that are due now once and exit (cron, tests); exit 1 when one failed.")
@click.option("--job", "only", multiple=True, type=click.Choice(JOB_NAMES),
              help="Only this job (repeat for several); default: all.")
@pass_ctx
def worker(ctx: CliContext, once: bool, only: tuple[str, ...]) -> None:
    """Run the background jobs on their schedules until SIGTERM or Ctrl+C (the job in progress
    finishes first). Any number of workers on any hosts may run: each due job runs once."""
    settings = ctx.settings
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    jobs = _selected(ctx, only)
    config = WorkerConfig(_worker_name(), settings.jobs_lease_seconds, float(settings.jobs_poll_seconds))
    try:
        ensure_jobs(ctx.sessions, [job.schedule for job in jobs], utcnow())
    except SQLAlchemyError as exc:
        _no_jobs_table(exc)
    if once:
        _run_once(ctx, jobs, config)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    echo(f"worker {config.worker}: {', '.join(job.name for job in jobs)} (SIGTERM or Ctrl+C stops)")
    run_worker(ctx.sessions, jobs, config, utcnow, stop)
    echo(f"worker {config.worker} stopped")


@cli.group("jobs")
def jobs_group() -> None:
    """Background jobs (run by `lti-tool worker`)."""


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "never"


def _last_run(status: JobStatus) -> str:
    if status.last_started_at is None:
        return "never"
    if status.last_finished_at is None or status.last_finished_at < status.last_started_at:
        return f"{_when(status.last_started_at)} (running)"
    seconds = (status.last_finished_at - status.last_started_at).total_seconds()
    return f"{_when(status.last_started_at)} ({seconds:.1f} s)"


@jobs_group.command("status")
@json_option
@pass_ctx
def jobs_status(ctx: CliContext, as_json: bool) -> None:
    """Each job's interval, last run, result and next run."""
    try:
        with ctx.read_sessions() as session:
            rows = job_statuses(session, schedules(ctx.settings))
    except SQLAlchemyError as exc:  # e.g. a database not migrated yet
        _no_jobs_table(exc)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    for r in rows:
        result = r.last_result or "-"
        running = f"  running on {r.running_by}" if r.running_by else ""
        echo(f"{r.name:18} every {r.interval_seconds:>5} s  last {_last_run(r)}  {result:5}  "
             f"next {_when(r.next_run_at) if r.next_run_at else 'at the first worker start'}{running}")
        detail = r.last_error if r.last_result == "error" else r.last_summary
        if detail:
            echo(f"{'':18} {detail}")
