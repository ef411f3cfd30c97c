"""Who may see the dashboard's pages: the administrators of the web session's account, with the
store's rules (``lti_tool.storefront.access.current_buyer``): no session is the 401 page inside an
LMS (the sign-in page outside one), a learner gets the 403 page, worded for the dashboard.

Every dashboard page (summary, tabs, reports, settings, delivery) starts with
``admin = current_admin()``.
"""

from __future__ import annotations

from lti_tool.lti.errors import LaunchError
from lti_tool.storefront.access import Buyer, current_buyer


def dashboard_admins_only() -> LaunchError:
    return LaunchError(403, "admins_only",
                       "Only your organization's administrators can see the dashboard and deliver courses.",
                       "Ask your LMS administrator for the course you need.", title="For administrators only")


def current_admin() -> Buyer:
    """The administrator of this request's web session (``Buyer``: account, learner, login,
    registration), or the 401 page / sign-in redirect, or the 403 page."""
    try:
        return current_buyer()
    except LaunchError as error:
        if error.status == 403:
            raise dashboard_admins_only() from None
        raise


__all__ = ["current_admin", "dashboard_admins_only"]
