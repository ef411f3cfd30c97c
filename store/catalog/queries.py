"""Catalog reads: course look-ups by catalog id and full-text search with filters and pages.

Search runs on the per-database index built by migration 0002: SQLite FTS5 (``course_fts``,
ranked with bm25 and column weights) or PostgreSQL full text (``course_fts.document``, ranked
with ts_rank over weights title A, publisher B, description C). On both, a course whose title
matches a search word ranks above one that matches only in its description or publisher.

A search with words never reads the wide ``courses`` table for its matches: the index carries
copies of the filter columns and a title key (migration 0016: SQLite's narrow
``course_fts_filters`` beside the FTS5 table, PostgreSQL's columns on ``course_fts``), so the
matches are filtered, counted and ordered there in one pass (a materialized CTE, counted and
sorted), and ``courses`` is read only for the page's rows.

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
    Integer,
    Select,
    String,
    and_,
    case,
    column,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
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


def sqlite_match_expression(terms: list[str]) -> str:
    """An FTS5 query: every term quoted (so it is only text), all required."""
    quoted = [f'"{term}"*' if len(term) >= PREFIX_MIN_LENGTH else f'"{term}"' for term in terms]
    return " AND ".join(quoted)


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

    publisher_ids = None
    if publisher is not None and publisher.strip():
        publisher_ids = _publisher_ids_named(session, publisher)
    languages = None
    if language is not None and language.strip():
        languages = _languages_tagged(session, language)

    def filters(rows: Any) -> list[ColumnElement[bool]]:
        """The filters on ``rows``: ``courses`` or the full-text index's copy of its columns."""
        out: list[ColumnElement[bool]] = []
        if not include_retired:
            out.append(rows.c.status != "retired")
        if plus_only:
            out.append(rows.c.is_plus.is_(True))
        if publisher_ids is not None:
            out.append(rows.c.publisher_id.in_(publisher_ids) if publisher_ids else false())
        if languages is not None:
            out.append(rows.c.language.in_(languages) if languages else false())
        if min_duration is not None:
            out.append(rows.c.duration_minutes >= min_duration)
        if max_duration is not None:
            out.append(rows.c.duration_minutes <= max_duration)
        return out

    dialect = session.get_bind().dialect.name
    terms = search_terms(query)
    if dialect in ("sqlite", "postgresql") and any(not has_cjk(term) for term in terms):
        total, rows = _search_index(session, dialect, terms, filters, page, per_page)
    else:
        total, rows = _search_courses_table(session, dialect, terms, filters, page, per_page)
    return SearchPage(
        query=query,
        courses=tuple(_summary_from_row(row) for row in rows),
        total=total,
        page=page,
        per_page=per_page,
    )


