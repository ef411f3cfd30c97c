"""The ``jobs`` table: one row per background job, its next slot, its lease and its last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base


class Job(Base):
    """A background job's schedule state. A worker claims a due slot with one conditional
    UPDATE (``next_run_at <= now`` and no live lease): the row moves to the next slot and carries
    the claim's ``run_token`` until the run is recorded, so no two workers run a job at once or
    twice in one slot."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("last_result IS NULL OR last_result IN ('ok', 'error')", name="result_known"),
        CheckConstraint("failures_in_a_row >= 0", name="failures_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column()
    # The claim of the run in progress: its token, the worker that holds it, and until when the
    # lease holds (a worker that died mid-run gives the job back once the lease is over).
    run_token: Mapped[str | None] = mapped_column(String(64))
    running_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column()
    last_started_at: Mapped[datetime | None] = mapped_column()
    last_finished_at: Mapped[datetime | None] = mapped_column()
    last_result: Mapped[str | None] = mapped_column(String(10))
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_summary: Mapped[str | None] = mapped_column(String(300))
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
