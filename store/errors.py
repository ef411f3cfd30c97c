"""Domain errors (pure). Each carries a stable ``reason`` code that pages and the CLI turn into text."""

from __future__ import annotations


class StoreError(Exception):
    reason: str = "store_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class NotFound(StoreError):
    reason = "not_found"


class InvalidInput(StoreError):
    reason = "invalid_input"


class AccessDenied(StoreError):
    """Access refused for a reason the person can act on (a web page answers 403): ``title`` and
    ``ask`` (who can help, and how) come with the message."""

    reason = "access_denied"
    title = "Not available"
    ask = ""
