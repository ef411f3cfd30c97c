"""The app's one services object: everything a request needs besides the request itself.

``create_app`` (the composition root, ``lti_tool/app.py``) builds one ``Services`` and keeps it as
``app.extensions["services"]``; views reach it through ``services()``. The SCORM dispatch runtime
(``scorm_packages.runtime``, which must not import ``lti_tool``) reads the same object through the
structural type it declares, ``RuntimeServices``. Nothing else is stored in ``app.extensions``
by this project (Flask-WTF keeps its own ``csrf`` entry).

This module sits at the bottom of ``lti_tool``: it imports nothing from the feature packages
(player, lti, demo), so each of them may use it. What it needs of them is typed here as
protocols and provided by ``create_app``:

- ``FramePolicy``: who may frame a page (``lti_tool.lti.frame_policy``);
- ``PlayerHooks``: how each launch path (LTI, SCORM dispatch) uses the course player: whether a
  grant may still play, who may frame its pages, what its pages' configuration adds, what happens
  after a progress commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, Response, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.mail import Mailer
from store.payments import PaymentGateway
from store.progress.service import ProgressEvent, ProgressListener, notify_listeners

EXTENSION_KEY = "services"


class FramePolicy(Protocol):
    def apply(self, response: Response) -> Response: ...

    def origins_for_registration(self, registration_id: int) -> tuple[str, ...]: ...

    def origins_for_lti_launch(self, launch_id: str | None) -> tuple[str, ...]: ...


class Grant(Protocol):
    """What the hooks see of a course player grant (``lti_tool.player.tokens.PlayerGrant``)."""

    @property
    def origin(self) -> str: ...

    @property
    def launch_id(self) -> str | None: ...


FrameAncestors = Callable[[Any], Iterable[str] | None]
PageConfig = Callable[[Any], Mapping[str, Any]]
CheckAccess = Callable[[Any], None]


@dataclass(frozen=True)
class LaunchOrigin:
    frame_ancestors: FrameAncestors | None = None
    page_config: PageConfig | None = None
    on_progress: ProgressListener | None = None
    check_access: CheckAccess | None = None


class PlayerHooks:
    """How each launch origin (a grant's ``origin``: ``lti``, ``dispatch``) uses the course
    player. The player imports neither launch path; ``create_app`` registers each one once:

    - ``check_access(grant)``: raises ``store.errors.AccessDenied`` (the player answers 403 with
      its reason, title and ask) when the grant may no longer play, e.g. its dispatch package was
      revoked; called on every page load and API call, so it must be cheap;
    - ``frame_ancestors(grant)``: the origins allowed to frame the player pages of that launch;
      ``None`` leaves the page without a ``frame-ancestors`` directive of its own;
    - ``page_config(grant)``: extra keys for the page's configuration;
    - ``on_progress(event)``: called after each successful progress commit; a listener that raises
      is logged and the learner's commit still succeeds.
    """

    def __init__(self) -> None:
        self._origins: dict[str, LaunchOrigin] = {}

    def register(self, origin: str, *, frame_ancestors: FrameAncestors | None = None,
                 page_config: PageConfig | None = None, on_progress: ProgressListener | None = None,
                 check_access: CheckAccess | None = None) -> None:
        if origin in self._origins:
            raise ValueError(f"player launch origin {origin!r} is already registered")
        self._origins[origin] = LaunchOrigin(frame_ancestors, page_config, on_progress, check_access)

    def registered(self, origin: str) -> LaunchOrigin:
        """What the origin registered (nothing: an empty ``LaunchOrigin``)."""
        return self._origins.get(origin) or LaunchOrigin()

    def check_access(self, grant: Grant) -> None:
        """Raise ``AccessDenied`` when the grant's launch path says it may no longer play."""
        hook = self.registered(grant.origin).check_access
        if hook is not None:
            hook(grant)

    def frame_ancestors(self, grant: Grant) -> tuple[str, ...] | None:
        hook = self.registered(grant.origin).frame_ancestors
        if hook is None:
            return None
        found = hook(grant)
        return None if found is None else tuple(found)

    def page_config(self, grant: Grant) -> dict[str, Any]:
        hook = self.registered(grant.origin).page_config
        return dict(hook(grant)) if hook is not None else {}

    def notify_progress(self, event: ProgressEvent) -> int:
        """Call the launch origin's progress listener (after the commit); returns failures."""
        listener = self.registered(event.origin).on_progress
        return notify_listeners([listener] if listener is not None else [], event)


IssuePlayerToken = Callable[..., str]


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]  # read-write: services open one transaction each
    read_sessions: sessionmaker[Session]  # pages that only read (no write lock on SQLite)
    frame_policy: FramePolicy  # who may frame the tool's pages (the LMS of the launch)
    # issue_player_token(seat_id=, catalog_id=, learner_id=, launch_id=, origin=) -> token for /play?t=
    issue_player_token: IssuePlayerToken
    mail: Mailer  # store.mail: the outbox or SMTP backend (MAIL_BACKEND); send after the commit
    # The payment gateway (PAYMENT_GATEWAY: the local gateway or Stripe), store.payments.gateway_for.
    payments: PaymentGateway
    player: PlayerHooks = field(default_factory=PlayerHooks)


def services_of(app: Flask) -> Services:
    found = app.extensions.get(EXTENSION_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("this app was not built by lti_tool.create_app (no services object)")
    return found


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    return services_of(current_app)
