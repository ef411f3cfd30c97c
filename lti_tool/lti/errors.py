"""The one error type of the LTI login and launch: it becomes a clear HTML page (4xx) that names
the problem for an LMS administrator, plus a warning log line. Nothing else is written."""

from __future__ import annotations


class LaunchError(Exception):
    """A refused login or launch.

    ``code`` is a stable short reason (shown small on the page, used by tests and logs);
    ``message`` says what is wrong in words an LMS admin can act on; ``hint`` (optional) says
    what to do about it.
    """

    def __init__(self, status: int, code: str, message: str, hint: str | None = None,
                 title: str = "This launch could not be completed") -> None:
        if not 400 <= status < 500:
            raise ValueError(f"launch errors are 4xx, got {status}")
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.title = title

    def __repr__(self) -> str:
        return f"LaunchError({self.status}, {self.code!r}, {self.message!r})"


def bad_request(code: str, message: str, hint: str | None = None) -> LaunchError:
    return LaunchError(400, code, message, hint)


def unauthorized(code: str, message: str, hint: str | None = None) -> LaunchError:
    return LaunchError(401, code, message, hint)


def forbidden(code: str, message: str, hint: str | None = None, title: str | None = None) -> LaunchError:
    return LaunchError(403, code, message, hint, title=title or "This launch could not be completed")
