"""Alembic environment: the URL comes from the caller (``clef-pro migrate``),
never from a second configuration file.

On Postgres the upgrade holds an advisory lock, so replicas started together
cannot run the same migration twice.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from clef_pro_api.storage.db import create_db_engine
from clef_pro_api.storage.models import Base

#: An arbitrary constant shared by every Clef Pro migrator ("clefpro" in ASCII).
MIGRATION_LOCK_ID = 0x636C6566_70726F

config = context.config
url = config.get_main_option("sqlalchemy.url")
if url is None:
    raise RuntimeError("run migrations through clef-pro migrate, which passes the database URL")

engine = create_db_engine(url, pool_size=1)
with engine.connect() as connection:
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=not is_postgres,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
engine.dispose()
