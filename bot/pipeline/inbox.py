"""The durable inbox: a resident's message is committed before its webhook is answered.

``accept`` stores the message once (the platform's own id deduplicates it: Telegram's
update_id, Twilio's MessageSid), adds it to the transcript and publishes it; the router
then processes the pending rows of each conversation in id order. Rows left pending by
a stopped gateway are processed when it starts again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.base import InboundMessage
from bot.events import EventBus
from bot.metrics import Metrics
from bot.pipeline.conversations import add_transcript, get_or_create, message_event
from bot.pipeline.store import Store
from db.gateway import InboxMessage, utcnow

logger = logging.getLogger(__name__)

TRANSCRIPT_KEYS = ("location", "media", "contact")


class Inbox:
    """Store inbound messages exactly once."""

    def __init__(self, store: Store, events: EventBus, *, metrics: Metrics) -> None:
        self.store = store
        self.events = events
        self.metrics = metrics

    async def accept(self, message: InboundMessage) -> bool:
        """Store ``message``; return False when it was stored before (a duplicate)."""
        try:
            event = await self.store.run(_store, message)
        except IntegrityError:
            # A concurrent delivery of the same update won the unique constraint.
            event = None
        if event is None:
            logger.info(
                "Duplicate %s update %s ignored", message.channel, message.platform_id
            )
            self.metrics.inc("duplicates_total", channel=message.channel)
            return False

        self.metrics.inc("messages_in_total", channel=message.channel)
        await self.events.publish(event)
        return True


def _store(session: Session, message: InboundMessage) -> dict[str, Any] | None:
    seen = (
        session.query(InboxMessage.id)
        .filter(
            InboxMessage.channel == message.channel,
            InboxMessage.platform_id == message.platform_id,
        )
        .first()
    )
    if seen is not None:
        return None

    now = utcnow()
    conversation = get_or_create(
        session, message.channel, message.chat_id, display_name=message.sender_name
    )
    conversation.last_inbound_at = now
    conversation.unreachable = False
    session.add(
        InboxMessage(
            channel=message.channel,
            platform_id=message.platform_id,
            conversation_id=conversation.id,
            message=message.to_json(),
            state="pending",
            attempts=0,
            received_at=now,
        )
    )
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
    return message_event(transcript, message.channel)
