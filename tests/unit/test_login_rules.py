"""Pure sign-up rules: email addresses, names, password requirements, account names."""

from __future__ import annotations

import itertools

import pytest

from store.accounts import rules


@pytest.mark.parametrize("email", ["jane@example.com", "Jane.Doe+store@mail.example.co.uk", " jane@example.com "])
def test_good_addresses(email: str) -> None:
    assert rules.email_problem(email) is None


@pytest.mark.parametrize(("email", "fragment"), [
    ("", "Enter your email"), ("   ", "Enter your email"), ("jane", "like name@example.com"),
    ("jane@example", "like name@example.com"), ("jane doe@example.com", "like name@example.com"),
    ("a@b@example.com", "like name@example.com"), ("<jane@example.com>", "like name@example.com"),
    ("jane@example.com\nBcc: x@example.com", "one line"), ("j\x00@example.com", "NUL"),
    ("j" * 250 + "@example.com", "longer than 254"),
])
def test_bad_addresses(email: str, fragment: str) -> None:
    problem = rules.email_problem(email)
    assert problem is not None and fragment in problem


def test_emails_are_case_insensitive() -> None:
    assert rules.normalize_email("  Jane@Example.COM ") == "jane@example.com"


@pytest.mark.parametrize(("password", "email", "fragment"), [
    ("x" * 11, "", "at least 12"), ("x" * 201, "", "at most 200"),
    ("jane@example.com", "Jane@Example.com", "not be your email"), ("\ud800" * 12, "", "invalid text"),
])
def test_bad_passwords(password: str, email: str, fragment: str) -> None:
    problem = rules.password_problem(password, email)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize("password", ["x" * 12, "y" * 200, "four words on\na line!", "   spaces count   "])
def test_good_passwords(password: str) -> None:
    assert rules.password_problem(password, "jane@example.com") is None


def test_names() -> None:
    assert rules.name_problem("Jane Doe") is None
    assert rules.name_problem("  ") == "Enter your name."
    assert "one line" in (rules.name_problem("Jane\nDoe") or "")
    assert "longer than 190" in (rules.name_problem("x" * 191) or "")


def test_account_names_start_with_the_person_then_count_up() -> None:
    assert list(itertools.islice(rules.account_names("  Jane   Doe "), 3)) == ["Jane Doe", "Jane Doe (2)", "Jane Doe (3)"]
    assert len(list(rules.account_names("x"))) == rules.ACCOUNT_NAME_TRIES
    assert all(len(name) <= 200 for name in rules.account_names("x" * rules.NAME_MAX))
