"""Blackboard: one issuer and one client id for every institution; the deployment id tells them
apart. A deployment bound to another account launches into that account's licenses."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.lti.models import LtiDeployment, LtiLaunch
from lti_tool.services import services_of
from store.accounts.models import Learner
from store.base import utcnow
from store.licenses import service as licenses
from store.licenses.models import Seat
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account
from tests.factories.lti import course_custom, launch
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401


def test_a_deployment_bound_to_another_account_uses_that_accounts_seats(lti_env) -> None:  # type: ignore[no-untyped-def]
    env = lti_env
    now = utcnow()
    other = make_account(env.sessions, "Second University", now=now)
    with env.sessions.begin() as s:
        make_course(s, "BB-1", is_plus=False)
    licenses.grant_volume(env.sessions, other.id, "BB-1", 1, now)  # only the second account holds it
    result = CliRunner().invoke(
        cli, ["platform", "deployments", "add", "--registration", str(env.registration_id),
              "--deployment-id", "bb-second", "--account", "Second University"],
        obj=CliContext(_engine=env.engine), catch_exceptions=False)
    assert result.exit_code == 0, result.output

    response = launch(env.client, env.platform, deployment_id="bb-second", sub="student-9",
                      custom=course_custom("BB-1", "volume"))
    assert response.status_code == 303 and "/play" in response.headers["Location"]
    with env.sessions() as s:
        seat = s.scalars(select(Seat)).one()
        assert seat.account_id == other.id
        assert s.scalars(select(Learner.account_id)).one() == other.id
        assert s.scalars(select(LtiLaunch.account_id)).one() == other.id

    # The registration's own account holds no license for BB-1: its deployment is refused.
    refused = launch(env.client, env.platform, sub="student-10", custom=course_custom("BB-1", "volume"))
    assert refused.status_code == 403 and "no_license" in refused.get_data(as_text=True)


def test_an_unknown_deployment_of_a_shared_registration_waits_for_approval(lti_env) -> None:  # type: ignore[no-untyped-def]
    env = lti_env
    other = make_account(env.sessions, "Third College", now=utcnow())
    with env.sessions.begin() as s:
        s.add(LtiDeployment(registration_id=env.registration_id, deployment_id="bb-third", account_id=other.id))
    assert services_of(env.app).settings.lti_auto_accept_deployments is True
    response = launch(env.client, env.platform, deployment_id="bb-unknown", sub="x",
                      custom=course_custom("NOPE", "plus"))
    assert response.status_code == 403 and "waiting for approval" in response.get_data(as_text=True)
    with env.sessions() as s:
        status = s.scalars(select(LtiDeployment.status).where(LtiDeployment.deployment_id == "bb-unknown")).one()
        assert status == "pending"
