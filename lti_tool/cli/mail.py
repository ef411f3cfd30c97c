"""mail commands: what the product has mailed (the outbox, and the SMTP backend's records)."""

from __future__ import annotations

from dataclasses import asdict

import click

from lti_tool.cli.base import CliContext, cli, echo, emit_json, json_option, pass_ctx, store_errors
from store.mail import list_outbox
from store.mail.service import LIST_MAX
from store.text import printable


@cli.group("mail")
def mail_group() -> None:
    """Mail the product sends (MAIL_BACKEND=outbox keeps it all in the outbox)."""


@mail_group.command("outbox")
@click.option("--limit", type=click.IntRange(1, LIST_MAX), default=20, show_default=True,
              help="How many messages, newest first.")
@json_option
@pass_ctx
@store_errors
def mail_outbox(ctx: CliContext, limit: int, as_json: bool) -> None:
    """Messages in the outbox, newest first, with their status (stored, sending, sent, failed)
    and, for SMTP messages tried more than once, the number of attempts."""
    with ctx.read_sessions() as session:
        entries = list_outbox(session, limit)
    if as_json:
        emit_json([asdict(e) for e in entries])
        return
    if not entries:
        echo("the outbox is empty")
        return
    for e in entries:
        tries = f", {e.attempts} attempts" if e.backend == "smtp" and e.attempts != 1 else ""
        echo(f"#{e.id}  {e.created_at:%Y-%m-%d %H:%M:%S} UTC  {e.status}  ({e.backend}{tries})")
        echo(f"  From: {printable(e.from_address)}")
        echo(f"  To: {printable(e.to_address)}")
        echo(f"  Subject: {printable(e.subject)}")
        if e.error:
            echo(f"  Error: {printable(e.error)}")
        if e.body:
            echo("")
            for line in e.body.splitlines():
                echo(f"    {line}")
        echo("")
