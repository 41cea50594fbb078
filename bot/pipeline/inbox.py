"""The durable inbox: a resident's message is committed before its webhook is answered.

``accept`` stores the message once, in one INSERT (the platform's own id deduplicates
it: Telegram's update_id, Twilio's MessageSid). The router then takes the pending rows
of each conversation in id order and ``admit``s each first (conversation, transcript,
console event). Rows left pending by a stopped gateway are processed when it starts
again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.base import InboundMessage
from bot.metrics import Metrics
from bot.pipeline.conversations import add_transcript, get_or_create, message_event
from bot.pipeline.store import Store
from db.gateway import InboxMessage, utcnow

logger = logging.getLogger(__name__)

TRANSCRIPT_KEYS = ("location", "media", "contact")


class Inbox:
    """Store inbound messages exactly once."""

    def __init__(self, store: Store, *, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics

    async def accept(self, message: InboundMessage) -> bool:
        """Store ``message``; return False when it was stored before (a duplicate)."""
        started = time.monotonic()
        try:
            stored = await self.store.run(_insert, message, urgent=True)
        except IntegrityError:
            stored = False  # the unique constraint caught a concurrent delivery
        self.metrics.observe("inbox_store_seconds", time.monotonic() - started)
        if not stored:
            logger.info(
                "Duplicate %s update %s ignored", message.channel, message.platform_id
            )
            self.metrics.inc("duplicates_total", channel=message.channel)
            return False

        self.metrics.inc("messages_in_total", channel=message.channel)
        return True


def _insert(session: Session, message: InboundMessage) -> bool:
    # One statement: a webhook waits for this commit.
    insert = sqlite_insert if session.bind.dialect.name == "sqlite" else pg_insert
    statement = (
        insert(InboxMessage)
        .values(
            channel=message.channel,
            platform_id=message.platform_id,
            conversation_id=message.conversation_id,
            message=message.to_json(),
            state="pending",
            attempts=0,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
    )
    return bool(session.execute(statement).rowcount)


def pending_rows(session: Session, conversation_id: str) -> list[InboxMessage]:
    """The conversation's pending rows in order, locked for this transaction."""
    rows: list[InboxMessage] = (
        session.query(InboxMessage)
        .filter(
            InboxMessage.conversation_id == conversation_id,
            InboxMessage.state == "pending",
        )
        .order_by(InboxMessage.id)
        .with_for_update()
        .all()
    )
    return rows


def admit_pending(
    session: Session,
    conversation_id: str,
    pending: list[InboxMessage] | None = None,
) -> list[dict[str, Any]]:
    """Admit every pending row of the conversation not admitted yet, in order.

    ``pending``: the rows of :func:`pending_rows` when the caller read them already.

    Returns:
        The console events for the admitted messages.
    """
    rows = pending_rows(session, conversation_id) if pending is None else pending
    return [admit(session, row) for row in rows if row.transcript_id is None]


def admit(session: Session, row: InboxMessage) -> dict[str, Any]:
    """Create the conversation on first contact and add the message to the transcript.

    Returns:
        The console event for the message.
    """
    message = InboundMessage.from_json(row.message)
    conversation = get_or_create(
        session, message.channel, message.chat_id, display_name=message.sender_name
    )
    conversation.last_inbound_at = row.received_at
    conversation.unreachable = False
    data = {k: getattr(message, k) for k in TRANSCRIPT_KEYS if getattr(message, k)}
    transcript = add_transcript(
        session,
        conversation.id,
        direction="in",
        author="resident",
        text=message.text,
        kind=message.kind,
        data=data or None,
    )
    transcript.created_at = row.received_at
    row.transcript_id = transcript.id
    return message_event(transcript, message.channel)
