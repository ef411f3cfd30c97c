"""Deep-linking content items and response claims (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lti_tool.lti import claims
from lti_tool.lti import content_items as ci

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_resource_link_item_is_labeled_and_carries_course_and_license() -> None:
    item = ci.resource_link_item(ci.Pick("C-100", "Workplace Safety", "volume", "Stay safe at work."),
                                 "https://tool.example.com/lti/launch")
    assert item == {
        "type": "ltiResourceLink",
        "title": "Workplace Safety — Volume",
        "url": "https://tool.example.com/lti/launch",
        "custom": {"course_id": "C-100", "license_type": "volume"},
        "lineItem": {"scoreMaximum": 100, "label": "Workplace Safety — Volume", "resourceId": "C-100",
                     "tag": "volume"},
        "text": "Stay safe at work.",
    }


@pytest.mark.parametrize(("license_type", "label"), [("plus", "Plus"), ("volume", "Volume"), ("ppu", "Pay Per Use")])
def test_titles_name_the_license(license_type: str, label: str) -> None:
    assert ci.item_title("  Fire Drills ", license_type) == f"Fire Drills — {label}"


def test_url_never_has_a_query_string() -> None:
    item = ci.resource_link_item(ci.Pick("C-1", "T", "plus"), "https://tool.example.com/lti/launch?x=1#frag")
    assert item["url"] == "https://tool.example.com/lti/launch" and "text" not in item
    assert ci.bare_url("http://tool.test") == "http://tool.test/"
    for bad in ("/lti/launch", "javascript:alert(1)", "ftp://x/y"):
        with pytest.raises(ValueError):
            ci.bare_url(bad)
    with pytest.raises(ValueError):
        ci.resource_link_item(ci.Pick("C-1", "T", "gold"), "https://tool.example.com/lti/launch")


def test_text_snippet() -> None:
    assert ci.text_snippet("") is None and ci.text_snippet("   \n ") is None
    assert ci.text_snippet("One\n two  three") == "One two three"
    long = "word " * 100
    snippet = ci.text_snippet(long)
    assert snippet is not None and len(snippet) <= ci.TEXT_MAX_CHARS and snippet.endswith("word…")
    assert ci.text_snippet("x" * 300, 50) == "x" * 49 + "…"


def test_response_claims() -> None:
    items = ci.content_items([ci.Pick("C-1", "A", "plus"), ci.Pick("C-2", "B", "ppu")], "https://t.example/lti/launch")
    body = ci.response_claims(client_id="client-9", platform_issuer="https://lms.example.edu", deployment_id="dep-1",
                              items=items, settings={"data": {"opaque": [1, 2]}, "accept_multiple": True},
                              nonce="n-1", now=NOW, msg="2 courses added")
    iat = int(NOW.timestamp())
    assert body == {
        "iss": "client-9", "aud": "https://lms.example.edu", "iat": iat, "exp": iat + ci.RESPONSE_TTL_SECONDS,
        "nonce": "n-1",
        claims.DEPLOYMENT_ID: "dep-1",
        claims.MESSAGE_TYPE: "LtiDeepLinkingResponse",
        claims.VERSION: "1.3.0",
        ci.CONTENT_ITEMS: items,
        ci.DATA: {"opaque": [1, 2]},
        ci.MSG: "2 courses added",
    }
    bare = ci.response_claims(client_id="c", platform_issuer="i", deployment_id="d", items=[], settings={},
                              nonce="n", now=NOW, errormsg="nope")
    assert ci.DATA not in bare and ci.MSG not in bare and bare[ci.ERRORMSG] == "nope"
    assert bare[ci.CONTENT_ITEMS] == []
    # data is echoed even when it is an empty string or null: "unchanged"
    assert ci.response_claims(client_id="c", platform_issuer="i", deployment_id="d", items=[], settings={"data": ""},
                              nonce="n", now=NOW)[ci.DATA] == ""
