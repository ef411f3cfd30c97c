"""orders, billing and the store's staff commands: order history, renewals, reconciliation,
cancelling a renewal, quote requests."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from fractions import Fraction
from typing import Any

import click

from config import ConfigError
from lti_tool.cli.base import CliContext, account_option, cli, echo, emit_json, fail, json_option, pass_ctx, store_errors
from lti_tool.cli.staff import staff
from store.accounts import queries as account_queries
from store.base import utcnow
from store.money import format_money
from store.orders import service as orders_service
from store.payments import PaymentGateway, gateway_for
from store.text import printable


def _gateway(ctx: CliContext) -> PaymentGateway:
    try:
        return gateway_for(ctx.settings, ctx.sessions)
    except ConfigError as exc:
        fail(str(exc))


def _plain(value: Any) -> Any:
    """Fractions (a line's share of the term) as ``"3/4"`` for JSON."""
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# ---------------------------------------------------------------- orders


@cli.group()
def orders() -> None:
    """Store orders: purchases and renewals."""


@orders.command("list")
@account_option
@json_option
@pass_ctx
@store_errors
def orders_list(ctx: CliContext, account: str, as_json: bool) -> None:
    """An account's orders, newest first."""
    with ctx.read_sessions() as session:
        acc = account_queries.get_account(session, account)
        rows = orders_service.list_orders(session, acc.id)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no orders")
        return
    echo(f"{'ORDER':12}  {'DATE':16}  {'KIND':8}  {'STATUS':16}  {'TOTAL':>14}  LINES")
    for r in rows:
        echo(f"{r.number:12}  {r.created_at:%Y-%m-%d %H:%M}  {r.kind:8}  {r.status_label:16}  "
             f"{format_money(r.total_cents, r.currency):>14}  {r.line_count}")


@orders.command("show")
@click.argument("number")
@json_option
@pass_ctx
@store_errors
def orders_show(ctx: CliContext, number: str, as_json: bool) -> None:
    """One order (ORD-000123) with its lines."""
    with ctx.read_sessions() as session:
        view = orders_service.find_order(session, number)
        account = account_queries.get_account(session, view.account_id)
    if as_json:
        emit_json(_plain({**asdict(view), "account_name": account.name}))
        return
    money = lambda cents: format_money(cents, view.currency)  # noqa: E731
    echo(f"{view.number}  {view.kind}  {view.status_label}  {view.created_at:%Y-%m-%d %H:%M} UTC")
    echo(f"account: {account.name} ({account.id})")
    if view.billing is not None:
        b = view.billing
        echo(f"billing: {b.name} <{b.email}>{', ' + b.company if b.company else ''}, {b.country}")
    if view.card_last4:
        echo(f"card: {view.card_brand or 'card'} ending {view.card_last4}")
    if view.failure_reason:
        echo(f"failed: {view.failure_message} [{view.failure_reason}]")
    for line in view.lines:
        detail = f"{line.quantity} x {money(line.unit_cents)}"
        if line.discount_percent:
            detail += f" ({line.discount_percent}% off {money(line.list_unit_cents)})"
        if line.proration is not None:
            detail += f" ({line.proration_percent}% of the term left)"
        period = f"  {line.period_start:%Y-%m-%d} to {line.period_end:%Y-%m-%d}" \
            if line.period_start and line.period_end else ""
        echo(f"  {line.position}. {printable(line.title)}{' [' + line.catalog_id + ']' if line.catalog_id else ''}: "
             f"{detail} = {money(line.line_total_cents)}{period}")
    echo(f"total: {money(view.total_cents)}")


# ---------------------------------------------------------------- billing


@cli.group()
def billing() -> None:
    """Renewals and reconciliation (run from cron)."""


@billing.command("renew")
@json_option
@pass_ctx
@store_errors
def billing_renew(ctx: CliContext, as_json: bool) -> None:
    """Renew due Plus subscriptions: charge the card on file, write the renewal orders. Exit 1
    when the gateway could not be reached for some (their orders stay pending)."""
    report = orders_service.renew_due(ctx.sessions, ctx.settings, _gateway(ctx), utcnow())
    if as_json:
        emit_json(asdict(report))
    else:
        echo(f"renewed {len(report.renewed)}, declined {len(report.declined)}, ended {len(report.ended)}, "
             f"waiting {len(report.waiting)}, gateway unreachable {len(report.unknown)}")
        for number in report.orders:
            echo(f"  order {number}")
    if report.has_errors:
        fail(f"{len(report.unknown)} renewal(s) could not reach the payment gateway; their orders stay pending "
             "and `lti-tool billing reconcile` settles them [payment_unavailable]")


@billing.command("reconcile")
@click.option("--older-than", "older_than", type=click.IntRange(0), default=60, show_default=True,
              help="Only orders whose last charge attempt is at least this many seconds old.")
@json_option
@pass_ctx
@store_errors
def billing_reconcile(ctx: CliContext, older_than: int, as_json: bool) -> None:
    """Settle orders left pending: complete those the gateway charged, cancel those it did not.
    Exit 1 when some could not be settled yet."""
    report = orders_service.reconcile_pending(ctx.sessions, _gateway(ctx), utcnow(),
                                              older_than=timedelta(seconds=older_than))
    if as_json:
        emit_json(asdict(report))
    else:
        echo(f"completed {len(report.completed)}, failed {len(report.failed)}, cancelled {len(report.cancelled)}, "
             f"still pending {len(report.still_pending)}")
        for label, numbers in (("completed", report.completed), ("failed", report.failed),
                               ("cancelled", report.cancelled), ("still pending", report.still_pending)):
            for number in numbers:
                echo(f"  {number} {label}")
    if report.has_errors:
        fail(f"{len(report.still_pending)} pending order(s) could not be settled yet; run again later "
             "[payment_unavailable]")


# ---------------------------------------------------------------- staff


@staff.command("cancel-renewal")
@account_option
@json_option
@pass_ctx
@store_errors
def cancel_renewal(ctx: CliContext, account: str, as_json: bool) -> None:
    """Stop the account's Plus subscription from renewing; access ends with the paid term."""
    cancelled = orders_service.cancel_renewal(ctx.sessions, account, utcnow())
    if as_json:
        emit_json([asdict(c) for c in cancelled])
        return
    for c in cancelled:
        echo(f"plus subscription {c.subscription_id} ({c.term}) will not renew; access until "
             f"{c.access_until:%Y-%m-%d %H:%M} UTC")


@staff.command("quotes")
@json_option
@pass_ctx
def quotes(ctx: CliContext, as_json: bool) -> None:
    """Quote requests from the store, newest first."""
    with ctx.read_sessions() as session:
        rows = orders_service.list_quotes(session)
    if as_json:
        emit_json([asdict(q) for q in rows])
        return
    if not rows:
        echo("no quote requests")
        return
    for q in rows:
        echo(f"quote {q.id}  {q.created_at:%Y-%m-%d %H:%M}  {printable(q.account_name)} ({q.account_id})  "
             f"{printable(q.name)} <{printable(q.email)}>")
        for item in q.items:
            what = f"{item.title} [{item.catalog_id}]" if item.catalog_id else item.title
            echo(f"  {item.seats:,} seats: {printable(what)}")
        if q.message:
            echo("  " + q.message.replace("\n", "\n  "))


__all__ = ["billing", "orders"]
