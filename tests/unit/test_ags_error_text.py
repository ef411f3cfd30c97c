"""An LMS's error answer is outside text: what grade passback keeps of it (``last_error``, stored
in the database, logged, printed by ``lti-tool ags status``) holds no NUL (PostgreSQL refuses it in
text) and no raw control characters."""

from __future__ import annotations

from datetime import UTC, datetime

from lti_tool.lti.ags import _error_from
from store.outbound import OutboundResponse


def test_the_kept_error_text_is_printable() -> None:
    body = "broken\x00 body\nline two \x1b[31m\ud800".encode("utf-8", "surrogatepass")
    response = OutboundResponse("https://lms.example.edu/scores", 500, (("Content-Type", "text/plain"),), body)
    error = _error_from(response, "score", datetime(2026, 1, 1, tzinfo=UTC))
    text = str(error)
    assert text.startswith("score: HTTP 500 broken\\x00 body\\x0aline two \\x1b[31m")
    assert not any(ch in text for ch in "\x00\n\x1b")
    text.encode("utf-8")  # storable and printable
