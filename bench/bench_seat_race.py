"""Seat race at load: BENCH_RACE_LEARNERS (default 2,000) learners' first launches over HTTP for
BENCH_RACE_SEATS (default 500) Volume seats at concurrency BENCH_RACE_CONCURRENCY (default 32),
against the product under gunicorn (2 workers) on SQLite and, when BENCH_DATABASE_URL is set, on
PostgreSQL. Prints the seats taken (read from the database), the refusal pages, other statuses and
5xx; the run is correct when exactly the seats are taken, every other learner got the refusal page
and no answer was a 5xx (the launch rates against the bare tool are bench_launch.py's).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.bench_launch import CUSTOM  # noqa: E402
from bench.lti_load import (  # noqa: E402
    HttpTransport,
    Jar,
    Platform,
    Served,
    ToolEndpoints,
    free_port,
    launch_learner,
    run_phase,
    summary,
)
from bench.lti_setup import prepare_product_database  # noqa: E402
from bench.table import row  # noqa: E402
from store.database import make_engine  # noqa: E402
from store.licenses.models import Seat  # noqa: E402

LEARNERS = int(os.environ.get("BENCH_RACE_LEARNERS", "2000"))
SEATS = int(os.environ.get("BENCH_RACE_SEATS", "500"))
CONCURRENCY = int(os.environ.get("BENCH_RACE_CONCURRENCY", "32"))


def race(platform: Platform, workdir: Path, database_url: str, label: str) -> bool:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = prepare_product_database(database_url, platform, base_url, seats=SEATS, course=CUSTOM["course_id"],
                                   workdir=workdir)
    served = Served.start("lti_tool.wsgi:app", env, log_dir=workdir, ready_path="/healthz", port=port)
    tool = ToolEndpoints(base_url + "/lti/login", base_url + "/lti/launch")
    transport = HttpTransport()
    try:
        launches = [lambda i=i: launch_learner(transport, platform.platform, tool, Jar(), sub=f"race-{i}",
                                               custom=CUSTOM) for i in range(LEARNERS)]
        phase = run_phase(f"seat race ({label}) C={CONCURRENCY}", launches, CONCURRENCY, served.cpu_seconds)
    finally:
        served.stop()
    engine = make_engine(database_url)
    with engine.connect() as conn:
        seats = conn.scalar(select(func.count()).select_from(Seat.__table__))
    engine.dispose()
    statuses = phase.statuses()
    refused = statuses.get(403, 0)
    server_errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    correct = seats == SEATS and refused == LEARNERS - SEATS and statuses.get(200, 0) == SEATS and not server_errors
    print(summary(phase).replace("failures", "non-200"))
    print(f"  {label}: {seats} seats taken of {SEATS}, {statuses.get(200, 0)} players, {refused} refusal pages, "
          f"{server_errors} 5xx/errors, statuses {statuses}: {'CORRECT' if correct else 'WRONG'}")
    row(f"seat race: {LEARNERS} learners, {SEATS} seats, C={CONCURRENCY} ({label})",
        f"{seats} seats, {refused} refusal pages, {server_errors} 5xx", "—", "correct" if correct else "WRONG")
    if server_errors:
        print("  e.g.", [r.error for r in phase.results if r.status >= 500 or r.status == 0][:3])
    return correct


def main() -> int:
    platform = Platform.start()
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-race-") as tmp:
        workdir = Path(tmp)
        ok &= race(platform, workdir, f"sqlite:///{workdir / 'race.db'}", "SQLite")
        if os.environ.get("BENCH_DATABASE_URL"):
            ok &= race(platform, workdir, os.environ["BENCH_DATABASE_URL"], "PostgreSQL")
    platform.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
