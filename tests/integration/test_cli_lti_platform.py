"""`lti-tool platform ...` end to end on a real database: register LMSs for accounts, list,
remove, manage deployments; every bad input exits non-zero with one `error:` line and changes
nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti import registrations
from lti_tool.lti.models import LtiDeployment, LtiRegistration
from store.accounts.models import Account
from store.base import utcnow

Sessions = sessionmaker[Session]

CANVAS = ["--issuer", "https://canvas.instructure.com", "--client-id", "10000000000123",
          "--auth-login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
          "--auth-token-url", "https://sso.canvaslms.com/login/oauth2/token",
          "--key-set-url", "https://sso.canvaslms.com/api/lti/security/jwks"]


@pytest.fixture
def settings(engine: Engine):  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    return load_settings({"ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "z" * 40})


@pytest.fixture
def run(engine: Engine, committing_sessions: Sessions, settings):  # type: ignore[no-untyped-def]
    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), obj=CliContext(_settings=settings, _engine=engine),
                                  catch_exceptions=False, input=input)

    assert invoke("accounts", "create", "Acme University").exit_code == 0
    assert invoke("accounts", "create", "Globex").exit_code == 0
    return invoke


def counts(sessions: Sessions) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(LtiRegistration)) or 0,
                s.scalar(select(func.count()).select_from(LtiDeployment)) or 0)


def test_add_list_and_remove(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    added = run("platform", "add", "--account", "Acme University", *CANVAS, "--deployment-id", "1:abc",
                "--deployment-id", "2:def", "--label", "Acme Canvas", "--json")
    assert added.exit_code == 0, added.output
    body = json.loads(added.output)
    assert body["issuer"] == "https://canvas.instructure.com" and body["client_id"] == "10000000000123"
    assert body["account_name"] == "Acme University" and body["created_via"] == "cli"
    assert [(d["deployment_id"], d["status"]) for d in body["deployments"]] == [("1:abc", "active"), ("2:def", "active")]

    # one issuer, many client ids (Canvas cloud, Blackboard): another account's key is fine
    other = run("platform", "add", "--account", "Globex", *CANVAS[:2], "--client-id", "10000000000999",
                *CANVAS[4:], "--deployment-id", "9:xyz")
    assert other.exit_code == 0, other.output
    assert "client 10000000000999" in other.output and "deployment 9:xyz  [active]" in other.output

    listed = json.loads(run("platform", "list", "--json").output)
    assert [r["client_id"] for r in listed] == ["10000000000123", "10000000000999"]
    only_acme = json.loads(run("platform", "list", "--account", "Acme University", "--json").output)
    assert [r["id"] for r in only_acme] == [body["id"]] and len(only_acme[0]["deployments"]) == 2
    text_listing = run("platform", "list").output
    assert "Acme Canvas" in text_listing and "deployment 2:def  [active]" in text_listing

    kept = run("platform", "remove", str(body["id"]))  # no terminal, no --yes: nothing removed
    assert kept.exit_code == 1 and "error: not removed" in kept.output
    assert counts(committing_sessions) == (2, 3)
    declined = run("platform", "remove", str(body["id"]), input="n\n")
    assert declined.exit_code == 1 and counts(committing_sessions) == (2, 3)
    removed = run("platform", "remove", str(body["id"]), input="y\n")
    assert removed.exit_code == 0 and f"removed registration {body['id']}" in removed.output
    assert counts(committing_sessions) == (1, 1)
    by_pair = run("platform", "remove", "--issuer", "https://canvas.instructure.com", "--client-id",
                  "10000000000999", "--yes")
    assert by_pair.exit_code == 0, by_pair.output
    assert counts(committing_sessions) == (0, 0)
    assert "no platforms registered yet" in run("platform", "list").output


def moodle(*extra: str) -> list[str]:
    base = {"--account": "Acme University", "--issuer": "https://moodle.example.edu", "--client-id": "aBcD1234",
            "--auth-login-url": "https://moodle.example.edu/mod/lti/auth.php",
            "--auth-token-url": "https://moodle.example.edu/mod/lti/token.php",
            "--key-set-url": "https://moodle.example.edu/mod/lti/certs.php", "--deployment-id": "3"}
    for name, value in zip(extra[::2], extra[1::2], strict=True):
        base[name] = value
    return ["platform", "add", *[x for pair in base.items() for x in pair]]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (("--account", "Nobody"), "unknown account 'Nobody'"),
        (("--issuer", "moodle.example.edu"), "issuer must be an absolute https:// URL"),
        (("--issuer", "http://moodle.example.edu"), "issuer must use https://"),
        (("--issuer", "https://moodle.example.edu?x=1"), "issuer must not contain a ?query"),
        (("--auth-login-url", "/mod/lti/auth.php"), "auth login URL must be an absolute https:// URL"),
        (("--auth-token-url", "ftp://moodle.example.edu/token"), "auth token URL must be an absolute https:// URL"),
        (("--key-set-url", "https://moodle.example.edu/certs.php#x"), "key set URL must not contain a #fragment"),
        (("--key-set-url", "https://user:pw@moodle.example.edu/certs.php"), "must not contain a user name"),
        (("--key-set-url", "https://moodle.example.edu:99999/certs.php"), "key set URL is not a valid URL"),
        (("--client-id", "   "), "client id is missing"),
        (("--client-id", "c" * 301), "client id is longer than 300"),
        (("--deployment-id", " "), "deployment id is missing"),
        (("--label", "l" * 201), "label is longer than 200"),
        (("--issuer", "https://" + "m" * 600 + ".edu"), "issuer is longer than 500"),
    ],
)
def test_bad_input_is_one_error_line_and_changes_nothing(run, committing_sessions: Sessions,  # type: ignore[no-untyped-def]
                                                         changes: tuple[str, str], fragment: str) -> None:
    result = run(*moodle(*changes))
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.output
    assert counts(committing_sessions) == (0, 0)


def test_same_issuer_and_client_id_twice_is_a_clear_error(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    assert run(*moodle()).exit_code == 0
    again = run(*moodle("--account", "Globex", "--deployment-id", "4"))
    assert again.exit_code == 1
    assert "already registered" in again.output and "Acme University" in again.output
    assert "duplicate_registration" in again.output
    assert counts(committing_sessions) == (1, 1)


def test_missing_options_and_http_localhost(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    missing = run("platform", "add", "--account", "Acme University", "--issuer", "https://x.edu")
    assert missing.exit_code != 0 and "Missing option" in missing.output
    no_deployment = run(*[a for a in moodle() if a not in ("--deployment-id", "3")])
    assert no_deployment.exit_code != 0 and "--deployment-id" in no_deployment.output
    local = run(*moodle("--issuer", "http://localhost:8081", "--auth-login-url", "http://127.0.0.1:8081/auth",
                        "--auth-token-url", "http://localhost:8081/token", "--key-set-url",
                        "http://[::1]:8081/certs"))
    assert local.exit_code == 0, local.output  # http is fine for this machine in development/test
    assert counts(committing_sessions) == (1, 1)


def test_http_localhost_is_refused_in_production(committing_sessions: Sessions, settings) -> None:  # type: ignore[no-untyped-def]
    production = settings.with_overrides(env="production")
    details = registrations.PlatformDetails(
        issuer="http://localhost:8081", client_id="c", auth_login_url="http://localhost:8081/a",
        auth_token_url="http://localhost:8081/t", key_set_url="http://localhost:8081/k", deployment_ids=("1",))
    with pytest.raises(registrations.InvalidInput, match="issuer must use https://"):
        registrations.add_registration(committing_sessions, production, "whatever", details, utcnow())


def test_remove_errors(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    assert run(*moodle()).exit_code == 0
    for args, fragment in [
        (["platform", "remove", "999", "--yes"], "no registration 999"),
        (["platform", "remove", "--yes"], "give a registration id, or both --issuer and --client-id"),
        (["platform", "remove", "--issuer", "https://moodle.example.edu", "--yes"], "both --issuer and --client-id"),
        (["platform", "remove", "--issuer", "https://moodle.example.edu", "--client-id", "nope", "--yes"],
         "no registration for issuer"),
        (["platform", "remove", "1", "--issuer", "https://moodle.example.edu", "--client-id", "aBcD1234", "--yes"],
         "not both"),
    ]:
        result = run(*args)
        assert result.exit_code == 1 and result.output.startswith("error: ") and fragment in result.output, (
            args, result.output)
        assert len(result.output.strip().splitlines()) == 1
    assert counts(committing_sessions) == (1, 1)


def test_deployments_add_approve_disable(run, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    reg_id = json.loads(run(*moodle(), "--json").output)["id"]
    # a deployment first seen at a launch, held for approval
    registrations.add_deployment(committing_sessions, reg_id, "canvas-first-launch", utcnow(), status="pending")
    pending = json.loads(run("platform", "deployments", "list", "--status", "pending", "--json").output)
    assert [(p["registration_id"], p["deployment_id"]) for p in pending] == [(reg_id, "canvas-first-launch")]

    approved = run("platform", "deployments", "approve", "--registration", str(reg_id), "--deployment-id",
                   "canvas-first-launch")
    assert approved.exit_code == 0 and "[active]" in approved.output
    assert "no deployments with status pending" in run("platform", "deployments", "list", "--status", "pending").output
    disabled = run("platform", "deployments", "disable", "--registration", str(reg_id), "--deployment-id", "3")
    assert disabled.exit_code == 0 and "deployment 3 [disabled]" in disabled.output
    added = run("platform", "deployments", "add", "--registration", str(reg_id), "--deployment-id", "7")
    assert added.exit_code == 0 and "deployment 7 [active]" in added.output
    statuses = {d["deployment_id"]: d["status"] for d in json.loads(run("platform", "list", "--json").output)[0]["deployments"]}
    assert statuses == {"3": "disabled", "canvas-first-launch": "active", "7": "active"}

    for args, fragment in [
        (["platform", "deployments", "add", "--registration", str(reg_id), "--deployment-id", "7"], "already exists"),
        (["platform", "deployments", "approve", "--registration", str(reg_id), "--deployment-id", "nope"],
         "has no deployment 'nope'"),
        (["platform", "deployments", "disable", "--registration", "999", "--deployment-id", "3"], "no registration 999"),
        (["platform", "deployments", "add", "--registration", str(reg_id), "--deployment-id", "  "],
         "deployment id is missing"),
    ]:
        result = run(*args)
        assert result.exit_code == 1 and result.output.startswith("error: ") and fragment in result.output, (
            args, result.output)
    assert counts(committing_sessions) == (1, 3)


def test_registration_code(run, settings, committing_sessions: Sessions) -> None:  # type: ignore[no-untyped-def]
    result = run("platform", "registration-code", "--account", "Globex", "--days", "3")
    assert result.exit_code == 0
    code = result.stdout.strip().splitlines()[0]
    with committing_sessions() as s:
        from store.accounts.queries import get_account
        globex, acme = get_account(s, "Globex").id, get_account(s, "Acme University").id
    registrations.check_registration_code(settings, code, globex, utcnow())
    with pytest.raises(registrations.InvalidInput, match="another account"):
        registrations.check_registration_code(settings, code, acme, utcnow())
    unknown = run("platform", "registration-code", "--account", "Nobody")
    assert unknown.exit_code == 1 and "unknown account" in unknown.output


def test_anonymous_registrations_are_listed_for_review_and_marked_reviewed(  # type: ignore[no-untyped-def]
        run, committing_sessions: Sessions, settings) -> None:
    details = registrations.PlatformDetails(
        issuer="https://moodle.school.example", client_id="dyn-1",
        auth_login_url="https://moodle.school.example/mod/lti/auth.php",
        auth_token_url="https://moodle.school.example/mod/lti/token.php",
        key_set_url="https://moodle.school.example/mod/lti/certs.php", deployment_ids=("1",))
    anonymous = registrations.register_dynamic(committing_sessions, settings,
                                               registrations.AccountBinding(new_account_name="Someone New"),
                                               details, utcnow())
    with committing_sessions() as s:
        acme_id = s.scalar(select(Account.id).where(Account.name == "Acme University"))
    code = registrations.make_registration_code(settings, acme_id, utcnow())
    vouched = registrations.register_dynamic(
        committing_sessions, settings, registrations.AccountBinding(existing="Acme University", registration_code=code),
        registrations.PlatformDetails(**{**details.__dict__, "client_id": "dyn-2"}), utcnow())
    assert anonymous.needs_review and not vouched.needs_review and vouched.account_id == acme_id
    assert run("platform", "add", "--account", "Globex", *CANVAS, "--deployment-id", "1").exit_code == 0

    listed = run("platform", "list", "--needs-review")
    assert listed.exit_code == 0 and listed.output.count("registration ") == 1
    assert "Someone New" in listed.output and "[needs review]" in listed.output
    as_json = json.loads(run("platform", "list", "--needs-review", "--json").output)
    assert [r["id"] for r in as_json] == [anonymous.id] and as_json[0]["reviewed_at"] is None

    reviewed = run("platform", "review", str(anonymous.id))
    assert reviewed.exit_code == 0 and "reviewed" in reviewed.output and "Someone New" in reviewed.output
    assert "no registrations wait for review" in run("platform", "list", "--needs-review").output
    again = run("platform", "review", str(anonymous.id))
    assert again.exit_code == 1 and again.output.startswith("error: ") and "[not_waiting_for_review]" in again.output
    unknown = run("platform", "review", "999999")
    assert unknown.exit_code == 1 and "[unknown_registration]" in unknown.output
