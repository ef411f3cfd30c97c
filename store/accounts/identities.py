"""Pure rules for learner identities: how a delivery method's identity is shown (its delivery
method), and the keys by which identity linking recognizes one person across delivery methods.

Identity linking (an account setting, off by default) treats identities that share a key as one
person, so they occupy one seat:

- **email**: the address the LMS, an invitation or a sign-in gives, trimmed and lowercased, when
  it looks like an address (``name@example.com``);
- **username**: the LMS login name an LTI launch sends (Moodle's ``ext.user_username``, the OIDC
  ``preferred_username``, a Canvas ``$Canvas.user.loginId`` custom field, the LIS person
  sourcedid), trimmed and lowercased; and the **LMS learner id a SCORM dispatch package reports**
  (``cmi.core.student_id`` / ``cmi.learner_id``), because packages read nothing else: Moodle,
  for one, reports the username there, so a Moodle user launching by LTI and by a package is
  recognized; an LMS that reports an internal number (Canvas, Blackboard) is not.

What cannot match: an LTI launch that sends neither email nor username (the LMS's privacy
settings); a package learner of an LMS whose learner id is not the username; two different
addresses of one person. The trade-off of turning it on: people who share an address (a team
mailbox) or an LMS that recycles usernames or addresses of people who left become one learner
and share one seat and one progress.
"""

from __future__ import annotations

import re

from store.accounts.rules import normalize_email

EMAIL = "email"
USERNAME = "username"
KEY_MAX = 320  # person_keys.value

# local@domain.tld, like store.accounts.rules (what a person mistypes, not RFC 5322).
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")

# Delivery methods (learners.delivery) and their labels in reports.
DELIVERY_LABELS = {
    "lti": "LTI",
    "scorm12": "SCORM 1.2",
    "scorm2004": "SCORM 2004",
    "scorm": "SCORM",
    "invitation": "Invitation",
    "signin": "Sign-in",
    "staff": "Staff",
    "other": "Other",
}
DELIVERIES = tuple(DELIVERY_LABELS)
PACKAGE_SOURCE = "package:"
INVITE_SOURCE = "invite:"

LINKING_HELP = (
    "Treat the same person as one learner across delivery methods: a person who opens courses "
    "through LTI, a SCORM package and an invitation is matched by email address and, where the "
    "LMS sends it, by LMS username, and occupies one seat. Leave it off if people share an email "
    "address (a team mailbox) or if your LMS reuses the usernames or addresses of people who left: "
    "they would become one learner, sharing one seat and one progress record. Identities already "
    "linked stay linked when it is turned off, but new seats are then counted per delivery method."
)


def invite_source(account_id: int) -> str:
    """The identity source of the learners an account invites by email."""
    return f"{INVITE_SOURCE}{account_id}"


def delivery_of(source: str, package_format: str | None = None) -> str | None:
    """The delivery method of an identity source; None for a package launch whose format is
    not known (the caller keeps what was stored, or says ``scorm``)."""
    if source.startswith("lti:"):
        return "lti"
    if source.startswith(PACKAGE_SOURCE):
        return package_format if package_format in ("scorm12", "scorm2004") else None
    if source.startswith(INVITE_SOURCE):
        return "invitation"
    if source.startswith("login:"):
        return "signin"
    if source == "staff":
        return "staff"
    return "other"


def delivery_label(delivery: str | None) -> str:
    return DELIVERY_LABELS.get(delivery or "other", "Other")


def email_key(email: str | None) -> str | None:
    if not email:
        return None
    value = normalize_email(email)
    if len(value) > KEY_MAX or not _EMAIL.match(value):
        return None
    return value


def username_key(username: str | None) -> str | None:
    if not username:
        return None
    value = username.strip().lower()
    if not value or len(value) > KEY_MAX or any(ch in value for ch in "\r\n"):
        return None
    return value


def link_keys(source: str, external_id: str, email: str | None, username: str | None) -> tuple[tuple[str, str], ...]:
    """The keys an identity is recognized by, sorted (kind, value): every caller inserts them in
    this order, so two launches locking the same keys can never wait for each other in a cycle."""
    keys: set[tuple[str, str]] = set()
    found = email_key(email)
    if found:
        keys.add((EMAIL, found))
    for candidate in (username, external_id if source.startswith(PACKAGE_SOURCE) else None):
        value = username_key(candidate)
        if value:
            keys.add((USERNAME, value))
    return tuple(sorted(keys))


def identity_label(source: str, external_id: str, delivery: str | None) -> str:
    """One identity in words, e.g. ``LTI (https://lms.example.edu): 42`` or ``SCORM 1.2: ada``."""
    label = delivery_label(delivery)
    if source.startswith("lti:"):
        return f"{label} ({source[4:]}): {external_id}"
    if source.startswith("login:"):
        return label  # the external id is the login's number: nothing to show
    return f"{label}: {external_id}"
