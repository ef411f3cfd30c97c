"""accounts, staff and seats commands: what vendor support staff use."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click
from lti_tool.cli.base import (
    CliContext,
    account_option,
    cli,
    echo,
    emit_json,
    json_option,
    parse_start,
    pass_ctx,
    store_errors,
)
from store.accounts import queries as account_queries
from store.accounts.linking import set_identity_linking
from store.accounts.service import LearnerIdentity, create_account
from store.base import utcnow
from store.money import format_money
from store.licenses import queries as license_queries
from store.licenses import rules
from store.licenses import service as licenses
from store.licenses.holdings import account_overview
from store.text import printable

REFUSED_EXIT_CODE = 3



# ---------------------------------------------------------------- accounts


@cli.group()
def accounts() -> None:
    """Customer accounts."""


@accounts.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["organization", "individual"]), default="organization",
              show_default=True)
@json_option
@pass_ctx
@store_errors
def accounts_create(ctx: CliContext, name: str, kind: str, as_json: bool) -> None:
    """Create an account called NAME."""
    view = create_account(ctx.sessions, name, utcnow(), kind=kind)
    if as_json:
        emit_json(asdict(view))
    else:
        echo(f"created account {view.id}: {view.name} ({view.kind})")


@accounts.command("list")
@json_option
@pass_ctx
def accounts_list(ctx: CliContext, as_json: bool) -> None:
    """List accounts with their licenses at a glance (from the same read model as `licenses list`)."""
    now = utcnow()
    rows = []
    with ctx.read_sessions() as session:
        for account in account_queries.list_accounts(session):
            overview = account_overview(session, account.id, now)
            plus = overview.current_plus
            rows.append({
                "id": account.id,
                "name": account.name,
                "kind": account.kind,
                "annual_retake": account.annual_retake,
                "plus_seats_used": plus.seats_used if plus else None,
                "plus_seats_total": plus.seats if plus else None,
                "plus_period_end": plus.expires_at if plus else None,
                "valid_volume_lots": sum(1 for h in overview.volume if h.delivers),
                "ppu_balance_cents": overview.ppu.balance_cents if overview.ppu else None,
            })
    if as_json:
        emit_json(rows)
        return
    if not rows:
        echo("no accounts yet: lti-tool accounts create NAME")
        return
    echo(f"{'ID':>4}  {'NAME':30}  {'KIND':12}  {'PLUS SEATS':>11}  {'LOTS':>4}  {'PPU DEPOSIT':>12}  RETAKE")
    for r in rows:
        plus = f"{r['plus_seats_used']}/{r['plus_seats_total']}" if r["plus_seats_total"] else "-"
        ppu = format_money(r["ppu_balance_cents"], ctx.settings.currency) if r["ppu_balance_cents"] is not None else "-"
        echo(f"{r['id']:>4}  {r['name'][:30]:30}  {r['kind']:12}  {plus:>11}  {r['valid_volume_lots']:>4}  "
             f"{ppu:>12}  {'on' if r['annual_retake'] else 'off'}")


# ---------------------------------------------------------------- staff


@cli.group()
def staff() -> None:
    """Grant licenses and change staff-only settings."""


@staff.command("grant-plus")
@account_option
@click.option("--seats", type=int, required=True, help="Seats to grant (1 to 100,000).")
@click.option("--term", type=click.Choice(["annual", "monthly"]), required=True)
@click.option("--start", default=None, help="Term start: a date (UTC midnight) or ISO timestamp; default now.")
@json_option
@pass_ctx
@store_errors
def grant_plus(ctx: CliContext, account: str, seats: int, term: str, start: str | None, as_json: bool) -> None:
    """Start a Plus subscription, or add seats to the active one."""
    view = licenses.grant_plus(ctx.sessions, account, seats, term, utcnow(), start=parse_start(start))
    if as_json:
        emit_json(asdict(view))
    else:
        echo(f"plus subscription {view.id}: {view.seats_total} seats ({view.seats_used} used), {view.term}, "
             f"{view.started_at:%Y-%m-%d} to {view.current_period_end:%Y-%m-%d}")


@staff.command("grant-volume")
@account_option
@click.option("--course", required=True, help="Course catalog id.")
@click.option("--seats", type=int, required=True, help="Seats in the lot (1 to 100,000).")
@click.option("--start", default=None, help="Purchase date (the 12-month term starts then); default now.")
@json_option
@pass_ctx
@store_errors
def grant_volume(ctx: CliContext, account: str, course: str, seats: int, start: str | None, as_json: bool) -> None:
    """Record a Volume lot for one course."""
    view = licenses.grant_volume(ctx.sessions, account, course, seats, utcnow(), start=parse_start(start))
    if as_json:
        emit_json(asdict(view))
    else:
        echo(f"volume lot {view.id}: {view.seats_total} seats of {view.catalog_id}, "
             f"{view.purchased_at:%Y-%m-%d} to {view.expires_at:%Y-%m-%d}")


def _echo_ppu(ctx: CliContext, view: licenses.PpuView, as_json: bool) -> None:
    if as_json:
        emit_json(asdict(view))
    else:
        balance = format_money(view.balance_cents, ctx.settings.currency)
        echo(f"pay per use: contract {view.contract_ref}, deposit balance {balance} ({view.balance_cents} cents)")


@staff.command("ppu-configure")
@account_option
@click.option("--contract", required=True, help="Contract reference.")
@click.option("--deposit", type=int, required=True, help="Initial deposit in cents (0 or more).")
@json_option
@pass_ctx
@store_errors
def ppu_configure(ctx: CliContext, account: str, contract: str, deposit: int, as_json: bool) -> None:
    """Configure Pay Per Use for an account after a contract; credits the deposit."""
    _echo_ppu(ctx, licenses.configure_ppu(ctx.sessions, account, contract, deposit, utcnow()), as_json)


@staff.command("deposit")
@account_option
@click.option("--add", "add", type=int, required=True, help="Cents to add to the PPU deposit.")
@json_option
@pass_ctx
@store_errors
def deposit(ctx: CliContext, account: str, add: int, as_json: bool) -> None:
    """Add to an account's Pay Per Use deposit."""
    _echo_ppu(ctx, licenses.add_deposit(ctx.sessions, account, add, utcnow()), as_json)


