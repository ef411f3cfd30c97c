"""What an LMS administrator needs to install the tool: the install page (/lti/install), the
Canvas developer-key JSON (/lti/config/canvas.json) and the tool's public keys (/lti/jwks and
/.well-known/jwks.json). Registering this blueprint also registers Dynamic Registration
(/lti/register) and the grade passback progress listener."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, render_template

from config import Settings
from config.defaults import PRODUCT_NAME
from lti_tool.lti import ags, keys
from lti_tool.services import services

TOOL_NAME = PRODUCT_NAME
TOOL_ID = "course-licenses"
TOOL_DESCRIPTION = ("Licensed online courses: learners launch them from the LMS (a first launch occupies a "
                    "seat), admins add courses with deep linking and buy seats in the embedded store.")
DEEP_LINK_LABEL = "Add a licensed course"
LTI_TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"
CANVAS_NAV_DEFAULT_ENABLED = "https://canvas.instructure.com/lti/course_navigation/default_enabled"
# Identity claims asked for at Dynamic Registration (names and email are kept with the learner).
CLAIMS = ("iss", "sub", "name", "email", "given_name", "family_name")
# Sent with every launch where the LMS substitutes it (Canvas, Moodle); the launch keeps it as the
# learner's LMS username when it is not an unsubstituted "$..." value.
CUSTOM_PARAMETERS = {"user_username": "$User.username"}
JWKS_MAX_AGE = 300

bp = Blueprint("lti_install", __name__, static_folder="../templates/install/assets",
               static_url_path="/lti/install/assets")


@dataclass(frozen=True)
class ToolUrls:
    base: str
    login: str
    launch: str
    deep_linking: str
    jwks: str
    well_known_jwks: str
    register: str
    canvas_json: str
    install: str
    domain: str


def tool_urls(settings: Settings) -> ToolUrls:
    base = settings.public_base_url.rstrip("/")
    return ToolUrls(
        base=base,
        login=f"{base}/lti/login",
        launch=f"{base}/lti/launch",
        deep_linking=f"{base}/lti/launch",
        jwks=f"{base}/lti/jwks",
        well_known_jwks=f"{base}/.well-known/jwks.json",
        register=f"{base}/lti/register",
        canvas_json=f"{base}/lti/config/canvas.json",
        install=f"{base}/lti/install",
        domain=urlsplit(base).netloc,
    )


def canvas_config(settings: Settings) -> dict[str, Any]:
    """The developer key JSON for Canvas (Developer Keys → + LTI Key → Method: Paste JSON / Enter URL)."""
    urls = tool_urls(settings)
    return {
        "title": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "public_jwk_url": urls.jwks,
        "scopes": list(ags.AGS_SCOPES),
        "extensions": [{
            "domain": urls.domain,
            "tool_id": TOOL_ID,
            "platform": "canvas.instructure.com",
            "privacy_level": "public",
            "settings": {
                "text": TOOL_NAME,
                "placements": [
                    {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest",
                     "target_link_uri": urls.deep_linking, "text": DEEP_LINK_LABEL},
                    {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
                     "target_link_uri": urls.deep_linking, "text": DEEP_LINK_LABEL},
                    {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                     "target_link_uri": urls.launch, "text": TOOL_NAME, "default": "disabled"},
                ],
            },
        }],
        "custom_fields": dict(CUSTOM_PARAMETERS),
    }


def registration_metadata(settings: Settings) -> dict[str, Any]:
    """The client metadata posted to a platform's registration endpoint (LTI Dynamic Registration)."""
    urls = tool_urls(settings)
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "jwks_uri": urls.jwks,
        "client_name": TOOL_NAME,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(ags.AGS_SCOPES),
        LTI_TOOL_CONFIGURATION: {
            "domain": urls.domain,
            "target_link_uri": urls.launch,
            "description": TOOL_DESCRIPTION,
            "claims": list(CLAIMS),
            "custom_parameters": dict(CUSTOM_PARAMETERS),
            "messages": [
                {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.deep_linking, "label": DEEP_LINK_LABEL,
                 "placements": ["link_selection", "assignment_selection"]},
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": TOOL_NAME,
                 "placements": ["course_navigation"], CANVAS_NAV_DEFAULT_ENABLED: False},
            ],
            CANVAS_PRIVACY_LEVEL: "public",
        },
    }


# ---------------------------------------------------------------- views



@bp.get("/lti/install")
def install_page() -> Response:
    settings = services().settings
    urls = tool_urls(settings)
    response = Response(render_template("install/index.html", urls=urls, tool_name=TOOL_NAME,
                                        canvas_json_text=json.dumps(canvas_config(settings), indent=2)))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/lti/config/canvas.json")
def canvas_json() -> Response:
    response = jsonify(canvas_config(services().settings))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/lti/jwks")
@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    data = keys.public_jwks(services().sessions, services().settings)
    response = jsonify(data)
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response

