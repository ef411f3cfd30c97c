"""Background jobs on real databases: each due job runs once however many workers race for it
(threads committing for real, SQLite and PostgreSQL), never twice at once while a run holds its
lease, a failing job is logged, recorded and retried; the cleanup job; the worker's loop and
its stop; `lti-tool worker --once` and `lti-tool jobs status`."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.database import delete_in_batches, make_engine
from store.jobs import JobDefinition, JobFailed, Schedule, ensure_jobs, job_statuses, run_due, run_job
from store.jobs.models import Job
from store.jobs.service import claim_slot
from store.jobs.worker import WorkerConfig, run_worker
from tests.factories.processes import stop_process

Sessions = sessionmaker[Session]
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 3, 10, 0, 5, tzinfo=UTC)
LEASE = 900


class Recorder:
    """Jobs that count their runs (thread-safe), optionally taking a while or failing."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def job(self, name: str, interval: int = 60, *, seconds: float = 0.0,
            fail: Callable[[], bool] = lambda: False) -> JobDefinition:
        def run(_now: datetime) -> str:
            with self._lock:
                self.runs[name] += 1
            time.sleep(seconds)
            if fail():
                raise JobFailed(f"{name} could not reach its server\nsecond line")
            return f"{name} done"

        return JobDefinition(Schedule(name, interval), run)


def fixed(now: datetime) -> Callable[[], datetime]:
    return lambda: now


def row(sessions: Sessions, name: str) -> Job:
    with sessions() as session:
        return session.scalars(select(Job).where(Job.name == name)).one()


@pytest.mark.race
@pytest.mark.parametrize("workers", [2, 8])
def test_each_due_job_runs_once_however_many_workers_race(committing_sessions: Sessions, workers: int) -> None:
    recorder = Recorder()
    jobs = [recorder.job(name, seconds=0.05) for name in ("cleanup", "ags-flush", "billing-renew", "mail-retry")]
    ensure_jobs(committing_sessions, [j.schedule for j in jobs], T0)
    barrier = threading.Barrier(workers, timeout=30)

    def worker(i: int) -> list[str]:
        barrier.wait()
        # Every worker in its own order, so they collide on every job.
        ordered = jobs[i % len(jobs):] + jobs[:i % len(jobs)]
        return [r.name for r in run_due(committing_sessions, ordered, f"worker-{i}", fixed(T0), LEASE)]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        ran = [name for names in pool.map(worker, range(workers)) for name in names]
    assert sorted(ran) == sorted(j.name for j in jobs)
    assert recorder.runs == Counter({j.name: 1 for j in jobs})
    # The same slot again, from any worker: nothing is due.
    assert run_due(committing_sessions, jobs, "late-worker", fixed(T0 + timedelta(seconds=50)), LEASE) == []
    # The next slot: each runs once more.
    ran_next = run_due(committing_sessions, jobs, "worker-0", fixed(datetime(2026, 12, 3, 10, 1, tzinfo=UTC)), LEASE)
    assert [r.name for r in ran_next] == [j.name for j in jobs]
    status = row(committing_sessions, "cleanup")
    assert (status.last_result, status.last_summary, status.run_token, status.lease_until) == \
        ("ok", "cleanup done", None, None)
    assert status.next_run_at == datetime(2026, 12, 3, 10, 2, tzinfo=UTC)


