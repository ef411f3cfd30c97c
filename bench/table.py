"""The one summary table of ``make bench``: each benchmark prints its headline figures as rows
(``row(...)``: a line starting with ``BENCH-ROW``), and ``bench/run_all.py`` runs every benchmark and
prints all rows as one table at the end."""

from __future__ import annotations

PREFIX = "BENCH-ROW\t"


def row(measure: str, product: str, baseline: str, ratio: str) -> None:
    print(PREFIX + "\t".join((measure, product, baseline, ratio)), flush=True)


def parse(line: str) -> tuple[str, ...] | None:
    if not line.startswith(PREFIX):
        return None
    cells = tuple(line[len(PREFIX):].rstrip("\n").split("\t"))
    return cells if len(cells) == 4 else None


def render(rows: list[tuple[str, ...]]) -> str:
    header = ("measure", "product", "baseline", "ratio")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
