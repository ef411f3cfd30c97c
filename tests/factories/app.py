"""Test helpers around the app's services object."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask

from lti_tool.services import EXTENSION_KEY, PlayerHooks, Services, services_of


def override_services(app: Flask, **changes: Any) -> Services:
    """Swap parts of a test app's services (e.g. ``settings=...``); returns the new object."""
    replaced = dataclasses.replace(services_of(app), **changes)
    app.extensions[EXTENSION_KEY] = replaced
    return replaced


def override_player_origin(app: Flask, origin: str, **hooks: Any) -> PlayerHooks:
    """Re-register one launch origin's player hooks on a test app (the others are kept)."""
    current = services_of(app).player
    fresh = PlayerHooks()
    for name in ("lti", "dispatch", "login"):
        registered = current.registered(name)
        if name == origin:
            fresh.register(name, **hooks)
        else:
            fresh.register(name, frame_ancestors=registered.frame_ancestors, page_config=registered.page_config,
                           on_progress=registered.on_progress, check_access=registered.check_access)
    override_services(app, player=fresh)
    return fresh
