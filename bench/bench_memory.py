"""Memory: resident set size of the product's gunicorn workers over BENCH_MEMORY_LAUNCHES (default
10,000) first launches at concurrency 16 on SQLite (PostgreSQL with BENCH_DATABASE_URL), read from
/proc at every 10 % of the run. Prints each worker's RSS at the 5,000th and 10,000th launch, the
growth between them, and the same for the bare Flask + pylti1p3 tool over
BENCH_MEMORY_BASELINE_LAUNCHES (default 2,000) launches in the same run (the baseline). Targets:
under 150 MB per worker, no growth between the halves (within 2 MB, allocator noise)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_launch import CUSTOM, baseline  # noqa: E402
from bench.lti_load import (  # noqa: E402
    HttpTransport,
    Jar,
    Platform,
    Served,
    ToolEndpoints,
    free_port,
    launch_learner,
    run_phase,
    tree_rss_kib,
)
from bench.lti_setup import prepare_product_database  # noqa: E402
from bench.table import row  # noqa: E402

LAUNCHES = int(os.environ.get("BENCH_MEMORY_LAUNCHES", "10000"))
# The bare tool keeps no state: its RSS settles within a few hundred launches, so it gets fewer
# (make bench stays under 10 minutes).
BASELINE_LAUNCHES = min(LAUNCHES, int(os.environ.get("BENCH_MEMORY_BASELINE_LAUNCHES", "2000")))
CONCURRENCY = 16
SLICES = 10
NOISE_KIB = 2048


def _track(name: str, served: Served, endpoints: ToolEndpoints, platform: Platform, launches: int) -> bool:
    transport = HttpTransport()
    per_slice = launches // SLICES
    readings: list[dict[int, int]] = []
    failures = 0
    for part in range(SLICES):
        batch: list[Callable[[], object]] = [
            lambda i=i: launch_learner(transport, platform.platform, endpoints, Jar(), sub=f"{name}-{part}-{i}",
                                       custom=CUSTOM) for i in range(per_slice)]
        failures += run_phase(f"{name} {part}", batch, CONCURRENCY, served.cpu_seconds).failures  # type: ignore[arg-type]
        readings.append(tree_rss_kib(served.process.pid))
    half, end = readings[SLICES // 2 - 1], readings[-1]
    peak = max(end.values(), default=0)
    worst = max((end[p] - half.get(p, end[p]) for p in end), default=0)
    row(f"worker RSS after {launches} launches ({name})", f"{peak / 1024:.0f} MB, {worst / 1024:+.1f} MB in the 2nd half",
        "target < 150 MB, no growth", "")
    ok = failures == 0
    for pid in sorted(end):
        growth = end[pid] - half.get(pid, end[pid])
        ok &= end[pid] < 150 * 1024 and growth <= NOISE_KIB
        print(f"  {name:<28} worker {pid}: {half.get(pid, 0) / 1024:6.1f} MB after {launches // 2} launches, "
              f"{end[pid] / 1024:6.1f} MB after {launches}: growth {growth / 1024:+5.1f} MB")
    print(f"  {name:<28} failures {failures}; RSS every {per_slice} launches (MB, sum of workers): "
          + " ".join(f"{sum(r.values()) / 1024:.0f}" for r in readings))
    return ok


def main() -> int:
    platform = Platform.start()
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        workdir = Path(tmp)
        with baseline(platform, workdir) as target:
            _track("baseline (Flask+pylti1p3)", target.served, target.endpoints, platform, BASELINE_LAUNCHES)
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'memory.db'}"
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = prepare_product_database(url, platform, base_url, seats=LAUNCHES + 10, course=CUSTOM["course_id"],
                                       workdir=workdir)
        served = Served.start("lti_tool.wsgi:app", env, log_dir=workdir, ready_path="/healthz", port=port)
        try:
            ok = _track("product", served, ToolEndpoints(base_url + "/lti/login", base_url + "/lti/launch"), platform,
                        LAUNCHES)
        finally:
            served.stop()
    platform.stop()
    print("memory:", "within the targets" if ok else "OUTSIDE the targets (150 MB per worker, no growth)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
