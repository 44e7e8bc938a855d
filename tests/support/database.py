"""Reading a database back whole, to prove what it does not hold."""

from __future__ import annotations

import json

from sqlalchemy import MetaData, create_engine, select


def every_stored_text(url: str) -> list[str]:
    """Every text and JSON value of every column of every table, as text."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    values: list[str] = []
    try:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    for value in row:
                        if isinstance(value, str):
                            values.append(value)
                        elif isinstance(value, dict | list):
                            values.append(json.dumps(value, ensure_ascii=False))
    finally:
        engine.dispose()
    return values
