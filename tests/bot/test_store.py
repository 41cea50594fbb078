"""The gateway's database runner on SQLite: one worker thread, which keeps its
connection open from one transaction to the next."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.channels.base import InboundMessage
from bot.metrics import Metrics
from bot.pipeline.inbox import Inbox
from bot.pipeline.store import Store
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
