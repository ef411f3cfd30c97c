"""Pure rules for invitations: the addresses an admin pastes (one per line), checked and
folded, and the text of the invitation mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.accounts.rules import email_problem, normalize_email
from store.text import text_problem

MAX_BATCH = 500  # addresses per sending, after duplicates are folded
MAX_LINES = 2 * MAX_BATCH  # blank lines and duplicates included
EMAILS_MAX_CHARS = MAX_LINES * 260
MAX_PROBLEMS_SHOWN = 20
SUBJECT_TITLE_MAX = 200


@dataclass(frozen=True)
class Address:
    email: str  # as typed, trimmed
    normalized: str  # the key: lowercased


@dataclass(frozen=True)
class ParsedAddresses:
    addresses: tuple[Address, ...]
    problems: tuple[str, ...]  # "line 3: …" for the form; empty when every line is an address
    duplicates: int  # lines folded into an earlier one


def parse_addresses(text: str) -> ParsedAddresses:
    """Addresses one per line: blank lines skipped, each checked (a sane ``name@example.com``),
    duplicates folded (case-insensitive, the first spelling kept). Problems name the line, never
    quote it; more than ``MAX_BATCH`` addresses is a problem too."""
    problem = text_problem(text, max_chars=EMAILS_MAX_CHARS, allow_newlines=True)
    if problem is not None:
        return ParsedAddresses((), (f"The list of addresses {problem}.",), 0)
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        return ParsedAddresses((), (f"Paste at most {MAX_BATCH} addresses at a time.",), 0)
    seen: dict[str, Address] = {}
    problems: list[str] = []
    duplicates = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        wrong = email_problem(line)
        if wrong is not None:
            problems.append(f"line {number}: {wrong}")
            continue
        key = normalize_email(line)
        if key in seen:
            duplicates += 1
            continue
        seen[key] = Address(line.strip(), key)
    if not seen and not problems:
        problems.append("Enter at least one email address, one per line.")
    if len(seen) > MAX_BATCH:
        problems.append(f"Paste at most {MAX_BATCH} addresses at a time (this list has {len(seen)}).")
    shown = problems[:MAX_PROBLEMS_SHOWN]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more lines")
    return ParsedAddresses(tuple(seen.values()), tuple(shown), duplicates)


def mail_subject(course_title: str) -> str:
    title = " ".join(course_title.split())
    if len(title) > SUBJECT_TITLE_MAX:
        title = title[:SUBJECT_TITLE_MAX - 1] + "…"
    return f"Your course: {title}"


def mail_text(*, course_title: str, account_name: str, inviter: str | None, link: str,
              expires_at: datetime | None) -> str:
    who = f"{inviter} ({account_name})" if inviter else account_name
    until = (f"until {expires_at:%d %B %Y}" if expires_at is not None
             else "for as long as your organization's subscription lasts")
    return (f"Hello,\n\n"
            f"{who} invited you to the course \"{course_title}\".\n"
            "Open it with your personal link:\n\n"
            f"{link}\n\n"
            f"The link is yours alone: it opens the course for you and keeps your place, {until}. Do not "
            "forward it; whoever opens it continues as you.\n")