def _search_courses_table(
    session: Session, dialect: str, terms: list[str], filters: Any, page: int, per_page: int
) -> tuple[int, list[Any]]:
    """Browse (no words) or only CJK words: the ``courses`` table, in title order or with the
    title hits first."""
    courses = Course.__table__
    ranked = _rank(dialect, terms)
    condition = and_(ranked.match, *filters(courses))
    total = session.execute(
        select(func.count()).select_from(ranked.source).where(condition)
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
    return total, rows


def _search_index(
    session: Session, dialect: str, terms: list[str], filters: Any, page: int, per_page: int
) -> tuple[int, list[Any]]:
    """Searches with words: matched, filtered, counted and ordered on the full-text index alone
    (it carries copies of the filter columns and the title, migration 0016); ``courses`` is
    read only for the page's rows (and for CJK words, matched as substrings of the course)."""
    word_terms = [term for term in terms if not has_cjk(term)]
    cjk_terms = [term for term in terms if has_cjk(term)]
    hits = (_sqlite_hits if dialect == "sqlite" else _postgresql_hits)(word_terms)
    courses = Course.__table__
    source = hits.source
    condition = and_(hits.match, *filters(hits.rows))
    title_hit = hits.title_hit
    if cjk_terms:
        source = source.join(courses, courses.c.id == hits.pk)
        condition = and_(condition, *(_contains_anywhere(term) for term in cjk_terms))
        title_hit = or_(
            title_hit, *(courses.c.title.contains(term, autoescape=True) for term in cjk_terms)
        )
    offset = (page - 1) * per_page
    # On PostgreSQL title hits come first, so when there are enough of them for the page only
    # they need a relevance score (the costly part: ts_rank reads each whole document): try
    # that first, and score every match only when the page reaches past the title hits. (On
    # SQLite bm25 is cheap: one pass.)
    total, title_hits, rows = _index_page(
        session, hits, source, condition, title_hit, offset, per_page,
        score_all=dialect == "sqlite",
    )
    if title_hits < offset + per_page and total > title_hits and dialect != "sqlite":
        total, title_hits, rows = _index_page(
            session, hits, source, condition, title_hit, offset, per_page, score_all=True
        )
    return total, rows


def _index_page(
    session: Session,
    hits: _Hits,
    source: Any,
    condition: ColumnElement[bool],
    title_hit: ColumnElement[bool],
    offset: int,
    per_page: int,
    *,
    score_all: bool,
) -> tuple[int, int, list[Any]]:
    """One page of matches, the total and the number of title hits. Without ``score_all`` only
    title hits get a score (the others none): the page is right when it ends within them."""
    courses = Course.__table__
    is_title_hit = case((title_hit, 1), else_=0)
    score = hits.score if score_all else case((title_hit, hits.score), else_=null())
    # The matches with what the order needs, computed once (a materialized CTE: PostgreSQL
    # would otherwise carry every document up to the sort), then counted and sorted: one pass
    # over the index instead of one for the page and one for the total.
    matched = (
        select(
            hits.pk.label("pk"),
            is_title_hit.label("title_hit"),
            score.label("score"),
            hits.rows.c.title_key.label("title_key"),
        )
        .select_from(source)
        .where(condition)
        .cte("matched")
    )
    if session.get_bind().dialect.name == "postgresql" or sqlite3.sqlite_version_info >= (3, 35, 0):
        matched = matched.prefix_with("MATERIALIZED")
    total = select(func.count()).select_from(matched).scalar_subquery()
    # The number of title hits matters only when not everything is scored.
    title_hits = (
        literal(0)
        if score_all
        else select(func.count()).select_from(matched).where(matched.c.title_hit == 1).scalar_subquery()
    )
    page_hits = (
        select(
            matched,
            total.label("total"),
            title_hits.label("title_hits"),
        )
        .order_by(
            matched.c.title_hit.desc(),
            hits.score_order(matched.c.score),
            hits.title_order(matched.c.title_key),
            matched.c.pk,
        )
        .limit(per_page)
        .offset(offset)
        .subquery("page_hits")
    )
    rows = list(
        session.execute(
            _with_summary_columns(page_hits.join(courses, courses.c.id == page_hits.c.pk))
            .add_columns(page_hits.c.total, page_hits.c.title_hits)
            .order_by(
                page_hits.c.title_hit.desc(),
                hits.score_order(page_hits.c.score),
                hits.title_order(page_hits.c.title_key),
                page_hits.c.pk,
            )
        )
    )
    if rows:
        return rows[0].total, rows[0].title_hits, rows
    if offset == 0:
        return 0, 0, rows
    # A page past the last: the counts alone.
    counts = session.execute(select(total.label("total"), title_hits.label("title_hits"))).one()
    return counts.total, counts.title_hits, rows


@dataclass(frozen=True)
class _Ranked:
    source: Any  # FROM clause: courses
    match: ColumnElement[bool]
    order_by: tuple[Any, ...]


def _rank(dialect: str, terms: list[str]) -> _Ranked:
    """Browsing (no words) or words all in Chinese, Japanese or Korean, on ``courses``.

    Chinese, Japanese and Korean are written without spaces, so both tokenizers index a whole
    run of such characters as one word ("個人情報保護"): words with CJK characters are matched
    as substrings instead (a scan, but such queries are few), so "情報" finds "個人情報保護".
    """
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"course search does not support the {dialect} database")
    courses = Course.__table__
    title_order = _title_order(dialect)
    if not terms:
        return _Ranked(source=courses, match=true(), order_by=title_order)
    title_hit = or_(*(courses.c.title.contains(term, autoescape=True) for term in terms))
    return _Ranked(
        source=courses,
        match=and_(*(_contains_anywhere(term) for term in terms)),
        order_by=(title_hit.desc(), *title_order),
    )


