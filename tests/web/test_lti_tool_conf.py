"""Registration lookups and the pylti1p3 ToolConf adapter over the registration tables."""

from __future__ import annotations

import pytest

from lti_tool.lti.errors import LaunchError
from lti_tool.lti.testplatform import TestPlatform
from lti_tool.lti.tool_conf import DbToolConf, find_registration
from store.base import utcnow
from tests.factories.licenses import make_account
from tests.factories.lti import make_registration


def test_registration_lookup_and_pylti1p3_adapter(committing_sessions) -> None:  # type: ignore[no-untyped-def]
    account = make_account(committing_sessions, now=utcnow())
    one = TestPlatform(issuer="https://moodle.example.edu", client_id="m-1")
    bb_a = TestPlatform(issuer="https://blackboard.com", client_id="bb-1", deployment_id="inst-a")
    bb_b = TestPlatform(issuer="https://blackboard.com", client_id="bb-2", deployment_id="inst-b")
    for platform in (one, bb_a, bb_b):
        make_registration(committing_sessions, account.id, platform)
    with committing_sessions() as session:
        assert find_registration(session, one.issuer, None).client_id == "m-1"  # type: ignore[union-attr]
        assert find_registration(session, one.issuer, "other") is None
        assert find_registration(session, "https://nowhere", None) is None
        assert find_registration(session, bb_a.issuer, "bb-2").client_id == "bb-2"  # type: ignore[union-attr]
        with pytest.raises(LaunchError) as ambiguous:
            find_registration(session, bb_a.issuer, None)
        assert ambiguous.value.code == "ambiguous_registration"

        conf = DbToolConf(session, tool_key=lambda: ("PRIVATE PEM", "PUBLIC PEM"))
        assert conf.check_iss_has_many_clients(bb_a.issuer) and not conf.check_iss_has_one_client(bb_a.issuer)
        registration = conf.find_registration_by_params(bb_a.issuer, "bb-1")
        assert registration.get_client_id() == "bb-1" and registration.get_issuer() == "https://blackboard.com"
        assert registration.get_auth_token_url() == bb_a.auth_token_url
        assert registration.get_key_set_url() == bb_a.key_set_url
        assert registration.get_tool_private_key() == "PRIVATE PEM"
        assert conf.find_registration_by_params(bb_a.issuer, "nope") is None
        assert conf.find_deployment_by_params(bb_a.issuer, "inst-a", "bb-1").get_deployment_id() == "inst-a"
        assert conf.find_deployment_by_params(bb_a.issuer, "inst-b", "bb-1") is None  # another client's
        assert conf.find_deployment(one.issuer, one.deployment_id).get_deployment_id() == one.deployment_id
