"""The statements every message takes, prepared once for the driver.

A :class:`Prepared` wraps a Core statement (or a ``text()`` one). On SQLite it is
compiled once per engine and run on the driver's cursor: SQLAlchemy's execution (its
context, parameter handling and result object) cost about 20 us a statement in a tight
loop and more under load, several times SQLite's own work on the gateway's small rows,
and the gateway runs about seventeen such statements for every message. The values
and the rows pass through the column types' own conversions, so what is stored and
read is what SQLAlchemy would store and read; a row is a named tuple with the
statement's column keys.

Elsewhere (PostgreSQL) the statement runs through SQLAlchemy: the network costs more
than that, and SQLAlchemy's handling of a lost connection (invalidating it) is worth
keeping. Its rows are SQLAlchemy's, read the same way (``row.id``).

Only what the gateway's statements need is supported; the rest is refused when the
statement is first compiled, not guessed at (see :class:`DriverStatement`).
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select
from sqlalchemy.sql.base import Executable

Processor = Callable[[Any], Any]
# A row a Prepared SELECT reads: a named tuple on SQLite, SQLAlchemy's Row elsewhere;
# both are read by attribute (``row.id``).
Record = Any


@dataclass(frozen=True)
class DriverStatement:
    """A statement as the driver takes it, for one dialect and one set of values."""

    sql: str
    # The value of each ``?`` in order: a key of the caller's values, or a fixed
    # value the statement carries (``state == "pending"``, ``LIMIT 1``).
    params: tuple[tuple[str | None, Any, Processor | None], ...]
    row: type[tuple[Any, ...]] | None  # a SELECT's named tuple
    results: tuple[Processor | None, ...]  # a SELECT's column conversions

    @classmethod
    def compile(
        cls, statement: Executable, dialect: Dialect, keys: frozenset[str]
    ) -> DriverStatement:
        """Compile ``statement`` for ``dialect`` and the value names ``keys``.

        Raises:
            ValueError: The statement needs what this class does not do: values
                computed by SQLAlchemy at execution (a column default or ``onupdate``
                that the caller did not set), a list for ``IN``, or named
                parameters; or no value given for a parameter.
        """
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = [
                c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)
            ]
            raise ValueError(f"Set these columns explicitly: {missing}.")
        if not compiled.positional:
            raise ValueError(f"{dialect.name} takes named parameters.")

        params = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"A list for IN ({name}) is not supported.")
            impl = bind.type.dialect_impl(dialect)
            processor = impl.bind_processor(dialect)
            if name in keys:
                params.append((name, None, processor))
            elif bind.callable is not None or bind.required:
                raise ValueError(f"No value for {name}.")
            else:  # carried by the statement
                params.append((None, bind.value, processor))

        row: type[tuple[Any, ...]] | None = None
        results: tuple[Processor | None, ...] = ()
        if isinstance(statement, Select):
            columns = list(statement.selected_columns)
            names = [c.key for c in columns]
            row = collections.namedtuple("Row", names)  # type: ignore[misc, no-redef]
            results = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None)
                for c in columns
            )
        return cls(compiled.string, tuple(params), row, results)

    def execute(
        self, connection: Connection, values: dict[str, Any]
    ) -> tuple[list[tuple[Any, ...]], int, int | None]:
        """Run it in the connection's transaction.

        Returns:
            The rows (a SELECT's, converted), the row count and the last inserted
            row id.

        Raises:
            sqlalchemy.exc.DBAPIError: The driver's error, as SQLAlchemy raises it.
        """
        params = []
        for key, fixed, processor in self.params:
            value = values[key] if key is not None else fixed
            params.append(processor(value) if processor is not None else value)
        dbapi = connection.dialect.dbapi
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall() if self.row is not None else []
            count, last_id = int(cursor.rowcount), cursor.lastrowid
        except dbapi.Error as exc:
            raise DBAPIError.instance(
                self.sql,
                None,
                exc,
                dbapi.Error,
                hide_parameters=True,
                dialect=connection.dialect,
            ) from exc
        finally:
            cursor.close()
        return self._rows(rows), count, last_id

    def _rows(self, raw: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if self.row is None:
            return []
        make, processors = self.row, self.results
        return [
            make(*(p(v) if p else v for p, v in zip(processors, r, strict=True)))
            for r in raw
        ]


@functools.lru_cache(maxsize=256)
def _driver_statement(
    statement: Executable, dialect: Dialect, keys: frozenset[str]
) -> DriverStatement:
    # One per statement, engine (its dialect object) and set of value names.
    return DriverStatement.compile(statement, dialect, keys)


class Prepared:
    """A statement that runs on the driver on SQLite, through SQLAlchemy elsewhere."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement

    def rows(self, connection: Connection, values: dict[str, Any]) -> list[Record]:
        """Run a SELECT; return its rows (attributes named after its columns)."""
        if not _on_driver(connection):
            return list(connection.execute(self.statement, values))
        return self._driver(connection, values).execute(connection, values)[0]

    def first(self, connection: Connection, values: dict[str, Any]) -> Record | None:
        """Run a SELECT; return its first row, or None."""
        found = self.rows(connection, values)
        return found[0] if found else None

    def run(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE; return the number of rows it changed."""
        if not _on_driver(connection):
            return int(connection.execute(self.statement, values).rowcount)
        return self._driver(connection, values).execute(connection, values)[1]

    def insert(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run an INSERT of one row; return its new primary key."""
        if not _on_driver(connection):
            result = connection.execute(self.statement, values)
            return int(result.inserted_primary_key[0])
        last_id = self._driver(connection, values).execute(connection, values)[2]
        if last_id is None:
            raise RuntimeError("The driver reported no inserted row id.")
        return last_id

    def _driver(
        self, connection: Connection, values: dict[str, Any]
    ) -> DriverStatement:
        # Compiled for the names of the values given, as SQLAlchemy does: an
        # INSERT's columns are those.
        return _driver_statement(self.statement, connection.dialect, frozenset(values))


def _on_driver(connection: Connection) -> bool:
    return bool(connection.dialect.name == "sqlite")
