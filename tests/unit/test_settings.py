import pytest

from config import ConfigError, load_settings


def test_defaults_are_development_on_sqlite() -> None:
    s = load_settings({})
    assert s.env == "development" and s.database_url.startswith("sqlite:///")
    assert s.port == 5000 and s.host == "127.0.0.1"
    assert len(s.secret_key) >= 32


def test_no_fixed_fallback_secret() -> None:
    assert load_settings({}).secret_key != load_settings({}).secret_key


def test_app_prefix_wins_over_plain_name() -> None:
    s = load_settings({"APP_DATABASE_URL": "sqlite:///a.db", "DATABASE_URL": "sqlite:///b.db", "PORT": "8080"})
    assert s.database_url == "sqlite:///a.db" and s.port == 8080


def test_production_without_secret_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_settings({"ENV": "production"})
    with pytest.raises(ConfigError, match="too short"):
        load_settings({"ENV": "production", "SECRET_KEY": "short"})
    ok = load_settings({"ENV": "production", "SECRET_KEY": "x" * 40, "PAYMENTS_TEST_MODE": "true"})
    assert ok.is_production


@pytest.mark.parametrize("env", [{"ENV": "staging"}, {"PORT": "http"}, {"PORT": "0"}])
def test_malformed_settings_are_reported(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


@pytest.mark.parametrize("env, value, expected", [
    ("development", None, True), ("test", None, True), ("production", None, False),
    ("development", "false", False), ("test", "off", False),
    ("production", "true", False),  # never in production, whatever the setting says
])
def test_demo_content_is_on_in_development_and_test_and_never_in_production(env: str, value: str | None,
                                                                             expected: bool) -> None:
    environ = {"ENV": env, "SECRET_KEY": "x" * 40, "PAYMENTS_TEST_MODE": "true"}
    if value is not None:
        environ["DEMO_CONTENT"] = value
    assert load_settings(environ).demo_content is expected
    with pytest.raises(ConfigError, match="DEMO_CONTENT"):
        load_settings({**environ, "DEMO_CONTENT": "maybe"})


def test_mail_settings_default_to_the_outbox_with_a_sender_from_the_public_url() -> None:
    s = load_settings({"ENV": "test", "PUBLIC_BASE_URL": "https://tool.example.com/"})
    assert (s.mail_backend, s.mail_from, s.smtp_port, s.smtp_starttls, s.smtp_ssl) == (
        "outbox", "no-reply@tool.example.com", 587, True, False)
    smtp = load_settings({"ENV": "test", "MAIL_BACKEND": "SMTP", "SMTP_HOST": "mail.example.com", "SMTP_SSL": "on",
                          "SMTP_STARTTLS": "off", "SMTP_PORT": "465", "MAIL_FROM": "shop@example.com"})
    assert (smtp.mail_backend, smtp.smtp_host, smtp.smtp_port, smtp.smtp_ssl, smtp.mail_from) == (
        "smtp", "mail.example.com", 465, True, "shop@example.com")


@pytest.mark.parametrize(("env", "fragment"), [
    ({"MAIL_BACKEND": "pigeon"}, "MAIL_BACKEND must be one of"),
    ({"MAIL_BACKEND": "smtp"}, "SMTP_HOST is not set"),
    ({"SMTP_SSL": "true"}, "not both"),  # STARTTLS is on by default
    ({"MAIL_FROM": "nobody"}, "MAIL_FROM must be one email address"),
    ({"SMTP_PORT": "70000"}, "SMTP_PORT must be a TCP port"),
    ({"SIGNIN_PER_EMAIL_PER_HOUR": "0"}, "at least 1"),
    ({"PASSWORD_RESET_TTL_SECONDS": "10"}, "at least 60"),
])
def test_malformed_mail_and_sign_in_settings_are_reported(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings({"ENV": "test", **env})


def test_payment_settings() -> None:
    default = load_settings({})
    assert (default.payment_gateway, default.renewal_grace_days, default.payments_test_mode) == ("local", 7, False)
    stripe = load_settings({"PAYMENT_GATEWAY": "Stripe", "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_PUBLISHABLE_KEY":
                            "pk_test_x", "STRIPE_API_BASE": "http://127.0.0.1:9/"})
    assert (stripe.payment_gateway, stripe.stripe_api_base) == ("stripe", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        load_settings({"PAYMENT_GATEWAY": "stripe", "STRIPE_PUBLISHABLE_KEY": "pk_test_x"})
    with pytest.raises(ConfigError, match="STRIPE_PUBLISHABLE_KEY"):
        load_settings({"PAYMENT_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_test_x"})
    with pytest.raises(ConfigError, match="PAYMENT_GATEWAY must be one of"):
        load_settings({"PAYMENT_GATEWAY": "paypal"})
    with pytest.raises(ConfigError, match="RENEWAL_GRACE_DAYS"):
        load_settings({"RENEWAL_GRACE_DAYS": "-1"})


def test_the_local_gateway_runs_in_production_only_where_no_real_payments_are_taken() -> None:
    production = {"ENV": "production", "SECRET_KEY": "x" * 40}
    with pytest.raises(ConfigError, match="PAYMENTS_TEST_MODE=true"):
        load_settings(production)
    assert load_settings({**production, "PAYMENTS_TEST_MODE": "true"}).payment_gateway == "local"
    live = load_settings({**production, "PAYMENT_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_live_x",
                          "STRIPE_PUBLISHABLE_KEY": "pk_live_x"})
    assert live.payment_gateway == "stripe"
