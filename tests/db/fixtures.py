"""Database fixtures for the records and action tests: a migrated, seeded database on
SQLite and on PostgreSQL (a scratch database per test session, dropped at the end).

Imported by tests/db/conftest.py and tests/actions/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from db.engine import make_engine
from db.migrate import upgrade
from db.seed import seed

BACKENDS = ["sqlite", "postgres"]


def create_scratch_postgres(server_url: str) -> str:
    """Create a uniquely named database beside ``server_url``'s and return its URL."""
    name = f"padang_records_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_scratch_postgres(server_url: str, url: str) -> None:
    """Drop a database made by :func:`create_scratch_postgres`."""
    name = make_url(url).database
    admin = make_engine(server_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def _prepared(url: str) -> str:
    upgrade(url)
    engine = make_engine(url)
    try:
        seed(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_records_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated and seeded SQLite file for this test session."""
    folder: Path = tmp_path_factory.mktemp("records")
    return _prepared(f"sqlite:///{folder / 'records.db'}")


@pytest.fixture(scope="session")
def postgres_records_url(postgres_url: str) -> Iterator[str]:
    """A migrated and seeded scratch PostgreSQL database for this test session."""
    url = create_scratch_postgres(postgres_url)
    try:
        yield _prepared(url)
    finally:
        drop_scratch_postgres(postgres_url, url)


@pytest.fixture(params=BACKENDS)
def records_url(request: pytest.FixtureRequest) -> str:
    """The URL of a seeded records database, once per backend."""
    return str(request.getfixturevalue(f"{request.param}_records_url"))


@pytest.fixture
def records_engine(records_url: str) -> Iterator[Engine]:
    """An engine on the seeded records database."""
    engine = make_engine(records_url)
    yield engine
    engine.dispose()
