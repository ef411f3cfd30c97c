"""``make bench``: every bench/bench_*.py in turn (their output as it comes), then one table of the
headline rows they printed (``bench/table.py``). Exit status 1 when a benchmark failed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.table import parse, render  # noqa: E402


def main() -> int:
    rows: list[tuple[str, ...]] = []
    failed: list[str] = []
    started = time.perf_counter()
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            cells = parse(line)
            if cells is not None:
                rows.append(cells)
            else:
                print(line, end="", flush=True)
        if process.wait() != 0:
            failed.append(script.name)
    print(f"\n== all benchmarks ({time.perf_counter() - started:.0f} s)\n")
    print(render(rows))
    if failed:
        print("\nfailed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
