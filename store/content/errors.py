"""Why a publisher's package is refused (pure)."""

from __future__ import annotations

from store.errors import InvalidInput


class ContentRejected(InvalidInput):
    """A package that cannot be imported; ``reason`` names why (not_zip, unsafe_path, symlink,
    encrypted, too_many_files, file_too_big, too_big, duplicate_entry, no_manifest,
    manifest_invalid, launch_missing, file_missing, unknown_version, path_too_deep, path_too_long,
    ...)."""

    reason = "content_rejected"
