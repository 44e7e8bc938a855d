"""An exchange hands its pooled connection back as the pool lent it.

Why: on PostgreSQL an exchange switches the driver to autocommit (it sends
``BEGIN`` and ``COMMIT`` itself) and turns psycopg's prepared-statement
counting off for its one-off query text. The connection then serves other
requests, whose statements rely on psycopg beginning their transactions and
may be prepared: both settings must be back, and no transaction left open,
whether the exchange committed or a statement failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import Engine, literal, select, text
from sqlalchemy.exc import DBAPIError

from clef_pro_api.storage.db import create_db_engine
from clef_pro_api.storage.exchange import Exchange


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def _state(driver: Any) -> tuple[bool, int | None, pq.TransactionStatus]:
    return driver.autocommit, driver.prepare_threshold, driver.pgconn.transaction_status


def test_a_committed_exchange_leaves_autocommit_prepare_threshold_and_transaction_as_found(
    engine: Engine,
) -> None:
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        before = _state(driver)
        with Exchange(connection) as exchange:
            answer = exchange.query(select(literal(1)), {})
            exchange.send()
            exchange.query(select(literal(2)), {})
            exchange.commit()
        assert answer.rows == [(1,)]
        assert _state(driver) == before == (False, 5, pq.TransactionStatus.IDLE)


def test_a_failed_statement_rolls_back_and_restores_the_connection(engine: Engine) -> None:
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        before = _state(driver)
        with Exchange(connection) as exchange:
            exchange.query(text("SELECT 1 / 0"), {})
            with pytest.raises(DBAPIError, match="division by zero"):
                exchange.commit()
        assert not connection.invalidated
        assert _state(driver) == before
        # The same connection goes on serving ordinary statements.
        assert connection.execute(select(literal(3))).scalar_one() == 3
