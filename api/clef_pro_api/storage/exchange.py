"""Statements sent to the database together and answered together.

Report ingestion is a handful of short statements, and on PostgreSQL each one
sent on its own costs a network round trip, the server's wake-up for it, and
SQLAlchemy's per-statement work. An :class:`Exchange` collects SQLAlchemy Core
statements and sends them as one unit: on PostgreSQL as one simple query
(every statement, and the transaction's ``BEGIN`` and ``COMMIT``, in one
message and one round trip, every value quoted by psycopg's own literal
quoting in one pass over the whole query), elsewhere (the embedded SQLite)
one after the other through the SQLAlchemy connection, with the same results.

Why one query rather than psycopg's pipeline mode: both make one round trip,
but the pipeline costs the client a flush, a poll and its bookkeeping for
every statement, about a third of a report's CPU in this process; the server
runs a multi-statement query's statements in order, each with a snapshot of
its own, as it runs a pipeline's. What is given up is the server-side
prepared statement: PostgreSQL plans these short statements again each time,
which costs it less than the client saves.

The statements are ordinary Core constructs, compiled once per dialect and
kept (:func:`compiled`): on the PostgreSQL path their SQL, its placeholders
made positional, is filled with the quoted values, JSON parameters quoted as
``jsonb``. What SQLAlchemy's bind processing would add there is nothing
these statements need (the timezone-aware check of
:class:`~clef_pro_api.storage.models.UTCDateTime` is about values the
service makes itself), and the results are what psycopg returns for these
column types (timezone-aware timestamps, decoded JSON), which is also what
the SQLite path's result processing produces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from psycopg import ClientCursor, sql
from psycopg.adapt import Transformer
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Dialect, Insert, text
from sqlalchemy.sql import Executable, sqltypes

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    #: Names of the parameters that are JSON documents.
    json: frozenset[str]
    #: Values of the statement's own literals (``column == "open"``).
    defaults: Mapping[str, Any]
    #: For client-side binding (``pyformat`` drivers only, else empty): the
    #: SQL with a positional ``%s`` for each parameter, ``%%`` for a literal
    #: ``%``, and the parameters' names in the order of their placeholders.
    template: bytes = b""
    order: tuple[str, ...] = ()


_COMPILED: dict[tuple[str, int], Compiled] = {}


def compiled(statement: Executable, dialect: Dialect) -> Compiled:
    """The statement's SQL for ``dialect``, compiled on first use only.

    Keyed by the statement object: the ingestion statements are module
    constants, built once.
    """
    key = (dialect.name, id(statement))
    found = _COMPILED.get(key)
    if found is None:
        unit = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        json = frozenset(
            name
            for name, bind in unit.binds.items()
            if isinstance(bind.type, sqltypes.JSON)
            or isinstance(getattr(bind.type, "impl", None), sqltypes.JSON)
        )
        defaults = {
            name: bind.value
            for name, bind in unit.binds.items()
            if not bind.required and bind.callable is None
        }
        template, order = (
            _positional(unit.string) if dialect.paramstyle == "pyformat" else (b"", ())
        )
        found = _COMPILED[key] = Compiled(unit.string, json, defaults, template, order)
    return found


#: A ``pyformat`` placeholder, or an escaped ``%`` (which must stay escaped).
_PLACEHOLDER: Final = re.compile(r"%(?:%|\((\w+)\)s)")


def _positional(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """``%(name)s`` placeholders made positional ``%s``, and their names in order."""
    order: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%%"
        order.append(name)
        return "%s"

    return _PLACEHOLDER.sub(placeholder, sql).encode(), tuple(order)


class Answer:
    """The rows a query of an exchange returns, once the exchange was sent."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[Sequence[Any]] | None = None

    @property
    def rows(self) -> list[Sequence[Any]]:
        if self._rows is None:
            raise RuntimeError("the exchange was not sent yet")
        return self._rows

    def first(self) -> Sequence[Any] | None:
        rows = self.rows
        return rows[0] if rows else None


#: A queued statement, its parameter sets, and where its rows go (if anywhere).
_Queued = tuple[Executable, list[Params], Answer | None]


