"""Engines and sessions for Postgres (the reference) and SQLite (embedded default).

On PostgreSQL the pool does not ping a connection before every checkout (a
round trip on every request, for a failure that is rare): connections are
replaced after ``pool_recycle`` seconds, rolled back when returned (a no-op
after a commit), and a connection found dead fails its request with a ``503``
that invalidates the whole pool, so the next request reconnects.

SQLite has no row locks, so every SQLite transaction that may write starts
with ``BEGIN IMMEDIATE``: writers queue on the database lock instead of failing
with ``database is locked`` when two of them upgrade at once. That serialises
the embedded default's writers, which is meant for one team's first steps,
not for load.

Readers must not queue there: a slow page holding the write lock would make
every integration's report wait, then fail. Sessions of
:func:`read_session_factory` start a deferred ``BEGIN`` instead, which in WAL
mode reads a snapshot beside the one writer and takes no lock a writer waits
for. They must not write: a deferred transaction that upgrades after another
writer committed fails at once rather than queueing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: Execution option marking an engine's connections as readers (SQLite: deferred BEGIN).
READ_ONLY: Final = "clef_pro_read_only"


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _make_sqlite_transactional(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_reset_on_return="rollback",
    )


def _make_sqlite_transactional(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reader = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read (GET requests): on SQLite they never take the write lock."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
