"""Independent learners: sign-up, sign-in and password reset by email and password.

An independent learner buys for themself: sign-up creates, in one transaction, their account
(kind ``individual``, named after them; "Name (2)" when the name is taken), their login, and the
account's own learner (identity source ``login:<login id>``). Nothing of an organization's is
shared with it: their licenses, seats and progress belong to that account alone.

- **Emails** are unique and case-insensitive (``logins.email_normalized``); two simultaneous
  sign-ups with one address make one account (the unique constraint decides; the other gets
  ``email_taken``).
- **Passwords** are hashed with Argon2id (``store.accounts.passwords``) outside any transaction.
- **Sign-in** is rate-limited per email address and per client network (``store.ratelimit``,
  counted in the database before the password is checked, so every worker sees them; keys are
  keyed hashes, never raw addresses). An unknown address costs the same hash verification and
  fails with the same ``wrong_credentials`` as a wrong password: no user enumeration.
- **Password reset**: a random token is mailed as a link (after the commit); only its SHA-256 is
  stored; it expires after ``ttl_seconds`` and works once (a guarded update uses it up); using it
  also uses up the login's other open links. Asking for a reset answers the same for unknown
  addresses (the service returns nothing either way).

Form problems are ``FormProblems`` (``problems``: field → message for the page) and change
nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.accounts import rules
from store.accounts.models import Account, Learner, Login, PasswordReset
from store.accounts.passwords import hash_password, needs_rehash, verify_nothing, verify_password
from store.accounts.service import LearnerIdentity, upsert_learner
from store.base import require_aware
from store.errors import InvalidInput, StoreError
from store.mail.service import Mailer
from store.ratelimit.keys import hashed_key
from store.ratelimit.service import Limit, hit

HOUR = 3600
SIGNUP_RETRIES = 5
TOKEN_MAX_CHARS = 100


# ---------------------------------------------------------------- results and errors


def identity_source(login_id: int) -> str:
    """The identity source of a login's learner in its account."""
    return f"login:{login_id}"


@dataclass(frozen=True)
class LoginView:
    id: int
    account_id: int
    learner_id: int
    name: str
    email: str

    @property
    def identity(self) -> LearnerIdentity:
        """How the seat engine knows this learner (``claim_seat``)."""
        return LearnerIdentity(source=identity_source(self.id), external_id=str(self.id), name=self.name,
                               email=self.email)


class FormProblems(InvalidInput):
    """Input the form must show again, with a message per field (``problems``)."""

    reason = "invalid_form"

    def __init__(self, problems: dict[str, str], *, reason: str | None = None) -> None:
        super().__init__(" ".join(problems.values()), reason=reason)
        self.problems = problems


class SignInFailed(StoreError):
    """Wrong email or password: the same for an address that has no login."""

    reason = "wrong_credentials"


class ResetLinkInvalid(StoreError):
    """A reset link that is unknown, used already or expired (one answer for all three)."""

    reason = "reset_link_invalid"


@dataclass(frozen=True)
class Throttle:
    """The sign-in and reset limits, and the secret their counter keys are hashed with."""

    secret: str
    signin_per_email_per_hour: int = 10
    per_client_per_hour: int = 50
    reset_per_email_per_hour: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(settings.secret_key, settings.signin_per_email_per_hour, settings.signin_per_ip_per_hour,
                   settings.password_reset_per_email_per_hour)

    def limit(self, scope: str, value: str, max_hits: int) -> Limit:
        return Limit(scope, hashed_key(self.secret, scope, value), max_hits, HOUR)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _learner_id(session: Session, login: Login) -> int:
    learner_id = session.scalar(select(Learner.id).where(
        Learner.account_id == login.account_id, Learner.identity_source == identity_source(login.id),
        Learner.external_id == str(login.id)))
    if learner_id is None:  # sign-up makes it; only a hand-edited database lacks it
        raise StoreError(f"login {login.id} has no learner", reason="login_without_learner")
    return int(learner_id)


def _view(session: Session, login: Login) -> LoginView:
    return LoginView(login.id, login.account_id, _learner_id(session, login), login.name, login.email)


def get_login(session: Session, login_id: int) -> LoginView | None:
    login = session.get(Login, login_id)
    return None if login is None else _view(session, login)


