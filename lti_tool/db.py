"""Database lifecycle for the app: migrations (Alembic only) and the app's engine/sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import lti_tool.lti.models  # noqa: F401  (LTI tables join the shared metadata)
import scorm_packages.models  # noqa: F401  (dispatch package tables join the shared metadata)
import store.models  # noqa: F401

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Database objects that live only in migrations (full-text search structures differ per
# database), so the models-versus-migrations drift check leaves them alone.
MIGRATION_ONLY_PREFIXES = ("course_fts", "ix_courses_search")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if name and name.startswith(MIGRATION_ONLY_PREFIXES):
        return False
    return True


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"
    )
    return cfg


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    cfg = alembic_config("sqlite://")
    return ScriptDirectory.from_config(cfg).get_current_head()
