"""One definition each: license labels (and labeled titles) and money formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.lti import content_items
from scorm_packages import manifest
from store.licenses import labels
from store.money import format_amount, format_money


def test_every_layer_uses_the_one_label_table() -> None:
    assert content_items.LICENSE_LABELS is labels.LICENSE_LABELS
    assert manifest.LICENSE_LABELS is labels.LICENSE_LABELS
    assert tuple(labels.LICENSE_LABELS) == labels.LICENSE_TYPES
    assert [labels.license_label(t) for t in labels.LICENSE_TYPES] == ["Plus", "Volume", "Pay Per Use"]


@pytest.mark.parametrize("license_type", labels.LICENSE_TYPES)
def test_lti_links_and_packages_get_the_same_labeled_title(license_type: str) -> None:
    title = "  Fire   Drills & Evacuation "
    assert content_items.item_title(title, license_type) == manifest.labeled_title(title, license_type) \
        == f"Fire Drills & Evacuation — {labels.license_label(license_type)}"


def test_a_long_title_is_cut_so_the_label_survives() -> None:
    cut = labels.labeled_title("x" * 500, "ppu", max_chars=60)
    assert len(cut) == 60 and cut.endswith("… — Pay Per Use")


@pytest.mark.parametrize(("cents", "text"), [
    (0, "$0.00"), (5, "$0.05"), (-5, "-$0.05"), (-1, "-$0.01"), (-199, "-$1.99"), (123456, "$1,234.56"),
    (-123456789, "-$1,234,567.89"),
])
def test_money_in_dollars(cents: int, text: str) -> None:
    assert format_money(cents, "USD") == text


def test_other_currencies() -> None:
    assert format_money(-250, "EUR") == "-€2.50"
    assert format_money(123456, "CHF") == "1,234.56 CHF"
    assert format_money(1500, "JPY") == "¥1,500"
    assert format_amount(-100050) == "-1,000.50"


def test_money_must_be_whole_cents() -> None:
    for bad in (1.5, True, "100"):
        with pytest.raises(TypeError):
            format_money(bad)  # type: ignore[arg-type]


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_the_text_reads_back_as_the_same_cents(cents: int) -> None:
    text = format_amount(cents)
    assert int(text.replace(",", "").replace(".", "")) == cents
    assert text.startswith("-") == (cents < 0)
