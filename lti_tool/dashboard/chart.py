"""Pure geometry of the dashboard's chart of Plus seats used per day: where each day's point, the
line of the seats bought, the projection to the run-out date and the axis labels go in an SVG
drawn on the server (``dashboard/chart.html``). No Flask, no I/O; dates in, coordinates out.

The x axis spans the whole term (its first day shown to the day it ends), so the projection at
the current pace fits: it runs from today's count to the day the seats run out, or, when that is
after the term, to the term's last day at the same pace. The y axis runs from 0 to the seats
bought (or the most ever used, if more), rounded up to a whole step of 1, 2 or 5 times a power of
ten. Every coordinate stays inside the plot area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36  # margins: axis labels live there
MAX_Y_STEPS = 5
X_TICKS = 4


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the SVG
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float  # the plot area: left ≤ x ≤ right, top ≤ y ≤ bottom
    line: tuple[Point, ...]  # seats used at the end of each day
    projection: tuple[Point, Point] | None  # today → run-out (or the term's end) at the current pace
    total_y: float  # the line of the seats bought
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]

    @property
    def points(self) -> str:
        """The ``points`` attribute of the SVG polyline."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.line)


@dataclass(frozen=True)
class _Scale:
    first: date
    days: int  # the span of the x axis in days (at least one)
    top_value: int  # the value at the top of the y axis (at least one)
    left: float
    right: float
    top: float
    bottom: float

    def x(self, day: date) -> float:
        offset = min(max((day - self.first).days, 0), self.days)
        return self.left + (self.right - self.left) * offset / self.days

    def y(self, value: float) -> float:
        share = min(max(value, 0.0), float(self.top_value)) / self.top_value
        return self.bottom - (self.bottom - self.top) * share


def nice_step(top: int) -> int:
    """The step of the y axis: 1, 2 or 5 times a power of ten, at most ``MAX_Y_STEPS`` steps to ``top``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude * MAX_Y_STEPS >= top:
                return factor * magnitude
        magnitude *= 10


def _y_ticks(scale: _Scale, step: int) -> tuple[Tick, ...]:
    return tuple(Tick(scale.y(v), str(v)) for v in range(0, scale.top_value + 1, step))


def _x_ticks(scale: _Scale) -> tuple[Tick, ...]:
    offsets = sorted({round(scale.days * i / X_TICKS) for i in range(X_TICKS + 1)})
    return tuple(Tick(scale.left + (scale.right - scale.left) * o / scale.days,
                      date.fromordinal(scale.first.toordinal() + o).isoformat()) for o in offsets)


def _projection(scale: _Scale, today: date, used: int, total: int, pace: float, run_out: date | None,
                term_last_day: date) -> tuple[Point, Point] | None:
    if pace <= 0 or used >= total:
        return None
    start = Point(scale.x(today), scale.y(used))
    if run_out is not None and run_out <= term_last_day:
        return start, Point(scale.x(run_out), scale.y(total))
    at_end = used + pace * max((term_last_day - today).days, 0)
    return start, Point(scale.x(term_last_day), scale.y(min(at_end, float(total))))


def seat_chart(days: Sequence[tuple[date, int]], total: int, term_last_day: date, *, pace: float = 0.0,
               run_out: date | None = None, width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """The chart of ``days`` ((day, seats used at its end), oldest first) against ``total``
    seats, over the days to ``term_last_day``; ``pace`` (seats a day) and ``run_out`` draw the
    projection from the last day. Empty ``days``: no line, no projection."""
    first = days[0][0] if days else term_last_day
    last_shown = max(term_last_day, days[-1][0]) if days else term_last_day
    highest = max([total, 1] + [max(n, 0) for _day, n in days])
    step = nice_step(highest)
    top_value = -(-highest // step) * step  # up to a whole step
    scale = _Scale(first, max((last_shown - first).days, 1), top_value, float(LEFT), float(width - RIGHT),
                   float(TOP), float(height - BOTTOM))
    line = tuple(Point(scale.x(d), scale.y(n)) for d, n in days)
    projection = (_projection(scale, days[-1][0], days[-1][1], total, pace, run_out, term_last_day)
                  if days else None)
    return Chart(width, height, scale.left, scale.top, scale.right, scale.bottom, line, projection,
                 scale.y(total), _x_ticks(scale), _y_ticks(scale, step))


def _pace_text(pace: float) -> str:
    return f"{pace:.1f} seat{'' if round(pace, 1) == 1 else 's'} a day"


def run_out_text(*, full: bool, on: date | None, pace: float, before_term_end: bool, term_last_day: date) -> str:
    """The projection in words (the same sentence under the chart and in its text alternative)."""
    if full:
        return "Every seat is in use: new learners are refused until you add seats."
    if on is None:
        return "No seat was taken in this term yet, so there is no pace to project from."
    if before_term_end:
        return (f"At the current pace ({_pace_text(pace)}) the seats run out on {on:%Y-%m-%d}, before the term "
                f"ends on {term_last_day:%Y-%m-%d}.")
    return (f"At the current pace ({_pace_text(pace)}) the seats last to the end of the term on "
            f"{term_last_day:%Y-%m-%d}.")


def describe(days: Sequence[tuple[date, int]], total: int, projection: str) -> str:
    """The chart's text alternative: its span, today's figures and the projection."""
    if not days:
        return f"Plus seats used per day: no day of the term has passed yet. {projection}"
    (first, _), (last, used) = days[0], days[-1]
    return (f"Plus seats used per day from {first:%Y-%m-%d} to {last:%Y-%m-%d}: {used} in use on {last:%Y-%m-%d}, "
            f"{max(total - used, 0)} of {total} seats left. {projection}")


__all__ = ["Chart", "Point", "Tick", "describe", "nice_step", "run_out_text", "seat_chart"]
