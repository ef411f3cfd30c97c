"""Identity linking keys and delivery methods (pure rules)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from store.accounts import identities


def test_keys_of_an_lti_launch_are_its_email_and_username() -> None:
    keys = identities.link_keys("lti:https://lms.example.edu", "sub-1", " Ada@Example.COM ", " AdaL ")
    assert keys == (("email", "ada@example.com"), ("username", "adal"))


def test_a_package_learner_is_recognized_by_the_lms_learner_id_as_a_username() -> None:
    assert identities.link_keys("package:abc", " AdaL ", None, None) == (("username", "adal"),)


def test_an_lti_sub_is_never_a_key() -> None:
    assert identities.link_keys("lti:https://lms.example.edu", "adal", None, None) == ()


def test_what_is_not_an_address_is_no_email_key() -> None:
    for bad in ("ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@@example.com", ""):
        assert identities.email_key(bad) is None, bad
    assert identities.email_key("x" * 320 + "@example.com") is None


def test_usernames_with_line_breaks_or_blank_give_no_key() -> None:
    assert identities.username_key("  ") is None
    assert identities.username_key("ada\nlovelace") is None
    assert identities.username_key("u" * 321) is None


@given(st.lists(st.tuples(st.sampled_from(["lti:x", "package:k", "invite:1"]), st.text(min_size=1, max_size=8),
                          st.one_of(st.none(), st.emails()), st.one_of(st.none(), st.text(max_size=8)))))
def test_keys_always_come_sorted_and_unique(identities_list: list[tuple[str, str, str | None, str | None]]) -> None:
    for source, external_id, email, username in identities_list:
        keys = identities.link_keys(source, external_id, email, username)
        assert list(keys) == sorted(set(keys))


def test_delivery_methods() -> None:
    assert identities.delivery_of("lti:https://lms.example.edu") == "lti"
    assert identities.delivery_of("package:abc", "scorm12") == "scorm12"
    assert identities.delivery_of("package:abc", "scorm2004") == "scorm2004"
    assert identities.delivery_of("package:abc") is None
    assert identities.delivery_of("invite:7") == "invitation"
    assert identities.delivery_of("login:3") == "signin"
    assert identities.delivery_of("staff") == "staff"
    assert identities.delivery_of("demo") == "other"
    assert identities.delivery_label("scorm2004") == "SCORM 2004"
    assert identities.delivery_label(None) == "Other"


def test_identity_labels() -> None:
    assert identities.identity_label("lti:https://lms.example.edu", "42", "lti") == "LTI (https://lms.example.edu): 42"
    assert identities.identity_label("package:k", "ada", "scorm12") == "SCORM 1.2: ada"
    assert identities.identity_label("invite:1", "ada@example.com", "invitation") == "Invitation: ada@example.com"
    assert identities.identity_label("login:3", "3", "signin") == "Sign-in"


def test_the_setting_explains_the_trade_off() -> None:
    assert "share an email" in identities.LINKING_HELP
    assert "reuses the usernames" in identities.LINKING_HELP
