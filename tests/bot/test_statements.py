"""The gateway's hand-written SQL (``INSERT ... ON CONFLICT``, the ``CASE`` that ends a
turn) on both databases it supports: SQLite, the embedded default, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.base import InboundMessage
from bot.metrics import Metrics
from bot.pipeline.conversations import end_turn, find_state, record_inbound
from bot.pipeline.inbox import Inbox
from bot.pipeline.store import Store
from db.gateway import Conversation, InboxMessage, utcnow
from db.migrate import upgrade
from tests.db.fixtures import create_scratch_postgres, drop_scratch_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated scratch database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
        upgrade(url)
        yield url
        return

    server = request.getfixturevalue("postgres_url")
    url = create_scratch_postgres(server)
    try:
        upgrade(url)
        yield url
    finally:
        drop_scratch_postgres(server, url)


def message(platform_id: str, name: str | None = "Rina") -> InboundMessage:
    """A Telegram text from chat 1001."""
    return InboundMessage(
        channel="telegram",
        chat_id="1001",
        platform_id=platform_id,
        text="ktp saya hilang",
        sender_name=name,
    )


async def test_a_redelivered_update_is_stored_once(database_url: str) -> None:
    store = Store.from_url(database_url)
    inbox = Inbox(store, metrics=Metrics())
    try:
        assert await inbox.accept(message("7")) is True
        assert await inbox.accept(message("7")) is False  # the platform's retry
        assert await inbox.accept(message("8")) is True

        ids = await store.run(
            lambda s: s.execute(select(InboxMessage.platform_id)).scalars().all()
        )
    finally:
        store.close()
    assert sorted(ids) == ["7", "8"]


async def test_first_contact_creates_the_conversation_and_later_ones_update_it(
    database_url: str,
) -> None:
    store = Store.from_url(database_url)
    first, later = utcnow() - timedelta(minutes=5), utcnow()
    try:
        await store.run(record_inbound, message("1"), first)
        created = await store.run(find_state, "telegram:1001")

        # Blocked and unblocked again; a message without a sender name.
        def mark_unreachable(session) -> None:
            session.get(Conversation, "telegram:1001").unreachable = True

        await store.run(mark_unreachable)
        await store.run(record_inbound, message("2", name=None), later)

        def read(session) -> tuple[int, Conversation]:
            rows = session.execute(select(Conversation)).scalars().all()
            return len(rows), rows[0]

        count, conversation = await store.run(read)
    finally:
        store.close()

    assert created.mode == "bot"
    assert created.language is None
    assert count == 1
    assert conversation.display_name == "Rina"  # kept
    assert conversation.unreachable is False  # the resident wrote: reachable
    assert conversation.last_inbound_at == later


async def test_the_end_of_a_turn_reopens_a_closed_conversation_only(
    database_url: str,
) -> None:
    store = Store.from_url(database_url)
    options = [{"title": "KTP", "payload": "/ask_requirements"}]

    def set_mode(session, mode: str) -> None:
        conversation = session.get(Conversation, "telegram:1001")
        conversation.mode = mode
        conversation.outage_notified = True

    def read(session) -> tuple[str, bool, object]:
        found = session.get(Conversation, "telegram:1001")
        return found.mode, found.outage_notified, found.last_options

    try:
        await store.run(record_inbound, message("1"), utcnow())
        await store.run(set_mode, "closed")
        before = await store.run(end_turn, "telegram:1001", options)
        reopened = await store.run(read)
        await store.run(set_mode, "waiting")
        await store.run(end_turn, "telegram:1001", None)
        waiting = await store.run(read)
    finally:
        store.close()

    assert (before.id, before.channel, before.chat_id) == (
        "telegram:1001",
        "telegram",
        "1001",
    )
    assert before.mode == "closed"  # as it was: the router tells the console
    assert reopened == ("bot", False, options)
    assert waiting == ("waiting", False, None)
