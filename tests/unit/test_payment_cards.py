"""The local gateway's card form and test cards (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.payments import cards
from store.payments.errors import CardInvalid
from store.payments.gateway import CardDetails, Charge, decline

NO_DEADLINE = settings(deadline=None)  # tests never time anything
NOW = datetime(2026, 6, 15, tzinfo=UTC)


def test_the_test_cards() -> None:
    expected = {"4242 4242 4242 4242": cards.SUCCEED, "4000 0000 0000 0002": cards.DECLINE,
                "4000 0000 0000 9995": cards.INSUFFICIENT_FUNDS, "4000-0000-0000-0341": cards.DECLINE_OFF_SESSION}
    for number, behaviour in expected.items():
        card = cards.read_card(number, "12/30", "123", NOW)
        assert cards.lookup_test_card(card)[1] == behaviour
        assert card.last4 == number[-4:]


@NO_DEADLINE
@given(st.sampled_from(sorted(cards.TEST_CARDS)), st.integers(0, 9))
def test_a_changed_digit_breaks_the_check_digit(number: str, position: int) -> None:
    digit = (int(number[position]) + 1) % 10
    assert not cards.luhn_ok(number[:position] + str(digit) + number[position + 1:])


@pytest.mark.parametrize("number, reason", [
    ("4242 4242 4242 4241", "invalid_card_number"), ("", "invalid_card_number"), ("abcd", "invalid_card_number"),
    ("4242", "invalid_card_number"), ("4111 1111 1111 1111", "unknown_test_card"),
])
def test_other_numbers_are_refused(number: str, reason: str) -> None:
    with pytest.raises(CardInvalid) as refused:
        cards.lookup_test_card(CardDetails(number, 12, 2030, "123")) if reason == "unknown_test_card" \
            else cards.read_card(number, "12/30", "123", NOW)
    assert refused.value.reason == reason and refused.value.field == "number"
    assert number.replace(" ", "") not in str(refused.value) or not number


@pytest.mark.parametrize("expiry, reason", [("13/30", "invalid_expiry"), ("5/26", "card_expired"), ("0630", "invalid_expiry"),
                                            ("06/2080", "invalid_expiry"), ("", "invalid_expiry")])
def test_expiry(expiry: str, reason: str) -> None:
    with pytest.raises(CardInvalid) as refused:
        cards.read_card("4242424242424242", expiry, "123", NOW)
    assert (refused.value.reason, refused.value.field) == (reason, "expiry")
    assert cards.read_card("4242424242424242", "6/26", "123", NOW).exp_year == 2026  # this month still counts
    assert cards.read_card("4242424242424242", "06 / 2031", "123", NOW).exp_month == 6


@pytest.mark.parametrize("cvc", ["12", "1234", "abc", ""])
def test_cvc_has_three_digits(cvc: str) -> None:
    with pytest.raises(CardInvalid) as refused:
        cards.read_card("4242424242424242", "12/30", cvc, NOW)
    assert refused.value.field == "cvc"


def test_a_card_never_shows_its_number_or_cvc() -> None:
    card = cards.read_card("4242 4242 4242 4242", "12/30", "987", NOW)
    for text in (repr(card), str(card), f"{card}"):
        assert "4242424242424242" not in text and "987" not in text


def test_declines_read_the_same_whatever_the_gateway_calls_them() -> None:
    assert decline("insufficient_funds")[0] == "insufficient_funds"
    assert decline("do_not_honor")[0] == "card_declined" == decline(None)[0]
    charge = Charge.declined("generic_decline", 500, "pi_1")
    assert charge.failed and charge.failure_reason == "card_declined" and charge.failure_message
