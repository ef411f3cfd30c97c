"""The LTI 1.3 tool: Flask app factory, CLI and migrations."""

from lti_tool.app import create_app

__all__ = ["create_app"]
