"""demo seed: a realistic synthetic catalog and a demo organization.

Demo data and demo content go together: ``demo seed`` never runs in production (it would put a
synthetic catalog and demo accounts next to real ones), and it does not switch demo content on.
Where ``DEMO_CONTENT`` is off, only the two seeded courses that get generated SCORM packages
play; the other demo courses show "not available yet", as any course without content does."""

from __future__ import annotations

import click

from lti_tool.cli.base import CliContext, cli, echo, pass_ctx, store_errors
from lti_tool.player.content import content_store
from store.base import utcnow
from lti_tool.demo.platform import seeded_identity
from store.demo import DEMO_LEARNER_SOURCE, is_empty, seed_demo
from store.errors import InvalidInput


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
    """Import a synthetic catalog and create the demo accounts (never in production)."""
    if ctx.settings.is_production:
        raise InvalidInput("demo seed adds a synthetic catalog and demo accounts: it is for development and test, "
                           "never for a production database (ENV=production)", reason="demo_in_production")
    if if_empty and not is_empty(ctx.sessions):
        echo("database already has data: demo seed skipped")
        return
    # The seat holders are the demo LMS's people, so launching one there reuses their seats.
    source, prefix = seeded_identity(ctx.settings.public_base_url) or (DEMO_LEARNER_SOURCE, "")
    report = seed_demo(ctx.sessions, utcnow(), courses=courses, seed=seed, content=content_store(ctx.settings),
                       learner_source=source, learner_prefix=prefix)
    if report.catalog is not None:
        echo(f"catalog: {report.catalog}")
    for line in report.lines:
        echo(line)
    echo(f"demo account id: {report.account_id}  (try: lti-tool seats list --account {report.account_id})")
    if not ctx.settings.demo_content:
        echo("note: DEMO_CONTENT is off here: demo courses without imported content show \"not available "
             "yet\" (only the courses with generated SCORM packages above play)")
