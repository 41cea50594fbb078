"""The gateway's tables: conversations, their transcript, the inbox, the outbox, and
the delivery statuses the platforms report.

::

    inbox ──(processed in id order per conversation)──> Rasa
      │                                                  │ replies
      └─> messages (transcript) <── outbox <─────────────┘
                                     └── delivery_statuses (Twilio callbacks)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from db.base import Base

MODES = ("bot", "waiting", "agent", "closed")
INBOX_STATES = ("pending", "done", "failed")
OUTBOX_STATES = ("pending", "sent", "failed", "unreachable")


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):  # type: ignore[misc]
    """A timestamp stored naive in UTC and read back aware (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value.replace(tzinfo=timezone.utc)
        return moment


class Conversation(Base):  # type: ignore[misc]
    """One chat with one resident on one channel; its id is Rasa's sender id."""

    __tablename__ = "conversations"

    id = Column(String(100), primary_key=True)  # "<channel>:<chat id>"
    channel = Column(String(20), nullable=False)
    chat_id = Column(String(80), nullable=False)
    display_name = Column(String(200))
    language = Column(String(8))  # "id" or "min"; None until known
    mode = Column(String(10), nullable=False, default="bot")
    handoff_reason = Column(String(40))
    waiting_since = Column(UTCDateTime())
    agent_id = Column(String(100))
    last_inbound_at = Column(UTCDateTime())
    # Buttons of the last bot turn: [{"title", "payload"}]; "1" picks the first.
    last_options = Column(JSON)
    unreachable = Column(Boolean, nullable=False, default=False)
    outage_notified = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_conversations_mode_waiting", "mode", "waiting_since"),)


class TranscriptMessage(Base):  # type: ignore[misc]
    """One message of a conversation as staff read it (resident, bot, agent, system)."""

    __tablename__ = "messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(
        String(100), ForeignKey("conversations.id"), nullable=False, index=True
    )
    direction = Column(String(3), nullable=False)  # "in" or "out"
    author = Column(String(10), nullable=False)  # resident, bot, agent, system
    agent_id = Column(String(100))
    kind = Column(String(12), nullable=False, default="text")
    text = Column(Text, nullable=False, default="")
    data = Column(JSON)  # buttons, image, location, media, contact
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)


def leased_to_another(
    lease_owner: str | None, lease_until: datetime | None, owner: str
) -> bool:
    """Tell whether another process than ``owner`` holds a lease (owner, end) now."""
    held = lease_until is not None and lease_until > utcnow()
    return held and lease_owner != owner


class Leased:
    """A row that one gateway process at a time works on (inbox and outbox rows)."""

    lease_owner: Any
    lease_until: Any

    def leased_to_another(self, owner: str) -> bool:
        """Tell whether a process other than ``owner`` holds the row's lease now."""
        return leased_to_another(self.lease_owner, self.lease_until, owner)

    def take_lease(self, owner: str, seconds: float) -> bool:
        """Lease the row to ``owner`` for ``seconds``; False while another holds it."""
        if self.leased_to_another(owner):
            return False
        self.lease_owner = owner
        self.lease_until = utcnow() + timedelta(seconds=seconds)
        return True


class InboxMessage(Base, Leased):  # type: ignore[misc]
    """A resident's message as received, stored before the webhook is acknowledged.

    The webhook only inserts this row (one statement, so the acknowledgement is fast);
    the router then admits it: creates the conversation on first contact and copies
    the message into the transcript (``transcript_id``), before anything else.
    """

    __tablename__ = "inbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(20), nullable=False)
    platform_id = Column(String(100), nullable=False)  # update_id, MessageSid, uuid
    # No foreign key: the conversation is created when the row is admitted.
    conversation_id = Column(String(100), nullable=False)
    transcript_id = Column(Integer)  # None until admitted
    message = Column(JSON, nullable=False)  # the common InboundMessage
    state = Column(String(10), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text)
    # The gateway process working on the row, until when (several gateways).
    lease_owner = Column(String(40))
    lease_until = Column(UTCDateTime())
    received_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    processed_at = Column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("channel", "platform_id", name="uq_inbox_channel_platform_id"),
        Index("ix_inbox_state_conversation", "state", "conversation_id", "id"),
    )


class OutboxMessage(Base, Leased):  # type: ignore[misc]
    """One platform send (a reply already split to the platform's limit)."""

    __tablename__ = "outbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(
        String(100), ForeignKey("conversations.id"), nullable=False
    )
    channel = Column(String(20), nullable=False)
    chat_id = Column(String(80), nullable=False)
    transcript_id = Column(Integer, ForeignKey("messages.id"))
    payload = Column(JSON, nullable=False)  # {"text", "buttons", "image"}
    state = Column(String(12), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    lease_owner = Column(String(40))
    lease_until = Column(UTCDateTime())
    last_error = Column(Text)
    platform_message_id = Column(String(100), index=True)
    delivery_status = Column(String(20))  # the platform's last word: delivered, read...
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime())

    __table_args__ = (
        Index("ix_outbox_state_conversation", "state", "conversation_id", "id"),
    )


class DeliveryStatus(Base):  # type: ignore[misc]
    """A delivery status callback (Twilio: queued, sent, delivered, read, failed...)."""

    __tablename__ = "delivery_statuses"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(20), nullable=False)
    platform_message_id = Column(String(100), nullable=False, index=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id"))
    status = Column(String(20), nullable=False)
    error_code = Column(String(20))
    received_at = Column(UTCDateTime(), nullable=False, default=utcnow)
