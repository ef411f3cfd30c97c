"""platform, keys and ags commands: LMS registrations, the tool's signing keys, grade passback."""

from __future__ import annotations

from dataclasses import asdict

import click

from lti_tool.cli.base import CliContext, cli, echo, emit_json, fail, json_option, pass_ctx, store_errors
from lti_tool.lti import ags, keys, registrations
from lti_tool.lti.registrations import PlatformDetails, RegistrationView
from store.accounts import queries as account_queries
from store.base import utcnow


def _echo_registration(view: RegistrationView) -> None:
    label = f" — {view.label}" if view.label else ""
    review = "  [needs review]" if view.needs_review else ""
    echo(f"registration {view.id}: {view.issuer} client {view.client_id} "
         f"(account {view.account_id} {view.account_name!r}, via {view.created_via}){label}{review}")
    echo(f"  login {view.auth_login_url}")
    echo(f"  token {view.auth_token_url}" + (f"  (audience {view.auth_audience})" if view.auth_audience else ""))
    echo(f"  keys  {view.key_set_url}")
    if not view.deployments:
        echo("  deployments: none yet (Canvas sends its deployment id with the first launch)")
    for d in view.deployments:
        echo(f"  deployment {d.deployment_id}  [{d.status}]")


# ---------------------------------------------------------------- platform


@cli.group()
def platform() -> None:
    """LMS platforms registered for accounts (LTI 1.3)."""


@platform.command("add")
@click.option("--account", required=True, help="Account id or exact name.")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. https://canvas.instructure.com.")
@click.option("--client-id", required=True, help="The client id the LMS gave the tool.")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True,
              help="A deployment id (repeat for several).")
@click.option("--auth-login-url", required=True, help="OIDC authentication request URL of the LMS.")
@click.option("--auth-token-url", required=True, help="OAuth2 access token URL of the LMS.")
@click.option("--key-set-url", required=True, help="The LMS's public keyset (JWKS) URL.")
@click.option("--auth-audience", default=None, help="OAuth2 token audience when it differs from the token URL "
                                                    "(Brightspace).")
@click.option("--label", default="", help="A note for staff, e.g. 'Acme Moodle production'.")
@json_option
@pass_ctx
@store_errors
def platform_add(ctx: CliContext, account: str, issuer: str, client_id: str, deployment_ids: tuple[str, ...],
                 auth_login_url: str, auth_token_url: str, key_set_url: str, auth_audience: str | None, label: str,
                 as_json: bool) -> None:
    """Register an LMS (issuer + client id) with its deployments for an account."""
    details = PlatformDetails(issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
                              auth_token_url=auth_token_url, key_set_url=key_set_url,
                              auth_audience=auth_audience, label=label, deployment_ids=deployment_ids)
    view = registrations.add_registration(ctx.sessions, ctx.settings, account, details, utcnow())
    if as_json:
        emit_json(asdict(view))
    else:
        _echo_registration(view)


@platform.command("list")
@click.option("--account", default=None, help="Only this account (id or exact name).")
@click.option("--needs-review", is_flag=True,
              help="Only registrations (with their new accounts) made by anonymous Dynamic Registration and not "
                   "reviewed yet.")
@json_option
@pass_ctx
@store_errors
def platform_list(ctx: CliContext, account: str | None, needs_review: bool, as_json: bool) -> None:
    """Registered platforms with their deployments."""
    views = registrations.list_registrations(ctx.sessions, account, needs_review=True if needs_review else None)
    if as_json:
        emit_json([asdict(v) for v in views])
        return
    if not views:
        echo("no registrations wait for review" if needs_review
             else "no platforms registered yet: lti-tool platform add --help")
        return
    for view in views:
        _echo_registration(view)


@platform.command("review")
@click.argument("registration_id", type=int)
@pass_ctx
@store_errors
def platform_review(ctx: CliContext, registration_id: int) -> None:
    """Mark a registration made by anonymous Dynamic Registration (and its new account) as reviewed."""
    view = registrations.mark_reviewed(ctx.sessions, registration_id, utcnow())
    echo(f"registration {view.id} reviewed: {view.issuer} client {view.client_id}, "
         f"account {view.account_id} {view.account_name!r}")


@platform.command("remove")
@click.argument("registration_id", type=int, required=False)
@click.option("--issuer", default=None)
@click.option("--client-id", default=None)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@store_errors
def platform_remove(ctx: CliContext, registration_id: int | None, issuer: str | None, client_id: str | None,
                    yes: bool) -> None:
    """Remove a registration (by ID, or --issuer with --client-id) and its deployments."""
    view = registrations.get_registration(ctx.sessions, registration_id, issuer, client_id)
    if not yes:
        echo(f"registration {view.id}: {view.issuer} client {view.client_id}, account {view.account_name!r}, "
             f"{len(view.deployments)} deployment(s). Launches from it will stop working.")
        try:
            confirmed = click.confirm("Remove it?", default=False)
        except click.Abort:
            confirmed = False
        if not confirmed:
            fail("not removed (answer y, or pass --yes)")
    removed = registrations.remove_registration(ctx.sessions, view.id)
    echo(f"removed registration {removed.id} ({removed.issuer} client {removed.client_id})")


@platform.command("registration-code")
@click.option("--account", required=True, help="Account id or exact name.")
@click.option("--days", type=click.IntRange(1, 90), default=registrations.REGISTRATION_CODE_DAYS, show_default=True,
              help="How long the code is valid.")
