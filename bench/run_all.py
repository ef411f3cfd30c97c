"""``make bench``: every bench/bench_*.py in turn (their output as it comes), on SQLite and on
PostgreSQL (``postgresql_url``), then one table of the headline rows they printed
(``bench/table.py``). Exit status 1 when a benchmark failed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.table import parse, render  # noqa: E402


DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lti_bench"


def postgresql_url() -> str | None:
    """The PostgreSQL database the benchmarks use (and empty): BENCH_DATABASE_URL, or else the
    local server's ``lti_bench`` database, created when missing; None (SQLite only) when
    BENCH_DATABASE_URL is ``none`` or no local server answers."""
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if url.lower() == "none":
        return None
    if url:
        return url
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3,
                             autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'lti_bench'").fetchone() is None:
                conn.execute("CREATE DATABASE lti_bench")
    except Exception as exc:  # noqa: BLE001 - any failure means: no local PostgreSQL to use
        print(f"PostgreSQL: none at 127.0.0.1:5432 ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
              "SQLite only (set BENCH_DATABASE_URL)", flush=True)
        return None
    return DEFAULT_DATABASE_URL


def main() -> int:
    rows: list[tuple[str, ...]] = []
    failed: list[str] = []
    started = time.perf_counter()
    env = dict(os.environ)
    env.pop("BENCH_DATABASE_URL", None)
    url = postgresql_url()
    if url:
        env["BENCH_DATABASE_URL"] = url
        print(f"PostgreSQL: {url} (its schema is dropped and rebuilt)", flush=True)
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        script_started = time.perf_counter()
        process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
        assert process.stdout is not None
        for line in process.stdout:
            cells = parse(line)
            if cells is not None:
                rows.append(cells)
            else:
                print(line, end="", flush=True)
        if process.wait() != 0:
            failed.append(script.name)
        print(f"== {script.name}: {time.perf_counter() - script_started:.0f} s", flush=True)
    print(f"\n== all benchmarks ({time.perf_counter() - started:.0f} s)\n")
    print(render(rows))
    if failed:
        print("\nfailed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
