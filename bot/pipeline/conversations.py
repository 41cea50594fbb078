"""Session-level helpers on conversations and their transcript, and the console events
that describe them (see :mod:`bot.pipeline.handoff` for the event shapes).

Statements that run for every message are built once and executed on the session's
connection: SQLAlchemy's ORM flush costs about three times as much CPU per row, and
the gateway's database thread is its busiest part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.errors import UnknownConversation
from db.gateway import Conversation, TranscriptMessage, utcnow

_INSERT_TRANSCRIPT = insert(TranscriptMessage.__table__)


def get_or_create(session: Session, channel: str, chat_id: str) -> Conversation:
    """Return the conversation of ``channel:chat_id``, creating it on first contact."""
    conversation_id = f"{channel}:{chat_id}"
    conversation: Conversation | None = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(
            id=conversation_id,
            channel=channel,
            chat_id=chat_id,
            mode="bot",
            unreachable=False,
            outage_notified=False,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(conversation)
    return conversation


def load(session: Session, conversation_id: str, *, lock: bool = False) -> Conversation:
    """Return the conversation ``conversation_id``.

    Raises:
        UnknownConversation: There is none.
    """
    query = session.query(Conversation).filter(Conversation.id == conversation_id)
    if lock:
        query = query.with_for_update()
    conversation: Conversation | None = query.one_or_none()
    if conversation is None:
        raise UnknownConversation(conversation_id)
    return conversation


def add_transcript(
    session: Session,
    conversation_id: str,
    *,
    direction: str,
    author: str,
    text: str,
    kind: str = "text",
    data: dict[str, Any] | None = None,
    agent_id: str | None = None,
    created_at: datetime | None = None,
) -> TranscriptMessage:
    """Append one message to the transcript and return it (inserted: it has an id).

    ``created_at``: when it was said, if not now (a message received earlier). The
    returned object is not in the session: it describes the row, for the console.
    """
    values = {
        "conversation_id": conversation_id,
        "direction": direction,
        "author": author,
        "agent_id": agent_id,
        "kind": kind,
        "text": text,
        "data": data,
        "created_at": created_at or utcnow(),
    }
    session.flush()  # a conversation created in this transaction is inserted first
    result = session.connection().execute(_INSERT_TRANSCRIPT, values)
    return TranscriptMessage(id=result.inserted_primary_key[0], **values)


def message_event(row: TranscriptMessage, channel: str) -> dict[str, Any]:
    """Return the console event for one transcript message."""
    return {
        "type": "message",
        "conversation_id": row.conversation_id,
        "channel": channel,
        "message": {
            "id": row.id,
            "direction": row.direction,
            "author": row.author,
            "agent_id": row.agent_id,
            "kind": row.kind,
            "text": row.text,
            "data": row.data,
            "created_at": row.created_at.isoformat(),
        },
    }


def conversation_event(conversation: Conversation) -> dict[str, Any]:
    """Return the console event describing a conversation's state."""
    waiting_since = conversation.waiting_since
    return {
        "type": "conversation",
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "display_name": conversation.display_name,
        "language": conversation.language,
        "mode": conversation.mode,
        "reason": conversation.handoff_reason,
        "agent_id": conversation.agent_id,
        "waiting_since": waiting_since.isoformat() if waiting_since else None,
        "unreachable": bool(conversation.unreachable),
    }
