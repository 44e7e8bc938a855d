"""An exchange binds a whole query in one pass: each statement's named
placeholders become positional ones, in order, and a literal ``%`` survives
the one ``%`` formatting that fills them all."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    literal_column,
    select,
)

from clef_pro_api.storage.exchange import _positional, compiled

_T = Table("t", MetaData(), Column("a", String), Column("b", String))


@pytest.mark.parametrize(
    ("sql", "template", "order"),
    [
        ("SELECT 1", b"SELECT 1", ()),
        ("a = %(x)s AND b = %(y_0)s", b"a = %s AND b = %s", ("x", "y_0")),
        ("a = %(x)s OR b = %(x)s", b"a = %s OR b = %s", ("x", "x")),
        ("a LIKE '5%%' AND b = %(x)s", b"a LIKE '5%%' AND b = %s", ("x",)),
        ("a = '%%(x)s'", b"a = '%%(x)s'", ()),
    ],
)
def test_named_placeholders_become_positional_in_order(
    sql: str, template: bytes, order: tuple[str, ...]
) -> None:
    assert _positional(sql) == (template, order)


def test_a_compiled_statement_fills_with_its_values_and_keeps_its_literal_percent() -> None:
    statement = select(_T.c.a, literal_column("'50%'")).where(
        _T.c.b == bindparam("p_b"), _T.c.a == bindparam("p_a")
    )
    # The driver's dialect, never connected.
    unit = compiled(statement, create_engine("postgresql+psycopg://").dialect)
    assert unit.order == ("p_b", "p_a")
    filled = (unit.template % (b"'B'", b"'A'")).decode()
    assert filled == unit.sql.replace("%(p_b)s", "'B'").replace("%(p_a)s", "'A'").replace("%%", "%")
    assert "'50%'" in filled
