"""Schema migrations, driven from code so the service and the CLI share one path."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("clef_pro_api") / "migrations"))
    # ConfigParser interpolation would eat '%' in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def schema_state(engine: Engine) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(False)))
    head = script.get_current_head()
    assert head is not None, "the migrations folder has no revision"
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(current=current, head=head)


class SchemaBehind(Exception):
    """The database needs migrations this process was told not to apply."""


def ensure_schema(url: str, engine: Engine, *, apply: bool) -> None:
    """Apply the migrations, or (``apply`` off) refuse a schema that is behind."""
    if apply:
        upgrade(url)
        return
    state = schema_state(engine)
    if not state.is_current:
        raise SchemaBehind(
            f"the database schema is at {state.current or 'nothing'}, this version needs "
            f"{state.head}. Run `clef-pro migrate` (or the chart's migration job) first."
        )
