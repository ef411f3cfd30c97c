"""content import / list / prune: publishers' SCORM packages as the content of catalog courses."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from lti_tool.cli.base import CliContext, cli, echo, emit_json, fail, json_option, pass_ctx, store_errors
from lti_tool.player.content import content_store
from store.base import utcnow
from store.content.queries import list_versions
from store.content.service import import_content, prune_content
from store.progress.queries import attempts_per_content_version, content_versions_in_use


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


@cli.group()
def content() -> None:
    """Publishers' SCORM courses played by the course player."""


@content.command("import")
@click.option("--course", "catalog_id", required=True, help="Catalog id of the course the package plays for.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_ctx
@store_errors
def content_import(ctx: CliContext, catalog_id: str, file: Path, as_json: bool) -> None:
    """Import a SCORM 1.2 or 2004 zip FILE as the course's content.

    The zip is checked (manifest, paths that leave the folder, links, encryption, size limits
    CONTENT_MAX_BYTES / CONTENT_MAX_FILE_BYTES / CONTENT_MAX_FILES) and extracted under
    CONTENT_DIR. It becomes the course's current version; learners mid-attempt keep theirs."""
    if not file.is_file():
        fail(f"{file} is not a file")
    try:
        result = import_content(ctx.sessions, content_store(ctx.settings), catalog_id, file, utcnow(),
                                original_filename=file.name)
    except OSError as exc:
        fail(f"could not write the course's files under CONTENT_DIR: {exc.strerror or exc}")
    if as_json:
        emit_json(asdict(result))
        return
    version = "SCORM 1.2" if result.scorm_version == "scorm12" else "SCORM 2004"
    if not result.is_new_version:
        echo(f"{catalog_id}: this package is already its current content (version {result.version}); "
             "nothing changed")
        return
    mastery = "" if result.mastery_score is None else f", mastery score {round(result.mastery_score * 100)}%"
    replaced = f" (replaces version {result.replaced_version})" if result.replaced_version else ""
    echo(f"{catalog_id}: imported {file.name} as content version {result.version}{replaced}: {version}, "
         f"launches {result.launch_href}, {result.file_count} files, {_size(result.size_bytes)}{mastery}")


@content.command("list")
@click.option("--course", "catalog_id", default=None, help="Only this course (catalog id).")
@json_option
@pass_ctx
@store_errors
def content_list(ctx: CliContext, catalog_id: str | None, as_json: bool) -> None:
    """Imported content versions: which is current, how many learner attempts play each."""
    with ctx.read_sessions() as session:
        rows = list_versions(session, attempts_per_content_version(), catalog_id)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        echo("no imported content" + (f" for {catalog_id}" if catalog_id else ""))
        return
    for r in rows:
        flag = "current" if r.is_current else "old"
        echo(f"{r.catalog_id}  v{r.version}  {flag:7}  {r.scorm_version:9}  {r.file_count:5} files  "
             f"{_size(r.size_bytes):>10}  {r.pinned_attempts} attempts  {r.imported_at:%Y-%m-%d %H:%M}  "
             f"{r.original_filename}")


@content.command("prune")
@click.option("--course", "catalog_id", default=None, help="Only this course (catalog id).")
@json_option
@pass_ctx
@store_errors
def content_prune(ctx: CliContext, catalog_id: str | None, as_json: bool) -> None:
    """Delete old content versions no learner attempt plays, and their files."""
    result = prune_content(ctx.sessions, content_store(ctx.settings), content_versions_in_use(),
                           course_catalog_id=catalog_id)
    if as_json:
        emit_json(asdict(result))
        return
    echo(f"removed {len(result.removed_versions)} old version(s), {result.removed_folders} folder(s); "
         f"kept {result.kept_pinned} old version(s) that learners are still playing "
         "(folders changed in the last 10 minutes wait for the next prune)")
