"""Dispatch package use cases. Each owns its transaction; the zip itself is built outside it.

- Packages: ``prepare_package`` checks that the account holds the license and creates the
  package key (or reuses the existing one for the same account, course, license type and
  format), ``prepare_packages`` does it for several chosen courses at once (the dashboard's
  Download Packages), ``build_package_zip`` makes the zip from it, ``prepare_export`` does the same for
  every course an account holds a license for. ``revoke_package`` revokes a key;
  ``list_packages`` lists an account's packages.
- Allowed LMS domains (``allow_domain``, ``remove_domain``, ``list_domains``): an account with
  no domain listed allows any LMS; once one is listed, only launches from those domains (and
  their subdomains) are accepted.
- ``dispatch_launch``: the server side of a package launch: verify the package and the signed
  launch token, use up the token's id (a launch token is accepted once), check the LMS domain
  (the browser's ``Origin``; an account that restricts domains refuses launches without one),
  that the course has content to play, and the new-learner rate limit, then claim the seat
  through the seat engine (``store.licenses.service.claim_seat``) as learner ``package:<key>`` +
  the LMS learner id. Every launch whose signature verified is recorded in
  ``dispatch_launches``, refusals included; the dispatch path's own refusals (a domain that is
  not allowed or no Origin, a revoked or replaced copy, a course without content) also go to
  ``launch_refusals`` (``store.licenses.service.add_refusal``), the dashboard's Needs Attention
  list, with the learner as the LMS named them.
- ``check_player_launch``: the course player of a dispatch launch stops once its package is
  revoked or replaced by a newer generation (the player asks on every page load and API call).

Rate limit: at most ``new_learners_per_minute`` learners new to a package get a seat through it
in any 60 seconds (counted from ``dispatch_launches``, so every app server sees the same count;
learners the package already knows are never limited). Two servers checking at the same moment
may each let one more in: a brake on a leaked package, not an exact quota.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Row,
    Select,
    any_,
    bindparam,
    delete,
    func,
    null,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from scorm_packages.manifest import FORMATS, ManifestSpec
from scorm_packages.models import DispatchAllowedDomain, DispatchLaunch, DispatchLaunchToken, DispatchPackage
from scorm_packages.packaging import PACKAGE_FILES, BuiltPackage, PackageSpec, build_package, normalize_base_url
from scorm_packages.packaging import package_filename as _package_filename
from scorm_packages.tokens import (
    LaunchClaims,
    LaunchTokenError,
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    new_public_key,
    new_secret,
    peek_launch_token,
    read_launch_token,
)
from store.accounts.models import Account, Learner
from store.accounts.queries import get_account
from store.accounts.service import LearnerIdentity
from store.base import require_aware
from store.catalog.models import Bundle, Course
from store.content import ContentNotAvailable, ContentPackage, content_kind, mastery_score_of
from store.content.queries import current_package, current_packages
from store.errors import AccessDenied, InvalidInput, NotFound, StoreError
from store.licenses import holdings, holdings_rules
from store.licenses import rules
from store.licenses.labels import license_label
from store.licenses.holdings import Verdict
from store.licenses.service import ClaimRequest, SeatView, add_refusal, claim_seat
from store.database import delete_in_batches, upsert_insert

log = logging.getLogger(__name__)

NEW_LEARNERS_PER_MINUTE = 30
RATE_WINDOW = timedelta(seconds=60)
SOURCE_PREFIX = "package:"
_IN_CHUNK = 500
_EXPORT_CHUNK = 2000  # courses per step of an export (one transaction in all)


# ---------------------------------------------------------------- errors


class PackageError(StoreError):
    reason = "package_error"


class LicenseNotHeld(PackageError):
    reason = "license_not_held"


class BundleExcluded(PackageError):
    reason = "bundle_excluded"


class CourseRetired(PackageError):
    reason = "course_retired"


class PackageNotFound(NotFound):
    reason = "unknown_package"


class InvalidDomain(InvalidInput):
    reason = "invalid_domain"


class PackageRevoked(AccessDenied):
    """The course player of a dispatch launch whose package was revoked, replaced by a newer
    generation, or deleted."""

    reason = "package_revoked"
    title = "This course package has been revoked"
    ask = "Your LMS administrator can download a new copy of the package and upload it to the LMS."


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class PackageView:
    key: str
    account_id: int
    account_name: str
    catalog_id: str  # catalog id
    course_title: str
    license_type: str
    format: str
    generation: int
    created_at: datetime
    built_at: datetime
    revoked_at: datetime | None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def filename(self) -> str:
        return _package_filename(self.course_title, self.catalog_id, self.license_type, self.format)

    @property
    def license_label(self) -> str:
        return license_label(self.license_type)


@dataclass(frozen=True)
class PreparedPackage:
    """A package key with what its zip needs (secret included: keep it out of logs)."""

    view: PackageView
    secret: str
    description: str
    language: str
    mastery_score: float | None
    was_created: bool
    was_reactivated: bool  # revoked (or its secret lost) before this build: older copies stay refused

    def spec(self, base_url: str) -> PackageSpec:
        v = self.view
        manifest = ManifestSpec(
            package_key=v.key, catalog_id=v.catalog_id, course_title=v.course_title, license_type=v.license_type,
            mastery_score=self.mastery_score, description=self.description, language=self.language,
            files=PACKAGE_FILES,
        )
        return PackageSpec(manifest=manifest, fmt=v.format, base_url=base_url, generation=v.generation,
                           secret=self.secret)


def _view(package: DispatchPackage | Row, account: Account, course: Course | Row, *,
          built_at: datetime | None = None) -> PackageView:
    return PackageView(package.public_key, account.id, account.name, course.catalog_id, course.title,
                       package.license_type, package.format, package.generation, package.created_at,
                       built_at or package.built_at, package.revoked_at)


def _check_kind(license_type: str, fmt: str | None = None) -> None:
    if license_type not in rules.LICENSE_TYPES:
        raise InvalidInput(f"license type must be one of {', '.join(rules.LICENSE_TYPES)}, got {license_type!r}",
                           reason="invalid_license_type")
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}", reason="invalid_format")


# ---------------------------------------------------------------- licenses held


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "(unknown date)"


def _not_held(session: Session, account: Account, course: Course | Row, verdict: Verdict) -> PackageError:
    """The error for a license the account does not hold now; the message says what the
    verdict's reason code means for this account and course."""
    plus = verdict.license_type == "plus"
    label = license_label(verdict.license_type)
    name, cid = account.name, course.catalog_id
    match verdict.reason:
        case "course_retired":
            return CourseRetired(f"course {cid!r} is retired: no new packages are made for it")
        case "bundle_excluded":
            bundle = session.get(Bundle, course.bundle_id) if course.bundle_id else None
            return BundleExcluded(
                f"course {cid!r} belongs to the subscription-only bundle {bundle.name if bundle else ''!r}: it is "
                f"delivered only with the Plus subscription, never as {label}")
        case "not_covered":
            message = f"course {cid!r} is not in the Plus catalog: it cannot be delivered with the Plus subscription"
        case "no_license" if plus:
            message = f"account {name!r} has no active Plus subscription"
        case "no_license":
            message = f"account {name!r} has bought no Volume seats for course {cid!r}"
        case "not_started" if plus:
            message = (f"account {name!r}'s Plus subscription starts on {_day(verdict.starts_at)}: "
                       "packages can be made from then")
        case "not_started":
            message = (f"account {name!r}'s Volume seats for course {cid!r} start on {_day(verdict.starts_at)}: "
                       "packages can be made from then")
        case "license_expired" if plus:
            message = (f"account {name!r} has no active Plus subscription (it has expired: its term ended on "
                       f"{_day(verdict.ended_at)})")
        case "license_expired":
            message = f"account {name!r}'s Volume seats for course {cid!r} expired on {_day(verdict.ended_at)}"
        case "ppu_not_configured":
            message = f"account {name!r} is not configured for Pay Per Use (or it is switched off)"
        case "not_in_library":
            message = f"course {cid!r} is not in account {name!r}'s Pay Per Use library: add it to the library first"
        case _:
            message = f"account {name!r} holds no {label} license for course {cid!r} now"
    return LicenseNotHeld(message, reason=verdict.reason)


