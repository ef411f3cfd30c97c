"""licenses commands: what an account holds (the read model of store.licenses.holdings)."""

from __future__ import annotations

from typing import Any

import click

from lti_tool.cli.base import CliContext, account_option, cli, echo, emit_json, json_option, pass_ctx, store_errors
from store.accounts import queries as account_queries
from store.base import utcnow
from store.licenses.holdings import AccountOverview, Holding, account_overview
from store.money import format_money

def holding_json(holding: Holding, overview: AccountOverview) -> dict[str, Any]:
    """One holding for scripts: ``course_id`` is the catalog id (null for Plus), times are ISO 8601
    UTC, ``seats``/``seats_used`` are null for Pay Per Use, ``balance_cents`` is the PPU deposit
    (null for Plus and Volume)."""
    return {
        "license_type": holding.license_type,
        "course_id": holding.catalog_id,
        "title": holding.title,
        "seats": holding.seats,
        "seats_used": holding.seats_used,
        "starts_at": holding.starts_at,
        "expires_at": holding.expires_at,
        "status": holding.status,
        "balance_cents": overview.ppu.balance_cents if holding.license_type == "ppu" and overview.ppu else None,
    }


def load_overview(ctx: CliContext, account: str) -> AccountOverview:
    with ctx.read_sessions() as session:
        return account_overview(session, account_queries.get_account(session, account).id, utcnow())


@cli.group()
def licenses() -> None:
    """What accounts hold: Plus subscriptions, Volume lots, Pay Per Use."""


@licenses.command("list")
@account_option
@json_option
@pass_ctx
@store_errors
def licenses_list(ctx: CliContext, account: str, as_json: bool) -> None:
    """Every holding of an account with its seats, term and status now."""
    overview = load_overview(ctx, account)
    if as_json:
        emit_json([holding_json(h, overview) for h in overview.holdings])
        return
    if not overview.holdings:
        echo("no licenses" + ("" if overview.ppu else ": grant one with `lti-tool staff …`"))
    else:
        echo(f"{'TYPE':6}  {'COURSE':14}  {'TITLE':30}  {'SEATS':>11}  {'STARTS':10}  {'EXPIRES':10}  STATUS")
        for h in overview.holdings:
            seats = f"{h.seats_used}/{h.seats}" if h.seats is not None else "-"
            expires = f"{h.expires_at:%Y-%m-%d}" if h.expires_at else "-"
            echo(f"{h.license_type:6}  {(h.catalog_id or '(all Plus)')[:14]:14}  {h.title[:30]:30}  "
                 f"{seats:>11}  {h.starts_at:%Y-%m-%d}  {expires:10}  {h.status}")
    if overview.ppu:
        ppu = overview.ppu
        deposit = format_money(ppu.balance_cents, ctx.settings.currency)
        echo(f"pay per use: contract {ppu.contract_ref}, deposit {deposit}"
             f"{'' if ppu.is_enabled else ', switched off'}"
             f"{'' if overview.ppu_library else ', library empty'}")