@pass_ctx
@store_errors
def platform_registration_code(ctx: CliContext, account: str, days: int) -> None:
    """A code that lets an LMS admin bind a Dynamic Registration to this existing account."""
    with ctx.sessions() as session:
        acc = account_queries.get_account(session, account)
        account_id, name = acc.id, acc.name
    code = registrations.make_registration_code(ctx.settings, account_id, utcnow(), days)
    echo(code)
    echo(f"(for account {account_id} {name!r}, valid {days} days: the admin enters the account name and "
         "this code on the Dynamic Registration page)", err=True)


@platform.group("deployments")
def platform_deployments() -> None:
    """Deployments of registrations: list, add, approve pending ones, disable."""


@platform_deployments.command("list")
@click.option("--status", type=click.Choice(list(registrations.DEPLOYMENT_STATUSES)), default=None)
@json_option
@pass_ctx
def deployments_list(ctx: CliContext, status: str | None, as_json: bool) -> None:
    """Deployments of every registration (e.g. --status pending)."""
    rows = registrations.list_deployments(ctx.sessions, status)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no deployments" + (f" with status {status}" if status else ""))
        return
    for r in rows:
        echo(f"registration {r.registration_id}  {r.deployment_id}  [{r.status}]  {r.issuer} "
             f"client {r.client_id}  account {r.account_name!r}")


registration_option = click.option("--registration", "registration_id", type=int, required=True,
                                   help="Registration id (see `lti-tool platform list`).")
deployment_option = click.option("--deployment-id", required=True)


@platform_deployments.command("add")
@registration_option
@deployment_option
@click.option("--account", default=None,
              help="The account this deployment belongs to, when it is not the registration's "
                   "(Blackboard: one issuer and client id for every institution).")
@pass_ctx
@store_errors
def deployments_add(ctx: CliContext, registration_id: int, deployment_id: str, account: str | None) -> None:
    """Add an active deployment to a registration."""
    view = registrations.add_deployment(ctx.sessions, registration_id, deployment_id, utcnow(), account_ref=account)
    echo(f"registration {registration_id}: deployment {view.deployment_id} [{view.status}]")


@platform_deployments.command("approve")
@registration_option
@deployment_option
@pass_ctx
@store_errors
def deployments_approve(ctx: CliContext, registration_id: int, deployment_id: str) -> None:
    """Accept launches from a pending (or disabled) deployment."""
    view = registrations.set_deployment_status(ctx.sessions, registration_id, deployment_id, "active")
    echo(f"registration {registration_id}: deployment {view.deployment_id} [{view.status}]")


@platform_deployments.command("disable")
@registration_option
@deployment_option
@pass_ctx
@store_errors
def deployments_disable(ctx: CliContext, registration_id: int, deployment_id: str) -> None:
    """Refuse launches from a deployment."""
    view = registrations.set_deployment_status(ctx.sessions, registration_id, deployment_id, "disabled")
    echo(f"registration {registration_id}: deployment {view.deployment_id} [{view.status}]")


# ---------------------------------------------------------------- keys


@cli.group("keys")
def keys_group() -> None:
    """The tool's signing keys (published at /lti/jwks)."""


@keys_group.command("rotate")
@json_option
@pass_ctx
@store_errors
def keys_rotate(ctx: CliContext, as_json: bool) -> None:
    """Make a new signing key; the previous one stays published for TOOL_KEY_OVERLAP_DAYS."""
    result = keys.rotate_keys(ctx.sessions, ctx.settings, utcnow())
    if as_json:
        emit_json(asdict(result))
        return
    echo(f"new signing key {result.new_kid}")
    for kid in result.retired_kids:
        echo(f"retired {kid} (published for {ctx.settings.tool_key_overlap_days} more days)")
    for kid in result.purged_kids:
        echo(f"deleted {kid} (its overlap period had ended)")


@keys_group.command("list")
@json_option
@pass_ctx
@store_errors
def keys_list(ctx: CliContext, as_json: bool) -> None:
    """Stored keys, newest first: which one signs, which are still published."""
    views = keys.list_keys(ctx.sessions, ctx.settings, utcnow())
    if as_json:
        emit_json([asdict(v) for v in views])
        return
    if not views:
        echo("no keys yet: one is made at the first JWKS request or signature (or `lti-tool keys rotate`)")
        return
    for v in views:
        extra = f", published until {v.published_until:%Y-%m-%d %H:%M} UTC" if v.published_until else ""
        echo(f"{v.kid}  {v.state:8}  created {v.created_at:%Y-%m-%d %H:%M} UTC{extra}")


# ---------------------------------------------------------------- ags


@cli.group("ags")
def ags_group() -> None:
    """Grade passback (LTI Assignment and Grade Services)."""


@ags_group.command("flush")
@click.option("--wait", "wait_seconds", type=click.IntRange(0, 3600), default=0, show_default=True,
              help="Keep retrying for up to this many seconds (0: one pass, for a cron job / systemd timer).")
@json_option
@pass_ctx
@store_errors
def ags_flush(ctx: CliContext, wait_seconds: int, as_json: bool) -> None:
    """Send the score posts that are due."""
    report = ags.send_pending_scores(ctx.sessions, ctx.settings, utcnow(), wait_seconds=wait_seconds)
    if as_json:
        emit_json(asdict(report))
        return
    echo(f"sent {report.sent}, will retry {report.retrying}, failed {report.failed}")


@ags_group.command("status")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option
@pass_ctx
def ags_status(ctx: CliContext, status: str | None, limit: int, as_json: bool) -> None:
    """Score posts, newest first, with attempts and the last error."""
    rows = ags.list_score_posts(ctx.sessions, status, limit)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no score posts")
        return
    for r in rows:
        error = f"  last error: {r.last_error}" if r.last_error else ""
        echo(f"{r.id:>6}  {r.status:7}  attempts {r.attempts}  {r.lineitem_url or r.lineitems_url}{error}")
