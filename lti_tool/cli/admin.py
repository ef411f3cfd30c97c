"""invitations, reports and account closure commands: what an account's admins do on the
dashboard, for staff (invitations list, reports export, staff close-account, staff requests)."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import click

from lti_tool.cli.base import (
    CliContext,
    account_option,
    cli,
    echo,
    emit_json,
    fail,
    json_option,
    parse_moment,
    pass_ctx,
    store_errors,
)
from lti_tool.cli.staff import staff
from lti_tool.lti.closure import closure_step as lti_closure_step
from scorm_packages.service import closure_step as dispatch_closure_step
from store.accounts import queries as account_queries
from store.base import utcnow
from store.closure.service import close_account, closure_preview, list_closure_requests
from store.invitations.service import list_invitations
from store.licenses.labels import LICENSE_TYPES, license_label
from store.reports.rules import STATUSES, ReportFilters
from store.reports.service import report_csv
from store.text import printable

# ---------------------------------------------------------------- invitations


@cli.group()
def invitations() -> None:
    """Invitations: learners an account's admins invited by email."""


@invitations.command("list")
@account_option
@json_option
@pass_ctx
@store_errors
def invitations_list(ctx: CliContext, account: str, as_json: bool) -> None:
    """The account's invitations, newest first: address, course, license, who invited, when sent and
    last opened, and whether the seat is still valid."""
    now = utcnow()
    with ctx.read_sessions() as session:
        rows = list_invitations(session, account_queries.get_account(session, account).id, now)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no invitations")
        return
    echo(f"{'SENT':16}  {'EMAIL':32}  {'COURSE':14}  {'LICENSE':11}  {'OPENED':>6}  {'LAST OPENED':16}  SEAT")
    for r in rows:
        opened = f"{r.last_opened_at:%Y-%m-%d %H:%M}" if r.last_opened_at else "-"
        seat = "valid" if r.seat_valid else ("expired" if r.seat_id else "none")
        echo(f"{r.sent_at:%Y-%m-%d %H:%M}  {printable(r.email)[:32]:32}  {printable(r.catalog_id)[:14]:14}  "
             f"{license_label(r.license_type):11}  {r.open_count:>6}  {opened:16}  {seat}")


# ---------------------------------------------------------------- reports


@cli.group()
def reports() -> None:
    """Learner reports (the dashboard's Reports, as CSV)."""


@reports.command("export")
@account_option
@click.option("--course", default=None, help="Only this course (catalog id).")
@click.option("--license-type", type=click.Choice(list(LICENSE_TYPES)), default=None,
              help="Only activity under seats of this license type.")
@click.option("--status", type=click.Choice(list(STATUSES)), default=None)
@click.option("--from", "date_from", default=None, help="Activity from this date (UTC midnight) or timestamp.")
@click.option("--to", "date_to", default=None, help="Activity before this date (UTC midnight) or timestamp.")
@click.option("-o", "--output", required=True, help="The CSV file to write; - for standard output.")
@pass_ctx
@store_errors
def reports_export(ctx: CliContext, account: str, course: str | None, license_type: str | None, status: str | None,
                   date_from: str | None, date_to: str | None, output: str) -> None:
    """Export the account's learner report as CSV: one row per learner (or linked person) and
    course, exactly the rows the dashboard shows with the same filters. Streamed: any size."""
    filters = ReportFilters(course, license_type, status, parse_moment("--from", date_from, "invalid_dates"),
                            parse_moment("--to", date_to, "invalid_dates"))
    with ctx.read_sessions() as session:
        account_id = account_queries.get_account(session, account).id
    lines = report_csv(ctx.read_sessions, account_id, filters)  # bad filters fail here, before any file
    if output == "-":
        for line in lines:
            sys.stdout.write(line)
        return
    target = Path(output)
    if target.is_dir():
        fail(f"{output!r} is a folder; give a file name [invalid_output]")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        fail(f"folder {str(folder)!r} does not exist [invalid_output]")
    handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".csv", dir=folder)
    rows = -1  # the header is not a row
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            for line in lines:
                out.write(line)
                rows += 1
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    echo(f"wrote {rows} rows to {output}")


# ---------------------------------------------------------------- account closure


@staff.command("requests")
@json_option
@pass_ctx
def staff_requests(ctx: CliContext, as_json: bool) -> None:
    """Account closure requests from the dashboard, newest first."""
    with ctx.read_sessions() as session:
        rows = list_closure_requests(session)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no closure requests")
        return
    for r in rows:
        who = " ".join(p for p in (r.name or "", f"<{r.email}>" if r.email else "") if p) or "(unnamed)"
        echo(f"#{r.id}  {r.created_at:%Y-%m-%d %H:%M} UTC  account {r.account_id}: {r.account_name}  from {who}")
        for line in (r.message or "(no message)").splitlines():
            echo(f"    {line}")


@staff.command("close-account")
@account_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@json_option
@pass_ctx
@store_errors
def staff_close_account(ctx: CliContext, account: str, yes: bool, as_json: bool) -> None:
    """Close an account: delete it with its logins, learners, seats, progress, licenses, orders,
    invitations, quotes, mail, LMS registrations and SCORM packages (revoked). Cannot be undone."""
    with ctx.read_sessions() as session:
        preview = closure_preview(session, account)
    if not yes:
        echo(f"Account {preview.account_id}: {preview.name} ({preview.kind}) — {preview.logins} logins, "
             f"{preview.learners} learners, {preview.seats} seats, {preview.orders} orders, {preview.invitations} "
             f"invitations, {preview.subscriptions} Plus subscriptions, {preview.lots} Volume lots"
             f"{', Pay Per Use' if preview.has_ppu else ''}.", err=True)
        if not click.confirm(f"Close account {printable(preview.name)!r} and delete all of it? This cannot be undone",
                             default=False, err=True):
            fail("not confirmed; nothing was changed [not_confirmed]")
    report = close_account(ctx.sessions, preview.account_id, utcnow(),
                           steps=(lti_closure_step, dispatch_closure_step))
    if as_json:
        emit_json(asdict(report))
        return
    removed = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in sorted(report.removed.items()))
    echo(f"closed account {report.account_id}: {report.name} (removed {removed})")