@staff.command("ppu-library-add")
@account_option
@click.option("--course", required=True, help="Course catalog id.")
@pass_ctx
@store_errors
def ppu_library_add(ctx: CliContext, account: str, course: str) -> None:
    """Add a course to an account's PPU library (admins do this in the store too)."""
    added = licenses.add_to_ppu_library(ctx.sessions, account, course, utcnow())
    echo(f"{course} {'added to' if added else 'was already in'} the PPU library")


@staff.command("retake")
@account_option
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_ctx
@store_errors
def retake(ctx: CliContext, account: str, state: str) -> None:
    """Turn annual retake on or off for an account."""
    licenses.set_annual_retake(ctx.sessions, account, state == "on")
    echo(f"annual retake {state}")


@staff.command("link-identities")
@account_option
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_ctx
@store_errors
def link_identities(ctx: CliContext, account: str, state: str) -> None:
    """Treat the same person as one learner across delivery methods (matched by email and LMS
    username), or stop doing so (off by default)."""
    set_identity_linking(ctx.sessions, account, state == "on")
    echo(f"identity linking {state}")


# ---------------------------------------------------------------- seats


@cli.group()
def seats() -> None:
    """Seats: list them, or claim one through the engine."""


@seats.command("list")
@account_option
@click.option("--course", default=None, help="Only seats covering this course (catalog id).")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many, newest first.")
@json_option
@pass_ctx
@store_errors
def seats_list(ctx: CliContext, account: str, course: str | None, limit: int | None, as_json: bool) -> None:
    """List an account's seats, newest first."""
    now = utcnow()
    with ctx.read_sessions() as session:
        acc = account_queries.get_account(session, account)
        rows = license_queries.list_seats(session, acc.id, now, course, limit)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no seats")
        return
    echo(f"{'SEAT':>6}  {'TYPE':6}  {'COURSE':14}  {'LEARNER':24}  {'ATT':>3}  {'OCCUPIED':10}  {'EXPIRES':10}  STATE")
    for r in rows:
        expires = f"{r.expires_at:%Y-%m-%d}" if r.expires_at else "with term"
        echo(f"{r.id:>6}  {r.license_type:6}  {(r.catalog_id or '(all Plus)')[:14]:14}  "
             f"{printable(r.learner_external_id)[:24]:24}  {r.attempt:>3}  {r.occupied_at:%Y-%m-%d}  {expires:10}  "
             f"{'valid' if r.is_valid else 'expired'}")


@seats.command("claim")
@account_option
@click.option("--license-type", type=click.Choice(list(rules.LICENSE_TYPES)), required=True)
@click.option("--course", required=True, help="Course catalog id.")
@click.option("--learner", required=True, help="The learner's external id.")
@click.option("--source", default="staff", show_default=True,
              help="Identity source, e.g. lti:<issuer> or package:<key>, to act as that learner.")
@click.option("--name", default=None)
@click.option("--email", default=None)
@click.option("--username", default=None, help="The LMS username (identity linking matches by it).")
@json_option
@pass_ctx
@store_errors
def seats_claim(ctx: CliContext, account: str, license_type: str, course: str, learner: str, source: str,
                name: str | None, email: str | None, username: str | None, as_json: bool) -> None:
    """Claim a seat exactly as a launch would. Exit 0 with the seat, 3 with a refusal."""
    with ctx.read_sessions() as session:
        account_id = account_queries.get_account(session, account).id
    request = licenses.ClaimRequest(account_id, license_type, course,
                                    LearnerIdentity(source=source, external_id=learner, name=name, email=email,
                                                    username=username))
    result = licenses.claim_seat(ctx.sessions, request, utcnow())
    if as_json:
        emit_json({
            "ok": result.ok,
            "reason": result.reason,
            "message": result.refusal.message if result.refusal else None,
            "is_new_seat": result.is_new_seat,
            "seat": asdict(result.seat) if result.seat else None,
        })
    elif result.seat:
        s = result.seat
        echo(f"{'new' if result.is_new_seat else 'existing'} seat {s.id}: {s.license_type}, course {s.catalog_id}, "
             f"attempt {s.attempt}, occupied {s.occupied_at:%Y-%m-%d}"
             + (f", expires {s.expires_at:%Y-%m-%d}" if s.expires_at else ""))
    else:
        r = result.refusal
        assert r is not None
        echo(f"refused [{r.reason}]: {r.message} {r.ask}")
    if not result.ok:
        sys.exit(REFUSED_EXIT_CODE)
