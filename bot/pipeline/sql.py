"""The statements every message takes, prepared once for the driver.

A :class:`Prepared` wraps a Core ``select()``, ``insert()`` or ``update()``, or a
``text()`` statement that writes. On SQLite it is compiled once per engine and set of
value names, and run on the driver's cursor: SQLAlchemy's execution (its context,
parameter handling and result object) cost about 20 us a statement in a tight loop
and more under load, several times SQLite's own work on the gateway's small rows,
and the gateway runs about seventeen such statements for every message. The values
and the rows pass through the column types' own conversions, so what is stored and
read is what SQLAlchemy would store and read; a row is a named tuple with the
statement's column keys.

What SQLAlchemy adds around a statement does not happen on that path: the engine's
``echo`` and statement events do not see it, and a value its type cannot convert
raises that type's own error (``TypeError``, say), not a ``StatementError``. The
driver's errors are raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``).

Elsewhere (PostgreSQL) the statement runs through SQLAlchemy: the network costs more
than its execution, and its handling of a lost connection (invalidating it) is worth
keeping. Its rows are SQLAlchemy's, read the same way (``row.id``).

Only what the gateway's statements need is supported; anything else is refused, not
guessed at: on SQLite when the statement is first compiled (see
:meth:`DriverStatement.compile`; elsewhere SQLAlchemy runs it), and everywhere by
:meth:`Prepared.rows`, :meth:`Prepared.run` and :meth:`Prepared.insert` for a statement
of the wrong kind.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from keyword import iskeyword
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Insert, Select
from sqlalchemy.sql.base import Executable

Processor = Callable[[Any], Any]
# A row a Prepared SELECT reads: a named tuple on SQLite, SQLAlchemy's Row elsewhere;
# both are read by attribute (``row.id``).
Record = Any


class Outcome(NamedTuple):
    """What the driver reported for one statement."""

    rows: list[tuple[Any, ...]]  # a SELECT's, converted
    changed: int  # rows an INSERT or UPDATE changed
    last_id: int | None  # the row id of the last INSERT on the connection


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
            ValueError: The statement needs what this class does not do: a SELECT
                other than ``select()`` (a UNION), columns without distinct
                names, values SQLAlchemy computes at execution (a column default or
                ``onupdate`` the caller did not set, a callable), a list for ``IN``
                or another value rendered at execution, named parameters; or a
                parameter has no value.
        """
        if getattr(statement, "is_select", False) and not isinstance(statement, Select):
            raise ValueError("Only select() statements read rows here.")
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            prefetch = (*compiled.insert_prefetch, *compiled.update_prefetch)
            missing = [column.key for column in prefetch]
            raise ValueError(f"Set these columns explicitly: {missing}.")
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError(
                "Values rendered at execution (IN lists) are not supported."
            )
        if not compiled.positional:
            raise ValueError(f"{dialect.name} takes named parameters.")

        params = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in keys:
                params.append((name, None, processor))
            elif bind.callable is not None or bind.required:
                raise ValueError(f"No value for {name}.")
            else:  # carried by the statement
                params.append((None, bind.value, processor))

        if not isinstance(statement, Select):
            return cls(compiled.string, tuple(params), None, ())
        columns = list(statement.selected_columns)
        names = [column.key for column in columns]
        usable = all(
            isinstance(n, str) and n.isidentifier() and not iskeyword(n) and n[0] != "_"
            for n in names
        )
        if not usable or len(set(names)) < len(names):
            raise ValueError(f"Name each column once (label() them): {names}.")
        return cls(
            compiled.string,
            tuple(params),
            collections.namedtuple("Row", names),
            tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
        )

    def execute(self, connection: Connection, values: dict[str, Any]) -> Outcome:
        """Run it in the connection's transaction (begun first if none is).

        Raises:
            sqlalchemy.exc.DBAPIError: The driver's error, as SQLAlchemy raises it.
        """
        params = []
        for key, fixed, processor in self.params:
            value = values[key] if key is not None else fixed
            params.append(processor(value) if processor is not None else value)
        if not connection.in_transaction():
            # As a future (2.0-style) connection does: the driver, its own
            # transactions off (db.engine), would commit the statement by itself.
            connection.begin()
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
        return Outcome(self._rows(rows), count, last_id)

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
        """Run a ``select()``; return its rows (attributes named after its columns)."""
        self._expect(Select)
        if not _on_driver(connection):
            return list(connection.execute(self.statement, values))
        return self._driver(connection, values).execute(connection, values).rows

    def first(self, connection: Connection, values: dict[str, Any]) -> Record | None:
        """Run a ``select()``; return its first row, or None."""
        found = self.rows(connection, values)
        return found[0] if found else None

    def run(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run an INSERT or UPDATE; return the number of rows it changed."""
        if isinstance(self.statement, Select):
            raise TypeError(f"A select() has rows, not changes: {self.statement!r}.")
        if not _on_driver(connection):
            return int(connection.execute(self.statement, values).rowcount)
        return self._driver(connection, values).execute(connection, values).changed

    def insert(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run an ``insert()`` of one row; return its new primary key."""
        self._expect(Insert)
        if not _on_driver(connection):
            result = connection.execute(self.statement, values)
            return int(result.inserted_primary_key[0])
        outcome = self._driver(connection, values).execute(connection, values)
        if outcome.changed != 1 or outcome.last_id is None:
            # SQLite's last row id would be an earlier insert's.
            raise RuntimeError(f"{outcome.changed} rows inserted, not one.")
        return outcome.last_id

    def _expect(self, kind: type[Executable]) -> None:
        if not isinstance(self.statement, kind):
            raise TypeError(f"Not a {kind.__name__}: {self.statement!r}.")

    def _driver(
        self, connection: Connection, values: dict[str, Any]
    ) -> DriverStatement:
        # Compiled for the names of the values given, as SQLAlchemy does: an
        # INSERT's columns are those.
        return _driver_statement(self.statement, connection.dialect, frozenset(values))


def _on_driver(connection: Connection) -> bool:
    return bool(connection.dialect.name == "sqlite")
