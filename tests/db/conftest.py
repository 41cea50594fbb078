"""Fixtures of the records tests."""

from tests.db.fixtures import (  # noqa: F401
    postgres_records_url,
    records_engine,
    records_url,
    sqlite_records_url,
)
