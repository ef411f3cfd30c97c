"""Settings: defaults plus environment, frozen once at start-up."""

from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
