"""Session-level helpers on conversations and their transcript, and the console events
that describe them (see :mod:`bot.pipeline.handoff` for the event shapes).

Statements that run for every message are built once and executed on the session's
connection (:mod:`bot.pipeline.sql`): SQLAlchemy's ORM flush costs about three times
as much CPU per row as its Core statements, which cost several times the driver's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, bindparam, case, insert, select, text, update
from sqlalchemy.orm import Session

from bot.channels.base import InboundMessage
from bot.errors import UnknownConversation
from bot.pipeline.sql import Prepared, Record
from db.gateway import Conversation, TranscriptMessage, UTCDateTime, utcnow

# What staging a reply reads of a conversation (id, channel, chat_id, unreachable): the
# ORM object, or the row of :func:`end_turn`.
ConversationLike = Conversation | Record

_INSERT_TRANSCRIPT = Prepared(insert(TranscriptMessage.__table__))
_FIND = Prepared(
    select(Conversation.mode, Conversation.language, Conversation.last_options).where(
        Conversation.id == bindparam("conversation_id")
    )
)
# Insert on first contact, else update: one statement, the same in SQLite (3.24+) and
# PostgreSQL. A message without a sender name keeps the name known.
_RECORD_INBOUND = Prepared(
    text(
        "INSERT INTO conversations (id, channel, chat_id, display_name, mode,"
        " unreachable, outage_notified, last_inbound_at, created_at, updated_at)"
        " VALUES (:id, :channel, :chat_id, :display_name, 'bot', :no, :no,"
        " :received_at, :now, :now)"
        " ON CONFLICT (id) DO UPDATE SET"
        " display_name = COALESCE(excluded.display_name, conversations.display_name),"
        " last_inbound_at = excluded.last_inbound_at,"
        " unreachable = excluded.unreachable,"
        " updated_at = excluded.updated_at"
    ).bindparams(
        bindparam("no", type_=Boolean()),
        bindparam("received_at", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    )
)
_SET_LANGUAGE = Prepared(
    update(Conversation.__table__)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(language=bindparam("language"), updated_at=bindparam("now"))
)


# Locked (FOR NO KEY UPDATE on PostgreSQL) until the turn commits: staff closing the
# conversation meanwhile waits, instead of being undone by the update below.
_TURN_STATE = Prepared(
    select(
        Conversation.id,
        Conversation.channel,
        Conversation.chat_id,
        Conversation.mode,
        Conversation.unreachable,
    )
    .where(Conversation.id == bindparam("conversation_id"))
    .with_for_update(key_share=True)
)
_END_TURN = Prepared(
    update(Conversation.__table__)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(
        mode=case((Conversation.mode == "closed", "bot"), else_=Conversation.mode),
        outage_notified=False,
        last_options=bindparam("options", type_=Conversation.last_options.type),
        updated_at=bindparam("now"),
    )
)


def end_turn(
    session: Session, conversation_id: str, options: list[dict[str, str]] | None
) -> Record:
    """Record that Rasa answered: a closed conversation is open again, a later outage
    is told again, and ``options`` are the buttons the bot now offers.

    Returns:
        The conversation's ``id``, ``channel``, ``chat_id``, ``unreachable`` and its
        ``mode`` before this turn (``closed`` when it reopened).

    Raises:
        UnknownConversation: There is none.
    """
    connection = session.connection()
    state = _TURN_STATE.first(connection, {"conversation_id": conversation_id})
    if state is None:
        raise UnknownConversation(conversation_id)
    _END_TURN.run(
        connection,
        {"conversation_id": conversation_id, "options": options, "now": utcnow()},
    )
    return state


def find_state(session: Session, conversation_id: str) -> Record | None:
    """The conversation's ``mode``, ``language`` and ``last_options``; None before
    its first message is admitted."""
    return _FIND.first(session.connection(), {"conversation_id": conversation_id})


def record_inbound(
    session: Session, message: InboundMessage, received_at: datetime
) -> None:
    """Create the conversation of ``message`` on first contact, or note that the
    resident wrote (reachable again, when, under which name)."""
    _RECORD_INBOUND.run(
        session.connection(),
        {
            "id": message.conversation_id,
            "channel": message.channel,
            "chat_id": message.chat_id,
            "display_name": message.sender_name,
            "no": False,
            "received_at": received_at,
            "now": utcnow(),
        },
    )


def set_language(session: Session, conversation_id: str, language: str) -> None:
    """Record the language the resident writes in."""
    _SET_LANGUAGE.run(
        session.connection(),
        {"conversation_id": conversation_id, "language": language, "now": utcnow()},
    )


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
    row_id = _INSERT_TRANSCRIPT.insert(session.connection(), values)
    return TranscriptMessage(id=row_id, **values)


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
