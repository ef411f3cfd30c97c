"""The catalog: publishers, bundles and courses, loaded from the vendor's feed.

Full-text search structures (SQLite FTS5 table ``course_fts`` with triggers; PostgreSQL
``course_fts`` tsvector table with triggers and GIN index ``ix_courses_search_document``) and
the title-ordering index ``ix_courses_search_title`` differ per database, so they live only in
migrations 0002 and 0016 (the copies of the filter columns and title the index carries: SQLite
``course_fts_filters``, PostgreSQL columns of ``course_fts``; see
``lti_tool.db.MIGRATION_ONLY_PREFIXES``); ``store.catalog.queries`` uses them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base, utcnow

from store.catalog.limits import (  # noqa: F401 - column sizes shared with the feed validator
    BUNDLE_NAME_MAX,
    CATALOG_ID_MAX,
    COURSE_STATUSES,
    LANGUAGE_MAX,
    PUBLISHER_NAME_MAX,
    TITLE_MAX,
)


class Publisher(Base):
    __tablename__ = "publishers"
    __table_args__ = (UniqueConstraint("name", name="uq_publishers_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(PUBLISHER_NAME_MAX))

    def __repr__(self) -> str:
        return f"Publisher(id={self.id!r}, name={self.name!r})"


class Bundle(Base):
    """A named group of courses. A subscription-only bundle (e.g. TED@Work) is never sold as
    Volume or Pay Per Use."""

    __tablename__ = "bundles"
    __table_args__ = (UniqueConstraint("name", name="uq_bundles_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(BUNDLE_NAME_MAX))
    is_subscription_only: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self) -> str:
        return (
            f"Bundle(id={self.id!r}, name={self.name!r}, "
            f"is_subscription_only={self.is_subscription_only!r})"
        )


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (
        UniqueConstraint("catalog_id", name="uq_courses_catalog_id"),
        CheckConstraint("status IN ('active', 'retiring', 'retired')", name="status_known"),
        CheckConstraint("volume_price_cents >= 0", name="volume_price_not_negative"),
        CheckConstraint("ppu_price_cents >= 0", name="ppu_price_not_negative"),
        CheckConstraint("duration_minutes >= 0", name="duration_not_negative"),
        CheckConstraint("length(catalog_id) > 0", name="catalog_id_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The feed's external id: names the course everywhere outside the database.
    catalog_id: Mapped[str] = mapped_column(String(CATALOG_ID_MAX))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX), default="en", index=True)
    duration_minutes: Mapped[int] = mapped_column(default=0)
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    volume_price_cents: Mapped[int] = mapped_column()
    ppu_price_cents: Mapped[int] = mapped_column()
    is_plus: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    replacement_course_pk: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Many-to-one conveniences for pages and reports (no schema effect).
    publisher: Mapped[Publisher] = relationship(lazy="select")
    bundle: Mapped[Bundle | None] = relationship(lazy="select")
    replacement: Mapped[Course | None] = relationship(remote_side=[id], lazy="select")

    @property
    def is_subscription_only(self) -> bool:
        """In a subscription-only bundle: never sold as Volume or Pay Per Use."""
        return self.bundle is not None and self.bundle.is_subscription_only

    def __repr__(self) -> str:
        return f"Course(id={self.id!r}, catalog_id={self.catalog_id!r}, status={self.status!r})"
