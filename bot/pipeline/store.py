"""Run the gateway's synchronous SQLAlchemy work off the event loop.

Every database step is a function of a session run in one transaction in a worker
thread. SQLite allows one writer at a time, so on SQLite one thread runs them all (in
submission order, without lock waits); other databases get a small pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine

from db.engine import make_engine, session_scope

logger = logging.getLogger(__name__)

T = TypeVar("T")
POOL_THREADS = 8  # database threads beside SQLite's single writer


class Store:
    """The gateway's database, reached from async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._executor = ThreadPoolExecutor(
            max_workers=1 if self.is_sqlite else POOL_THREADS,
            thread_name_prefix="db",
        )

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Open the database at ``url``."""
        return cls(make_engine(url))

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(session, *args)`` in one transaction and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._in_transaction, work, args
        )

    def _in_transaction(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        with session_scope(self.engine) as session:
            return work(session, *args)

    async def ping(self) -> bool:
        """Tell whether the database answers."""
        try:
            await self.run(lambda s: s.execute(text("SELECT 1")).scalar())
        except Exception:  # any driver error means "down" for /healthz
            logger.warning("Database ping failed", exc_info=True)
            return False
        return True

    def close(self) -> None:
        """Stop the worker threads and close the connections."""
        self._executor.shutdown(wait=True)
        self.engine.dispose()
