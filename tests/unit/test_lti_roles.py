"""Who is an admin in a launch: Administrator or Instructor, context roles winning."""

from __future__ import annotations

import pytest

from lti_tool.lti import claims
from lti_tool.lti.roles import is_admin

V2 = "http://purl.imsglobal.org/vocab/lis/v2/"
CTX_INSTRUCTOR = V2 + "membership#Instructor"
CTX_ADMIN = V2 + "membership#Administrator"
CTX_LEARNER = V2 + "membership#Learner"
CTX_TA = V2 + "membership/Instructor#TeachingAssistant"
CTX_DESIGNER = V2 + "membership#ContentDeveloper"
INST_ADMIN = V2 + "institution/person#Administrator"
INST_INSTRUCTOR = V2 + "institution/person#Instructor"
INST_STUDENT = V2 + "institution/person#Student"
SYS_ADMIN = V2 + "system/person#Administrator"
SYS_USER = V2 + "system/person#User"


@pytest.mark.parametrize(("roles", "admin"), [
    ([CTX_INSTRUCTOR], True),
    ([CTX_ADMIN], True),
    ([CTX_LEARNER], False),
    ([CTX_TA], False),
    ([CTX_DESIGNER], False),
    ([], False),
    # Canvas: institution roles on every launch; the context role decides.
    ([INST_ADMIN, INST_INSTRUCTOR, SYS_USER, CTX_LEARNER], False),
    ([INST_STUDENT, CTX_INSTRUCTOR], True),
    # No context role (account-level navigation): institution/system roles count.
    ([INST_ADMIN, SYS_USER], True),
    ([INST_INSTRUCTOR], True),
    ([SYS_ADMIN], True),
    ([INST_STUDENT, SYS_USER], False),
    # Deprecated short names are context roles.
    (["Instructor"], True),
    (["Learner"], False),
])
def test_is_admin(roles: list[str], admin: bool) -> None:
    assert is_admin({claims.ROLES: roles}) is admin


def test_malformed_roles_are_no_admin() -> None:
    assert is_admin({}) is False
    assert is_admin({claims.ROLES: "Instructor"}) is False
    assert is_admin({claims.ROLES: [None, 3, CTX_INSTRUCTOR]}) is True
