"""catalog commands: import the vendor's feed, search the catalog, show one course."""

from __future__ import annotations

import io
import os
import stat
import sys
import unicodedata
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

import click

from lti_tool.cli.base import (
    CliContext,
    cli,
    echo,
    emit_json,
    fail,
    json_option,
    pass_ctx,
    progress,
    store_errors,
)
from store.base import utcnow
from store.money import format_amount
from store.catalog.feed import PROBLEMS_SHOWN, FeedError, ParsedFeed, parse_lines
from store.catalog.queries import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    SearchPage,
    get_course,
    search_courses,
    summarize_course,
)
from store.catalog.service import ImportReport, import_feed

# Files smaller than this import in a blink: no progress bar.
PROGRESS_MIN_BYTES = 1_000_000


@cli.group()
def catalog() -> None:
    """Course catalog: import the vendor's feed, search, show a course."""


# --- import --------------------------------------------------------------------------------------


@catalog.command("import")
@click.argument("feed_file", metavar="FILE", type=click.File("rb"))
@click.option(
    "--full/--delta",
    "full",
    default=True,
    show_default=True,
    help="--full: the file lists the whole catalog, courses missing from it are retired. "
    "--delta: only add and update the courses in the file.",
)
@json_option
@pass_ctx
@store_errors
def catalog_import(ctx: CliContext, feed_file: IO[bytes], full: bool, as_json: bool) -> None:
    """Import a catalog feed (JSON Lines, one course per line; - reads stdin).

    The whole file is checked first; any bad line is reported as "line N: what is wrong" and
    nothing is imported. Re-importing the same file changes nothing.
    """
    show_progress = _wants_progress(feed_file)
    total_lines = _count_lines(feed_file) if show_progress else None
    with progress(total_lines, "checking", show_progress) as tick:
        parsed = parse_lines(_ticking(feed_file, tick))
    try:
        parsed.raise_for_problems()  # before any bar: a bad file fails at once
        with progress(len(parsed.courses), "importing", show_progress) as tick:
            report = import_feed(ctx.sessions, parsed, full=full, now=utcnow(), on_progress=tick)
    except FeedError as exc:
        _report_feed_error(exc, as_json)
    if as_json:
        emit_json({"ok": True, **report.as_dict()})
    else:
        echo(_import_summary(report, parsed))


def _report_feed_error(exc: FeedError, as_json: bool) -> NoReturn:
    if as_json:
        emit_json(
            {
                "ok": False,
                "reason": exc.reason,
                "message": exc.message,
                "problem_count": len(exc.problems),
                "problems": exc.problems[:PROBLEMS_SHOWN],
            }
        )
    else:
        for line in exc.summary(PROBLEMS_SHOWN):
            echo(line, err=True)
    fail(f"{exc.message} [{exc.reason}]")


def _import_summary(report: ImportReport, parsed: ParsedFeed) -> str:
    mode = "full" if report.is_full else "delta"
    lines = [
        f"{mode} import of {report.courses_in_feed} courses ({parsed.lines} lines): "
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.retired} retired"
    ]
    if report.publishers_added or report.bundles_added:
        lines.append(
            f"new publishers: {report.publishers_added}, new bundles: {report.bundles_added}"
        )
    return "\n".join(lines)


def _wants_progress(stream: IO[bytes]) -> bool:
    """A progress bar only on a terminal, and only for a big regular file."""
    if not sys.stderr.isatty():
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size >= PROGRESS_MIN_BYTES


def _count_lines(stream: IO[bytes]) -> int:
    """Lines in a regular file (for the bar's total), then rewind it."""
    count = 0
    last = b"\n"
    while chunk := stream.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    stream.seek(0)
    return count + (0 if last == b"\n" else 1)


def _ticking(stream: IO[bytes], tick: Callable[[int], None]) -> Iterator[bytes]:
    for line in stream:
        tick(1)
        yield line


# --- search ----------------------------------------------------------------------------------------


