"""Hit counters of fixed windows, one row per (scope, key, window start)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"
    __table_args__ = (
        UniqueConstraint("scope", "key", "window_start", name="uq_rate_limit_counters_scope_key_window"),
        CheckConstraint("hits >= 0", name="hits_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(50))
    # Who is counted (e.g. a keyed hash of a client IP, or "*" for everyone): never a raw address.
    key: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column()
    hits: Mapped[int] = mapped_column(Integer, default=0)