def course_ranking(dialect: str, terms: list[str]) -> _Ranked:
    """The catalog search's matching and order for callers that add their own conditions on
    ``courses`` (an account's licensed courses): a FROM clause ending in ``courses``, the match
    condition and the order (title hits first, then relevance, then title), the same ranking
    as :func:`search_courses`. No words: every course in title order."""
    word_terms = [term for term in terms if not has_cjk(term)]
    if not word_terms:
        return _rank(dialect, terms)
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"course search does not support the {dialect} database")
    cjk_terms = [term for term in terms if has_cjk(term)]
    hits = (_sqlite_hits if dialect == "sqlite" else _postgresql_hits)(word_terms)
    courses = Course.__table__
    title_hit = or_(hits.title_hit, *(courses.c.title.contains(term, autoescape=True) for term in cjk_terms))
    return _Ranked(
        source=hits.source.join(courses, courses.c.id == hits.pk),
        match=and_(hits.match, *(_contains_anywhere(term) for term in cjk_terms)),
        order_by=(title_hit.desc(), hits.score_order(hits.score), *_title_order(dialect)),
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


@dataclass(frozen=True)
class _Hits:
    """The full-text matches of some words, per database: a FROM clause over the index and its
    copy of the filter columns (``rows``: title, status, is_plus, publisher_id, language,
    duration_minutes), the course key, the match condition, whether the title matches any
    word, and the relevance score with its order (best first)."""

    source: Any
    rows: Any
    pk: ColumnElement[Any]
    match: ColumnElement[bool]
    title_hit: ColumnElement[bool]
    score: ColumnElement[Any]
    dialect: str

    def score_order(self, score: Any) -> Any:
        return score if self.dialect == "sqlite" else score.desc()  # bm25: lower is better

    def title_order(self, title_key: Any) -> Any:
        """Case-insensitive, as :func:`_title_order`: the index's ``title_key`` is the title on
        SQLite (compared with NOCASE), ``lower(title)`` on PostgreSQL."""
        return title_key.collate("NOCASE") if self.dialect == "sqlite" else title_key


def _filter_columns(name: str, key: str, *more: Any) -> Any:
    return table(
        name,
        column(key, Integer),
        column("title_key", String),
        column("status", String),
        column("is_plus", Boolean),
        column("publisher_id", Integer),
        column("language", String),
        column("duration_minutes", Integer),
        *more,
    )


def _sqlite_hits(terms: list[str]) -> _Hits:
    """FTS5 match and bm25 scores, computed first in a materialized CTE (left to itself, the
    planner may walk a table by an index and run the MATCH once per row), then the narrow
    ``course_fts_filters`` row of each hit by its key.

    The title hit is a second bm25 with weight 1 for the title and 0 for the other columns: it
    is 0 exactly when no word matches in the title (bm25 adds a positive amount for every
    phrase instance in a column of non-zero weight), so no second MATCH is needed."""
    fts = table("course_fts", column("rowid"))
    fts_name = literal_column("course_fts")
    score = func.bm25(fts_name, *(literal_column(weight) for weight in BM25_WEIGHTS))
    title_score = func.bm25(fts_name, literal_column("1.0"), literal_column("0.0"), literal_column("0.0"))
    hits = select(
        fts.c.rowid.label("course_pk"), score.label("score"), title_score.label("title_score")
    ).where(fts_name.op("MATCH")(sqlite_match_expression(terms))).cte("course_hits")
    if sqlite3.sqlite_version_info >= (3, 35, 0):
        hits = hits.prefix_with("MATERIALIZED")
    rows = _filter_columns("course_fts_filters", "course_pk")
    return _Hits(
        source=hits.join(rows, rows.c.course_pk == hits.c.course_pk),
        rows=rows,
        pk=hits.c.course_pk,
        match=true(),
        title_hit=hits.c.title_score != 0,
        score=hits.c.score,
        dialect="sqlite",
    )


def _postgresql_hits(terms: list[str]) -> _Hits:
    rows = _filter_columns("course_fts", "course_id", column("document", TSVECTOR))
    document = rows.c.document
    config = literal_column(f"'{POSTGRESQL_SEARCH_CONFIG}'::regconfig")
    tsquery = func.to_tsquery(config, postgresql_tsquery(terms))
    title_tsquery = func.to_tsquery(config, postgresql_tsquery(terms, weight="A"))
    matches = document.op("@@", return_type=Boolean)
    return _Hits(
        source=rows,
        rows=rows,
        pk=rows.c.course_id,
        match=matches(tsquery),
        title_hit=matches(title_tsquery),
        score=func.ts_rank(document, tsquery, literal_column("1")),
        dialect="postgresql",
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
