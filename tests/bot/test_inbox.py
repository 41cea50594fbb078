"""The inbox commits the messages whose webhooks arrive together in one transaction:
each is still stored once, in the order it came, and one that cannot be stored fails
only its own webhook, while a database that is down or locked fails the whole batch
at once. On SQLite (the loop and one thread) and on PostgreSQL (a pool of threads)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.channels.base import InboundMessage
from bot.metrics import Metrics
from bot.pipeline import store as store_module
from bot.pipeline.inbox import Inbox
from bot.pipeline.store import Store
from db.gateway import InboxMessage


class Unserialisable:
    """A value that JSON cannot encode: the message holding it cannot be stored."""


def message(
    platform_id: str, chat_id: str = "1001", **fields: object
) -> InboundMessage:
    """A Telegram text."""
    return InboundMessage(
        channel="telegram",
        chat_id=chat_id,
        platform_id=platform_id,
        text=f"pesan {platform_id}",
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest) -> str:
    """The embedded default and the production database, in turn."""
    name = "database_url" if request.param == "sqlite" else "postgres_database_url"
    return str(request.getfixturevalue(name))


async def stored(store: Store) -> list[tuple[str, str]]:
    """(platform id, chat) of every inbox row, in id order."""

    def read(session):  # type: ignore[no-untyped-def]
        rows = session.execute(
            select(InboxMessage.platform_id, InboxMessage.conversation_id).order_by(
                InboxMessage.id
            )
        )
        return [(row.platform_id, row.conversation_id) for row in rows]

    result: list[tuple[str, str]] = await store.run(read)
    return result


async def test_messages_arriving_together_are_stored_once_each_in_order(
    any_database_url: str,
) -> None:
    store = Store.from_url(any_database_url)
    metrics = Metrics()
    inbox = Inbox(store, metrics=metrics)
    burst = [
        message("1"),
        message("2", chat_id="2002"),
        message("1"),  # Telegram delivered update 1 twice
        message("3"),
        message("4", chat_id="2002"),
    ]
    try:
        outcomes = await asyncio.gather(*(inbox.accept(m) for m in burst))
        assert outcomes == [True, True, False, True, True]
        assert await stored(store) == [
            ("1", "telegram:1001"),
            ("2", "telegram:2002"),
            ("3", "telegram:1001"),
            ("4", "telegram:2002"),
        ]
        # A later delivery of a message of the burst is still a duplicate.
        assert await inbox.accept(message("3")) is False
        assert 'duplicates_total{channel="telegram"} 2' in metrics.render()
    finally:
        store.close()


async def test_a_message_that_cannot_be_stored_fails_only_its_own_webhook(
    any_database_url: str,
) -> None:
    store = Store.from_url(any_database_url)
    inbox = Inbox(store, metrics=Metrics())
    broken = message("2", location={"latitude": Unserialisable()})
    # A NOT NULL the database enforces: an error, not a duplicate to drop.
    refused = InboundMessage(channel=None, chat_id="1001", platform_id="9")  # type: ignore[arg-type]
    try:
        outcomes = await asyncio.gather(
            inbox.accept(message("1")),
            inbox.accept(broken),
            inbox.accept(refused),
            inbox.accept(message("3")),
            return_exceptions=True,
        )
        assert outcomes[0] is True
        assert outcomes[3] is True
        assert isinstance(outcomes[1], Exception)
        assert isinstance(outcomes[2], IntegrityError)
        assert await stored(store) == [("1", "telegram:1001"), ("3", "telegram:1001")]
        with pytest.raises(IntegrityError):  # alone too
            await inbox.accept(refused)

        # The next burst is served as usual.
        assert await asyncio.gather(
            inbox.accept(message("4")), inbox.accept(message("5"))
        ) == [True, True]
    finally:
        store.close()


async def test_a_locked_database_fails_a_burst_at_once_and_loses_nothing_after(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process holds SQLite's write lock beyond the busy timeout: each webhook
    # of the burst answers an error (the platform delivers again) after one wait, not
    # one wait per message of the batch.
    monkeypatch.setattr(store_module, "SQLITE_BUSY_TIMEOUT_MS", 1000)
    store = Store.from_url(database_url)
    metrics = Metrics()
    inbox = Inbox(store, metrics=metrics)
    other = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(inbox.accept(message(str(n))) for n in range(6)),
            return_exceptions=True,
        )
        waited = time.monotonic() - started
        assert all(isinstance(outcome, OperationalError) for outcome in outcomes)
        assert waited < 4.0  # one busy timeout, not six or seven
        assert 'inbox_failures_total{channel="telegram"} 6' in metrics.render()
        other.execute("COMMIT")

        # Delivered again once the lock is free: stored, in order.
        assert await asyncio.gather(
            inbox.accept(message("0")), inbox.accept(message("1"))
        ) == [True, True]
        assert await stored(store) == [("0", "telegram:1001"), ("1", "telegram:1001")]
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        store.close()
