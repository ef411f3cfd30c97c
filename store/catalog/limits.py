"""Catalog column sizes and statuses (pure), shared by the models and the feed validator so a
valid feed always fits the schema."""

from __future__ import annotations

COURSE_STATUSES = ("active", "retiring", "retired")

CATALOG_ID_MAX = 200
TITLE_MAX = 500
PUBLISHER_NAME_MAX = 200
BUNDLE_NAME_MAX = 200
LANGUAGE_MAX = 20
