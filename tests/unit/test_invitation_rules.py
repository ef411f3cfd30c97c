"""Invitation addresses (one per line) and the mail's text (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from store.invitations import rules


def test_addresses_are_trimmed_folded_and_blank_lines_skipped() -> None:
    parsed = rules.parse_addresses("  Ada@Example.com \n\nbob@example.com\nADA@example.COM\n")
    assert [a.email for a in parsed.addresses] == ["Ada@Example.com", "bob@example.com"]
    assert [a.normalized for a in parsed.addresses] == ["ada@example.com", "bob@example.com"]
    assert parsed.problems == () and parsed.duplicates == 1


def test_problems_name_the_line_and_never_quote_it() -> None:
    parsed = rules.parse_addresses("ada@example.com\nnot an address <script>\nbob@\n")
    assert parsed.problems == ("line 2: Enter an email address like name@example.com.",
                               "line 3: Enter an email address like name@example.com.")
    assert all("<script>" not in p for p in parsed.problems)


def test_nothing_or_only_blank_lines() -> None:
    assert rules.parse_addresses(" \n\n").problems == ("Enter at least one email address, one per line.",)


def test_at_most_500_addresses_after_folding() -> None:
    fine = "\n".join(f"p{i}@example.com" for i in range(500)) + "\nP0@example.com"
    assert rules.parse_addresses(fine).problems == ()
    over = "\n".join(f"p{i}@example.com" for i in range(501))
    assert rules.parse_addresses(over).problems == ("Paste at most 500 addresses at a time (this list has 501).",)
    assert rules.parse_addresses("\n" * 1001).problems == ("Paste at most 500 addresses at a time.",)


def test_text_breaking_the_input_rule_is_refused_whole() -> None:
    assert rules.parse_addresses("ada@example.com\x00").problems == (
        "The list of addresses contains a NUL character.",)


def test_many_bad_lines_are_summed_up() -> None:
    parsed = rules.parse_addresses("\n".join("x" for _ in range(30)))
    assert len(parsed.problems) == 21 and parsed.problems[-1] == "… and 10 more lines"


def test_the_mail() -> None:
    subject = rules.mail_subject("Fire\nSafety " + "x" * 300)
    assert "\n" not in subject and len(subject) <= 300 and subject.startswith("Your course: Fire Safety")
    text = rules.mail_text(course_title="Fire Safety", account_name="Acme", inviter="Grace", link="https://t/i/T",
                           expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert "Grace (Acme) invited you" in text and "https://t/i/T" in text and "until 01 January 2027" in text
    assert "subscription lasts" in rules.mail_text(course_title="F", account_name="Acme", inviter=None,
                                                   link="L", expires_at=None)
