"""Run the gateway's synchronous SQLAlchemy work off the event loop, or on it when
that is cheaper.

Every database step is a function of a session run in one transaction. SQLite allows
one writer at a time, so on SQLite one thread runs the steps, without lock waits,
urgent work first: storing an inbound message, which a webhook waits for, goes ahead
of the router's and the outbox's bookkeeping. That thread keeps its one connection
open between transactions: checking a connection out of the pool and back in (with its
reset) cost more than a short transaction's statements.

A ``quick`` step (a few prebuilt statements, no slow Python: the steps every message
takes) runs on SQLite in the event loop itself, on the same connection, when nothing is
queued for or running in the thread; otherwise it queues like any other, so that it
never overtakes a step submitted before it. Handing a step to the thread and its answer
back cost more CPU than the step's own statements (0.6 ms a webhook, measured with
nothing else running), and on a busy machine each hand-over waited for the GIL. What
may be slow (password hashing, console queries) never runs on the loop. Nor does a
wait for SQLite's write lock: when another process holds it (the action server, a
second gateway, a migration), the quick step goes to the thread, which waits for it.

Other databases get a small pool of threads, each transaction with a connection from
the engine's pool (which checks it is alive); there ``quick`` changes nothing, as a
network round trip must not block the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from db.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine, session_scope

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

    def idle(self) -> bool:
        """Tell whether no call is queued or running."""
        return self._queue.unfinished_tasks == 0

    def _run(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            future, fn, args = item
            running = future.set_running_or_notify_cancel()
            result: Any = None
            error: BaseException | None = None
            if running:
                try:
                    result = fn(*args)
                except BaseException as exc:  # handed to the awaiting coroutine
                    error = exc
            # Done before the caller hears of it: idle() is exact for the caller.
            self._queue.task_done()
            if not running:
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)


class SQLiteBusy(Exception):
    """Another connection holds SQLite's write lock."""


@contextlib.contextmanager
def _lock_wait(driver: sqlite3.Connection, *, wait: bool) -> Iterator[None]:
    """Around one transaction on SQLite's connection, whose busy timeout is 0.

    ``wait``: the thread's steps wait up to the busy timeout for another
    connection's write lock, as every other connection of the engine does. Otherwise
    the transaction begins at once (BEGIN IMMEDIATE, which the session's transaction
    takes over; see ``db.engine``) or not at all.

    Raises:
        SQLiteBusy: Not waiting, and another connection holds the lock; nothing has
            begun.
    """
    if not wait:
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise SQLiteBusy(str(exc)) from exc
            raise
        yield
        return

    driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    try:
        yield
    finally:
        driver.execute("PRAGMA busy_timeout = 0")


class OnePerIteration:
    """Let one waiter through per event-loop iteration.

    Between two of them the loop polls its sockets, so a webhook that arrives while
    many background steps are ready waits for one of them, not for all.
    """

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._scheduled = False

    async def next_turn(self) -> None:
        """Return in a later loop iteration, after the waiters before this one."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._release)
        await waiter

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter gives its turn away
                waiter.set_result(None)
                break
        if self._waiters:
            asyncio.get_running_loop().call_soon(self._release)
        else:
            self._scheduled = False


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
        self._connection: Connection | None = None  # SQLite's one connection
        # Held by whichever thread has a transaction open on that connection: the
        # worker's own steps, or a quick step on the event loop.
        self._writing = threading.Lock()
        self._lane = OnePerIteration()

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Open the database at ``url``."""
        return cls(make_engine(url))

    async def run(
        self,
        work: Callable[..., T],
        *args: Any,
        urgent: bool = False,
        quick: bool = False,
    ) -> T:
        """Run ``work(session, *args)`` in one transaction and return its result.

        ``urgent`` work (a webhook waits for it) goes ahead of queued work on SQLite.
        ``quick`` work (a few statements, nothing slow in Python) runs on SQLite in the
        caller's thread, the event loop, when nothing is queued for or running in the
        database thread and no other process holds the write lock.
        """
        if quick and isinstance(self._executor, PriorityWorker):
            if not urgent:
                await self._lane.next_turn()
            # Only when nothing waits for the thread: a step queued there earlier
            # (another webhook's insert) must not be overtaken.
            if self._executor.idle() and self._writing.acquire(blocking=False):
                try:
                    return self._on_connection(work, args, wait_for_lock=False)
                except SQLiteBusy:
                    pass  # another process writes: the thread waits for it instead
                finally:
                    self._writing.release()
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

        with self._writing:
            return self._on_connection(work, args, wait_for_lock=True)

    def _on_connection(
        self, work: Callable[..., T], args: tuple[Any, ...], *, wait_for_lock: bool
    ) -> T:
        """Run ``work`` on SQLite's one connection (opened on first use); the caller
        holds ``_writing``.

        ``wait_for_lock``: wait up to the busy timeout for another connection's write
        lock; otherwise raise :class:`SQLiteBusy` at once, before ``work`` runs.
        """
        if self._connection is None:
            self._connection = self.engine.connect()
            # Quick steps must not wait on the loop: see _lock_wait.
            self._connection.connection.dbapi_connection.execute(
                "PRAGMA busy_timeout = 0"
            )
        driver = self._connection.connection.dbapi_connection
        try:
            with (
                _lock_wait(driver, wait=wait_for_lock),
                session_scope(self._connection) as session,
            ):
                return work(session, *args)
        except SQLiteBusy:
            raise  # nothing began: the connection is as it was
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
