"""The gateway's database runner on SQLite: one worker thread, which keeps its
connection open from one transaction to the next, and quick steps on the event loop
when that thread is not writing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import exc, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.channels.base import InboundMessage
from bot.metrics import Metrics
from bot.pipeline.inbox import Inbox
from bot.pipeline.inbox import _insert as inbox_insert
from bot.pipeline.store import OnePerIteration, PriorityWorker, Store
from db.engine import make_engine, session_scope
from db.gateway import InboxMessage, utcnow


def message(platform_id: str) -> InboundMessage:
    """A Telegram text from chat 1001."""
    return InboundMessage(
        channel="telegram", chat_id="1001", platform_id=platform_id, text="halo"
    )


def stored_ids(database_url: str) -> list[str]:
    """The inbox as another connection sees it: only what was committed."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            found = session.execute(
                select(InboxMessage.platform_id).order_by(InboxMessage.id)
            )
            return list(found.scalars())
    finally:
        engine.dispose()


async def test_each_step_is_committed_and_a_failed_one_leaves_nothing(
    database_url: str,
) -> None:
    store = Store.from_url(database_url)
    inbox = Inbox(store, metrics=Metrics())

    def half_then_fail(session: Session) -> None:
        row = message("2")
        session.add(
            InboxMessage(
                channel=row.channel,
                platform_id=row.platform_id,
                conversation_id=row.conversation_id,
                message=row.to_json(),
                state="pending",
                attempts=0,
                received_at=utcnow(),
            )
        )
        session.flush()  # written on the connection, not committed
        raise RuntimeError("the step fails half way")

    try:
        assert await inbox.accept(message("1")) is True
        assert stored_ids(database_url) == ["1"]

        with pytest.raises(RuntimeError, match="half way"):
            await store.run(half_then_fail)
        assert stored_ids(database_url) == ["1"]

        # The step after a failure runs, and sees nothing of the failed one.
        count = await store.run(
            lambda s: s.execute(select(func.count(InboxMessage.id))).scalar_one()
        )
        assert count == 1
        assert await inbox.accept(message("2")) is True
        assert stored_ids(database_url) == ["1", "2"]
    finally:
        store.close()


async def test_a_quick_step_runs_on_the_loop_unless_the_thread_is_writing(
    database_url: str,
) -> None:
    store = Store.from_url(database_url)
    writing, release = threading.Event(), threading.Event()

    def slow(session: Session) -> str:
        session.execute(select(func.count(InboxMessage.id)))  # the transaction is open
        writing.set()
        release.wait(10)
        return threading.current_thread().name

    def where(session: Session) -> str:
        session.execute(select(func.count(InboxMessage.id)))
        return threading.current_thread().name

    loop_thread = threading.current_thread().name
    try:
        assert await store.run(where, quick=True) == loop_thread

        slow_step = asyncio.create_task(store.run(slow))
        assert await asyncio.to_thread(writing.wait, 10)
        quick_step = asyncio.create_task(store.run(where, quick=True))
        await asyncio.sleep(0.1)
        # The loop ran meanwhile (this test did), and the quick step waits its turn.
        assert not quick_step.done()

        release.set()
        assert await slow_step == "db"
        assert await quick_step == "db"
        assert await store.run(where, quick=True) == loop_thread
    finally:
        release.set()
        store.close()


async def test_the_lane_lets_one_waiter_through_per_loop_iteration() -> None:
    lane = OnePerIteration()
    loop = asyncio.get_running_loop()
    iteration = 0

    def tick() -> None:
        nonlocal iteration
        iteration += 1
        loop.call_soon(tick)

    passed: list[tuple[str, int]] = []

    async def wait(name: str) -> None:
        await lane.next_turn()
        passed.append((name, iteration))

    loop.call_soon(tick)
    tasks = {name: asyncio.create_task(wait(name)) for name in "abcd"}
    await asyncio.sleep(0)  # every waiter is queued
    tasks["b"].cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)

    assert [name for name, _ in passed] == ["a", "c", "d"]
    iterations = [seen for _, seen in passed]
    assert iterations == sorted(set(iterations))  # never two in one iteration


async def test_a_quick_step_does_not_overtake_one_queued_before_it(
    database_url: str,
) -> None:
    store = Store.from_url(database_url)
    worker = store._executor
    assert isinstance(worker, PriorityWorker)
    busy, release = threading.Event(), threading.Event()
    order: list[str] = []

    def occupy() -> None:  # the thread is busy, SQLite's connection is free
        busy.set()
        release.wait(10)

    def record(session: Session, name: str) -> None:
        session.execute(select(func.count(InboxMessage.id)))
        order.append(name)

    try:
        worker.submit(occupy)
        assert await asyncio.to_thread(busy.wait, 10)
        assert not worker.idle()
        first = asyncio.create_task(store.run(record, "first", urgent=True))
        await asyncio.sleep(0)  # queued behind the busy thread
        second = asyncio.create_task(
            store.run(record, "second", urgent=True, quick=True)
        )
        await asyncio.sleep(0.1)
        assert order == []  # the quick step did not run ahead on the loop

        release.set()
        await asyncio.gather(first, second)
        assert order == ["first", "second"]
        assert worker.idle()
    finally:
        release.set()
        store.close()


async def test_another_process_writing_does_not_stall_the_loop(
    database_url: str,
) -> None:
    store = Store.from_url(database_url)
    other = sqlite3.connect(make_url(database_url).database, isolation_level=None)

    def where(session: Session) -> str:
        session.execute(select(func.count(InboxMessage.id)))
        return threading.current_thread().name

    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        step = asyncio.create_task(store.run(where, quick=True))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        # The loop ran on time while the step waits, in the thread, for the lock.
        assert time.monotonic() - started < 1.0
        assert not step.done()

        other.execute("COMMIT")
        assert await step == "db"
        assert await store.run(where, quick=True) == threading.current_thread().name
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        store.close()


async def test_the_inbox_insert_raises_sqlalchemy_errors(database_url: str) -> None:
    # The inbox tells the database's errors (OperationalError: the batch fails at
    # once) from a message's by SQLAlchemy's classes: the driver's would escape them.
    store = Store.from_url(database_url)
    no_channel = InboundMessage(channel=None, chat_id="1001", platform_id="9")  # type: ignore[arg-type]
    try:
        with pytest.raises(exc.IntegrityError):  # NOT NULL, from the driver's cursor
            await store.run(inbox_insert, no_channel, urgent=True, quick=True)
        assert await store.run(inbox_insert, message("10"), quick=True) is True
        assert stored_ids(database_url) == ["10"]
    finally:
        store.close()
