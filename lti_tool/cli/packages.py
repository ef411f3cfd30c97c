"""packages commands: SCORM dispatch packages (build, export, list, revoke) and the LMS domains
an account allows them on."""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

from lti_tool.cli.base import (
    CliContext,
    account_option,
    cli,
    echo,
    emit_json,
    fail,
    json_option,
    pass_ctx,
    store_errors,
)
from scorm_packages import service
from scorm_packages.manifest import FORMATS
from store.licenses.labels import LICENSE_LABELS
from scorm_packages.packaging import PackagingError, build_package, normalize_base_url, slug, stream_zip_of_zips
from store.base import utcnow

LICENSE_METAVAR = "|".join(LICENSE_LABELS)
FORMAT_METAVAR = "|".join(FORMATS)
CSV_NAME = "packages.csv"
CSV_COLUMNS = ("file", "course_id", "title", "license_type", "format", "package_key", "created_at")

base_url_option = click.option(
    "--base-url", default=None,
    help="The product's public URL the package calls (default: the PUBLIC_BASE_URL setting).")


def _license_type(value: str) -> str:
    if value not in LICENSE_LABELS:
        fail(f"--license-type must be one of {', '.join(LICENSE_LABELS)}, got {value!r}")
    return value


def _format(value: str) -> str:
    if value not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, got {value!r}")
    return value


def _base_url(ctx: CliContext, value: str | None) -> str:
    try:
        return normalize_base_url(value or ctx.settings.public_base_url)
    except PackagingError as exc:
        fail(f"--base-url: {exc}" if value else f"PUBLIC_BASE_URL setting: {exc}")


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".package-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _writable_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        fail(f"{what} {str(path)!r} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        fail(f"{what} {str(path)!r} is not writable")


@cli.group()
def packages() -> None:
    """SCORM dispatch packages: build, export, list, revoke; allowed LMS domains."""


@packages.command("build")
@account_option
@click.option("--course", required=True, help="Course catalog id.")
@click.option("--license-type", "license_type", required=True, metavar=LICENSE_METAVAR)
@click.option("--format", "fmt", required=True, metavar=FORMAT_METAVAR)
@click.option("-o", "--output", default=None,
              help="The zip to write, or a directory for it (default: the package's own name, here).")
@base_url_option
@json_option
@pass_ctx
@store_errors
def build(ctx: CliContext, account: str, course: str, license_type: str, fmt: str, output: str | None,
          base_url: str | None, as_json: bool) -> None:
    """Build the labeled package of one course for a license the account holds.

    Building the same package again reuses its package key, so learners keep their seats."""
    _license_type(license_type)
    _format(fmt)
    base = _base_url(ctx, base_url)
    target = Path(output) if output else None
    if target is not None and not target.is_dir():
        if target.suffix.lower() != ".zip":
            fail(f"-o {output!r}: give a .zip file name or an existing directory")
        _writable_dir(target.parent if str(target.parent) else Path("."), "the output's directory")
    elif target is not None:
        _writable_dir(target, "-o")
    else:
        _writable_dir(Path("."), "the current directory")
    prepared, built = service.build_package_zip(ctx.sessions, ctx.settings, account, course, license_type, fmt,
                                                utcnow(), base_url=base)
    path = target / built.filename if target is not None and target.is_dir() else target or Path(built.filename)
    _write_atomically(path, built.data)
    view = prepared.view
    if as_json:
        emit_json({"file": str(path), "package_key": view.key, "course_id": view.catalog_id, "title": view.course_title,
                   "license_type": view.license_type, "format": view.format, "generation": view.generation,
                   "created": prepared.was_created, "reactivated": prepared.was_reactivated,
                   "base_url": base, "bytes": len(built.data)})
        return
    state = ("new package key" if prepared.was_created else
             "package key re-activated with a new secret: copies made before stay refused"
             if prepared.was_reactivated else "same package key as before: learners keep their seats")
    echo(f"wrote {path} ({len(built.data):,} bytes): {view.course_title} \u2014 {view.license_label}, "
         f"{'SCORM 1.2' if fmt == 'scorm12' else 'SCORM 2004 4th Edition'}")
    echo(f"package key {view.key} ({state}); it calls {base}")


