"""demo seed: a realistic synthetic catalog and a demo organization."""

from __future__ import annotations

import click

from lti_tool.cli.base import CliContext, cli, echo, pass_ctx, store_errors
from lti_tool.player.content import content_store
from store.base import utcnow
from store.demo import is_empty, seed_demo


@cli.group()
def demo() -> None:
    """Demo data for trying the product."""


@demo.command("seed")
@click.option("--courses", type=click.IntRange(40, 200_000), default=300, show_default=True,
              help="Synthetic courses to import (40000 for benchmarks).")
@click.option("--seed", "seed", type=int, default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has accounts or courses.")
@pass_ctx
@store_errors
def demo_seed(ctx: CliContext, courses: int, seed: int, if_empty: bool) -> None:
    """Import a synthetic catalog and create the demo accounts."""
    if if_empty and not is_empty(ctx.sessions):
        echo("database already has data: demo seed skipped")
        return
    report = seed_demo(ctx.sessions, utcnow(), courses=courses, seed=seed, content=content_store(ctx.settings))
    if report.catalog is not None:
        echo(f"catalog: {report.catalog}")
    for line in report.lines:
        echo(line)
    echo(f"demo account id: {report.account_id}  (try: lti-tool seats list --account {report.account_id})")
