"""Learner progress in a course under a seat: what the course player (LTI and SCORM dispatch
alike) keeps server side so a learner resumes where they left off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class CourseProgress(Base):
    __tablename__ = "course_progress"
    __table_args__ = (
        UniqueConstraint("seat_id", "course_pk", name="uq_course_progress_seat_course"),
        CheckConstraint(
            "completion_status IN ('not attempted', 'incomplete', 'completed')", name="completion_status_known"
        ),
        CheckConstraint("success_status IN ('unknown', 'passed', 'failed')", name="success_status_known"),
        CheckConstraint("total_time_seconds >= 0", name="time_not_negative"),
        CheckConstraint("session_seconds_reported >= 0", name="session_seconds_not_negative"),
        CheckConstraint("score_scaled IS NULL OR (score_scaled >= -1 AND score_scaled <= 1)", name="scaled_in_range"),
        Index("ix_course_progress_course", "course_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    location: Mapped[str] = mapped_column(String(1000), default="")
    completion_status: Mapped[str] = mapped_column(String(20), default="not attempted")
    success_status: Mapped[str] = mapped_column(String(10), default="unknown")
    score_raw: Mapped[float | None] = mapped_column(Float)
    score_min: Mapped[float | None] = mapped_column(Float)
    score_max: Mapped[float | None] = mapped_column(Float)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    total_time_seconds: Mapped[int] = mapped_column(Integer, default=0)
    session_count: Mapped[int] = mapped_column(Integer, default=0)
    suspend_data: Mapped[str] = mapped_column(Text, default="")
    # Everything else a SCORM course writes (cmi.* keys), for real publisher content.
    cmi: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Imported SCORM content: the version this attempt plays (pinned at its first session, so a
    # re-import does not change the course under the learner), how much of the current
    # session's time (session number = session_count) was already added to total_time_seconds,
    # so repeated commits of one session's cumulative session_time count once, and the number
    # of the session's last applied commit (a commit that arrives after a later one is ignored).
    content_id: Mapped[int | None] = mapped_column(ForeignKey("course_contents.id"))
    session_seconds_reported: Mapped[int] = mapped_column(Integer, default=0)
    commit_seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
