"""Shared plumbing for CLI commands: context (settings, engine, sessions), output, errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property, wraps
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import ConfigError, Settings, load_settings
from store.database import make_engine, make_read_sessionmaker, make_sessionmaker
from store.errors import StoreError
from store.text import printable, printable_lines, text_problem


@dataclass
class CliContext:
    _settings: Settings | None = None
    _engine: Engine | None = field(default=None)

    @cached_property
    def settings(self) -> Settings:
        if self._settings is not None:
            return self._settings
        try:
            return load_settings()
        except ConfigError as exc:
            fail(str(exc))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """For commands that only read: never wait behind a writer on SQLite."""
        return make_read_sessionmaker(self.engine)


pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for everything the CLI prints: data from feeds, LMSs and packages may hold
    control characters (a terminal escape sequence in a course title) or surrogates; they are
    shown escaped (``\x1b``, ``\ud800``), never raw. Newlines and tabs are kept."""
    click.echo(printable_lines(str(message)), err=err, nl=nl)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, ``error: …``, and exit ``code`` (1 by default)."""
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def store_errors(func: F) -> F:
    """Turn domain errors into a one-line reason and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StoreError as exc:
            fail(f"{exc.message} [{exc.reason}]")

    return wrapper  # type: ignore[return-value]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# What json.dumps(ensure_ascii=False) leaves raw but must not reach a terminal (or cannot be
# encoded): DEL, C1 controls, surrogates, line separators, bidirectional overrides. They only occur
# inside JSON strings, where a \uXXXX escape means the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# In the command line's JSON a course is named by its catalog id under the key "course_id" (the
# same name as the LTI custom parameter); inside the code that value is called catalog_id.
PUBLIC_KEYS = {"catalog_id": "course_id"}


def public_json(data: Any) -> Any:
    """``data`` with the code's field names turned into the JSON interface's (``PUBLIC_KEYS``)."""
    if isinstance(data, dict):
        return {PUBLIC_KEYS.get(key, key): public_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [public_json(item) for item in data]
    return data


def emit_json(data: Any) -> None:
    text = json.dumps(public_json(data), default=_json_default, ensure_ascii=False, indent=2)
    click.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripting.")
account_option = click.option("--account", "account", required=True, help="Account id or exact name.")


def parse_moment(option: str, value: str | None, reason: str) -> datetime | None:
    """An option's moment: an ISO date (midnight UTC) or an ISO timestamp with an offset; a bad
    value is a one-line error tagged ``[reason]``."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date like 2026-01-31 or an ISO timestamp, got {value!r} [{reason}]")
    if parsed.tzinfo is None:
        fail(f"{option} timestamp needs a UTC offset (e.g. 2026-01-31T09:00:00+00:00), got {value!r} [{reason}]")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable moment in UTC
        fail(f"{option} {value!r} is out of range [{reason}]")


def parse_start(value: str | None) -> datetime | None:
    """--start DATE: an ISO date (midnight UTC) or an ISO timestamp with an offset."""
    return parse_moment("--start", value, "invalid_start")


@contextmanager
def progress(total: int | None, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (tqdm) for long jobs; silent when disabled."""
    if not enabled:
        yield lambda _n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=label, unit="line", file=sys.stderr, leave=False) as bar:
        yield bar.update


def _argument_name(args: list[str], index: int) -> str:
    arg = args[index]
    if arg.startswith("--") and "=" in arg:
        return arg.split("=", 1)[0]
    previous = args[index - 1] if index > 0 else ""
    if previous.startswith("-") and "=" not in previous and not arg.startswith("-"):
        return previous
    return f"argument {index + 1}"


def check_arguments(args: list[str]) -> None:
    """The input rule (store.text) for every argument and option: NUL or a surrogate (what
    Python makes of an invalid UTF-8 byte in ``sys.argv``) is refused with one line, exit 1."""
    for index, arg in enumerate(args):
        problem = text_problem(arg)
        if problem is not None:
            fail(f"{printable(_argument_name(args, index)[:60])} {problem}; nothing was changed [invalid_text]")


class _CheckedGroup(click.Group):
    """The root group: checks the whole command line before click parses any of it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        check_arguments(args)
        return super().parse_args(ctx, args)


@click.group(cls=_CheckedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """LTI 1.3 tool with a seat-license engine: staff and operator commands."""
    ctx.ensure_object(CliContext)
