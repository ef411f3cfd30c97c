"""``lti-tool``: the command line for vendor support staff and operators.

Every command that changes data runs one service call (one transaction). Bad input exits
non-zero with a one-line reason on stderr and changes nothing. ``--json`` gives machine output.
"""

from __future__ import annotations

from lti_tool.cli.base import cli
from lti_tool.cli import core as _core  # noqa: F401  (registers commands)
from lti_tool.cli import catalog as _catalog  # noqa: F401
from lti_tool.cli import demo as _demo  # noqa: F401
from lti_tool.cli import staff as _staff  # noqa: F401
from lti_tool.cli import licenses as _licenses  # noqa: F401
from lti_tool.cli import lti as _lti  # noqa: F401
from lti_tool.cli import packages as _packages  # noqa: F401
from lti_tool.cli import content as _content  # noqa: F401
from lti_tool.cli import mail as _mail  # noqa: F401
from lti_tool.cli import orders as _orders  # noqa: F401
from lti_tool.cli import admin as _admin  # noqa: F401
from lti_tool.cli import jobs as _jobs  # noqa: F401


def main() -> None:
    cli(prog_name="lti-tool")


__all__ = ["cli", "main"]
