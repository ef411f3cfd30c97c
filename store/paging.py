"""Page arithmetic shared by paged results (catalog search, deep-linking offers, reports)."""

from __future__ import annotations

import math


class Paged:
    """Mixin for a result with ``total``, ``page`` (1-based) and ``per_page``."""

    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1
