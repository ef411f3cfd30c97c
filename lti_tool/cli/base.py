"""Shared plumbing for CLI commands: context (settings, engine, sessions), output, errors."""

from __future__ import annotations

import json
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


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
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


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripting.")
account_option = click.option("--account", "account", required=True, help="Account id or exact name.")


def parse_start(value: str | None) -> datetime | None:
    """--start DATE: an ISO date (midnight UTC) or an ISO timestamp with an offset."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--start must be a date like 2026-01-31 or an ISO timestamp, got {value!r}")
    if parsed.tzinfo is None:
        fail(f"--start timestamp needs a UTC offset (e.g. 2026-01-31T09:00:00+00:00), got {value!r}")
    return parsed.astimezone(UTC)


@contextmanager
def progress(total: int | None, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (tqdm) for long jobs; silent when disabled."""
    if not enabled:
        yield lambda _n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=label, unit="line", file=sys.stderr, leave=False) as bar:
        yield bar.update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """LTI 1.3 tool with a seat-license engine: staff and operator commands."""
    ctx.ensure_object(CliContext)
