"""Imported publisher content: one row per imported version of a course's SCORM package.

The files live on disk under ``CONTENT_DIR/packages/<storage_key>/`` (outside the web root;
``storage_key`` is the SHA-256 of the imported zip, so importing the same zip twice stores it
once). One version per course is current (a partial unique index holds it); a learner's
progress row pins the version it started on (``course_progress.content_id``), so a re-import
never changes the course under a learner who is mid-attempt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

STORAGE_KEY_CHARS = 64  # SHA-256, hex
LAUNCH_HREF_MAX = 2000
TITLE_MAX = 500
IDENTIFIER_MAX = 255
FILENAME_MAX = 255


class CourseContentVersion(Base):
    __tablename__ = "course_contents"
    __table_args__ = (
        UniqueConstraint("course_pk", "version", name="uq_course_contents_course_version"),
        CheckConstraint("scorm_version IN ('scorm12', 'scorm2004')", name="scorm_version_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("size_bytes >= 0 AND file_count >= 1", name="size_sane"),
        CheckConstraint("mastery_score IS NULL OR (mastery_score >= 0 AND mastery_score <= 1)",
                        name="mastery_score_scaled"),
        CheckConstraint("completion_threshold IS NULL OR (completion_threshold >= 0 AND completion_threshold <= 1)",
                        name="completion_threshold_scaled"),
        CheckConstraint("length(storage_key) = 64", name="storage_key_is_sha256"),
        # At most one current version per course.
        Index("uq_course_contents_one_current", "course_pk", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        Index("ix_course_contents_storage_key", "storage_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    scorm_version: Mapped[str] = mapped_column(String(10))
    storage_key: Mapped[str] = mapped_column(String(STORAGE_KEY_CHARS))
    launch_href: Mapped[str] = mapped_column(String(LAUNCH_HREF_MAX))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    manifest_identifier: Mapped[str] = mapped_column(String(IDENTIFIER_MAX))
    item_identifier: Mapped[str] = mapped_column(String(IDENTIFIER_MAX))
    mastery_score: Mapped[float | None] = mapped_column(Float)
    launch_data: Mapped[str | None] = mapped_column(Text)
    completion_threshold: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column()
    original_filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