def _export_target(output: str) -> Path:
    """``-o``: a ``.zip`` file (one zip of zips) or a directory (created when missing); checked
    before anything is written."""
    target = Path(output)
    if target.suffix.lower() == ".zip" and not target.is_dir():
        parent = target.parent if str(target.parent) else Path(".")
        _writable_dir(parent, "the directory of -o")
        return target
    if target.exists() and not target.is_dir():
        fail(f"-o {output!r} exists and is not a directory (give a directory, or a file name ending in .zip)")
    if target.exists():
        _writable_dir(target, "-o")
    else:
        _writable_dir(target.parent if str(target.parent) else Path("."), "the parent of -o")
    return target


class _Listing:
    """packages.csv, written row by row as the packages are made (UTF-8 bytes, not dicts: small
    even for tens of thousands of packages)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.text = io.TextIOWrapper(self.buffer, encoding="utf-8", newline="")
        self.writer = csv.writer(self.text)
        self.writer.writerow(CSV_COLUMNS)
        self.count = 0

    def add(self, name: str, view: service.PackageView) -> None:
        self.writer.writerow((name, view.catalog_id, view.course_title, view.license_type, view.format, view.key,
                              view.created_at.isoformat()))
        self.count += 1

    def data(self) -> bytes:
        self.text.flush()
        return self.buffer.getvalue()


def _exported(prepared: list[service.PreparedPackage], base: str, listing: _Listing) -> Iterator[tuple[str, bytes]]:
    """Each package's file name and zip, built when its turn comes (taken out of ``prepared``),
    with a progress bar; adds its row to ``listing``. Two courses with the same title: the second
    one's file name carries its catalog id."""
    from tqdm import tqdm

    used: set[str] = set()
    prepared.reverse()
    with tqdm(total=len(prepared), desc="packages", unit="package", file=sys.stderr, leave=False) as bar:
        while prepared:
            item = prepared.pop()  # dropped once its zip is written: memory stays flat
            built = build_package(item.spec(base))
            name = built.filename
            if name in used:
                stem, rest = name.split("__", 1)
                name = f"{stem}--{slug(item.view.catalog_id) or item.view.key}__{rest}"
            used.add(name)
            listing.add(name, item.view)
            yield name, built.data
            bar.update(1)


def _export_folder(directory: Path, packages_: Iterator[tuple[str, bytes]], listing: _Listing) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in packages_:
        _write_atomically(directory / name, data)
    _write_atomically(directory / CSV_NAME, listing.data())


