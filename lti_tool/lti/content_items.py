"""Deep Linking 2.0 response building, pure: the ``ltiResourceLink`` content items for the courses
an admin picked, and the claims of the ``LtiDeepLinkingResponse`` JWT. No Flask, no database:
the caller signs the claims with the tool key and form-posts them to ``deep_link_return_url``.

- Each item's ``title`` is the course title labeled with the license type ("Workplace Safety —
  Volume"), so an LMS course that holds one course under two licenses shows two distinct links.
- ``url`` is the tool's launch URL with no query string or fragment (Brightspace rejects deep
  links with query strings); the course and license type travel as ``custom`` parameters.
- ``lineItem`` asks the LMS for a gradebook column (score maximum 100) whose ``resourceId`` and
  ``tag`` are the catalog id and license type, like the line items AGS creates when an LMS
  ignored this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lti_tool.lti import claims
from store.licenses.labels import LICENSE_LABELS, labeled_title, license_label

DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
ERRORMSG = "https://purl.imsglobal.org/spec/lti-dl/claim/errormsg"

SCORE_MAXIMUM = 100
TEXT_MAX_CHARS = 200
RESPONSE_TTL_SECONDS = 300  # the JWT is posted at once; a no-script click-through gets 5 minutes


@dataclass(frozen=True)
class Pick:
    """One course the admin chose, with the license type it is delivered under."""

    catalog_id: str  # catalog id
    title: str
    license_type: str
    description: str = ""


def item_title(title: str, license_type: str) -> str:
    return labeled_title(title, license_type)


def text_snippet(description: str, limit: int = TEXT_MAX_CHARS) -> str | None:
    """The description's first ``limit`` characters, cut at a word, with an ellipsis when cut;
    None when there is no description."""
    text = " ".join((description or "").split())
    if not text:
        return None
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def bare_url(url: str) -> str:
    """``url`` without query string and fragment (Brightspace refuses deep-linked URLs with a
    query string)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the launch URL must be an absolute http(s) URL, got {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def resource_link_item(pick: Pick, launch_url: str) -> dict[str, Any]:
    if pick.license_type not in LICENSE_LABELS:
        raise ValueError(f"unknown license type {pick.license_type!r}")
    title = item_title(pick.title, pick.license_type)
    item: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": title,
        "url": bare_url(launch_url),
        "custom": {claims.CUSTOM_COURSE_ID: pick.catalog_id, claims.CUSTOM_LICENSE_TYPE: pick.license_type},
        "lineItem": {"scoreMaximum": SCORE_MAXIMUM, "label": title, "resourceId": pick.catalog_id,
                     "tag": pick.license_type},
    }
    text = text_snippet(pick.description)
    if text:
        item["text"] = text
    return item


def content_items(picks: Sequence[Pick], launch_url: str) -> list[dict[str, Any]]:
    return [resource_link_item(pick, launch_url) for pick in picks]


def response_claims(*, client_id: str, platform_issuer: str, deployment_id: str, items: Sequence[Mapping[str, Any]],
                    settings: Mapping[str, Any], nonce: str, now: datetime, msg: str | None = None,
                    errormsg: str | None = None, ttl_seconds: int = RESPONSE_TTL_SECONDS) -> dict[str, Any]:
    """The body of the LtiDeepLinkingResponse JWT: from the tool (``iss`` = our client id) to the
    platform (``aud`` = its issuer), for the request's deployment, with ``data`` echoed unchanged
    when the request's ``deep_linking_settings`` had it."""
    iat = int(now.timestamp())
    body: dict[str, Any] = {
        "iss": client_id,
        "aud": platform_issuer,
        "iat": iat,
        "exp": iat + ttl_seconds,
        "nonce": nonce,
        claims.DEPLOYMENT_ID: deployment_id,
        claims.MESSAGE_TYPE: DEEP_LINKING_RESPONSE,
        claims.VERSION: claims.LTI_VERSION,
        CONTENT_ITEMS: [dict(item) for item in items],
    }
    if "data" in settings:
        body[DATA] = settings["data"]
    if msg:
        body[MSG] = msg
    if errormsg:
        body[ERRORMSG] = errormsg
    return body


__all__ = ["CONTENT_ITEMS", "DATA", "DEEP_LINKING_RESPONSE", "ERRORMSG", "LICENSE_LABELS", "MSG", "Pick",
           "bare_url", "content_items", "item_title", "license_label", "resource_link_item", "response_claims",
           "text_snippet"]