def licensed_catalog_ids(session: Session, account: Account, license_type: str, now: datetime) -> list[str]:
    """Catalog ids of the courses the account can get packages for under a license type: the
    courses deliverable under it now."""
    _check_kind(license_type)
    return holdings.deliverable_catalog_ids(session, account.id, license_type, now)


# ---------------------------------------------------------------- package keys


@dataclass(frozen=True)
class _Wanted:
    """One package key to create or reuse: the course (a row of ``_COURSE_COLUMNS``), what
    decides its licenses, and the license type."""

    course: Row
    facts: rules.CourseFacts
    license_type: str

    @property
    def kind(self) -> tuple[int, str]:
        return self.course.id, self.license_type


_COURSE_COLUMNS = (Course.id, Course.catalog_id, Course.title, Course.description, Course.language, Course.bundle_id,
                   Course.is_plus, Course.status, Course.ppu_price_cents,
                   func.coalesce(Bundle.is_subscription_only, False).label("sub_only"))


def _one_of(session: Session, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter instead of
    hundreds (psycopg parses a statement's placeholders each time it is sent)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _courses(session: Session, catalog_ids: Iterable[str]) -> dict[str, tuple[Row, rules.CourseFacts]]:
    """What a package needs of each course, by catalog id, with its license facts;
    ``_IN_CHUNK`` ids per query (unknown ids are left out)."""
    wanted = sorted(set(catalog_ids))
    out: dict[str, tuple[Row, rules.CourseFacts]] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        for course in session.execute(select(*_COURSE_COLUMNS).outerjoin(Bundle, Bundle.id == Course.bundle_id)
                                      .where(_one_of(session, Course.catalog_id, wanted[start:start + _IN_CHUNK]))):
            out[course.catalog_id] = course, rules.CourseFacts(
                id=course.id, is_plus=course.is_plus, status=course.status,
                is_subscription_only_bundle=bool(course.sub_only), ppu_price_cents=course.ppu_price_cents)
    return out


def _checked(session: Session, account: Account, items: Sequence[tuple[str, str]],
             now: datetime) -> list[_Wanted]:
    """The courses of ``items`` in the order given, each license checked (the account's holdings
    loaded once per license type): the first unknown course raises ``NotFound``, the first license
    not held its ``PackageError``."""
    courses = _courses(session, (catalog_id for catalog_id, _ in items))
    pks = [course.id for course, _ in courses.values()]
    held: dict[str, holdings_rules.Holdings] = {}
    out: list[_Wanted] = []
    for catalog_id, license_type in items:
        if catalog_id not in courses:
            raise NotFound(f"unknown course {catalog_id!r} (give its catalog id)", reason="unknown_course")
        course, facts = courses[catalog_id]
        if license_type not in held:
            held[license_type] = holdings.load_holdings(session, account.id, pks, license_type=license_type)
        verdict = holdings_rules.verdict(facts, held[license_type], license_type, now)
        if not verdict.deliverable:
            raise _not_held(session, account, course, verdict)
        out.append(_Wanted(course, facts, license_type))
    return out


def _existing(session: Session, account_id: int, fmt: str,
              course_pks: Sequence[int] | None) -> dict[tuple[int, str], Row]:
    """The account's package rows in this format (of these courses; None: of every course),
    locked, by (course, license type)."""
    table = DispatchPackage.__table__
    mine = select(table).where(table.c.account_id == account_id, table.c.format == fmt).with_for_update()
    if course_pks is None:
        return {(row.course_pk, row.license_type): row for row in session.execute(mine)}
    found: dict[tuple[int, str], Row] = {}
    pks = sorted(set(course_pks))
    for start in range(0, len(pks), _IN_CHUNK):
        for row in session.execute(mine.where(_one_of(session, table.c.course_pk, pks[start:start + _IN_CHUNK]))):
            found[row.course_pk, row.license_type] = row
    return found


def _insert_new(session: Session, settings: Settings, account_id: int, kinds: Sequence[tuple[int, str]], fmt: str,
                now: datetime) -> tuple[dict[tuple[int, str], Row], dict[str, str]]:
    """New keys for these (course, license type) pairs, ``_IN_CHUNK`` per statement: the rows
    inserted (a pair another transaction created first is left out) and their secrets by public
    key."""
    if not kinds:
        return {}, {}
    secrets_by_key = {new_public_key(): new_secret() for _ in kinds}
    values = [dict(public_key=key, account_id=account_id, course_pk=course_pk, license_type=license_type,
                   format=fmt, secret_encrypted=encrypt_secret(settings, secret), generation=1, created_at=now,
                   built_at=now, revoked_at=None)
              for (key, secret), (course_pk, license_type) in zip(secrets_by_key.items(), kinds, strict=True)]
    inserted: dict[tuple[int, str], Row] = {}
    for start in range(0, len(values), _IN_CHUNK):
        for row in session.execute(*_insert_statement(session, values[start:start + _IN_CHUNK])):
            inserted[row.course_pk, row.license_type] = row
    return inserted, secrets_by_key


_KEY_COLUMNS = ("public_key", "course_pk", "license_type", "secret_encrypted")


def _insert_statement(session: Session, values: list[dict[str, Any]]) -> tuple[Any, ...]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING for these rows: on PostgreSQL one statement over
    ``unnest`` of four arrays (four parameters instead of ten per row: psycopg parses every
    placeholder of a statement it sends), elsewhere a multi-row VALUES."""
    table = DispatchPackage.__table__
    conflict = ["account_id", "course_pk", "license_type", "format"]
    if session.get_bind().dialect.name != "postgresql":
        return (upsert_insert(session)(table).on_conflict_do_nothing(index_elements=conflict)
                .returning(*table.c), values)
    arrays = func.unnest(*(bindparam(None, [v[c] for v in values], type_=ARRAY(table.c[c].type))
                           for c in _KEY_COLUMNS)).table_valued(*_KEY_COLUMNS).render_derived()
    first = values[0]

    def same(column: str) -> Any:  # the same value in every row
        return bindparam(None, first[column], type_=table.c[column].type)

    rows = select(arrays.c.public_key, same("account_id"), arrays.c.course_pk, arrays.c.license_type, same("format"),
                  arrays.c.secret_encrypted, same("generation"), same("created_at"), same("built_at"), null())
    return (upsert_insert(session)(table).from_select(
        ["public_key", "account_id", "course_pk", "license_type", "format", "secret_encrypted", "generation",
         "created_at", "built_at", "revoked_at"], rows).on_conflict_do_nothing(index_elements=conflict)
        .returning(*table.c),)


def _reuse(session: Session, settings: Settings, row: Row) -> tuple[Row | None, str]:
    """The secret of an existing key; a revoked key (or one whose secret is unreadable) gets a new
    secret and generation (same key: learners keep their seats; copies made before stay refused):
    then also its updated row."""
    try:
        secret = decrypt_secret(settings, row.secret_encrypted)
    except SecretUnreadable:
        log.warning("package %s: secret unreadable (server key changed); making a new one", row.public_key)
        secret = ""
    if row.revoked_at is None and secret:
        return None, secret
    secret = new_secret()
    table = DispatchPackage.__table__
    updated = session.execute(update(table).where(table.c.id == row.id).values(
        secret_encrypted=encrypt_secret(settings, secret), generation=table.c.generation + 1, revoked_at=None)
        .returning(*table.c)).one()
    return updated, secret


def _touch(session: Session, ids: Sequence[int], now: datetime) -> None:
    table = DispatchPackage.__table__
    for start in range(0, len(ids), _IN_CHUNK):
        session.execute(update(table).where(_one_of(session, table.c.id, ids[start:start + _IN_CHUNK]))
                        .values(built_at=now))


def _ensure_many(session: Session, settings: Settings, account: Account, wanted: Sequence[_Wanted], fmt: str,
                 now: datetime, existing: dict[tuple[int, str], Row] | None = None) -> list[PreparedPackage]:
    """Create or reuse the package key of each wanted (course, license type) in this format, in
    one go: one locking read of the existing keys (unless ``existing`` has them already), one
    multi-row insert of the new ones, one update of their build time. The manifest's mastery
    score is ``mastery_score_of`` the course's current imported content (its own score, or the
    demo pass mark without one)."""
    kinds = list(dict.fromkeys(w.kind for w in wanted))
    rows = _existing(session, account.id, fmt, [pk for pk, _ in kinds]) if existing is None else existing
    new = [kind for kind in kinds if kind not in rows]
    inserted, secrets_by_key = _insert_new(session, settings, account.id, new, fmt, now)
    if len(inserted) < len(new):  # created meanwhile by another transaction: reuse that key
        rows.update(_existing(session, account.id, fmt, [pk for pk, lt in new if (pk, lt) not in inserted]))
    contents = _contents(session, [pk for pk, _ in kinds])
    prepared: dict[tuple[int, str], PreparedPackage] = {}
    touched: list[int] = []
    for w in wanted:
        if w.kind in prepared:
            continue
        row, reactivated = inserted.get(w.kind), False
        if row is not None:
            secret = secrets_by_key[row.public_key]
        else:
            updated, secret = _reuse(session, settings, rows[w.kind])
            row, reactivated = updated or rows[w.kind], updated is not None
            touched.append(row.id)
        prepared[w.kind] = PreparedPackage(
            _view(row, account, w.course, built_at=now), secret, w.course.description or "",
            w.course.language or "en", mastery_score_of(contents.get(w.course.id)),
            was_created=w.kind in inserted, was_reactivated=reactivated)
    _touch(session, touched, now)
    return [prepared[w.kind] for w in wanted]


def _contents(session: Session, course_pks: Sequence[int]) -> dict[int, ContentPackage]:
    pks = sorted(set(course_pks))
    found: dict[int, ContentPackage] = {}
    for start in range(0, len(pks), _IN_CHUNK):
        found.update(current_packages(session, pks[start:start + _IN_CHUNK]))
    return found


def prepare_package(sessions: sessionmaker[Session], settings: Settings, account_ref: str | int, catalog_id: str,
                    license_type: str, fmt: str, now: datetime) -> PreparedPackage:
    """Check the license and create or reuse the package key (one transaction)."""
    return prepare_packages(sessions, settings, account_ref, [(catalog_id, license_type)], fmt, now)[0]


def prepare_packages(sessions: sessionmaker[Session], settings: Settings, account_ref: str | int,
                     items: Sequence[tuple[str, str]], fmt: str, now: datetime) -> list[PreparedPackage]:
    """``prepare_package`` for several (catalog id, license type) pairs in one transaction, in
    the order given. Each key is created or reused (a revoked one re-activated) once its license
    is checked; the first license not held raises and the whole transaction rolls back."""
    for _catalog_id, license_type in items:
        _check_kind(license_type, fmt)
    now = require_aware(now, "now")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        return _ensure_many(session, settings, account, _checked(session, account, items, now), fmt, now)


def build_package_zip(sessions: sessionmaker[Session], settings: Settings, account_ref: str | int, catalog_id: str,
                      license_type: str, fmt: str, now: datetime,
                      base_url: str | None = None) -> tuple[PreparedPackage, BuiltPackage]:
    """The labeled zip for a held license (the key is reused when it exists)."""
    base = normalize_base_url(base_url or settings.public_base_url)
    prepared = prepare_package(sessions, settings, account_ref, catalog_id, license_type, fmt, now)
    return prepared, build_package(prepared.spec(base))


def prepare_export(sessions: sessionmaker[Session], settings: Settings, account_ref: str | int, fmt: str,
                   license_types: Sequence[str], now: datetime) -> list[PreparedPackage]:
    """Keys for every course the account holds a license for, per license type (one transaction).
    Raises ``LicenseNotHeld`` when there is none."""
    for license_type in license_types:
        _check_kind(license_type, fmt)
    now = require_aware(now, "now")
    out: list[PreparedPackage] = []
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        existing = _existing(session, account.id, fmt, None)  # an export reuses most of the account's keys
        for license_type in license_types:
            ids = licensed_catalog_ids(session, account, license_type, now)
            for start in range(0, len(ids), _EXPORT_CHUNK):
                courses = _courses(session, ids[start:start + _EXPORT_CHUNK])
                wanted = [_Wanted(*courses[catalog_id], license_type) for catalog_id in ids[start:start + _EXPORT_CHUNK]
                          if catalog_id in courses]
                out += _ensure_many(session, settings, account, wanted, fmt, now, existing)
        if not out:
            kinds = " or ".join(license_label(t) for t in license_types)
            raise LicenseNotHeld(f"account {account.name!r} holds no {kinds} license for any course")
    return out


def _package_rows(session: Session) -> Select[tuple[DispatchPackage, Account, Course]]:
    return select(DispatchPackage, Account, Course).join(Account, Account.id == DispatchPackage.account_id) \
        .join(Course, Course.id == DispatchPackage.course_pk)


def find_package(session: Session, key: str) -> PackageView | None:
    row = session.execute(_package_rows(session).where(DispatchPackage.public_key == key)).first()
    return _view(*row) if row else None


def list_packages(sessions: sessionmaker[Session], account_ref: str | int) -> list[PackageView]:
    with sessions() as session:
        account = get_account(session, account_ref)
        rows = session.execute(_package_rows(session).where(DispatchPackage.account_id == account.id)
                               .order_by(Course.catalog_id, DispatchPackage.license_type, DispatchPackage.format))
        return [_view(*row) for row in rows]


def revoke_package(sessions: sessionmaker[Session], key: str, now: datetime) -> tuple[PackageView, bool]:
    """Revoke a package key: every copy of it is refused at launch. Returns the package and
    whether it was revoked now (False: it already was). Building the package again re-activates
    the key with a new secret (same key: learners keep their seats)."""
    now = require_aware(now, "now")
    key = (key or "").strip()
    with sessions.begin() as session:
        row = session.execute(_package_rows(session).where(DispatchPackage.public_key == key)
                              .with_for_update(of=DispatchPackage)).first()
        if row is None:
            raise PackageNotFound(f"unknown package key {key!r} (see `lti-tool packages list --account A`)")
        package, account, course = row
        changed = package.revoked_at is None
        if changed:
            package.revoked_at = now
            session.flush()
        return _view(package, account, course), changed


def closure_step(session: Session, account_id: int) -> dict[str, int]:
    """The dispatch part of closing an account (``store.closure.service.close_account`` runs it in
    its transaction): its packages go, with their launches and used launch tokens, and its allowed
    LMS domains. A copy of a package in an LMS is then "not recognized" and takes no seat; an open
    course player of one stops at its next save or page load (the launch is gone)."""
    packages = session.execute(delete(DispatchPackage).where(DispatchPackage.account_id == account_id)).rowcount
    domains = session.execute(delete(DispatchAllowedDomain).where(DispatchAllowedDomain.account_id == account_id)
                              ).rowcount
    return {"packages": int(packages or 0), "allowed_domains": int(domains or 0)}


# ---------------------------------------------------------------- allowed LMS domains

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(raw: str) -> str:
    """A host name from what an admin typed: ``LMS.Example.edu``, ``https://lms.example.edu/x``,
    ``*.example.edu`` and ``.example.edu`` all give ``lms.example.edu``/``example.edu``. Non-ASCII
    names become their IDNA (punycode) form. IP addresses and ``localhost`` are accepted."""
    value = (raw or "").strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    value = value.split("/", 1)[0].split(":", 1)[0] if not value.startswith("[") else value
    for prefix in ("*.", "."):
        if value.startswith(prefix):
            value = value[len(prefix):]
    value = value.rstrip(".")
    try:
        value = value.encode("idna").decode("ascii") if value and not value.isascii() else value
    except UnicodeError:
        raise InvalidDomain(f"{raw!r} is not a valid domain name") from None
    labels = value.split(".")
    if not value or len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidDomain(f"{raw!r} is not a domain name like lms.example.edu")
    return value


def is_domain_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """An empty allow-list allows every host; otherwise the host must be one of the domains or a
    subdomain of one."""
    allowed = list(allowed)
    if not allowed:
        return True
    if not host:
        return False
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in allowed)


def _domains(session: Session, account_id: int) -> list[str]:
    return list(session.scalars(select(DispatchAllowedDomain.domain)
                                .where(DispatchAllowedDomain.account_id == account_id)
                                .order_by(DispatchAllowedDomain.domain)))


def allow_domain(sessions: sessionmaker[Session], account_ref: str | int, raw: str, now: datetime) -> tuple[str, bool]:
    """Add an allowed LMS domain; returns it and whether it was new."""
    domain = normalize_domain(raw)
    now = require_aware(now, "now")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        added = session.execute(
            upsert_insert(session)(DispatchAllowedDomain).values(account_id=account.id, domain=domain, created_at=now)
            .on_conflict_do_nothing(index_elements=["account_id", "domain"]).returning(DispatchAllowedDomain.id)
        ).scalar_one_or_none()
        return domain, added is not None


def remove_domain(sessions: sessionmaker[Session], account_ref: str | int, raw: str) -> str:
    domain = normalize_domain(raw)
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        row = session.scalars(select(DispatchAllowedDomain).where(
            DispatchAllowedDomain.account_id == account.id, DispatchAllowedDomain.domain == domain)).first()
        if row is None:
            raise NotFound(f"{domain!r} is not an allowed LMS domain of account {account.name!r}",
                           reason="unknown_domain")
        session.delete(row)
        return domain


def list_domains(sessions: sessionmaker[Session], account_ref: str | int) -> list[str]:
    with sessions() as session:
        return _domains(session, get_account(session, account_ref).id)


# ---------------------------------------------------------------- the dispatch launch

_ORIGIN = re.compile(r"^https?://[^\s/?#]+$")


@dataclass(frozen=True)
class LaunchRequest:
    token: str | None
    origin_header: str | None  # the browser's Origin header of the launch POST
    referrer_header: str | None = None


@dataclass(frozen=True)
class DispatchOutcome:
    """``kind``: ``seat`` (play), or why not: ``refused`` (the seat engine's refusal),
    ``unknown_package``, ``revoked``, ``replaced``, ``unverifiable``, ``invalid_token``,
    ``replayed``, ``domain_not_allowed`` (``reason`` ``origin_required`` when the browser sent no
    Origin), ``content_unavailable``, ``rate_limited``, ``busy``."""

    kind: str
    status: int
    reason: str
    title: str = ""
    message: str = ""
    ask: str = ""
    package: PackageView | None = None
    launch_id: str | None = None
    learner_id: int | None = None
    seat: SeatView | None = None
    is_new_seat: bool = False
    lms_origin: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "seat"


def clean_origin(value: str | None) -> str | None:
    """``scheme://host[:port]`` in lowercase, or None for anything else ("null", paths...)."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not _ORIGIN.match(value):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        value = f"{parts.scheme}://{parts.netloc}"
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return value.lower()[:300]


def _host(origin: str | None) -> str | None:
    return urlsplit(origin).hostname if origin else None


_NO_PACKAGE = ("This course package is not recognized",
               "The server does not know this course package: it was deleted, or it was made for another server.",
               "Ask your LMS administrator for a new copy of the course package.")
_REVOKED = ("This course package has been revoked",
            "This course package has been revoked; ask your LMS administrator for a new one.",
            "Your LMS administrator can download a new copy of the package and upload it to the LMS.")
_REPLACED = ("This copy of the course package is no longer valid",
             "This copy of the course package has been revoked or replaced by a newer copy.",
             "Ask your LMS administrator to upload the current package to the LMS.")
_UNVERIFIABLE = ("This course package cannot be verified",
                 "The server can no longer check this course package's signature (its keys changed).",
                 "Ask your LMS administrator to download the package again and upload the new copy to the LMS.")
_TOKEN_PAGES = {
    "malformed": (400, "This launch could not be read",
                  "The course package sent a launch request the server cannot read: its files may have been "
                  "changed.", "Ask your LMS administrator to upload a fresh copy of the course package."),
    "bad_signature": (401, "This launch could not be verified",
                      "The course package's launch request is not signed correctly: its files were changed, or it "
                      "was made for another server.",
                      "Ask your LMS administrator to upload a fresh copy of the course package."),
    "expired": (401, "This launch has expired",
                "The launch request expired before it reached the server, or this computer's clock is wrong.",
                "Close the course and open it again from your LMS."),
    "invalid_text": (400, "The LMS sent text the server cannot accept",
                     "Your learner id or name, as the LMS gave it to the course, holds characters the server "
                     "cannot store (a NUL character or broken Unicode).",
                     "Ask your LMS administrator to check your user account's id and name."),
    "bad_learner": (400, "The LMS did not say who you are",
                    "The LMS gave the course no learner id, so no seat can be assigned to you.",
                    "Open the course from your LMS while signed in; if this persists, ask your LMS administrator."),
}


def _outcome(kind: str, status: int, reason: str, page: tuple[str, str, str], **extra: object) -> DispatchOutcome:
    title, message, ask = page
    return DispatchOutcome(kind, status, reason, title, message, ask, **extra)  # type: ignore[arg-type]


_REPLAYED = ("This launch was already used",
             "The server has already received this launch request once: a launch is accepted only once, so a "
             "copied or re-sent request cannot open the course again.",
             "Close the course and open it again from your LMS.")
_ORIGIN_REQUIRED = ("This course package cannot check where it was opened",
                    "Your organization allows this course package only on its own LMS domains, but the browser "
                    "did not say which site opened the course (it sent no Origin header, or \"null\"). No seat "
                    "was used.",
                    "LMS administrator: the LMS must not serve the course pages with \"Referrer-Policy: "
                    "no-referrer\" nor in a sandboxed frame, and learners need an up-to-date browser; or ask "
                    "vendor support to remove the LMS domain restriction. Learners: tell your LMS administrator.")
_CONTENT_UNAVAILABLE = ("This course's content is not available yet",
                        "This course has no course content on this server yet, so it cannot be opened. No seat "
                        "was used.",
                        "Try again later; if this persists, tell your LMS administrator (who can ask vendor "
                        "support to publish the course's content).")


@dataclass(frozen=True)
class _Refusal:
    """A refusal of the dispatch path itself (not the seat engine's), also recorded for the
    dashboard's Needs Attention list (``launch_refusals``)."""

    account_id: int
    course_pk: int
    license_type: str
    learner_label: str | None
    detail: str | None = None


def _record(sessions: sessionmaker[Session], package_id: int, outcome: str, now: datetime, *,
            reason: str | None = None, learner_id: int | None = None, seat_id: int | None = None,
            is_new_seat: bool = False, lms_origin: str | None = None, referrer_origin: str | None = None,
            generation: int | None = None, refusal: _Refusal | None = None) -> str:
    launch_id = secrets.token_hex(16)
    with sessions.begin() as session:
        session.add(DispatchLaunch(id=launch_id, package_id=package_id, learner_id=learner_id, seat_id=seat_id,
                                   outcome=outcome, reason=reason, is_new_seat=is_new_seat, lms_origin=lms_origin,
                                   referrer_origin=referrer_origin, generation=generation, created_at=now))
        if refusal is not None and reason is not None:
            add_refusal(session, refusal.account_id, refusal.course_pk, refusal.license_type, reason, now,
                        learner_label=refusal.learner_label, detail=refusal.detail)
    return launch_id


def _record_revoked(sessions: sessionmaker[Session], settings: Settings, request: LaunchRequest, ciphertext: str,
                    package: PackageView, course_pk: int, now: datetime) -> None:
    """A launch of a revoked package is recorded for Needs Attention only when its token verifies
    with the package's secret (revoking keeps the secret): unverified requests write nothing."""
    try:
        claims = read_launch_token(request.token or "", package_key=package.key,
                                   secret=decrypt_secret(settings, ciphertext), now=now,
                                   leeway_seconds=settings.lti_clock_leeway_seconds)
    except (LaunchTokenError, SecretUnreadable):
        return
    with sessions.begin() as session:
        add_refusal(session, package.account_id, course_pk, package.license_type, "package_revoked", now,
                    learner_label=claims.learner_name or claims.learner_id, detail=f"package {package.key}")


def _use_token_id(sessions: sessionmaker[Session], package_id: int, claims: LaunchClaims, now: datetime,
                  leeway_seconds: int) -> bool:
    """Record the token's ``jti`` as used (one transaction); False when it already was. The row
    stays until the token could no longer be accepted anyway (``exp`` + leeway); the cleanup job
    deletes expired rows (``purge_used_tokens``). Two identical posts at once: the primary key
    lets one insert win, the other waits for it and finds the row."""
    expires_at = datetime.fromtimestamp(claims.expires_at + max(0, leeway_seconds), UTC)
    with sessions.begin() as session:
        inserted = session.execute(
            upsert_insert(session)(DispatchLaunchToken).values(
                package_id=package_id, jti=claims.token_id, expires_at=max(expires_at, now), used_at=now,
            ).on_conflict_do_nothing(index_elements=["package_id", "jti"])
            .returning(DispatchLaunchToken.jti)
        ).scalar_one_or_none()
    return inserted is not None


def purge_used_tokens(sessions: sessionmaker[Session], now: datetime) -> int:
    """Delete the ids of launch tokens that have expired (in short batches; the cleanup job runs
    it): such a token is refused as expired before its id is looked at."""
    return delete_in_batches(sessions, DispatchLaunchToken, DispatchLaunchToken.expires_at < now)


def dispatch_launch(sessions: sessionmaker[Session], settings: Settings, request: LaunchRequest, now: datetime, *,
                    new_learners_per_minute: int = NEW_LEARNERS_PER_MINUTE) -> DispatchOutcome:
    """Verify a package launch and claim the learner's seat (or say why not).

    Nothing is written for a request whose signature does not verify (unknown package, bad
    token); a revoked package's copy whose signature verifies (revoking keeps the secret) is
    recorded for Needs Attention only. Every launch whose signature verified is recorded in
    ``dispatch_launches`` with its outcome (the seat engine records its own refusals as well):
    a replayed token (each ``jti`` is accepted once), a newer generation than the package has,
    a domain that is not allowed or no browser ``Origin`` where domains are restricted, a course
    without content to play (``settings.demo_content`` off), the rate limit, the seat engine's
    refusal, or a seat."""
    now = require_aware(now, "now")
    try:
        peek = peek_launch_token(request.token)
    except LaunchTokenError as exc:
        return _outcome("invalid_token", *_token_page(exc))
    with sessions() as session:
        row = session.execute(_package_rows(session).where(DispatchPackage.public_key == peek.package_key)).first()
        if row is None:
            return _outcome("unknown_package", 404, "unknown_package", _NO_PACKAGE)
        package_row, account, course = row
        package = _view(package_row, account, course)
        package_id, ciphertext, course_pk = package_row.id, package_row.secret_encrypted, course.id
        domains = _domains(session, account.id)
        content = current_package(session, course.id)
    if package.is_revoked:
        _record_revoked(sessions, settings, request, ciphertext, package, course_pk, now)
        return _outcome("revoked", 403, "package_revoked", _REVOKED, package=package)
    if peek.generation is not None and peek.generation < package.generation:
        return _outcome("replaced", 403, "package_replaced", _REPLACED, package=package)
    try:
        secret = decrypt_secret(settings, ciphertext)
    except SecretUnreadable:
        return _outcome("unverifiable", 409, "package_secret_unreadable", _UNVERIFIABLE, package=package)
    try:
        claims = read_launch_token(request.token or "", package_key=package.key, secret=secret, now=now,
                                   leeway_seconds=settings.lti_clock_leeway_seconds)
    except LaunchTokenError as exc:
        return _outcome("invalid_token", *_token_page(exc), package=package)

    # The signature is verified: from here on every outcome is recorded.
    # The browser's Origin header cannot be set by page scripts. Where the account restricts its
    # LMS domains it is required: the page's own claim (``org``) is signed with a secret every
    # learner can read, so it proves nothing. Without restriction the claim only labels the launch.
    browser_origin = clean_origin(request.origin_header)
    lms_origin = browser_origin if domains else browser_origin or clean_origin(claims.page_origin)
    referrer = clean_origin(claims.referrer_origin) or clean_origin(request.referrer_header)

    def record(outcome: str, reason: str | None = None, **extra: object) -> str:
        return _record(sessions, package_id, outcome, now, reason=reason, lms_origin=lms_origin,
                       referrer_origin=referrer, generation=claims.generation, **extra)  # type: ignore[arg-type]

    def refusal(detail: str | None = None) -> _Refusal:
        return _Refusal(package.account_id, course_pk, package.license_type,
                        claims.learner_name or claims.learner_id, detail)

    if claims.generation != package.generation:
        record("replaced", "package_replaced", refusal=refusal(f"package {package.key}"))
        return _outcome("replaced", 403, "package_replaced", _REPLACED, package=package)
    if not _use_token_id(sessions, package_id, claims, now, settings.lti_clock_leeway_seconds):
        record("replayed", "launch_replayed")
        log.warning("dispatch launch of %s refused: token id already used (replay)", package.key)
        return _outcome("replayed", 409, "launch_replayed", _REPLAYED, package=package, lms_origin=lms_origin)
    if domains and browser_origin is None:
        record("domain_not_allowed", "origin_required", refusal=refusal())
        log.warning("dispatch launch of %s refused: no browser Origin (%r) and the account restricts domains",
                    package.key, (request.origin_header or "")[:40])
        return _outcome("domain_not_allowed", 403, "origin_required", _ORIGIN_REQUIRED, package=package)
    if not is_domain_allowed(_host(lms_origin), domains):
        record("domain_not_allowed", "domain_not_allowed", refusal=refusal(_host(lms_origin)))
        host = _host(lms_origin) or "this LMS"
        log.warning("dispatch launch of %s refused: domain %s not allowed", package.key, host)
        return _outcome(
            "domain_not_allowed", 403, "domain_not_allowed",
            ("This course package cannot be used here",
             f"This course package may not be used from {host}: its organization allows it only on its own "
             "LMS domains.",
             f"If {host} is your organization's LMS, ask your LMS administrator to add it to the allowed LMS "
             "domains."),
            package=package, lms_origin=lms_origin)
    if content_kind(content, demo_content=settings.demo_content) is None:
        record("content_unavailable", ContentNotAvailable.reason, refusal=refusal())
        log.warning("dispatch launch of %s refused: course %s has no content to play (no imported package, "
                    "DEMO_CONTENT off)", package.key, package.catalog_id)
        return _outcome("content_unavailable", 409, ContentNotAvailable.reason, _CONTENT_UNAVAILABLE,
                        package=package, lms_origin=lms_origin)

    identity = LearnerIdentity(source=SOURCE_PREFIX + package.key, external_id=claims.learner_id,
                               name=claims.learner_name, package_format=package.format)
    with sessions() as session:
        known = session.scalars(select(Learner.id).where(
            Learner.account_id == package.account_id, Learner.identity_source == identity.source,
            Learner.external_id == identity.external_id)).first()
        recent = 0 if known is not None else session.scalar(
            select(func.count()).select_from(DispatchLaunch).where(
                DispatchLaunch.package_id == package_id, DispatchLaunch.is_new_seat.is_(True),
                DispatchLaunch.created_at > now - RATE_WINDOW))
    if recent is not None and recent >= new_learners_per_minute:
        record("rate_limited", "rate_limited")
        log.warning("dispatch launch of %s refused: %d new learners in the last minute", package.key, recent)
        return _outcome(
            "rate_limited", 429, "rate_limited",
            ("Too many new learners right now",
             "Too many new learners opened this course package in the last minute.",
             "Wait a minute and open the course again; if this keeps happening, ask your LMS administrator."),
            package=package, lms_origin=lms_origin)

    try:
        result = claim_seat(sessions, ClaimRequest(package.account_id, package.license_type, package.catalog_id,
                                                   identity), now)
    except StoreError as exc:
        try:
            record("busy", exc.reason[:40])
        except SQLAlchemyError:  # the page must still answer; the log keeps the refusal
            log.exception("dispatch launch of %s: the busy refusal could not be recorded", package.key)
        return _outcome("busy", 503, exc.reason, ("Try again", f"The seat could not be given right now: {exc.message}",
                                                  "Open the course again in a moment."), package=package)
    if not result.ok:
        refusal = result.refusal
        launch_id = record("refused", result.reason, learner_id=result.learner_id)
        return _outcome("refused", 403, result.reason or "refused",
                        ("This course cannot be opened", refusal.message if refusal else "No seat is available.",
                         refusal.ask if refusal else "Ask your LMS administrator."),
                        package=package, launch_id=launch_id, learner_id=result.learner_id, lms_origin=lms_origin)
    assert result.seat is not None and result.learner_id is not None
    launch_id = record("seat", learner_id=result.learner_id, seat_id=result.seat.id, is_new_seat=result.is_new_seat)
    log.info("dispatch launch %s of %s: seat %s (%s)", launch_id, package.key, result.seat.id,
             "new" if result.is_new_seat else "existing")
    return DispatchOutcome("seat", 303, "seat", package=package, launch_id=launch_id, learner_id=result.learner_id,
                           seat=result.seat, is_new_seat=result.is_new_seat, lms_origin=lms_origin)


def _token_page(exc: LaunchTokenError) -> tuple[int, str, tuple[str, str, str]]:
    status, title, message, ask = _TOKEN_PAGES.get(exc.reason, _TOKEN_PAGES["malformed"])
    return status, exc.reason, (title, message, ask)


def frame_ancestors_for_launch(sessions: sessionmaker[Session], launch_id: str | None) -> tuple[str, ...]:
    """Who may frame the course player of a dispatch launch: the account's allowed LMS domains
    (and their subdomains), or any origin (``*``) when the account allows every domain."""
    if not launch_id:
        return ("*",)
    with sessions() as session:
        account_id = session.scalar(
            select(DispatchPackage.account_id).join(DispatchLaunch, DispatchLaunch.package_id == DispatchPackage.id)
            .where(DispatchLaunch.id == launch_id))
        domains = _domains(session, account_id) if account_id is not None else []
    if not domains:
        return ("*",)
    return tuple(source for domain in domains for source in (domain, f"*.{domain}"))


def lms_origin_for_launch(sessions: sessionmaker[Session], launch_id: str | None) -> str | None:
    """The origin of the package's launch page for a dispatch launch (from the browser's Origin
    header at launch): the course player may check ``event.origin`` of the launch page's
    ``dispatch.init`` message against it, and post its status to exactly this origin."""
    if not launch_id:
        return None
    with sessions() as session:
        return session.scalar(select(DispatchLaunch.lms_origin).where(DispatchLaunch.id == launch_id))


def check_player_launch(sessions: sessionmaker[Session], launch_id: str | None) -> None:
    """Raise ``PackageRevoked`` unless the package of this dispatch launch is still live: not
    revoked, not replaced by a newer generation than the launch was signed for, not deleted. One
    read by primary keys; the course player asks on every page load and API call of a dispatch
    grant, so revoking a package stops its open player sessions too."""
    row = None
    if launch_id:
        with sessions() as session:
            row = session.execute(
                select(DispatchPackage.revoked_at, DispatchPackage.generation, DispatchLaunch.generation)
                .join(DispatchLaunch, DispatchLaunch.package_id == DispatchPackage.id)
                .where(DispatchLaunch.id == launch_id)).first()
    if row is None:
        raise PackageRevoked("This course package no longer exists on the server; ask your LMS administrator for a "
                             "new one.")
    revoked_at, current, launched = row
    if revoked_at is not None:
        raise PackageRevoked(_REVOKED[1])
    if launched is not None and launched < current:
        raise PackageRevoked(_REPLACED[1] + " Ask your LMS administrator to upload the current package to the LMS.")
