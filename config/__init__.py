"""Settings: defaults plus environment, frozen once at start-up."""

from config.settings import ConfigError, Settings, check_payment_settings, load_settings

__all__ = ["ConfigError", "Settings", "check_payment_settings", "load_settings"]
