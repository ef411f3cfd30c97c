"""The store's command line end to end on a real database: orders list/show, billing renew and
reconcile (from cron), staff cancel-renewal and quotes; bad input is one line and exit 1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from store.base import utcnow
from store.orders import service as store
from store.payments.gateway import Charge
from store.payments.local import LocalGateway
from tests.factories.catalog import make_course
from tests.factories.orders import Shop, make_shop
from tests.factories.stripe_double import PUBLISHABLE_KEY, SECRET_KEY, serve_stripe_double

Sessions = sessionmaker[Session]
Run = Callable[..., Result]


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("APP_PAYMENT_GATEWAY", "local")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_engine=engine), catch_exceptions=False)

    return invoke


@pytest.fixture
def shop(committing_sessions: Sessions) -> Shop:
    with committing_sessions.begin() as s:
        make_course(s, "VOL-1", is_plus=False, volume_price_cents=1_000, title="Forklift Safety")
    return make_shop(committing_sessions)


def test_orders_list_and_show(run: Run, shop: Shop) -> None:
    order = shop.buy(store.PlusItem("annual", 2), store.VolumeItem("VOL-1", 24))
    listed = run("orders", "list", "--account", "Acme Learning")
    assert listed.exit_code == 0 and order.number in listed.output and "$1,023.00" in listed.output
    rows = json.loads(run("orders", "list", "--account", str(shop.owner.account_id), "--json").output)
    assert rows[0]["number"] == order.number and rows[0]["status"] == "fulfilled" and rows[0]["total_cents"] == 102_300
    shown = run("orders", "show", order.number)
    assert shown.exit_code == 0 and "Forklift Safety [VOL-1]: 24 x $9.50 (5% off $10.00) = $225.00" in shown.output
    assert "card: visa ending 4242" in shown.output and "total: $1,023.00" in shown.output
    body = json.loads(run("orders", "show", order.number.lower(), "--json").output)
    assert body["account_name"] == "Acme Learning" and body["lines"][1]["course_id"] == "VOL-1"
    assert "4242424242424242" not in shown.output + json.dumps(body)


@pytest.mark.parametrize("args, reason", [
    (("orders", "show", "ORD-999999"), "unknown_order"),
    (("orders", "show", "nonsense"), "unknown_order"),
    (("orders", "list", "--account", "Nobody"), "unknown_account"),
    (("staff", "cancel-renewal", "--account", "Acme Learning"), "no_renewing_subscription"),
])
def test_bad_input_is_one_line(run: Run, shop: Shop, args: tuple[str, ...], reason: str) -> None:
    result = run(*args)
    assert result.exit_code == 1 and result.output.strip().startswith("error:")
    assert result.output.strip().endswith(f"[{reason}]") and len(result.output.strip().splitlines()) == 1


def test_billing_renew_and_cancel_renewal(run: Run, shop: Shop) -> None:
    shop.buy(store.PlusItem("monthly", 3), now=utcnow() - timedelta(days=20))  # in its term
    cancelled = run("staff", "cancel-renewal", "--account", "Acme Learning")
    assert cancelled.exit_code == 0 and "(monthly) will not renew; access until" in cancelled.output
    again = run("staff", "cancel-renewal", "--account", "Acme Learning", "--json")
    assert again.exit_code == 1 and "[no_renewing_subscription]" in again.output
    assert run("billing", "renew").output.startswith("renewed 0")


def test_billing_renew_from_cron(run: Run, shop: Shop) -> None:
    shop.buy(store.PlusItem("monthly", 3), now=utcnow() - timedelta(days=32))
    renewed = run("billing", "renew")
    assert renewed.exit_code == 0 and renewed.output.startswith("renewed 1, declined 0")
    again = json.loads(run("billing", "renew", "--json").output)
    assert again["renewed"] == [] and again["orders"] == []
    listed = json.loads(run("orders", "list", "--account", "Acme Learning", "--json").output)
    assert [(o["kind"], o["status"]) for o in listed] == [("renewal", "fulfilled"), ("purchase", "fulfilled")]


class Crash(Exception):
    pass


class CrashAfterCharge(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        super().charge(*args, **kwargs)  # type: ignore[arg-type]
        raise Crash()


def test_billing_reconcile(run: Run, shop: Shop) -> None:
    crashing = Shop(shop.sessions, shop.settings, CrashAfterCharge(shop.sessions), shop.owner)
    placed = utcnow() - timedelta(minutes=5)
    crashing.add(store.VolumeItem("VOL-1", 3), placed)
    with pytest.raises(Crash):
        crashing.checkout(now=placed)
    assert "still pending 0" in run("billing", "reconcile", "--older-than", "3600").output  # not old enough
    done = run("billing", "reconcile")
    assert done.exit_code == 0 and done.output.startswith("completed 1") and " completed" in done.output
    assert json.loads(run("billing", "reconcile", "--json").output)["completed"] == []


def test_staff_quotes(run: Run, shop: Shop) -> None:
    assert run("staff", "quotes").output.strip() == "no quote requests"
    store.request_quote(shop.sessions, shop.owner, "Ann Admin", "ann@example.com", "For 5,000 drivers\x1b[31m",
                        [store.VolumeItem("VOL-1", 5000)], utcnow())
    shown = run("staff", "quotes")
    assert "Ann Admin <ann@example.com>" in shown.output and "5,000 seats: Forklift Safety [VOL-1]" in shown.output
    assert "\x1b" not in shown.output and "\\x1b" in shown.output
    (quote,) = json.loads(run("staff", "quotes", "--json").output)
    assert quote["items"] == [{"kind": "volume", "course_id": "VOL-1", "title": "Forklift Safety", "term": None,
                               "seats": 5000}]


@pytest.fixture
def stripe_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with serve_stripe_double() as double:
        monkeypatch.setenv("APP_PAYMENT_GATEWAY", "stripe")
        monkeypatch.setenv("APP_STRIPE_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("APP_STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY)
        monkeypatch.setenv("APP_STRIPE_API_BASE", double.url)
        yield double


def test_an_unreachable_gateway_exits_1_and_leaves_the_order_pending(run: Run, shop: Shop, stripe_env: object,
                                                                    committing_sessions: Sessions) -> None:
    from store.payments import gateway_for
    from tests.factories.orders import store_settings
    from tests.factories.stripe_double import StripeDouble

    assert isinstance(stripe_env, StripeDouble)
    settings = store_settings(payment_gateway="stripe", stripe_secret_key=SECRET_KEY,
                              stripe_publishable_key=PUBLISHABLE_KEY, stripe_api_base=stripe_env.url)
    on_stripe = Shop(committing_sessions, settings, gateway_for(settings, committing_sessions), shop.owner)
    on_stripe.add(store.PlusItem("monthly", 1), utcnow() - timedelta(days=32))
    on_stripe.checkout(now=utcnow() - timedelta(days=32), payment="pm_card_visa")
    stripe_env.fail_next("drop", "/v1/payment_intents")
    result = run("billing", "renew")
    assert result.exit_code == 1 and "error:" in result.output and "[payment_unavailable]" in result.output
    listed = json.loads(run("orders", "list", "--account", "Acme Learning", "--json").output)
    assert listed[0]["kind"] == "renewal" and listed[0]["status"] == "pending"


def test_a_misconfigured_gateway_is_one_line(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PAYMENT_GATEWAY", "stripe")
    result = run("billing", "renew")
    assert result.exit_code == 1 and result.output.startswith("error: PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY")