class Exchange:
    """Collects statements; :meth:`send` or :meth:`commit` sends them all.

    Use it as a context manager: leaving it without :meth:`commit` rolls back.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.combined: Final = connection.dialect.driver == "psycopg"
        #: Each statement with its parameter sets (one per run of it).
        self._queued: list[_Queued] = []
        #: Whether this exchange began the transaction it is in (PostgreSQL path).
        self._began = False

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self.combined:
            return  # the SQLAlchemy connection rolls back what was not committed
        if not self._began:
            return
        driver = self._driver()
        try:
            if driver.pgconn.transaction_status != _IDLE:
                driver.rollback()
            self._end()
        except Exception:
            # Never lend out a connection in a state we do not know: drop it.
            self._began = False
            self.connection.invalidate()

    def query(self, statement: Executable, params: Params) -> Answer:
        answer = Answer()
        self._queued.append((statement, [params], answer))
        return answer

    def execute(self, statement: Executable, params: Params | list[Params]) -> None:
        """Queue a statement that returns nothing; a list of parameter sets
        runs it once per set (an empty list: not at all)."""
        # A list, not any Sequence: telling a dict from a list is a type check,
        # an abstract Mapping or Sequence a call into ``abc`` for every statement.
        if isinstance(params, list):
            if params:
                self._queued.append((statement, params, None))
        else:
            self._queued.append((statement, [params], None))

    def insert_many(self, statement: Insert, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the INSERT ``statement`` for each of ``rows`` (dicts with the
        same keys, one per column) now, in the exchange's transaction, which
        an earlier :meth:`send` began; nothing may be queued.

        For many rows at once (a batch's history). On PostgreSQL the rows go
        into the statement's table by ``COPY``: the server takes them as one
        stream instead of an ``INSERT`` per row (bound, planned and run each),
        and the driver writes them in its C code. Elsewhere the statement runs
        once per row (``executemany``).
        """
        assert not self._queued, "send what is queued first"
        if not rows:
            return
        if not self.combined:
            self.connection.execute(statement, list(rows))
            return
        assert self._began, "COPY runs inside the transaction an earlier send began"
        table = statement.table.name
        names = tuple(rows[0])
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        try:
            with self._driver().cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row([row[name] for name in names])
        except self.dialect.loaded_dbapi.Error as error:
            self._raise_wrapped(error, f"COPY {table} ({', '.join(names)}) FROM STDIN")

    def send(self) -> None:
        """Send what is queued and wait for every answer (one round trip on PostgreSQL)."""
        self._run(commit=False)

    def commit(self) -> None:
        """Send what is queued and commit, together (one round trip on PostgreSQL)."""
        self._run(commit=True)

    def _run(self, *, commit: bool) -> None:
        queued, self._queued = self._queued, []
        if self.combined:
            self._as_one_query(queued, commit=commit)
            return
        for statement, sets, answer in queued:
            result = self.connection.execute(statement, sets[0] if len(sets) == 1 else sets)
            if answer is not None:
                answer._rows = [tuple(row) for row in result]
        if commit:
            self.connection.commit()

    def _driver(self) -> Any:
        driver = self.connection.connection.driver_connection
        assert driver is not None
        return driver

    def _end(self) -> None:
        """Hand the connection back as the pool lends it: outside any
        transaction, and beginning its own on the next statement."""
        if self._began:
            self._began = False
            self._driver().autocommit = False

    def _as_one_query(
        self,
        queued: list[_Queued],
        *,
        commit: bool,
    ) -> None:
        driver = self._driver()
        try:
            if not self._began and driver.pgconn.transaction_status == _IDLE:
                # psycopg would begin the transaction with a round trip of its
                # own (it waits to learn the transaction's state); this
                # exchange sends BEGIN itself, first in the query, and COMMIT
                # last in the one that commits.
                driver.autocommit = True
                self._began = True
                queued.insert(0, (_BEGIN, [{}], None))
            if commit and self._began:
                queued.append((_COMMIT, [{}], None))
            # Every statement, its values quoted by the driver, in one simple
            # query: one message out, every result back in one answer.
            # psycopg's pipeline mode costs the client a flush, a poll and
            # result bookkeeping per statement; this costs one. The server
            # runs the statements in order, each with a snapshot of its own,
            # as it would from a pipeline (the state read still sees what the
            # lock's previous holder committed), and stops at the first error.
            cursor, literal = self._cursor(driver)
            # One binding pass for the whole query: every value quoted by the
            # driver's literal quoting (what its client-side binding uses),
            # into the statements' positional templates. Binding statement by
            # statement (``mogrify``) cost about a tenth more of the storing's
            # CPU: psycopg parses, checks and formats once per call.
            parts: list[bytes] = []
            values: list[Any] = []
            answers: list[tuple[int, Answer]] = []
            for statement, sets, answer in queued:
                unit = compiled(statement, self.dialect)
                for each in sets:
                    if answer is not None:
                        answers.append((len(parts), answer))
                    parts.append(unit.template)
                    if unit.order:
                        values.extend(_values(each, unit))
            # A report's statements repeat many of their values (its id, the
            # integration's, the time of the submission): each object is
            # quoted once (by identity: ``values`` keeps every one alive).
            quoted: dict[int, bytes] = {id(None): b"NULL"}
            literals: list[bytes] = []
            for value in values:
                text = quoted.get(id(value))
                if text is None:
                    text = quoted[id(value)] = literal(value)
                literals.append(text)
            query = b";\n".join(parts) % tuple(literals)
            # psycopg counts each query text a connection runs, to prepare
            # the ones that come back; this text, values and all, never does,
            # and hashing and counting its kilobytes cost a fiftieth of the
            # report's CPU. Off for this query only: what else runs on the
            # pooled connection keeps its prepared statements.
            threshold = driver.prepare_threshold
            driver.prepare_threshold = None
            try:
                cursor.execute(query, None)
            finally:
                driver.prepare_threshold = threshold
            position = 0
            for index, answer in answers:
                while position < index:
                    cursor.nextset()
                    position += 1
                answer._rows = cursor.fetchall()
            if commit:
                self._end()
                if self.connection.in_transaction():
                    # Statements SQLAlchemy ran itself (a batch's lookups and
                    # corrections) began its transaction object; the server
                    # has committed, so this sends nothing.
                    self.connection.commit()
        except self.dialect.loaded_dbapi.Error as error:
            self._raise_wrapped(
                error, ";\n".join(compiled(statement, self.dialect).sql for statement, *_ in queued)
            )

    def _cursor(self, driver: Any) -> tuple[Any, Callable[[Any], bytes]]:
        """The connection's cursor for these queries, and the literal quoting
        of its values; made once per pooled connection and kept with it.

        A new cursor per exchange also meant a new transformer, whose dumper
        cache starts empty: every value's type was looked up in the adapters
        again, about a twentieth of a report's CPU with the cursor's own set-up.
        Both are only ever used by the thread that holds the connection.
        """
        info = self.connection.connection.info
        kept = info.get(_CURSOR_KEY)
        if kept is None:
            cursor = ClientCursor(driver)
            kept = info[_CURSOR_KEY] = (cursor, Transformer.from_context(cursor).as_literal)
        return kept

    def _raise_wrapped(self, error: Exception, sql: str) -> NoReturn:
        """As SQLAlchemy does for its own statements: raise the driver's error
        wrapped (a DBAPIError, which the error handlers know), and invalidate
        the pool's connections when the server went away. ``sql`` names the
        statements, never their values (a key's digest)."""
        self.connection._handle_dbapi_exception(error, sql, {}, None, None)
        raise error  # not reached: SQLAlchemy raised the wrapped error


#: Where a pooled connection keeps its exchange cursor (the pool's ``info``
#: dictionary follows the driver's connection from one checkout to the next,
#: and is emptied when the pool replaces that connection).
_CURSOR_KEY: Final = "clef_pro.exchange_cursor"
_BEGIN: Final = text("BEGIN")
_COMMIT: Final = text("COMMIT")
_IDLE: Final = TransactionStatus.IDLE


def _values(params: Params, unit: Compiled) -> list[Any]:
    """The statement's values in its placeholders' order; JSON documents
    wrapped as ``jsonb`` (``None`` stays SQL NULL, as for a column the ORM
    never set)."""
    if unit.defaults:
        params = {**unit.defaults, **params}
    values = [params[name] for name in unit.order]
    if not unit.json:
        return values
    return [
        Jsonb(value) if name in unit.json and value is not None else value
        for name, value in zip(unit.order, values, strict=True)
    ]
