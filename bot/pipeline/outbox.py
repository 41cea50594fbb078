"""The durable outbox: every reply is stored before it is sent, and sent in order.

A reply becomes one transcript message and one or more outbox rows (the channel splits
it to the platform's limit). One sender task per conversation sends its rows in id
order; a failed row is retried with backoff before any later row of that chat goes out:

    pending ──send ok──> sent
       │ RetryLater (429 retry_after, network): attempts+1, wait, same row again
       │ Unreachable (403 blocked): every pending row of the chat -> unreachable
       └ PermanentFailure or too many attempts: failed (staff see it on the console)
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.channels.base import Channel, Reply
from bot.config import Settings
from bot.errors import PermanentFailure, RetryLater, SendError, Unreachable
from bot.events import EventBus
from bot.metrics import Metrics
from bot.pipeline.conversations import (
    ConversationLike,
    add_transcript,
    conversation_event,
    load,
    message_event,
)
from bot.pipeline.sql import Prepared
from bot.pipeline.store import Store
from bot.pipeline.tasks import ConversationTasks
from db.gateway import (
    Conversation,
    OutboxMessage,
    TranscriptMessage,
    leased_to_another,
    utcnow,
)

logger = logging.getLogger(__name__)

RETRY_SLACK_S = 0.5  # added to a platform's retry_after
SEND_LEASE_S = 60.0  # a row is another gateway process's to send for this long


def backoff(attempts: int, settings: Settings) -> float:
    """Return the wait before attempt ``attempts + 1``: exponential, capped."""
    return float(min(settings.retry_max_s, settings.retry_base_s * 2 ** (attempts - 1)))


class Outbox(ConversationTasks):
    """Store replies and send them through their channel, in order, with retries."""

    name = "outbox"
    model = OutboxMessage

    def __init__(
        self,
        store: Store,
        channels: dict[str, Channel],
        events: EventBus,
        *,
        settings: Settings,
        metrics: Metrics,
        owner: str,
    ) -> None:
        super().__init__(store)
        self.owner = owner
        self.channels = channels
        self.events = events
        self.settings = settings
        self.metrics = metrics
        self._received: dict[str, float] = {}  # conversation -> monotonic receipt
        self._leased: dict[str, dict[str, Any]] = {}  # first rows from lease_next

    def stage(
        self,
        session: Session,
        conversation: ConversationLike,
        reply: Reply,
        *,
        author: str = "bot",
        agent_id: str | None = None,
    ) -> tuple[TranscriptMessage, list[OutboxMessage]]:
        """Add ``reply`` to the transcript and outbox in the caller's transaction.

        The returned rows are not in the session; they describe what was inserted.
        """
        kind = "image" if reply.image and not reply.text else "text"
        transcript = add_transcript(
            session,
            conversation.id,
            direction="out",
            author=author,
            text=reply.text,
            kind=kind,
            data={k: v for k, v in reply.to_json().items() if k != "text"} or None,
            agent_id=agent_id,
        )
        channel = self.channels.get(conversation.channel)
        payloads = channel.render(reply) if channel else [reply.to_json()]
        connection = session.connection()
        rows = []
        for payload in payloads:
            values = {
                "conversation_id": conversation.id,
                "channel": conversation.channel,
                "chat_id": conversation.chat_id,
                "transcript_id": transcript.id,
                "payload": payload,
                "state": "unreachable" if conversation.unreachable else "pending",
                "attempts": 0,
                "next_attempt_at": utcnow(),
                "created_at": utcnow(),
            }
            row_id = _INSERT.insert(connection, values)
            rows.append(OutboxMessage(id=row_id, **values))
        return transcript, rows

    async def enqueue(
        self,
        conversation_id: str,
        reply: Reply,
        *,
        author: str = "bot",
        agent_id: str | None = None,
    ) -> int:
        """Store ``reply``, start sending it, and return its first outbox row id.

        Raises:
            bot.errors.UnknownConversation: No such conversation.
        """

        def work(session: Session) -> tuple[dict[str, Any], int]:
            conversation = load(session, conversation_id)
            transcript, rows = self.stage(
                session, conversation, reply, author=author, agent_id=agent_id
            )
            return message_event(transcript, conversation.channel), rows[0].id

        event, first_id = await self.store.run(work)
        await self.events.publish(event)
        self.wake(conversation_id)
        return first_id

    def lease_next(
        self, session: Session, conversation_id: str
    ) -> dict[str, Any] | None:
        """Lease the conversation's next row to send, in the caller's transaction
        (the one that staged it), for :meth:`send_leased`."""
        return _next_pending(session, conversation_id, self.owner)

    def send_leased(self, conversation_id: str, row: dict[str, Any] | None) -> None:
        """Start sending from ``row`` (from :meth:`lease_next`, committed).

        A conversation whose task runs already gets a wake instead: the task leases
        the row again itself (the lease is this process's). Call it right after the
        transaction, with no await between: ``row`` may be the one that task is
        sending, and only while the task runs is it sure not to be sent twice.
        """
        if row is not None and conversation_id not in self._workers:
            self._leased[conversation_id] = row
        self.wake(conversation_id)

    def mark_received(self, conversation_id: str) -> None:
        """Note when a resident's message came in, to measure reply latency."""
        self._received.setdefault(conversation_id, time.monotonic())

    async def _drain(self, conversation_id: str) -> None:
        prefix = f"Outbox {conversation_id}:"
        row = self._leased.pop(conversation_id, None)
        if row is not None:
            self._dirty.discard(conversation_id)  # the wake that brought the row
        while not self._stopping:
            if row is None:
                self._dirty.discard(conversation_id)
                row = await self.store.run(
                    _next_pending, conversation_id, self.owner, quick=True
                )
                if row is None:
                    if conversation_id in self._dirty:
                        continue
                    return

            delay = (row["next_attempt_at"] - utcnow()).total_seconds()
            if delay > 0 and not await self._pause(delay):
                return
            row = await self._send_one(prefix, row)
            if row is None and conversation_id not in self._dirty:
                return

    async def _send_one(
        self, prefix: str, row: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Send ``row``; return the conversation's next pending row, if known."""
        channel = self.channels.get(row["channel"])
        started = time.monotonic()
        try:
            message_id = await _channel(channel, row["channel"]).send(
                row["chat_id"], row["payload"], context=row["context"]
            )
        except Unreachable as exc:
            logger.warning("%s resident unreachable (%s)", prefix, exc)
            self._failed(row, "blocked")
            return await self._finish(row, "unreachable", error=str(exc))
        except RetryLater as exc:
            return await self._retry(prefix, row, exc)
        except PermanentFailure as exc:
            logger.warning("%s row %s failed for good: %s", prefix, row["id"], exc)
            self._failed(row, "refused")
            return await self._finish(row, "failed", error=str(exc))
        except (SendError, OSError, asyncio.TimeoutError) as exc:
            retry = RetryLater(str(exc) or type(exc).__name__)
            return await self._retry(prefix, row, retry)

        logger.info("%s row %s sent (%s)", prefix, row["id"], message_id)
        channel_name = row["channel"]
        self.metrics.inc("messages_out_total", channel=channel_name)
        now = time.monotonic()
        self.metrics.observe(
            "send_latency_seconds", now - started, channel=channel_name
        )
        received = self._received.pop(row["conversation_id"], None)
        if received is not None:
            self.metrics.observe(
                "reply_latency_seconds", now - received, channel=channel_name
            )
        # Shielded: a message the platform took must be marked sent, or a restart
        # would send it again.
        return await asyncio.shield(
            self._finish(row, "sent", platform_message_id=message_id)
        )

    def _failed(self, row: dict[str, Any], kind: str) -> None:
        self.metrics.inc("send_failures_total", channel=row["channel"], kind=kind)

    async def _retry(
        self, prefix: str, row: dict[str, Any], exc: RetryLater
    ) -> dict[str, Any] | None:
        attempts = row["attempts"] + 1
        self._failed(row, "retry")
        if attempts >= self.settings.outbox_max_attempts:
            logger.warning(
                "%s row %s gave up after %s attempts", prefix, row["id"], attempts
            )
            return await self._finish(row, "failed", error=f"gave up: {exc}")

        wait = backoff(attempts, self.settings)
        if exc.retry_after is not None:
            wait = max(wait, exc.retry_after + RETRY_SLACK_S)
        logger.info(
            "%s row %s retry %s in %.1f s: %s", prefix, row["id"], attempts, wait, exc
        )
        await self.store.run(
            _reschedule, row["id"], attempts, wait, str(exc), self.owner
        )
        return {**row, "attempts": attempts, "next_attempt_at": _after(wait)}

    async def _finish(
        self,
        row: dict[str, Any],
        state: str,
        *,
        error: str | None = None,
        platform_message_id: str | None = None,
    ) -> dict[str, Any] | None:
        events, following = await self.store.run(
            _finish_row,
            row,
            state,
            error,
            platform_message_id,
            self.owner,
            quick=True,
        )
        for event in events:
            await self.events.publish(event)
        return following


def _after(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def _channel(channel: Channel | None, name: str) -> Channel:
    if channel is None:
        raise PermanentFailure(f"Channel {name!r} is not configured.")
    return channel


_INSERT = Prepared(insert(OutboxMessage.__table__))
_NEXT = Prepared(
    select(
        OutboxMessage.id,
        OutboxMessage.conversation_id,
        OutboxMessage.channel,
        OutboxMessage.chat_id,
        OutboxMessage.transcript_id,
        OutboxMessage.payload,
        OutboxMessage.attempts,
        OutboxMessage.next_attempt_at,
        OutboxMessage.lease_owner,
        OutboxMessage.lease_until,
        Conversation.last_inbound_at,
    )
    .outerjoin(Conversation, Conversation.id == OutboxMessage.conversation_id)
    .where(
        OutboxMessage.conversation_id == bindparam("conversation_id"),
        OutboxMessage.state == "pending",
    )
    .order_by(OutboxMessage.id)
    .limit(1)
    .with_for_update(of=OutboxMessage.__table__)
)
_LEASE = Prepared(
    update(OutboxMessage.__table__)
    .where(OutboxMessage.id == bindparam("row_id"))
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
)


def _next_pending(
    session: Session, conversation_id: str, owner: str
) -> dict[str, Any] | None:
    # Core statements on the connection: this runs for every message sent.
    connection = session.connection()
    found = _NEXT.first(connection, {"conversation_id": conversation_id})
    if found is None or leased_to_another(found.lease_owner, found.lease_until, owner):
        return None  # nothing to send, or another gateway process sends it

    wait = (found.next_attempt_at - utcnow()).total_seconds()
    until = utcnow() + timedelta(seconds=max(0.0, wait) + SEND_LEASE_S)
    _LEASE.run(connection, {"row_id": found.id, "owner": owner, "until": until})
    return {
        "id": found.id,
        "conversation_id": found.conversation_id,
        "channel": found.channel,
        "chat_id": found.chat_id,
        "transcript_id": found.transcript_id,
        "payload": found.payload,
        "attempts": found.attempts,
        "next_attempt_at": found.next_attempt_at,
        "context": {
            "last_inbound_at": found.last_inbound_at,
            "outbox_id": found.id,
        },
    }


def _reschedule(
    session: Session,
    outbox_id: int,
    attempts: int,
    wait: float,
    error: str,
    owner: str,
) -> None:
    row = session.get(OutboxMessage, outbox_id)
    row.attempts = attempts
    row.last_error = error[:1000]
    row.next_attempt_at = _after(wait)
    row.take_lease(owner, wait + SEND_LEASE_S)


_FINISH = Prepared(
    update(OutboxMessage.__table__)
    .where(OutboxMessage.id == bindparam("row_id"))
    .values(
        state=bindparam("state"),
        attempts=OutboxMessage.attempts + 1,
        last_error=bindparam("error"),
        sent_at=bindparam("sent_at"),
        platform_message_id=bindparam("platform_message_id"),
    )
)


def _finish_row(
    session: Session,
    row: dict[str, Any],
    state: str,
    error: str | None,
    platform_message_id: str | None,
    owner: str,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Record how sending ``row`` (from :func:`_next_pending`) ended; return the
    console events and the conversation's next row to send, if any."""
    if state == "unreachable":
        return _unreachable(session, row, error), None

    _FINISH.run(
        session.connection(),
        {
            "row_id": row["id"],
            "state": state,
            "error": error,
            "sent_at": utcnow() if state == "sent" else None,
            "platform_message_id": platform_message_id,
        },
    )
    event = _delivery_event(row, row["id"], row["transcript_id"], state, error)
    return [event], _next_pending(session, row["conversation_id"], owner)


def _unreachable(
    session: Session, row: dict[str, Any], error: str | None
) -> list[dict[str, Any]]:
    """The resident blocked the bot: mark the chat and every pending row."""
    conversation = session.get(Conversation, row["conversation_id"])
    conversation.unreachable = True
    events = [conversation_event(conversation)]
    pending = (
        session.query(OutboxMessage)
        .filter(
            OutboxMessage.conversation_id == row["conversation_id"],
            OutboxMessage.state == "pending",
        )
        .all()
    )
    for each in pending:
        each.state = "unreachable"
        each.attempts = (each.attempts or 0) + (1 if each.id == row["id"] else 0)
        each.last_error = error
        events.append(
            _delivery_event(row, each.id, each.transcript_id, "unreachable", error)
        )
    session.flush()
    return events


def _delivery_event(
    row: dict[str, Any],
    outbox_id: int,
    transcript_id: int | None,
    state: str,
    error: str | None,
) -> dict[str, Any]:
    return {
        "type": "delivery",
        "conversation_id": row["conversation_id"],
        "channel": row["channel"],
        "outbox_id": outbox_id,
        "transcript_id": transcript_id,
        "status": state,
        "error": error,
    }
