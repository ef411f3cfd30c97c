"""Pure rules for independent learners' sign-up and passwords: email addresses, names, password
requirements, and the account names sign-up tries.

Each check returns what is wrong in words for the person filling in the form (never quoting the
value), or None.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from store.text import text_problem

EMAIL_MAX = 254  # what a mail server accepts (RFC 5321 path limit); the column holds 320
NAME_MAX = 190  # the account is named after the person: room for " (99)" in its 200 characters
PASSWORD_MIN = 12
PASSWORD_MAX = 200
PASSWORD_REQUIREMENTS = (f"At least {PASSWORD_MIN} characters (at most {PASSWORD_MAX}), and not your email "
                         "address. A few unrelated words make a good one.")
ACCOUNT_NAME_TRIES = 50

# local@domain.tld: no spaces, one @, a dot in the domain; what a person mistypes, not RFC 5322.
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")


def normalize_email(email: str) -> str:
    """The key an address is found by: trimmed and lowercased (addresses are case-insensitive
    here: Jane@Example.com and jane@example.com are one login)."""
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    problem = text_problem(email, max_chars=EMAIL_MAX, allow_newlines=False)
    if problem is not None:
        return f"The email address {problem}."
    email = email.strip()
    if not email:
        return "Enter your email address."
    if not _EMAIL.match(email):
        return "Enter an email address like name@example.com."
    return None


def name_problem(name: str) -> str | None:
    problem = text_problem(name, max_chars=NAME_MAX, allow_newlines=False)
    if problem is not None:
        return f"Your name {problem}."
    if not name.strip():
        return "Enter your name."
    return None


def password_problem(password: str, email: str) -> str | None:
    """Whether a new password meets the requirements (``PASSWORD_REQUIREMENTS``)."""
    problem = text_problem(password, allow_newlines=True)
    if problem is not None:
        return f"The password {problem}."
    if len(password) < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    if email and normalize_email(password) == normalize_email(email):
        return "Your password must not be your email address."
    return None


def account_names(name: str) -> Iterator[str]:
    """The account names sign-up tries, in order: the person's name, then "Name (2)", "Name (3)"…
    (account names are unique; an organization or another learner may have the name)."""
    name = " ".join(name.split())
    yield name
    for n in range(2, ACCOUNT_NAME_TRIES + 1):
        yield f"{name} ({n})"
