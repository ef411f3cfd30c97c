"""Launch rate and server CPU per launch: the product under gunicorn against a bare Flask +
pylti1p3 tool (``bench/baseline_tool.py``) in the same run.

A load generator acting as an LTI platform (``bench/lti_load.py``: its own key, login →
authorization → launch with one cookie jar per learner, following the tool's pages as a browser
without scripts) launches BENCH_LEARNERS distinct learners (default 500) for the first time, then
again (relaunch), at each concurrency of BENCH_CONCURRENCY (default "8,32"), against:

  baseline   bench/baseline_tool.py under gunicorn, 2 workers (no database)
  product    lti_tool.wsgi under gunicorn, 2 workers, on SQLite (a temporary file) and, when
             BENCH_DATABASE_URL is set, on that PostgreSQL database (its schema is dropped!)

and prints launches/s, p50/p95/p99, failures and the server CPU per launch (CPU of the server's
process tree from /proc, divided by launches; on PostgreSQL also the database's own CPU), each
as a ratio to the baseline. Then, in-process, the SQL statements and transactions of one first
launch and one relaunch, step by step. It never asserts on time.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lti_load import (  # noqa: E402
    HttpTransport,
    Jar,
    LaunchResult,
    Phase,
    Platform,
    Served,
    ToolEndpoints,
    free_port,
    launch_learner,
    named_cpu_seconds,
    run_phase,
    summary,
)
from bench.lti_sql import count_launch_sql  # noqa: E402
from bench.table import row  # noqa: E402
from bench.lti_setup import prepare_product_database  # noqa: E402

LEARNERS = int(os.environ.get("BENCH_LEARNERS", "500"))
CONCURRENCY = tuple(int(c) for c in os.environ.get("BENCH_CONCURRENCY", "8,32").split(","))
COURSE = "BENCH-1"
CUSTOM = {"course_id": COURSE, "license_type": "volume"}


@dataclass
class Target:
    name: str
    served: Served
    endpoints: ToolEndpoints
    db_cpu: Callable[[], float]


def _phases(target: Target, platform: Platform, prefix: str, concurrency: int) -> tuple[Phase, Phase]:
    transport = HttpTransport()
    jars = {f"{prefix}-{i}": Jar() for i in range(LEARNERS)}

    def launches() -> list[Callable[[], LaunchResult]]:
        return [lambda sub=sub, jar=jar: launch_learner(transport, platform.platform, target.endpoints, jar,
                                                        sub=sub, custom=CUSTOM)
                for sub, jar in jars.items()]

    first = run_phase(f"{target.name} first C={concurrency}", launches(), concurrency, target.served.cpu_seconds,
                      target.db_cpu)
    again = run_phase(f"{target.name} relaunch C={concurrency}", launches(), concurrency, target.served.cpu_seconds,
                      target.db_cpu)
    return first, again


@contextmanager
def baseline(platform: Platform, workdir: Path) -> Iterator[Target]:
    key_file = workdir / "baseline-tool-key.pem"
    from lti_tool.lti.testplatform import SigningKey

    key_file.write_bytes(SigningKey.generate().private_pem)
    env = {"BASELINE_ISSUER": platform.platform.issuer, "BASELINE_CLIENT_ID": platform.platform.client_id,
           "BASELINE_DEPLOYMENT_ID": platform.platform.deployment_id,
           "BASELINE_AUTH_LOGIN_URL": platform.platform.auth_login_url, "BASELINE_KEY_SET_URL": platform.jwks_url,
           "BASELINE_TOOL_KEY_FILE": str(key_file), "BASELINE_SECRET_KEY": secrets.token_urlsafe(32)}
    served = Served.start("bench.baseline_tool:app", env, log_dir=workdir, ready_path="/jwks")
    try:
        yield Target("baseline (Flask+pylti1p3)", served,
                     ToolEndpoints(served.base_url + "/login", served.base_url + "/launch"), lambda: 0.0)
    finally:
        served.stop()


@contextmanager
def product(platform: Platform, workdir: Path, database_url: str, label: str) -> Iterator[Target]:
    port = free_port()  # the product's PUBLIC_BASE_URL names its own port: choose it first
    base_url = f"http://127.0.0.1:{port}"
    env = prepare_product_database(database_url, platform, base_url, seats=LEARNERS * len(CONCURRENCY) + 10,
                                   course=COURSE, workdir=workdir)
    served = Served.start("lti_tool.wsgi:app", env, log_dir=workdir, ready_path="/healthz", port=port)
    is_pg = database_url.startswith("postgresql")
    try:
        yield Target(f"product ({label})", served,
                     ToolEndpoints(base_url + "/lti/login", base_url + "/lti/launch"),
                     (lambda: named_cpu_seconds("postgres")) if is_pg else (lambda: 0.0))
    finally:
        served.stop()


def _ratio(value: float, base: float) -> str:
    return f"{value / base:5.2f}x" if base else "  n/a"


PEAK_PER_MINUTE = 10_000
BUSY = 0.6  # plan servers to run at most 60 % busy at the peak: headroom for bursts and p99


def hardware_estimate(app_ms: float, db_ms: float, per_minute: int = PEAK_PER_MINUTE,
                      busy: float = BUSY) -> tuple[float, float]:
    """Cores for the app servers and for PostgreSQL to serve ``per_minute`` launches, from the
    CPU one launch cost each of them (login, launch and player page), at ``busy`` utilization."""
    per_second = per_minute / 60
    return per_second * app_ms / 1000 / busy, per_second * db_ms / 1000 / busy


def _hardware(results: dict[str, dict[int, tuple[Phase, Phase]]]) -> None:
    """The hardware for 10,000 launches a minute, computed from the PostgreSQL run's CPU per
    launch (the dearer of first launches and relaunches at the dearest concurrency)."""
    if "postgresql" not in results:
        print("hardware estimate: needs the PostgreSQL run (BENCH_DATABASE_URL)")
        return
    phases = [phase for pair in results["postgresql"].values() for phase in pair]
    app_ms = max(phase.cpu_ms_per_launch() for phase in phases)
    db_ms = max(phase.db_ms_per_launch() for phase in phases)
    app_cores, db_cores = hardware_estimate(app_ms, db_ms)
    print(f"hardware for {PEAK_PER_MINUTE:,} launches/minute ({PEAK_PER_MINUTE / 60:.0f}/s) at {BUSY:.0%} busy: "
          f"app {app_ms:.1f} ms/launch -> {app_cores:.1f} cores; PostgreSQL {db_ms:.1f} ms/launch -> "
          f"{db_cores:.1f} cores")
    row(f"hardware for {PEAK_PER_MINUTE:,} launches/minute, computed (PostgreSQL, {BUSY:.0%} busy)",
        f"app servers {app_cores:.1f} cores ({app_ms:.1f} ms/launch); PostgreSQL {db_cores:.1f} cores "
        f"({db_ms:.1f} ms/launch)", "—", "—")


def main() -> int:
    platform = Platform.start()
    results: dict[str, dict[int, tuple[Phase, Phase]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        workdir = Path(tmp)
        targets = [("baseline", lambda: baseline(platform, workdir))]
        targets.append(("sqlite", lambda: product(platform, workdir, f"sqlite:///{workdir / 'bench.db'}", "SQLite")))
        if os.environ.get("BENCH_DATABASE_URL"):
            targets.append(("postgresql", lambda: product(platform, workdir, os.environ["BENCH_DATABASE_URL"],
                                                          "PostgreSQL")))
        for key, start in targets:
            with start() as target:
                results[key] = {}
                for c in CONCURRENCY:
                    first, again = _phases(target, platform, f"{key}-c{c}", c)
                    results[key][c] = (first, again)
                    print(summary(first), flush=True)
                    print(summary(again), flush=True)
                    for phase in (first, again):
                        if phase.failures:
                            print(f"   failures: {phase.statuses()} e.g. {phase.first_errors()}")
    platform.stop()
    print()
    print("ratios to the baseline (first launch): CPU per launch, launches/s, p99")
    for key in results:
        if key == "baseline":
            continue
        for c in CONCURRENCY:
            base_first = results["baseline"][c][0]
            first, again = results[key][c]
            label = f"{'PostgreSQL' if key == 'postgresql' else 'SQLite'}, C={c}"
            db = " incl. PostgreSQL" if key == "postgresql" else ""
            row(f"server CPU per first launch ({label})", f"{first.cpu_ms_per_launch(True):.1f} ms{db}",
                f"{base_first.cpu_ms_per_launch():.1f} ms",
                _ratio(first.cpu_ms_per_launch(True), base_first.cpu_ms_per_launch()).strip())
            row(f"server CPU per relaunch ({label})", f"{again.cpu_ms_per_launch(True):.1f} ms{db}", "—", "—")
            row(f"launches/s; p99 ({label})", f"{first.rate:.0f}/s; {1000 * first.percentile(99):.0f} ms",
                f"{base_first.rate:.0f}/s; {1000 * base_first.percentile(99):.0f} ms",
                f"{_ratio(first.rate, base_first.rate).strip()}; {_ratio(first.percentile(99), base_first.percentile(99)).strip()}")
            print(f"  {key:<10} C={c:<3} CPU {_ratio(first.cpu_ms_per_launch(True), base_first.cpu_ms_per_launch())}"
                  f"  rate {_ratio(first.rate, base_first.rate)}  p99 {_ratio(first.percentile(99), base_first.percentile(99))}"
                  f"  relaunch CPU {_ratio(again.cpu_ms_per_launch(True), base_first.cpu_ms_per_launch())}")
    _hardware(results)
    print()
    for line in count_launch_sql(course=COURSE):
        print(line)
        if line.startswith("SQL per"):
            title, figures = line.split(": ", 1)
            target = "target: <= 10 statements in 3 transactions" if "first" in title else "target: fewer than a first launch"
            row(title, figures, "—", target)
    failed = sum(phase.failures for per_c in results.values() for pair in per_c.values() for phase in pair)
    if failed:
        print(f"{failed} launches failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
