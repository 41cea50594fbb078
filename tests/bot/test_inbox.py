"""The inbox commits the messages whose webhooks arrive together in one transaction:
each is still stored once, in the order it came, and one that cannot be stored fails
only its own webhook. On SQLite (the loop and one thread) and on PostgreSQL (a pool of
threads)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.channels.base import InboundMessage
from bot.metrics import Metrics
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
    try:
        outcomes = await asyncio.gather(
            inbox.accept(message("1")),
            inbox.accept(broken),
            inbox.accept(message("3")),
            return_exceptions=True,
        )
        assert outcomes[0] is True
        assert outcomes[2] is True
        assert isinstance(outcomes[1], Exception)
        assert await stored(store) == [("1", "telegram:1001"), ("3", "telegram:1001")]

        # The next burst is served as usual.
        assert await asyncio.gather(
            inbox.accept(message("4")), inbox.accept(message("5"))
        ) == [True, True]
    finally:
        store.close()
