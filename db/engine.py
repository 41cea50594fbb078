"""Engine and transaction helpers (SQLAlchemy 1.4 with the 2.0-style API).

``make_engine(url)`` builds an engine; SQLite files get WAL, foreign keys and a busy
timeout, and their folder is created. ``session_scope(engine)`` is one transaction:
committed on success, rolled back on any exception.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.future import create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///var/padang.db"
ENV_DATABASE_URL = "DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Connections kept open to a SQLite file. SQLAlchemy 1.4 gives file databases a
# NullPool: every transaction would open a connection, and closing the last one
# checkpoints the WAL (an fsync): 28 ms a write here instead of 1.4 ms.
# TODO(SQLAlchemy 2.0): file databases get a QueuePool by default; drop these two.
SQLITE_POOL_SIZE = 2
SQLITE_POOL_OVERFLOW = 8
PG_CONNECT_TIMEOUT_S = 5


def database_url_from_env() -> str:
    """Return ``DATABASE_URL`` from the environment, or the SQLite default."""
    return os.environ.get(ENV_DATABASE_URL) or DEFAULT_DATABASE_URL


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off (see make_engine) so that
    # BEGIN IMMEDIATE can be issued; WAL lets readers run beside the one writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # Take the write lock at BEGIN: two writers then queue on busy_timeout instead of
    # failing with "database is locked" when a reader upgrades to a writer. Straight
    # to the driver: SQLAlchemy's execution path cost more than the statement (the
    # gateway begins a transaction for every step of every message). Its errors are
    # raised as SQLAlchemy's, as from any other statement. A transaction the caller
    # began on the driver itself (bot.pipeline.store, to fail at once instead of
    # waiting for the lock) is the one SQLAlchemy takes over.
    driver = conn.connection.dbapi_connection
    if driver.in_transaction:
        return
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            "BEGIN IMMEDIATE",
            None,
            exc,
            sqlite3.Error,
            hide_parameters=True,
            dialect=conn.dialect,
        ) from exc


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (default: ``DATABASE_URL`` or the SQLite file).

    Args:
        url: SQLAlchemy database URL.
        echo: Log every statement (debugging only: statements may carry personal data).
            On SQLite, the gateway's prepared statements (``bot.pipeline.sql``) go to
            the driver without it.
    """
    url = url or database_url_from_env()
    parsed = make_url(url)
    # Bound parameters (a NIK, a phone number) stay out of error messages and logs.
    kwargs: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["poolclass"] = QueuePool
            kwargs["pool_size"] = SQLITE_POOL_SIZE
            kwargs["max_overflow"] = SQLITE_POOL_OVERFLOW
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
    else:
        kwargs["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")  # type: ignore[untyped-decorator]
        def _connect(dbapi_connection: Any, record: Any) -> None:
            _on_sqlite_connect(dbapi_connection, record)
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")  # type: ignore[untyped-decorator]
        def _begin(conn: Any) -> None:
            _on_sqlite_begin(conn)

    logger.debug(
        "Engine created for %s", engine.url.render_as_string(hide_password=True)
    )
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:
    """Return a 2.0-style session factory bound to ``engine``."""
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


@contextmanager
def session_scope(bind: Engine | Connection) -> Iterator[Session]:
    """Yield a session in one transaction: commit on success, roll back on error.

    ``bind``: an engine (a pooled connection for the transaction), or a connection
    the caller keeps open between transactions.
    """
    session = Session(bind=bind, future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