def _find(session: Session, email: str) -> Login | None:
    return session.scalars(select(Login).where(Login.email_normalized == rules.normalize_email(email))).first()


# ---------------------------------------------------------------- sign-up


EMAIL_TAKEN = ("An account with this email address exists already. Sign in, or choose Forgot password? on the "
               "sign-in page.")


def sign_up(sessions: sessionmaker[Session], throttle: Throttle, client: str, name: str, email: str,
            password: str, now: datetime) -> LoginView:
    """Create the learner's account, login and learner in one transaction."""
    now = require_aware(now, "now")
    problems = {field: problem for field, problem in (
        ("name", rules.name_problem(name)), ("email", rules.email_problem(email)),
        ("password", rules.password_problem(password, email)),
    ) if problem is not None}
    if problems:
        raise FormProblems(problems)
    hit(sessions, [throttle.limit("signup-client", client, throttle.per_client_per_hour)], now)
    name, email = " ".join(name.split()), email.strip()
    normalized = rules.normalize_email(email)
    with sessions() as session:
        if _find(session, email) is not None:
            raise FormProblems({"email": EMAIL_TAKEN}, reason="email_taken")
    password_hash = hash_password(password)
    for _attempt in range(SIGNUP_RETRIES):
        try:
            with sessions.begin() as session:
                return _create(session, name, email, normalized, password_hash, now)
        except IntegrityError:
            # Another sign-up took the address (then it is taken now) or the account name (the
            # next try picks another name).
            with sessions() as session:
                if _find(session, email) is not None:
                    raise FormProblems({"email": EMAIL_TAKEN}, reason="email_taken") from None
    raise StoreError("sign-up kept colliding with other sign-ups; try again", reason="busy")


def _create(session: Session, name: str, email: str, normalized: str, password_hash: str, now: datetime) -> LoginView:
    if _find(session, email) is not None:
        raise FormProblems({"email": EMAIL_TAKEN}, reason="email_taken")
    candidates = list(rules.account_names(name))
    taken = set(session.scalars(select(Account.name).where(Account.name.in_(candidates))))
    account_name = next((c for c in candidates if c not in taken), f"{name} ({secrets.token_hex(4)})")
    account = Account(name=account_name, kind="individual", annual_retake=False, created_at=now)
    session.add(account)
    session.flush()
    login = Login(account_id=account.id, name=name, email=email, email_normalized=normalized,
                  password_hash=password_hash, created_at=now, password_changed_at=now)
    session.add(login)
    session.flush()
    learner_id = upsert_learner(session, account.id, LearnerIdentity(
        source=identity_source(login.id), external_id=str(login.id), name=name, email=email), now)
    return LoginView(login.id, account.id, learner_id, name, email)


# ---------------------------------------------------------------- sign-in


def sign_in(sessions: sessionmaker[Session], throttle: Throttle, client: str, email: str, password: str,
            now: datetime) -> LoginView:
    """The login for this email and password, or ``SignInFailed``; ``RateLimited`` when the
    address or the client has tried too often (counted before the password is checked)."""
    now = require_aware(now, "now")
    problems: dict[str, str] = {}
    if not email.strip():
        problems["email"] = "Enter your email address."
    if not password:
        problems["password"] = "Enter your password."
    if problems:
        raise FormProblems(problems)
    hit(sessions, [throttle.limit("signin-email", rules.normalize_email(email), throttle.signin_per_email_per_hour),
                   throttle.limit("signin-client", client, throttle.per_client_per_hour)], now)
    with sessions() as session:
        login = _find(session, email)
        found = None if login is None else (login.id, login.password_hash)
    if found is None or len(password) > rules.PASSWORD_MAX:
        verify_nothing(password[:rules.PASSWORD_MAX])
        raise SignInFailed("the email address or the password is not correct")
    login_id, stored_hash = found
    if not verify_password(stored_hash, password):
        raise SignInFailed("the email address or the password is not correct")
    new_hash = hash_password(password) if needs_rehash(stored_hash) else None
    with sessions.begin() as session:
        values: dict[str, object] = {"last_signin_at": now}
        if new_hash is not None:
            values["password_hash"] = new_hash
        # Guarded: a password reset meanwhile makes the password just checked an old one.
        changed = session.execute(update(Login).where(Login.id == login_id, Login.password_hash == stored_hash)
                                  .values(**values))
        login = session.get(Login, login_id)
        if changed.rowcount != 1 or login is None:  # type: ignore[attr-defined]
            raise SignInFailed("the email address or the password is not correct")
        return _view(session, login)


