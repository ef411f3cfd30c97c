"""Catalog reads: course look-ups by catalog id and full-text search with filters and pages.

Search runs on the per-database index built by migration 0002: SQLite FTS5 (``course_fts``,
ranked with bm25 and column weights) or PostgreSQL full text (``course_fts.document``, ranked
with ts_rank over weights title A, publisher B, description C). On both, a course whose title
matches a search word ranks above one that matches only in its description or publisher.

User text never reaches either query language as syntax: :func:`search_terms` keeps only runs
of letters and digits, and each becomes a quoted term, so quotes, ``*``, ``NEAR``, ``-``,
``OR``, parentheses or colons are just text. All terms must match (in any of the three
columns); terms of two or more characters also match as prefixes ("leader" finds
"Leadership"). Words in Chinese, Japanese or Korean script match as substrings (those
languages do not separate words with spaces). No words at all (empty or punctuation only)
means browse, in title order.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    and_,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased, joinedload

from store.catalog.models import Bundle, Course, Publisher
from store.errors import InvalidInput, NotFound
from store.paging import Paged

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_TERMS = 12
MAX_TERM_LENGTH = 64
PREFIX_MIN_LENGTH = 2
# PostgreSQL text search configuration made by migration 0002 (simple + unaccent).
POSTGRESQL_SEARCH_CONFIG = "course_search"
# bm25 column weights for (title, description, publisher); SQLite only.
BM25_WEIGHTS = ("10.0", "1.0", "4.0")

_WORD_RE = re.compile(r"[^\W_]+")


# --- look-ups ------------------------------------------------------------------------------------


def find_course(session: Session, catalog_id: str) -> Course | None:
    """The course with this catalog id (any status), with publisher, bundle and replacement
    loaded; None when there is none."""
    return session.scalars(
        select(Course)
        .where(Course.catalog_id == catalog_id)
        .options(
            joinedload(Course.publisher),
            joinedload(Course.bundle),
            joinedload(Course.replacement),
        )
    ).first()


def get_course(session: Session, catalog_id: str) -> Course:
    """Like :func:`find_course`, but raise NotFound (reason ``course_not_found``)."""
    course = find_course(session, catalog_id)
    if course is None:
        raise NotFound(f"no course with id {catalog_id!r}", reason="course_not_found")
    return course


# --- search results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseSummary:
    """One course as lists and search results show it. ``catalog_id`` is the catalog id."""

    catalog_id: str
    title: str
    publisher: str
    language: str
    duration_minutes: int
    is_plus: bool
    volume_price_cents: int
    ppu_price_cents: int
    status: str
    bundle: str | None
    is_subscription_only: bool
    replacement_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchPage(Paged):
    query: str
    courses: tuple[CourseSummary, ...]
    total: int
    page: int
    per_page: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "courses": [course.as_dict() for course in self.courses],
        }


def summarize_course(course: Course) -> CourseSummary:
    """A loaded Course (see :func:`find_course`) as a CourseSummary."""
    return CourseSummary(
        catalog_id=course.catalog_id,
        title=course.title,
        publisher=course.publisher.name,
        language=course.language,
        duration_minutes=course.duration_minutes,
        is_plus=course.is_plus,
        volume_price_cents=course.volume_price_cents,
        ppu_price_cents=course.ppu_price_cents,
        status=course.status,
        bundle=course.bundle.name if course.bundle is not None else None,
        is_subscription_only=course.is_subscription_only,
        replacement_id=course.replacement.catalog_id if course.replacement is not None else None,
    )


# --- search --------------------------------------------------------------------------------------


def search_terms(query: str) -> list[str]:
    """The words of a user's query: NFKC-normalised runs of letters and digits, at most
    MAX_TERMS of them, each at most MAX_TERM_LENGTH characters, duplicates dropped."""
    normalized = unicodedata.normalize("NFKC", query or "")
    terms: dict[str, str] = {}
    for word in _WORD_RE.findall(normalized):
        word = word[:MAX_TERM_LENGTH]
        terms.setdefault(word.casefold(), word)
        if len(terms) == MAX_TERMS:
            break
    return list(terms.values())


def sqlite_match_expression(terms: list[str], *, column_name: str | None = None) -> str:
    """An FTS5 query: every term quoted (so it is only text), all required; or, with
    ``column_name``, any term in that column."""
    quoted = [f'"{term}"*' if len(term) >= PREFIX_MIN_LENGTH else f'"{term}"' for term in terms]
    if column_name is None:
        return " AND ".join(quoted)
    return f"{{{column_name}}} : ({' OR '.join(quoted)})"


def postgresql_tsquery(terms: list[str], *, weight: str = "") -> str:
    """A to_tsquery() string: every term quoted, all required; or, with ``weight`` (e.g. "A",
    the title's), any term at that weight."""
    quoted = []
    for term in terms:
        label = ("*" if len(term) >= PREFIX_MIN_LENGTH else "") + weight
        quoted.append(f"'{term}':{label}" if label else f"'{term}'")
    return (" | " if weight else " & ").join(quoted)


def search_courses(
    session: Session,
    query: str = "",
    *,
    plus_only: bool = False,
    publisher: str | None = None,
    language: str | None = None,
    min_duration: int | None = None,
    max_duration: int | None = None,
    include_retired: bool = False,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> SearchPage:
    """Full-text search over title, description and publisher, best matches first, or (no
    words in ``query``) every course in title order; filtered and paged, with the total.

    ``plus_only``: only Plus courses. ``publisher``: exact name, any case. ``language``: a tag
    such as ``en`` (also matches ``en-GB``). Durations in minutes, inclusive. Retired courses
    only with ``include_retired``. Raises InvalidInput for a bad page or duration range.
    """
    _check_paging(page, per_page)
    _check_durations(min_duration, max_duration)

    courses = Course.__table__
    filters: list[ColumnElement[bool]] = []
    if not include_retired:
        filters.append(courses.c.status != "retired")
    if plus_only:
        filters.append(courses.c.is_plus.is_(True))
    if publisher is not None and publisher.strip():
        publisher_ids = _publisher_ids_named(session, publisher)
        filters.append(courses.c.publisher_id.in_(publisher_ids) if publisher_ids else false())
    if language is not None and language.strip():
        languages = _languages_tagged(session, language)
        filters.append(courses.c.language.in_(languages) if languages else false())
    if min_duration is not None:
        filters.append(courses.c.duration_minutes >= min_duration)
    if max_duration is not None:
        filters.append(courses.c.duration_minutes <= max_duration)

    ranked = _rank(session.get_bind().dialect.name, search_terms(query))
    condition = and_(ranked.match, *filters)
    total = session.execute(
        select(func.count()).select_from(ranked.count_source).where(condition)
    ).scalar_one()
    rows = []
    if total > (page - 1) * per_page:
        rows = list(
            session.execute(
                _with_summary_columns(ranked.source)
                .where(condition)
                .order_by(*ranked.order_by)
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        )
    return SearchPage(
        query=query,
        courses=tuple(_summary_from_row(row) for row in rows),
        total=total,
        page=page,
        per_page=per_page,
    )


@dataclass(frozen=True)
class _Ranked:
    source: Any  # FROM clause: courses, joined to the full-text table when searching
    count_source: Any
    match: ColumnElement[bool]
    order_by: tuple[Any, ...]


@dataclass(frozen=True)
class _Matching:
    """How one backend matches words: a FROM clause, the match condition, whether the title
    matches any word, and the relevance order (best first)."""

    source: Any
    count_source: Any  # the same rows, possibly cheaper to count
    match: ColumnElement[bool]
    title_hit: ColumnElement[bool]
    relevance: tuple[Any, ...]


def _rank(dialect: str, terms: list[str]) -> _Ranked:
    """The FROM clause, condition and order for a search, per database.

    Chinese, Japanese and Korean are written without spaces, so both tokenizers index a whole
    run of such characters as one word ("個人情報保護"): words with CJK characters are matched
    as substrings instead (a scan, but such queries are few), so "情報" finds "個人情報保護".
    """
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"course search does not support the {dialect} database")
    courses = Course.__table__
    title_order = _title_order(dialect)
    if not terms:
        return _Ranked(source=courses, count_source=courses, match=true(), order_by=title_order)

    word_terms = [term for term in terms if not has_cjk(term)]
    cjk_terms = [term for term in terms if has_cjk(term)]
    if word_terms:
        matching = (_sqlite_matching if dialect == "sqlite" else _postgresql_matching)(word_terms)
    else:
        matching = _Matching(
            source=courses, count_source=courses, match=true(), title_hit=false(), relevance=()
        )
    match = matching.match
    title_hit = matching.title_hit
    if cjk_terms:
        match = and_(match, *(_contains_anywhere(term) for term in cjk_terms))
        title_hit = or_(
            title_hit, *(courses.c.title.contains(term, autoescape=True) for term in cjk_terms)
        )
    return _Ranked(
        source=matching.source,
        count_source=matching.count_source,
        match=match,
        order_by=(title_hit.desc(), *matching.relevance, *title_order),
    )


def has_cjk(term: str) -> bool:
    """Whether ``term`` has a Chinese, Japanese or Korean character."""
    return any(
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0xFF66 <= code <= 0xFF9F  # half-width katakana
        or 0x20000 <= code <= 0x2FA1F  # CJK extensions B and later
        for code in map(ord, term)
    )


def _contains_anywhere(term: str) -> ColumnElement[bool]:
    courses = Course.__table__
    return or_(
        courses.c.title.contains(term, autoescape=True),
        courses.c.description.contains(term, autoescape=True),
        courses.c.publisher_id.in_(
            select(Publisher.id).where(Publisher.name.contains(term, autoescape=True))
        ),
    )


def _title_order(dialect: str) -> tuple[Any, ...]:
    """Case-insensitive title order (served by the migration's ix_courses_search_title)."""
    courses = Course.__table__
    if dialect == "sqlite":
        return (courses.c.title.collate("NOCASE"), courses.c.id)
    return (func.lower(courses.c.title), courses.c.id)


def _sqlite_matching(terms: list[str]) -> _Matching:
    """FTS5 match and bm25 score, computed first in a materialized CTE: left to itself, the
    planner may walk an index on ``courses`` (say ``is_plus``) and run the MATCH once per row."""
    courses = Course.__table__
    fts = table("course_fts", column("rowid"))
    title_fts = table("course_fts", column("rowid"))  # a second FROM for the title-only match
    fts_name = literal_column("course_fts")
    score = func.bm25(fts_name, *(literal_column(weight) for weight in BM25_WEIGHTS))
    match = fts_name.op("MATCH")(sqlite_match_expression(terms))
    hits = select(fts.c.rowid.label("course_pk"), score.label("score")).where(match).cte("course_hits")
    # Counting needs no score: skip computing bm25 for every hit.
    hit_ids = select(fts.c.rowid.label("course_pk")).where(match).cte("course_hit_ids")
    if sqlite3.sqlite_version_info >= (3, 35, 0):
        hits = hits.prefix_with("MATERIALIZED")
        hit_ids = hit_ids.prefix_with("MATERIALIZED")
    title_hit = courses.c.id.in_(
        select(title_fts.c.rowid).where(
            fts_name.op("MATCH")(sqlite_match_expression(terms, column_name="title"))
        )
    )
    return _Matching(
        source=hits.join(courses, courses.c.id == hits.c.course_pk),
        count_source=hit_ids.join(courses, courses.c.id == hit_ids.c.course_pk),
        match=true(),
        title_hit=title_hit,
        relevance=(hits.c.score,),  # bm25: lower is better
    )


def _postgresql_matching(terms: list[str]) -> _Matching:
    courses = Course.__table__
    fts = table("course_fts", column("course_id"), column("document"))
    config = literal_column(f"'{POSTGRESQL_SEARCH_CONFIG}'::regconfig")
    tsquery = func.to_tsquery(config, postgresql_tsquery(terms))
    title_tsquery = func.to_tsquery(config, postgresql_tsquery(terms, weight="A"))
    matches = fts.c.document.op("@@", return_type=Boolean)
    rank = func.ts_rank(fts.c.document, tsquery, literal_column("1"))
    source = fts.join(courses, courses.c.id == fts.c.course_id)
    return _Matching(
        source=source,
        count_source=source,
        match=matches(tsquery),
        title_hit=matches(title_tsquery),
        relevance=(rank.desc(),),
    )


_publishers = aliased(Publisher, name="p")
_bundles = aliased(Bundle, name="b")
_replacements = aliased(Course, name="r")


def _with_summary_columns(source: Any) -> Select[Any]:
    courses = Course.__table__
    return select(
        courses.c.catalog_id,
        courses.c.title,
        _publishers.name.label("publisher"),
        courses.c.language,
        courses.c.duration_minutes,
        courses.c.is_plus,
        courses.c.volume_price_cents,
        courses.c.ppu_price_cents,
        courses.c.status,
        _bundles.name.label("bundle"),
        _bundles.is_subscription_only,
        _replacements.catalog_id.label("replacement_id"),
    ).select_from(
        source.join(_publishers, _publishers.id == courses.c.publisher_id)
        .outerjoin(_bundles, _bundles.id == courses.c.bundle_id)
        .outerjoin(_replacements, _replacements.id == courses.c.replacement_course_pk)
    )


def _summary_from_row(row: Any) -> CourseSummary:
    return CourseSummary(
        catalog_id=row.catalog_id,
        title=row.title,
        publisher=row.publisher,
        language=row.language,
        duration_minutes=row.duration_minutes,
        is_plus=bool(row.is_plus),
        volume_price_cents=row.volume_price_cents,
        ppu_price_cents=row.ppu_price_cents,
        status=row.status,
        bundle=row.bundle,
        is_subscription_only=bool(row.is_subscription_only),
        replacement_id=row.replacement_id,
    )


def _publisher_ids_named(session: Session, name: str) -> list[int]:
    """Publishers whose name equals ``name`` ignoring case (Unicode-aware, unlike SQLite's
    lower()); the publishers table is small (hundreds of rows)."""
    wanted = name.strip().casefold()
    return [
        publisher_id
        for publisher_id, publisher_name in session.execute(select(Publisher.id, Publisher.name))
        if publisher_name.casefold() == wanted
    ]


def _languages_tagged(session: Session, tag: str) -> list[str]:
    """The catalog's languages that ``tag`` names, ignoring case: "en" is en, en-GB, en-US...
    Resolved to exact values (:func:`catalog_languages`) so the filter is an indexed ``IN``
    rather than a ``lower()``/``LIKE`` scan."""
    wanted = tag.strip().casefold()
    return [
        value
        for value in catalog_languages(session)
        if value.casefold() == wanted or value.casefold().startswith(wanted + "-")
    ]


# --- filter options ------------------------------------------------------------------------------

# A "loose index scan": each step seeks the next larger language in ``ix_courses_language``, so
# finding the catalog's few languages costs a few index look-ups, however many courses there
# are (``SELECT DISTINCT`` would read every entry of the index). The same SQL on both databases.
_LANGUAGES_SQL = text(
    "WITH RECURSIVE langs(language) AS ("
    " SELECT MIN(language) FROM courses"
    " UNION ALL"
    " SELECT (SELECT MIN(c.language) FROM courses c WHERE c.language > langs.language)"
    " FROM langs WHERE langs.language IS NOT NULL"
    ") SELECT language FROM langs WHERE language IS NOT NULL"
)


def catalog_languages(session: Session) -> list[str]:
    """Every language tag in the catalog, sorted (retired courses' included), found with a few
    index seeks rather than a scan of the catalog."""
    return sorted(str(value) for value in session.scalars(_LANGUAGES_SQL))


def publisher_names(session: Session) -> list[str]:
    """Every publisher's name in name order (ignoring case and accents: "ábaco" before "Safe
    Co"): the small ``publishers`` table (one row per publisher, hundreds at most), never the
    catalog."""
    return sorted(session.scalars(select(Publisher.name)), key=lambda name: (_sort_key(name), name))


def _sort_key(text_: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text_)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _check_paging(page: int, per_page: int) -> None:
    if page < 1:
        raise InvalidInput(f"page must be 1 or more, got {page}", reason="invalid_page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(
            f"per page must be between 1 and {MAX_PER_PAGE}, got {per_page}", reason="invalid_page"
        )


def _check_durations(min_duration: int | None, max_duration: int | None) -> None:
    for label, value in (("minimum", min_duration), ("maximum", max_duration)):
        if value is not None and value < 0:
            raise InvalidInput(
                f"{label} duration must not be negative, got {value}", reason="invalid_duration"
            )
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise InvalidInput(
            f"minimum duration {min_duration} is above maximum duration {max_duration}",
            reason="invalid_duration",
        )
