"""Bulk inserts for the sync hot path.

SQLAlchemy Core's ``executemany`` builds and type-processes a parameter dict per row,
which at a million rows costs more than SQLite spends writing them. ``BulkInsert``
compiles the statement once and hands plain tuples to the driver's executemany through
the same Connection and transaction. Values that a whole batch shares (its timestamp)
are converted once by the caller (``BulkInsert.bind``) and named in ``converted``, so
no Python runs per row at all; other columns' bind processors run once per distinct value.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import ARRAY, Connection, String, Table, bindparam, func, select

if TYPE_CHECKING:
    import psycopg

__all__ = ["CHUNK", "BulkInsert", "chunked", "one_array"]

CHUNK = 5_000  # values bound in one IN list (well under every driver's parameter limit)
SQLITE_ROWS = 200  # rows in one multi-row INSERT on SQLite (fewer when the variable limit says so)
_T = TypeVar("_T")


def chunked(values: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    """``values`` in slices of at most ``size``: one statement each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":{}", "named": ":{}"}


class BulkInsert:
    """``INSERT INTO table (columns...)`` for tuples in ``columns`` order."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._compiled: dict[str, tuple[str, list[tuple[int, Callable[[Any], Any]]]]] = {}

    def _compile(self, conn: Connection) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
        dialect = conn.dialect
        cached = self._compiled.get(dialect.name)
        if cached is not None:
            return cached
        style = dialect.paramstyle
        if style not in ("qmark", "format", "pyformat"):
            raise NotImplementedError(f"bulk insert does not support paramstyle {style}")
        marker = _MARKERS[style]
        preparer = dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in self.columns)
        values = ", ".join(marker for _ in self.columns)
        sql = f"INSERT INTO {preparer.format_table(self.table)} ({names}) VALUES ({values})"
        processors = []
        for index, name in enumerate(self.columns):
            column_type = self.table.c[name].type
            processor = column_type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((index, cast(Callable[[Any], Any], processor)))
        self._compiled[dialect.name] = (sql, processors)
        return sql, processors

    def bind(self, conn: Connection, column: str, value: Any) -> Any:
        """``value`` as the driver receives it for ``column`` (the column's bind processor applied)."""
        if value is None:
            return None
        processor = self.table.c[column].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        return value if processor is None else processor(value)

    def execute(self, conn: Connection, rows: Sequence[tuple[Any, ...]], converted: Collection[str] = ()) -> None:
        """Insert ``rows``; the columns named in ``converted`` hold values passed through ``bind`` already."""
        if not rows:
            return
        sql, processors = self._compile(conn)
        if converted:
            skip = {self.columns.index(name) for name in converted}
            processors = [(index, processor) for index, processor in processors if index not in skip]
        if processors:
            memo: dict[tuple[int, Any], Any] = {}
            processed = []
            for row in rows:
                values = list(row)
                for index, processor in processors:
                    value = values[index]
                    if value is None:
                        continue
                    key = (index, value)
                    done = memo.get(key)
                    if done is None:
                        done = memo[key] = processor(value)
                    values[index] = done
                processed.append(tuple(values))
            rows = processed
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            self._copy(conn, rows)
            return
        if conn.dialect.name == "sqlite":
            self._sqlite(conn, sql, rows)
            return
        conn.exec_driver_sql(sql, list(rows))

    def _sqlite(self, conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """SQLite: multi-row INSERTs of SQLITE_ROWS rows each, the rest by ``executemany``.

        ``executemany`` steps the statement once per row, and Python's driver gives up the
        GIL at every step: while the reader thread holds it, the writer waits for each row.
        One statement of many rows is one step, the whole insert done without the GIL.
        """
        raw = conn.connection.dbapi_connection
        assert raw is not None
        per = min(SQLITE_ROWS, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(self.columns))
        whole = len(rows) - len(rows) % per if per > 1 else 0
        if whole:
            head, values = sql.split(" VALUES ")
            many = f"{head} VALUES {', '.join([values] * per)}"
            for start in range(0, whole, per):
                conn.exec_driver_sql(many, tuple(value for row in rows[start : start + per] for value in row))
        if whole < len(rows):
            conn.exec_driver_sql(sql, list(rows[whole:]))

    def _copy(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL: ``COPY ... FROM STDIN`` on the connection's own transaction.

        Several times the rate of ``executemany`` (which psycopg already pipelines): the
        rows stream as one statement, without a round trip or a parse per row.
        """
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in self.columns)
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        statement = f"COPY {preparer.format_table(self.table)} ({names}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def one_array(conn: Connection, values: Sequence[Any], name: str = "values") -> Any:
    """``values`` as a one-column subquery bound as ONE parameter, for ``column.in_(...)``.

    An IN list of 5,000 literals costs SQLAlchemy more to compile (a bound parameter,
    a unique name and a literal check per value) than the database spends answering it.
    SQLite reads a JSON array through json_each, PostgreSQL unnests an array; the
    database still probes the column's index per value. Other dialects get the list.
    """
    if conn.dialect.name == "sqlite":
        each = func.json_each(bindparam(name, json.dumps(list(values)), type_=String)).table_valued("value")
        return select(each.c.value)
    if conn.dialect.name == "postgresql":
        array = bindparam(name, list(values), type_=ARRAY(String))
        return select(func.unnest(array))
    return list(values)
