"""The dashboard pages' pure parts: the chart's geometry (points in the plot area, the line of the
seats bought, the projection to the run-out day or the term's end), its words, the one seat
measure, and what each Needs Attention item tells the admin to do."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool.dashboard import rules
from lti_tool.dashboard.chart import describe, nice_step, run_out_text, seat_chart
from lti_tool.storefront.rules import library_low_balance
from store.dashboard import rules as dash

D0 = date(2026, 1, 1)


def series(*counts: int) -> list[tuple[date, int]]:
    return [(D0 + timedelta(days=i), n) for i, n in enumerate(counts)]


def test_the_line_rises_with_the_seats_used_and_the_total_is_at_the_top() -> None:
    chart = seat_chart(series(0, 2, 5), 10, D0 + timedelta(days=30))
    xs = [p.x for p in chart.line]
    ys = [p.y for p in chart.line]
    assert xs == sorted(xs) and xs[0] == chart.left
    assert ys[0] == chart.bottom and ys[0] > ys[1] > ys[2]  # SVG y grows downwards
    assert chart.total_y == chart.top
    assert ys[2] == pytest.approx(chart.bottom - (chart.bottom - chart.top) / 2)  # 5 of 10: half way
    assert chart.points.startswith(f"{chart.left:.1f},{chart.bottom:.1f} ")
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8", "10"]
    assert chart.y_ticks[-1].at == chart.top and chart.y_ticks[0].at == chart.bottom
    assert chart.x_ticks[0].label == "2026-01-01" and chart.x_ticks[-1].label == "2026-01-31"
    assert chart.projection is None  # no pace given


@pytest.mark.parametrize(("top", "step"), [(1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (25, 5), (26, 10), (999, 200),
                                           (10_000, 2_000)])
def test_the_y_axis_steps_are_round(top: int, step: int) -> None:
    assert nice_step(top) == step


def test_the_y_axis_ends_on_a_whole_step_above_the_total() -> None:
    chart = seat_chart(series(0, 3), 7, D0 + timedelta(days=30))
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert chart.top < chart.total_y < chart.y_ticks[-2].at  # 7 sits between 6 and 8


def test_the_projection_ends_on_the_run_out_day_at_the_total() -> None:
    term_end = D0 + timedelta(days=30)
    chart = seat_chart(series(0, 2, 4), 10, term_end, pace=2.0, run_out=D0 + timedelta(days=5))
    assert chart.projection is not None
    start, end = chart.projection
    assert start == chart.line[-1]
    assert end.y == chart.total_y and end.x == pytest.approx(chart.left + (chart.right - chart.left) * 5 / 30)


def test_a_run_out_after_the_term_projects_to_the_terms_end_below_the_total() -> None:
    term_end = D0 + timedelta(days=10)
    chart = seat_chart(series(0, 1), 100, term_end, pace=1.0, run_out=D0 + timedelta(days=100))
    assert chart.projection is not None
    _start, end = chart.projection
    assert end.x == chart.right and chart.total_y < end.y < chart.bottom  # 10 of 100 at the term's end


def test_no_projection_when_full_or_without_data() -> None:
    assert seat_chart(series(3, 10), 10, D0 + timedelta(days=30), pace=3.5, run_out=D0).projection is None
    empty = seat_chart([], 10, D0 + timedelta(days=30), pace=1.0, run_out=D0)
    assert empty.line == () and empty.projection is None and empty.points == ""


@settings(deadline=None)  # a shared machine: time is not what is tested
@given(
    counts=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=400),
    total=st.integers(min_value=0, max_value=10_000),
    extra_days=st.integers(min_value=-50, max_value=800),
    pace=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    run_out_in=st.one_of(st.none(), st.integers(min_value=-10, max_value=100_000)),
)
def test_every_coordinate_stays_in_the_plot_area(counts: list[int], total: int, extra_days: int, pace: float,
                                                 run_out_in: int | None) -> None:
    days = series(*counts)
    term_end = days[-1][0] + timedelta(days=extra_days)
    run_out = None if run_out_in is None else days[-1][0] + timedelta(days=run_out_in)
    chart = seat_chart(days, total, term_end, pace=pace, run_out=run_out)
    points = list(chart.line) + list(chart.projection or ())
    for p in points:
        assert chart.left <= p.x <= chart.right and chart.top <= p.y <= chart.bottom
    assert chart.top <= chart.total_y <= chart.bottom
    assert all(chart.left <= t.at <= chart.right for t in chart.x_ticks)
    assert all(chart.top <= t.at <= chart.bottom for t in chart.y_ticks)
    assert [p.x for p in chart.line] == sorted(p.x for p in chart.line)
    assert 0 < chart.left < chart.right < chart.width and 0 < chart.top < chart.bottom < chart.height
    assert 2 <= len(chart.y_ticks) <= 6 and chart.y_ticks[-1].at == chart.top


def test_the_projection_in_words() -> None:
    end = D0 + timedelta(days=365)
    assert run_out_text(full=True, on=D0, pace=0, before_term_end=True, term_last_day=end).startswith(
        "Every seat is in use")
    assert "no pace" in run_out_text(full=False, on=None, pace=0, before_term_end=False, term_last_day=end)
    soon = run_out_text(full=False, on=D0 + timedelta(days=5), pace=2.0, before_term_end=True, term_last_day=end)
    assert soon == "At the current pace (2.0 seats a day) the seats run out on 2026-01-06, before the term ends on 2027-01-01."
    late = run_out_text(full=False, on=D0 + timedelta(days=900), pace=1.0, before_term_end=False, term_last_day=end)
    assert late == "At the current pace (1.0 seat a day) the seats last to the end of the term on 2027-01-01."


def test_the_text_alternative_states_the_figures() -> None:
    text = describe(series(0, 2, 5), 10, "P.")
    assert text == ("Plus seats used per day from 2026-01-01 to 2026-01-03: 5 in use on 2026-01-03, "
                    "5 of 10 seats left. P.")
    assert describe([], 10, "P.").endswith("no day of the term has passed yet. P.")


def test_one_measure_seats_left_and_an_expired_lot_has_none() -> None:
    assert rules.seats_left_text(19, 20) == "19 of 20 seats left"
    assert rules.seats_left_text(1, 1) == "1 of 1 seat left"
    assert rules.seats_left_text(20, 20, expired=True) == "0 of 20 seats left"
    assert rules.seats_left_text(-3, 5) == "0 of 5 seats left"


@pytest.mark.parametrize(("action", "kwargs", "expected"), [
    (dash.BUY_SEATS, {"catalog_id": "V-1"}, rules.Todo("Buy seats", "store_buy", "V-1")),
    (dash.RENEW, {"license_type": "plus"}, rules.Todo("Renew the Plus subscription", "store_plus")),
    (dash.RENEW, {"license_type": "volume", "catalog_id": "V-1"}, rules.Todo("Buy seats to renew", "store_buy", "V-1")),
    (dash.RENEW, {"license_type": "volume"}, rules.Todo("Renew the Plus subscription", "store_plus")),
    (dash.DELIVER_REPLACEMENT, {"catalog_id": "OLD", "replacement_catalog_id": "NEW"},
     rules.Todo("Deliver the replacement", "deliver", "NEW")),
    (dash.DELIVER_REPLACEMENT, {"catalog_id": "OLD"}, rules.Todo("Find a replacement in the store", "store_course", "OLD")),
    (dash.UPDATE_CARD, {}, rules.Todo("Update the card on the Plus page", "store_plus")),
    (dash.TOP_UP_DEPOSIT, {"catalog_id": "P"}, rules.Todo("Ask vendor support to top up the deposit", "tab_ppu")),
    (dash.DELIVER_PACKAGE, {"catalog_id": "C", "license_type": "volume"},
     rules.Todo("Deliver a new package", "deliver", "C", "volume")),
    (dash.DELIVER_WITH_PLUS, {"catalog_id": "C", "license_type": "volume"},
     rules.Todo("Deliver it with the Plus subscription", "deliver", "C", "plus")),
    (dash.BUY_SEATS, {}, rules.Todo("Contact vendor support", None)),  # no course to link
    ("something_new", {}, rules.Todo("Contact vendor support", None)),
])
def test_what_each_needs_attention_item_says_to_do(action: str, kwargs: dict[str, str], expected: rules.Todo) -> None:
    assert rules.todo(action, **kwargs) == expected


def test_every_action_the_reads_give_has_words() -> None:
    for action in dash.ACTIONS:
        todo = rules.todo(action, catalog_id="C-1", license_type="volume", replacement_catalog_id="C-2")
        assert todo.text and todo.target in (None, "store_buy", "store_course", "store_plus", "deliver", "tab_ppu",
                                             "tab_purchased")


def test_the_low_balance_notice_counts_only_an_enabled_deposit_and_courses_that_take_seats() -> None:
    library = [("Cheap", 1_000, "active"), ("Dear", 5_000, "insufficient_deposit"), ("Gone", 90_000, "retired")]
    low = library_low_balance(True, 40_000, library)
    assert low is not None and (low.title, low.ten_seats_cents) == ("Dear", 50_000)
    assert library_low_balance(True, 50_000, library) is None
    assert library_low_balance(False, 0, library) is None
    assert library_low_balance(True, 0, [("Gone", 90_000, "retired")]) is None
