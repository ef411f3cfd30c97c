"""An LMS's error answer is outside text: what grade passback keeps of it (``last_error``, stored
in the database, logged, printed by ``lti-tool ags status``) holds no NUL (PostgreSQL refuses it in
text) and no raw control characters."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from lti_tool.lti.ags import _error_from


def test_the_kept_error_text_is_printable() -> None:
    response = requests.Response()
    response.status_code = 500
    response._content = "broken\x00 body\nline two \x1b[31m\ud800".encode("utf-8", "surrogatepass")
    response.encoding = "utf-8"
    error = _error_from(response, "score", datetime(2026, 1, 1, tzinfo=UTC))
    text = str(error)
    assert text.startswith("score: HTTP 500 broken\\x00 body\\x0aline two \\x1b[31m")
    assert not any(ch in text for ch in "\x00\n\x1b")
    text.encode("utf-8")  # storable and printable