# ---------------------------------------------------------------- password reset


RESET_SUBJECT = "Reset your password"


def reset_mail_text(name: str, link: str, ttl_seconds: int) -> str:
    minutes = max(1, ttl_seconds // 60)
    return (f"Hello {name},\n\n"
            "someone (probably you) asked to reset the password you sign in to the course store with.\n"
            f"Open this link within {minutes} minutes to choose a new password:\n\n"
            f"{link}\n\n"
            "The link works once. If you did not ask for it, ignore this message: your password stays "
            "as it is.\n")


def request_password_reset(sessions: sessionmaker[Session], mailer: Mailer, throttle: Throttle, client: str,
                           email: str, link_for: Callable[[str], str], ttl_seconds: int, now: datetime) -> None:
    """Mail a reset link to the login with this address, if there is one. Returns nothing either
    way, so the page answers the same for unknown addresses. The mail goes after the commit."""
    now = require_aware(now, "now")
    problem = rules.email_problem(email)
    if problem is not None:
        raise FormProblems({"email": problem})
    hit(sessions, [throttle.limit("reset-email", rules.normalize_email(email), throttle.reset_per_email_per_hour),
                   throttle.limit("reset-client", client, throttle.per_client_per_hour)], now)
    token = secrets.token_urlsafe(32)
    with sessions.begin() as session:
        login = _find(session, email)
        if login is None:
            return
        session.add(PasswordReset(login_id=login.id, token_hash=_token_hash(token), created_at=now,
                                  expires_at=now + timedelta(seconds=ttl_seconds)))
        to, name, account_id = login.email, login.name, login.account_id
    mailer.send(to, RESET_SUBJECT, reset_mail_text(name, link_for(token), ttl_seconds), account_id=account_id)


def _open_reset(session: Session, token: str, now: datetime) -> tuple[PasswordReset, Login] | None:
    if not token or len(token) > TOKEN_MAX_CHARS:
        return None
    row = session.execute(
        select(PasswordReset, Login).join(Login, Login.id == PasswordReset.login_id)
        .where(PasswordReset.token_hash == _token_hash(token), PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > now)
    ).first()
    return None if row is None else (row[0], row[1])


def reset_link_is_valid(session: Session, token: str, now: datetime) -> bool:
    return _open_reset(session, token, require_aware(now, "now")) is not None


def reset_password(sessions: sessionmaker[Session], token: str, password: str, now: datetime) -> LoginView:
    """Set a new password with a reset link's token, using the link up (and the login's other
    open links). ``ResetLinkInvalid`` for an unknown, used or expired link; ``FormProblems`` for
    a password that breaks the rules (the link stays usable)."""
    now = require_aware(now, "now")
    with sessions() as session:
        found = _open_reset(session, token, now)
        if found is None:
            raise ResetLinkInvalid("this password reset link is not valid: it was used already, has expired, or "
                                   "is incomplete")
        login_email = found[1].email
    problem = rules.password_problem(password, login_email)
    if problem is not None:
        raise FormProblems({"password": problem})
    password_hash = hash_password(password)
    with sessions.begin() as session:
        used = session.execute(
            update(PasswordReset)
            .where(PasswordReset.token_hash == _token_hash(token), PasswordReset.used_at.is_(None),
                   PasswordReset.expires_at > now)
            .values(used_at=now)
            .returning(PasswordReset.login_id)
        ).first()
        if used is None:  # another request used it meanwhile
            raise ResetLinkInvalid("this password reset link is not valid: it was used already, has expired, or "
                                   "is incomplete")
        login_id = int(used[0])
        session.execute(update(Login).where(Login.id == login_id)
                        .values(password_hash=password_hash, password_changed_at=now))
        session.execute(update(PasswordReset).where(PasswordReset.login_id == login_id,
                                                    PasswordReset.used_at.is_(None)).values(used_at=now))
        login = session.get(Login, login_id)
        assert login is not None
        return _view(session, login)
