"""License types and labels (pure): the one label each type is shown with (pages, package
titles, file names, LTI link titles, the command line). Everything that names one asks here."""

from __future__ import annotations

LICENSE_TYPES = ("plus", "volume", "ppu")
LICENSE_LABELS = {"plus": "Plus", "volume": "Volume", "ppu": "Pay Per Use"}


def license_label(license_type: str) -> str:
    """"Plus", "Volume" or "Pay Per Use"; an unknown type is shown as it is."""
    return LICENSE_LABELS.get(license_type, license_type)


def is_license_type(value: object) -> bool:
    return isinstance(value, str) and value in LICENSE_LABELS


TITLE_SEPARATOR = " \u2014 "


def labeled_title(title: str, license_type: str, max_chars: int | None = None) -> str:
    """``"<course title> — <license label>"``: how a delivered course is named wherever it lands
    (LTI link, package title and file). With ``max_chars`` the course title is cut (with an
    ellipsis) so that the label always fits."""
    clean = " ".join(title.split()) or "Course"
    suffix = TITLE_SEPARATOR + license_label(license_type)
    if max_chars is not None and len(clean) + len(suffix) > max_chars:
        room = max(1, max_chars - len(suffix))
        clean = clean[: room - 1].rstrip() + "\u2026"
    return clean + suffix