@pytest.mark.race
def test_a_job_never_runs_twice_at_once_while_its_lease_holds(committing_sessions: Sessions) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_now: datetime) -> str:
        started.set()
        assert release.wait(30)
        return "slow done"

    job = JobDefinition(Schedule("billing-renew", 60), slow)
    ensure_jobs(committing_sessions, [job.schedule], T0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(run_job, committing_sessions, job, "host-a:1", fixed(T0), 120)
        assert started.wait(30)
        # Its next slot has come while it still runs: another worker leaves it alone…
        assert run_job(committing_sessions, job, "host-b:2", fixed(T0 + timedelta(seconds=70)), 120) is None
        assert row(committing_sessions, "billing-renew").running_by == "host-a:1"
        release.set()
        assert first.result().ok
    # …and takes it once the run is over.
    taken = run_job(committing_sessions, job, "host-b:2", fixed(T0 + timedelta(seconds=70)), 120)
    assert taken is not None and taken.ok


def test_a_worker_that_died_mid_run_gives_the_job_back_when_its_lease_ends(sessions: Sessions) -> None:
    recorder = Recorder()
    job = recorder.job("cleanup", 60)
    ensure_jobs(sessions, [job.schedule], T0)
    assert claim_slot(sessions, job.schedule, "dead:1", T0, lease_seconds=300) is not None  # never finishes
    assert run_job(sessions, job, "alive:2", fixed(T0 + timedelta(seconds=120)), LEASE) is None
    taken = run_job(sessions, job, "alive:2", fixed(T0 + timedelta(seconds=301)), LEASE)
    assert taken is not None and taken.ok and recorder.runs["cleanup"] == 1


def test_a_failing_job_is_logged_recorded_and_retried_never_dropped(sessions: Sessions,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    failing = {"now": True}
    recorder = Recorder()
    job = recorder.job("billing-renew", 3600, fail=lambda: failing["now"])
    ensure_jobs(sessions, [job.schedule], T0)
    with caplog.at_level(logging.ERROR, logger="store.jobs.service"):
        result = run_job(sessions, job, "w", fixed(T0), LEASE)
    assert result is not None and not result.ok
    assert result.error == "JobFailed: billing-renew could not reach its server second line"
    logged = [r for r in caplog.records if "job billing-renew failed" in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # with its traceback
    failed = row(sessions, "billing-renew")
    assert (failed.last_result, failed.last_error, failed.failures_in_a_row) == ("error", result.error, 1)
    assert failed.next_run_at == T0 + timedelta(seconds=30) and failed.run_token is None
    # Not before the backoff; then again, with a longer backoff.
    assert run_job(sessions, job, "w", fixed(T0 + timedelta(seconds=29)), LEASE) is None
    assert not run_job(sessions, job, "w", fixed(T0 + timedelta(seconds=30)), LEASE).ok  # type: ignore[union-attr]
    assert row(sessions, "billing-renew").next_run_at == T0 + timedelta(seconds=90)
    # It succeeds: the failures are forgotten and the regular slots resume.
    failing["now"] = False
    ok = run_job(sessions, job, "w", fixed(T0 + timedelta(seconds=90)), LEASE)
    assert ok is not None and ok.ok and recorder.runs["billing-renew"] == 3
    done = row(sessions, "billing-renew")
    assert (done.last_result, done.last_error, done.failures_in_a_row) == ("ok", None, 0)
    assert done.next_run_at == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def test_an_unexpected_exception_is_a_failure_too_and_other_jobs_still_run(sessions: Sessions) -> None:
    def broken(_now: datetime) -> str:
        raise ZeroDivisionError("division by zero")

    recorder = Recorder()
    jobs = [JobDefinition(Schedule("cleanup", 600), broken), recorder.job("ags-flush")]
    ensure_jobs(sessions, [j.schedule for j in jobs], T0)
    results = run_due(sessions, jobs, "w", fixed(T0), LEASE)
    assert [(r.name, r.ok, r.error) for r in results] == [
        ("cleanup", False, "ZeroDivisionError: division by zero"), ("ags-flush", True, None)]


def test_the_worker_loop_runs_due_jobs_and_stops_when_asked(committing_sessions: Sessions) -> None:
    recorder = Recorder()
    jobs = [recorder.job("cleanup", 3600), recorder.job("ags-flush", 3600)]
    stop = threading.Event()
    config = WorkerConfig("loop:1", LEASE, poll_seconds=0.05)
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(run_worker, committing_sessions, jobs, config, lambda: datetime.now(UTC), stop)
        deadline = time.monotonic() + 20
        while sum(recorder.runs.values()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        done.result(timeout=20)
    assert recorder.runs == Counter({"cleanup": 1, "ags-flush": 1})  # hourly: once each


def test_statuses_list_every_job_even_before_its_first_run(sessions: Sessions) -> None:
    schedules = [Schedule("cleanup", 600), Schedule("mail-retry", 60)]
    ensure_jobs(sessions, schedules[:1], T0)
    with sessions() as session:
        statuses = job_statuses(session, schedules)
    assert [(s.name, s.interval_seconds, s.next_run_at, s.last_result) for s in statuses] == [
        ("cleanup", 600, T0, None), ("mail-retry", 60, None, None)]
    ensure_jobs(sessions, schedules, T0 + timedelta(hours=1))  # an existing row keeps its slot
    assert row(sessions, "cleanup").next_run_at == T0


# ---------------------------------------------------------------- the command line


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("APP_PAYMENT_GATEWAY", "local")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine), catch_exceptions=False)

    return invoke


def test_worker_once_runs_every_due_job_and_jobs_status_shows_them(run: Callable[..., Result]) -> None:
    before = json.loads(run("jobs", "status", "--json").output)
    assert [j["name"] for j in before] == ["cleanup", "ags-flush", "billing-renew", "billing-reconcile", "mail-retry"]
    assert all(j["last_result"] is None and j["next_run_at"] is None for j in before)
    assert [j["interval_seconds"] for j in before] == [600, 60, 3600, 900, 60]

    once = run("worker", "--once")
    assert once.exit_code == 0, once.output
    assert "cleanup: ok — deleted 0 expired LTI rows" in once.output
    assert "billing-renew: ok — renewed 0" in once.output and "mail-retry: ok — MAIL_BACKEND is outbox" in once.output
    assert run("worker", "--once").output.strip() == "no job was due"

    after = json.loads(run("jobs", "status", "--json").output)
    assert all(j["last_result"] == "ok" and j["running_by"] is None for j in after)
    assert all(datetime.fromisoformat(j["next_run_at"]) > datetime.fromisoformat(j["last_started_at"]) for j in after)
    text = run("jobs", "status").output
    assert "ags-flush" in text and "every    60 s" in text and "  ok  " in text and "sent 0, will retry 0" in text


def test_worker_once_exits_1_when_a_job_fails(run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    import lti_tool.jobs

    def unreachable(*_args: object) -> str:
        raise JobFailed("the payment gateway could not be reached for some renewals")

    monkeypatch.setattr(lti_tool.jobs, "renew", unreachable)
    result = run("worker", "--once", "--job", "billing-renew")
    assert result.exit_code == 1
    assert "billing-renew: error — JobFailed: the payment gateway could not be reached" in result.output
    status = json.loads(run("jobs", "status", "--json").output)
    renew = next(j for j in status if j["name"] == "billing-renew")
    assert renew["last_result"] == "error" and renew["failures_in_a_row"] == 1
    assert "gateway could not be reached" in renew["last_error"]
    assert next(j for j in status if j["name"] == "cleanup")["last_result"] is None  # --job: only that one


def test_the_worker_process_runs_the_jobs_and_stops_gracefully_on_sigterm(engine: Engine,
                                                                          committing_sessions: Sessions) -> None:
    environ = {**os.environ, "APP_ENV": "test", "APP_DATABASE_URL": engine.url.render_as_string(hide_password=False),
               "APP_LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", "from lti_tool.cli import main; main()", "worker"], cwd=ROOT,
                               env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("worker ")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with committing_sessions() as session:
                finished = session.scalars(select(Job.name).where(Job.last_result == "ok")).all()
            if len(finished) == 5:
                break
            time.sleep(0.1)
        assert len(finished) == 5
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            stop_process(process)
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped") and "job cleanup: deleted 0 expired LTI rows" in err


def test_a_database_without_the_jobs_table_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        for args in (["worker", "--once"], ["jobs", "status"]):
            result = CliRunner().invoke(cli, args, obj=CliContext(_engine=empty), catch_exceptions=False)
            assert result.exit_code == 1 and result.output.strip().endswith("[no_jobs_table]"), result.output
            assert "lti-tool db upgrade" in result.output and len(result.output.strip().splitlines()) == 1
    finally:
        empty.dispose()


def test_jobs_status_shows_a_run_in_progress_and_its_worker(run: Callable[..., Result],
                                                            committing_sessions: Sessions) -> None:
    assert run("worker", "--once", "--job", "cleanup").exit_code == 0
    schedule = Schedule("cleanup", 600)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert claim_slot(committing_sessions, schedule, "host-a:4242", later, LEASE) is not None
    text = run("jobs", "status").output
    line = next(line for line in text.splitlines() if line.startswith("cleanup"))
    assert "(running)" in line and "running on host-a:4242" in line
    cleanup = json.loads(run("jobs", "status", "--json").output)[0]
    assert cleanup["running_by"] == "host-a:4242" and cleanup["last_result"] == "ok"


def test_sweeps_delete_in_short_batches_only_what_matches(sessions: Sessions) -> None:
    ensure_jobs(sessions, [Schedule(f"old-{i}", 60) for i in range(5)] + [Schedule("kept", 60)], T0)
    assert delete_in_batches(sessions, Job, Job.name.like("old-%"), batch=2) == 5
    with sessions() as session:
        assert session.scalars(select(Job.name)).all() == ["kept"]
    assert delete_in_batches(sessions, Job, Job.name.like("old-%"), batch=2) == 0
