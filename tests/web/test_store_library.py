"""The Pay Per Use library page (/store/library): the deposit balance, each library course with
the seats bought from the deposit, and a notice when the balance is below the price of ten seats
of the library's dearest course."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.catalog.service import import_records
from store.licenses.service import add_to_ppu_library, configure_ppu
from tests.factories.licenses import claim, make_account
from tests.factories.store import Buyer, Page, make_buyer


def rec(catalog_id: str, title: str, price: int, **changes: Any) -> dict[str, Any]:
    return {"id": catalog_id, "title": title, "publisher": "Safe Co", "volume_price_cents": 1_000,
            "ppu_price_cents": price, **changes}


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, [rec("C-100", "Workplace Safety", 2_000), rec("C-200", "Advanced Forklift", 5_000),
                                         rec("C-300", "Crane Signals", 9_000)], full=True, now=utcnow())
    return make_account(committing_sessions, now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def rows(page: Page) -> list[list[str]]:
    return [[" ".join(td.text_content().split()) for td in tr.xpath("td")]
            for tr in page.doc.xpath('//table[@class="store-library"]/tbody/tr')]


def test_an_account_without_pay_per_use_is_told_how_it_starts(buyer: Buyer) -> None:
    page = buyer.page("/store/library")
    assert page.h1 == "Pay Per Use library"
    assert "Your organization does not use Pay Per Use" in page.by_id("store-ppu-unavailable").text_content()
    assert page.current_nav() == ["Store"]


def test_the_deposit_the_library_and_the_seats_bought_from_it(committing_sessions: sessionmaker[Session],
                                                             account: int, buyer: Buyer) -> None:
    now = utcnow()
    configure_ppu(committing_sessions, account, "PPU-7", 100_000, now)
    add_to_ppu_library(committing_sessions, account, "C-100", now)
    add_to_ppu_library(committing_sessions, account, "C-200", now)
    for who in ("a", "b", "c"):
        assert claim(committing_sessions, account, "ppu", "C-100", who, now).ok
    assert claim(committing_sessions, account, "ppu", "C-200", "a", now).ok
    assert claim(committing_sessions, account, "ppu", "C-100", "a", now).ok  # a relaunch buys nothing
    page = buyer.page("/store/library")
    assert page.by_id("store-balance").text == "$890.00"  # 1,000.00 - 3 x 20.00 - 50.00
    assert "contract PPU-7" in page.text
    assert page.by_id("store-seats-bought").text == "4" and "for $110.00 in all" in page.text
    assert rows(page) == [["Advanced ForkliftC-200", "$50.00", "1 ($50.00)", "active"],  # title, <br>, id
                          ["Workplace SafetyC-100", "$20.00", "3 ($60.00)", "active"]]
    assert page.link("Advanced Forklift").startswith("/store/courses/C-200?s=")
    assert page.doc.xpath('//*[@id="store-low-balance"]') == []  # 890.00 >= 10 x 50.00


def test_a_balance_below_ten_seats_of_the_dearest_course_is_noticed(committing_sessions: sessionmaker[Session],
                                                                   account: int, buyer: Buyer) -> None:
    now = utcnow()
    configure_ppu(committing_sessions, account, "PPU-7", 89_999, now)
    add_to_ppu_library(committing_sessions, account, "C-100", now)
    add_to_ppu_library(committing_sessions, account, "C-300", now)
    page = buyer.page("/store/library")
    notice = " ".join(page.by_id("store-low-balance").text_content().split())
    assert notice.startswith("Your deposit ($899.99) is below the price of ten seats of “Crane Signals”, the "
                             "library's dearest course (10 × $90.00 = $900.00).")
    configure_ppu(committing_sessions, account, "PPU-7", 1, now)  # exactly ten seats now: no notice
    assert buyer.page("/store/library").doc.xpath('//*[@id="store-low-balance"]') == []


def test_an_empty_library(committing_sessions: sessionmaker[Session], account: int, buyer: Buyer) -> None:
    configure_ppu(committing_sessions, account, "PPU-7", 0, utcnow())
    page = buyer.page("/store/library")
    assert "The library is empty." in page.text and page.by_id("store-balance").text == "$0.00"
    assert page.doc.xpath('//*[@id="store-low-balance"]') == []
    assert page.link("Find courses in the store").startswith("/store?s=")


def test_a_session_whose_account_is_gone_has_ended(committing_sessions: sessionmaker[Session], account: int,
                                                   buyer: Buyer) -> None:
    from sqlalchemy import delete

    from store.accounts.models import Account

    with committing_sessions.begin() as session:
        session.execute(delete(Account).where(Account.id == account))
    page = buyer.page("/store/library", status=401)
    assert page.h1 == "Your session has ended"
