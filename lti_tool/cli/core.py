"""serve and db commands."""

from __future__ import annotations

import click

from config import Settings
from config.defaults import PRODUCT_NAME
from lti_tool.cli.base import CliContext, cli, echo, pass_ctx
from lti_tool.db import current_revision, head_revision, upgrade_database
from lti_tool.lti.keys import ensure_tool_key


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_ctx
def db_upgrade(ctx: CliContext, revision: str) -> None:
    """Apply migrations up to REVISION, then make sure the tool has a signing key."""
    upgrade_database(ctx.engine, revision)
    echo(f"database at revision {current_revision(ctx.engine)} (head {head_revision()})")
    if revision == "head":
        kid = ensure_tool_key(ctx.sessions, ctx.settings)
        echo(f"tool signing key: {kid}")


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: PORT setting, 5000).")
@click.option("--workers", default=None, type=click.IntRange(1, 256),
              help="gunicorn worker processes (default: SERVE_WORKERS setting, 2); given, gunicorn serves even "
                   "in development.")
@pass_ctx
def serve(ctx: CliContext, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the app: Flask's server in development, gunicorn with N workers otherwise (the
    production command; run `lti-tool worker` beside it for the background jobs)."""
    settings = ctx.settings
    # First start: the tool's signing key exists before the first LMS asks for the JWKS.
    ensure_tool_key(ctx.sessions, settings)
    host = host or settings.host
    port = port or settings.port
    if settings.is_development and workers is None:
        from lti_tool.app import create_app

        app = create_app(settings)
        echo(f"{PRODUCT_NAME}: serving on http://{host}:{port}/  (development; Ctrl+C stops)")
        for label, url in start_urls(settings, host, port):
            echo(f"  {label:<24}{url}")
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
        return
    _gunicorn(host, port, workers or settings.serve_workers)


def _gunicorn(host: str, port: int, workers: int) -> None:
    """gunicorn on ``lti_tool.wsgi:app``; each worker builds the app from the environment's
    settings. SIGTERM stops it gracefully (workers finish their requests)."""
    import sys

    from gunicorn.app.wsgiapp import run as gunicorn_run

    address = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 address
    sys.argv = ["gunicorn", "--bind", f"{address}:{port}", "--workers", str(workers), "lti_tool.wsgi:app"]
    gunicorn_run()


def start_urls(settings: Settings, host: str, port: int) -> list[tuple[str, str]]:
    """What a newcomer opens first (printed by ``serve``): the demo LMS when it runs (on the
    other loopback name, so the tool's frame is cross-site), the LMS install page, the store."""
    from lti_tool.demo.platform import resolve_origins

    base = f"http://{host}:{port}"
    urls = []
    if settings.demo_platform and not settings.is_production:
        demo = resolve_origins(base, base).redirect_to or base
        urls.append(("Demo LMS (start here):", demo + "/demo"))
    urls += [("Install in an LMS:", base + "/lti/install"), ("Store:", base + "/store"),
             ("Health:", base + "/healthz")]
    return urls