@catalog.command("search")
@click.argument("query", nargs=-1)
@click.option("--plus", "plus_only", is_flag=True, help="Only courses in the Plus subscription catalog.")
@click.option("--publisher", default=None, help="Only this publisher (exact name, any case).")
@click.option("--language", default=None, help="Only this language, e.g. en (also matches en-GB).")
@click.option(
    "--min-duration", type=click.IntRange(min=0), default=None, metavar="MINUTES",
    help="Only courses at least this long.",
)
@click.option(
    "--max-duration", type=click.IntRange(min=0), default=None, metavar="MINUTES",
    help="Only courses at most this long.",
)
@click.option("--include-retired", is_flag=True, help="Also show retired courses.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--per-page", type=click.IntRange(1, MAX_PER_PAGE), default=DEFAULT_PER_PAGE, show_default=True
)
@json_option
@pass_ctx
@store_errors
def catalog_search(
    ctx: CliContext,
    query: tuple[str, ...],
    plus_only: bool,
    publisher: str | None,
    language: str | None,
    min_duration: int | None,
    max_duration: int | None,
    include_retired: bool,
    page: int,
    per_page: int,
    as_json: bool,
) -> None:
    """Search the catalog: full text over title, description and publisher, best first.

    Without QUERY, lists the catalog in title order. Retired courses are left out unless
    --include-retired. Put -- before a query that starts with a dash.
    """
    text = " ".join(query)
    with ctx.read_sessions() as session:
        result = search_courses(
            session,
            text,
            plus_only=plus_only,
            publisher=publisher,
            language=language,
            min_duration=min_duration,
            max_duration=max_duration,
            include_retired=include_retired,
            page=page,
            per_page=per_page,
        )
    if as_json:
        emit_json(result.as_dict())
        return
    echo(_search_table(result))


_COLUMNS = (
    # header, width, align
    ("COURSE ID", 14, "<"),
    ("TITLE", 44, "<"),
    ("PUBLISHER", 24, "<"),
    ("LANG", 5, "<"),
    ("MIN", 4, ">"),
    ("PLUS", 4, "<"),
    ("VOLUME", 8, ">"),
    ("PPU", 8, ">"),
    ("STATUS", 8, "<"),
)


def _search_table(result: SearchPage) -> str:
    what = f"matching {result.query.strip()!r}" if result.query.strip() else "in the catalog"
    noun = "course" if result.total == 1 else "courses"
    heading = f"{result.total} {noun} {what}"
    if result.total == 0:
        return heading
    first = (result.page - 1) * result.per_page + 1
    if not result.courses:
        return f"{heading}; page {result.page} is past the last page ({result.pages})"
    last = first + len(result.courses) - 1
    heading += f", showing {first}-{last} (page {result.page} of {result.pages})"
    lines = [heading, _row([header for header, _, _ in _COLUMNS])]
    for course in result.courses:
        lines.append(
            _row(
                [
                    course.catalog_id,
                    course.title,
                    course.publisher,
                    course.language,
                    str(course.duration_minutes),
                    "yes" if course.is_plus else "",
                    _money(course.volume_price_cents),
                    _money(course.ppu_price_cents),
                    course.status,
                ]
            )
        )
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    parts = [_fit(cell, width, align) for cell, (_, width, align) in zip(cells, _COLUMNS, strict=True)]
    return "  ".join(parts).rstrip()


def _money(cents: int) -> str:
    return format_amount(cents)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, width: int, align: str) -> str:
    """Cut ``text`` to ``width`` terminal cells (wide CJK characters count twice) and pad it."""
    text = " ".join(text.split())  # no tabs or newlines inside a table cell
    if _display_width(text) > width:
        kept = ""
        for ch in text:
            if _display_width(kept + ch) > width - 1:
                break
            kept += ch
        text = kept + "…"
    padding = " " * (width - _display_width(text))
    return padding + text if align == ">" else text + padding


# --- show ----------------------------------------------------------------------------------------


@catalog.command("show")
@click.argument("catalog_id")
@json_option
@pass_ctx
@store_errors
def catalog_show(ctx: CliContext, catalog_id: str, as_json: bool) -> None:
    """Show one course by its catalog id (any status)."""
    with ctx.read_sessions() as session:
        course = get_course(session, catalog_id)
        summary = summarize_course(course)
        details: dict[str, Any] = {
            **summary.as_dict(),
            "description": course.description,
            "topics": list(course.topics),
            "created_at": course.created_at,
            "updated_at": course.updated_at,
        }
    if as_json:
        emit_json(details)
        return
    labels = {
        "catalog_id": "catalog id",
        "is_plus": "plus",
        "volume_price_cents": "volume price",
        "ppu_price_cents": "ppu price",
        "duration_minutes": "duration (min)",
        "is_subscription_only": "subscription only",
        "replacement_id": "replacement",
        "created_at": "created",
        "updated_at": "updated",
    }
    for key, value in details.items():
        if key.endswith("_cents"):
            value = _money(value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, list):
            value = ", ".join(value)
        elif value is None:
            value = "-"
        echo(f"{labels.get(key, key):>18}: {value}")
