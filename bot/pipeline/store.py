"""Run the gateway's synchronous SQLAlchemy work off the event loop.

Every database step is a function of a session run in one transaction in a worker
thread. SQLite allows one writer at a time, so on SQLite one thread runs them all,
without lock waits, urgent work first: storing an inbound message, which a webhook
waits for, goes ahead of the router's and the outbox's bookkeeping. That thread keeps
its one connection open between transactions: checking a connection out of the pool
and back in (with its reset) cost more than a short transaction's statements. Other
databases get a small pool of threads, each transaction with a connection from the
engine's pool (which checks it is alive).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from db.engine import make_engine, session_scope

logger = logging.getLogger(__name__)

T = TypeVar("T")
POOL_THREADS = 8  # database threads beside SQLite's single writer


URGENT, NORMAL = 0, 1


class PriorityWorker(Executor):
    """One thread that runs submitted calls, lower ``priority`` first, FIFO within."""

    def __init__(self, name: str) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit_with(
        self, priority: int, fn: Callable[..., T], /, *args: Any
    ) -> Future[T]:
        """Queue ``fn(*args)`` at ``priority``."""
        future: Future[T] = Future()
        self._queue.put((priority, next(self._order), (future, fn, args)))
        return future

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` at normal priority."""
        return self.submit_with(NORMAL, lambda: fn(*args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Finish the queued calls, then stop the thread."""
        self._queue.put((NORMAL + 1, next(self._order), None))
        if wait:
            self._thread.join()

    def _run(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)


class Store:
    """The gateway's database, reached from async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._executor: Executor = (
            PriorityWorker("db")
            if self.is_sqlite
            else ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="db")
        )
        self._connection: Connection | None = None  # SQLite's worker thread's own

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Open the database at ``url``."""
        return cls(make_engine(url))

    async def run(self, work: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        """Run ``work(session, *args)`` in one transaction and return its result.

        ``urgent`` work (a webhook waits for it) goes ahead of queued work on SQLite.
        """
        if isinstance(self._executor, PriorityWorker):
            future = self._executor.submit_with(
                URGENT if urgent else NORMAL, self._in_transaction, work, args
            )
        else:
            future = self._executor.submit(self._in_transaction, work, args)
        return await asyncio.wrap_future(future)

    def _in_transaction(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        if not self.is_sqlite:
            with session_scope(self.engine) as session:
                return work(session, *args)

        # The single worker thread: its connection, opened on first use.
        if self._connection is None:
            self._connection = self.engine.connect()
        try:
            with session_scope(self._connection) as session:
                return work(session, *args)
        except BaseException:
            self._drop_connection()  # after an error, the next transaction starts anew
            raise

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a broken connection: nothing left to release
                logger.warning("Closing the database connection failed", exc_info=True)

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
        if self.is_sqlite:
            self._executor.submit(self._drop_connection)  # after the queued work
        self._executor.shutdown(wait=True)
        self.engine.dispose()
