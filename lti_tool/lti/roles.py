"""Who is an admin in a launch: Administrator or Instructor, context roles winning.

pylti1p3's ``AbstractRole.check`` already implements the rule LMSs need (when the launch carries
context roles, only they count: Canvas sends institution roles on every launch, so a teacher who
is a student in this course is a learner here). We only declare which role names make an admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pylti1p3.roles import AbstractRole

from lti_tool.lti import claims


class AdminRole(AbstractRole):
    _common_roles = ("Administrator", "Instructor")  # short (deprecated) names = context roles
    _context_roles = ("Administrator", "Instructor")
    _institution_roles = ("Administrator", "Instructor")
    _system_roles = ("Administrator", "SysAdmin")


def is_admin(body: Mapping[str, Any]) -> bool:
    """True when the launch's roles make the user an admin of the tool for this launch."""
    roles = body.get(claims.ROLES)
    if not isinstance(roles, list):
        return False
    return AdminRole({claims.ROLES: [r for r in roles if isinstance(r, str)]}).check()