def _export_zip(path: Path, packages_: Iterator[tuple[str, bytes]], listing: _Listing) -> None:
    """One zip of zips, streamed to a temporary file beside ``path`` (renamed when complete), with
    packages.csv as its last member."""

    def members() -> Iterator[tuple[str, bytes]]:
        yield from packages_
        yield CSV_NAME, listing.data()

    fd, tmp = tempfile.mkstemp(prefix=".packages-", suffix=".zip.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in stream_zip_of_zips(members()):
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@packages.command("export")
@account_option
@click.option("--format", "fmt", required=True, metavar=FORMAT_METAVAR)
@click.option("--license-type", "license_type", default=None, metavar=LICENSE_METAVAR,
              help="Only this license type (default: every license type the account holds).")
@click.option("-o", "--output", "output", required=True,
              help="A directory for the zips and packages.csv, or a file name ending in .zip for one zip of zips.")
@base_url_option
@pass_ctx
@store_errors
def export(ctx: CliContext, account: str, fmt: str, license_type: str | None, output: str,
           base_url: str | None) -> None:
    """A package for every course the account holds a license for, with packages.csv: in a
    directory, or streamed into one zip of zips (-o NAME.zip)."""
    _format(fmt)
    types = [_license_type(license_type)] if license_type else list(LICENSE_LABELS)
    base = _base_url(ctx, base_url)
    target = _export_target(output)
    prepared = service.prepare_export(ctx.sessions, ctx.settings, account, fmt, types, utcnow())
    listing = _Listing()
    write = _export_zip if target.suffix.lower() == ".zip" and not target.is_dir() else _export_folder
    write(target, _exported(prepared, base, listing), listing)
    echo(f"wrote {listing.count} package(s) and {CSV_NAME} to {target} (they call {base})")


def _package_json(view: service.PackageView) -> dict[str, object]:
    return {"package_key": view.key, "course_id": view.catalog_id, "title": view.course_title,
            "license_type": view.license_type, "format": view.format, "generation": view.generation,
            "created_at": view.created_at, "built_at": view.built_at, "revoked_at": view.revoked_at,
            "file": view.filename}


@packages.command("list")
@account_option
@json_option
@pass_ctx
@store_errors
def list_(ctx: CliContext, account: str, as_json: bool) -> None:
    """List an account's packages (one per course, license type and format)."""
    views = service.list_packages(ctx.read_sessions, account)
    if as_json:
        emit_json([_package_json(v) for v in views])
        return
    if not views:
        echo("no packages yet: lti-tool packages build --account A --course C --license-type T --format F")
        return
    echo(f"{'PACKAGE KEY':28}  {'COURSE':14}  {'LICENSE':11}  {'FORMAT':9}  {'GEN':>3}  {'BUILT':10}  STATE")
    for v in views:
        state = f"revoked {v.revoked_at:%Y-%m-%d}" if v.revoked_at else "active"
        echo(f"{v.key:28}  {v.catalog_id[:14]:14}  {v.license_label:11}  {v.format:9}  {v.generation:>3}  "
             f"{v.built_at:%Y-%m-%d}  {state}")



@packages.command("revoke")
@click.argument("key")
@json_option
@pass_ctx
@store_errors
def revoke(ctx: CliContext, key: str, as_json: bool) -> None:
    """Revoke package KEY: every copy of it gets a revocation message in the LMS and takes no seat."""
    view, changed = service.revoke_package(ctx.sessions, key, utcnow())
    if as_json:
        emit_json({**_package_json(view), "revoked_now": changed})
        return
    if not changed:
        assert view.revoked_at is not None
        echo(f"package {view.key} was already revoked on {view.revoked_at:%Y-%m-%d %H:%M} UTC")
        return
    echo(f"revoked package {view.key}: {view.course_title} \u2014 {view.license_label}, {view.format}")
    echo("learners launching it now see a revocation message. Building it again gives a new copy with the "
         "same key (learners keep their seats); revoked copies stay refused.")


@packages.command("domains")
@account_option
@click.option("--allow", "allow", multiple=True, metavar="DOMAIN", help="Allow launches from DOMAIN (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="DOMAIN", help="Stop allowing DOMAIN (repeatable).")
@click.option("--list", "show", is_flag=True, help="List the allowed domains (the default with no other option).")
@json_option
@pass_ctx
@store_errors
def domains(ctx: CliContext, account: str, allow: tuple[str, ...], remove: tuple[str, ...], show: bool,
            as_json: bool) -> None:
    """The LMS domains an account's packages may be launched from (none listed: any domain).

    A domain also allows its subdomains: example.edu allows lms.example.edu."""
    # All or nothing: check every value before changing anything.
    normalized_allow = [service.normalize_domain(raw) for raw in allow]
    before = service.list_domains(ctx.read_sessions, account)
    for raw in remove:
        domain = service.normalize_domain(raw)
        if domain not in before and domain not in normalized_allow:
            fail(f"{domain!r} is not an allowed LMS domain of this account (see --list)")
    now = utcnow()
    for raw in allow:
        domain, added = service.allow_domain(ctx.sessions, account, raw, now)
        if not as_json:
            echo(f"{'allowed' if added else 'already allowed'}: {domain}")
    for raw in remove:
        domain = service.remove_domain(ctx.sessions, account, raw)
        if not as_json:
            echo(f"removed: {domain}")
    current = service.list_domains(ctx.read_sessions, account)
    if as_json:
        emit_json({"allowed_domains": current, "any_domain": not current})
        return
    if show or not (allow or remove):
        if current:
            echo("packages may be launched from: " + ", ".join(current) + " (and their subdomains)")
        else:
            echo("no domain listed: packages may be launched from any LMS domain")
