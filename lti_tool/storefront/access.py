"""Who is buying: the store's one answer, from the web session (``flask.session``, the cookie-less
database session of ``lti_tool.lti.websession``).

A web session is started by
- an LTI launch: ``account_id``, ``learner_id``, ``registration_id``, ``is_admin``, ``launch_id``;
- an independent learner's sign-in (``lti_tool.signin``): ``account_id``, ``learner_id``,
  ``login_id``, ``is_admin: True`` (they administer their own account).

``current_buyer()`` returns the :class:`Buyer`, or stops the request:
- a session whose ``is_admin`` is not True: a **403** page ("Only your organization's
  administrators can buy…"), whoever they are;
- no session (none, ended, or incomplete): inside an LMS a **401** page (open the tool again
  from the LMS); outside an LMS a redirect to the sign-in page ``/store/signin``.

*Inside an LMS* means the page was asked for by a frame: the browser says so in
``Sec-Fetch-Dest`` (``iframe``/``frame``). Browsers that send no Fetch Metadata (Safari before
16.4) are taken to be inside an LMS when the request carries a session token that no longer
opens a session (an LMS session that ended; the store's pages always carry one), and outside
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import abort, redirect, request, session

from lti_tool.lti.errors import LaunchError
from lti_tool.lti.websession import TOKEN_ARG, TOKEN_HEADER

SIGNIN_PATH = "/store/signin"
FRAME_DESTINATIONS = frozenset({"iframe", "frame"})


@dataclass(frozen=True)
class Buyer:
    account_id: int
    learner_id: int
    is_admin: bool
    login_id: int | None = None  # an independent learner's sign-in
    registration_id: int | None = None  # the LMS registration of an LTI launch

    @property
    def is_independent(self) -> bool:
        return self.login_id is not None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def session_ended() -> LaunchError:
    return LaunchError(401, "no_session", "Your session with the store has ended (or this link is incomplete).",
                       "Open the tool again from your LMS. Buying for yourself? Sign in to the store again.",
                       title="Your session has ended")


def not_an_admin() -> LaunchError:
    return LaunchError(403, "admins_only",
                       "Only your organization's administrators can buy courses and licenses in the store.",
                       "Ask your LMS administrator if your organization needs a course.",
                       title="For administrators only")


def is_inside_lms() -> bool:
    """Whether this request comes from a frame (an LMS page); see the module docstring."""
    destination = request.headers.get("Sec-Fetch-Dest")
    if destination:
        return destination.lower() in FRAME_DESTINATIONS
    carried = request.args.get(TOKEN_ARG) or request.headers.get(TOKEN_HEADER)
    if not carried and request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        carried = request.form.get(TOKEN_ARG)
    return bool(carried)


def current_buyer() -> Buyer:
    """The buyer of this request's web session, or a 401 page / sign-in redirect (no session) or
    a 403 page (not an administrator of the account)."""
    account_id, learner_id = _int(session.get("account_id")), _int(session.get("learner_id"))
    if account_id is None or learner_id is None:
        if is_inside_lms():
            raise session_ended()
        # Back to the page asked for after signing in (sign-in only follows /store/ paths).
        abort(redirect(SIGNIN_PATH + "?" + urlencode({"next": request.path}), 303))
    if session.get("is_admin") is not True:
        raise not_an_admin()
    return Buyer(account_id, learner_id, True, _int(session.get("login_id")), _int(session.get("registration_id")))


__all__ = ["SIGNIN_PATH", "Buyer", "current_buyer", "is_inside_lms", "not_an_admin", "session_ended"]
