"""Money (pure): integer cents everywhere; this module is the one place that turns them into text.

``format_money(-1234, "USD")`` is ``"-$12.34"``; ``format_amount(123456)`` is ``"1,234.56"``
(no currency, for tables whose header names it). Currencies without a symbol here are written
with their ISO 4217 code: ``"1,234.56 CHF"``.
"""

from __future__ import annotations

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}
ZERO_DECIMAL = frozenset({"JPY"})  # amounts are still integer minor units: 1 yen = 1


def _check(cents: int) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"money amounts are whole cents (int), got {cents!r}")
    return cents


def format_amount(cents: int, currency: str = "USD") -> str:
    """The amount with thousands separators and the currency's decimals, no symbol."""
    cents = _check(cents)
    sign = "-" if cents < 0 else ""
    units = abs(cents)
    if currency.upper() in ZERO_DECIMAL:
        return f"{sign}{units:,}"
    return f"{sign}{units // 100:,}.{units % 100:02d}"


def format_money(cents: int, currency: str = "USD") -> str:
    """The amount with its currency: ``$1,234.56``, ``-$0.05``, ``1,234.56 CHF``."""
    code = currency.upper()
    amount = format_amount(cents, code)
    symbol = SYMBOLS.get(code)
    if symbol is None:
        return f"{amount} {code}"
    if amount.startswith("-"):
        return f"-{symbol}{amount[1:]}"
    return f"{symbol}{amount}"
