"""Handoff to staff: the conversation modes and the calls that move between them.

::

    bot ──escalate()──> waiting ──claim()──> agent ──hand_back()──> bot
                           │                   └──────close()─────> closed
                           └──────close() / hand_back() ──────────> closed / bot

While a conversation is ``waiting`` or ``agent`` the router does not forward the
resident's messages to Rasa; it stores them in the transcript and publishes them (while
``waiting``, an emergency also gets the 112 advice and a ``flag``: see
:mod:`bot.pipeline.router`). A ``closed`` conversation that hears from the resident
again goes back to ``bot``.

The console (bot/console/) uses one :class:`Handoff` object, kept on the aiohttp app
under ``bot.app.HANDOFF`` (``request.app[HANDOFF]``). Every call is async:

- ``await escalate(conversation_id, reason)``: mode ``waiting`` (``waiting_since`` now);
  the resident is told in their language that a human will answer, with the expected
  wait, or outside SERVICE_HOURS when staff will answer.
- ``await claim(conversation_id, agent_id) -> bool``: ``waiting`` -> ``agent``,
  atomically (``UPDATE ... WHERE mode = 'waiting'``): False when another agent got it
  first or the conversation is not waiting.
- ``await agent_reply(conversation_id, agent_id, text) -> int``: stores the text (author
  ``agent``) and queues it through the channel's outbox; returns the first outbox id.
- ``await hand_back(conversation_id)``: mode ``bot``; posts ``{"event": "resume"}`` to
  Rasa's tracker so Rasa answers the next message; tells the resident.
- ``await close(conversation_id)``: mode ``closed``; tells the resident.

Unknown ids raise :class:`bot.errors.UnknownConversation`.

Console events (dicts published on the event bus, :mod:`bot.events`):

- ``{"type": "conversation", "conversation_id", "channel", "display_name", "language",
  "mode", "reason", "agent_id", "waiting_since", "unreachable"}`` on every mode change;
- ``{"type": "message", "conversation_id", "channel", "message": {"id", "direction"
  ("in"|"out"), "author" ("resident"|"bot"|"agent"|"system"), "agent_id", "kind",
  "text", "data", "created_at"}}`` for every inbound message and every reply;
- ``{"type": "delivery", "conversation_id", "channel", "outbox_id", "transcript_id",
  "status" (sent|failed|unreachable|queued|delivered|read|undelivered), "error"}``;
- ``{"type": "flag", "conversation_id", "reason"}`` when Rasa flags a message, and
  with reason ``emergency`` when a resident waiting for staff reports an emergency.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.channels.base import Reply
from bot.config import Settings
from bot.errors import RasaUnavailable
from bot.events import EventBus
from bot.pipeline import texts
from bot.pipeline.conversations import conversation_event, load, message_event
from bot.pipeline.outbox import Outbox
from bot.pipeline.rasa import RasaClient
from bot.pipeline.store import Store
from db.gateway import Conversation, utcnow

logger = logging.getLogger(__name__)

HANDOFF_REASONS = ("requested", "fallback", "emergency", "lookup_limit", "action")


class Handoff:
    """Move conversations between the bot, the waiting queue and staff."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        events: EventBus,
        *,
        rasa: RasaClient,
        settings: Settings,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.events = events
        self.rasa = rasa
        self.settings = settings

    async def escalate(self, conversation_id: str, reason: str) -> None:
        """Put the conversation in the waiting queue and tell the resident.

        Escalating a conversation that already waits or is with an agent changes
        nothing and tells the resident nothing new.
        """

        def work(session: Session) -> list[dict[str, Any]] | None:
            return self.stage_escalation(
                session, load(session, conversation_id), reason
            )

        events = await self.store.run(work)
        if events is None:
            logger.info("Conversation %s already with staff", conversation_id)
            return

        logger.info("Conversation %s escalated (%s)", conversation_id, reason)
        await self._publish(events)
        self.outbox.wake(conversation_id)

    def stage_escalation(
        self,
        session: Session,
        conversation: Conversation,
        reason: str,
        *,
        brief: bool = False,
    ) -> list[dict[str, Any]] | None:
        """Escalate in the caller's transaction; return the events to publish after it.

        ``brief``: Rasa already said that staff take over, so only the wait is told.
        Returns None when the conversation already waits or is with an agent.
        """
        if conversation.mode in ("waiting", "agent"):
            return None

        now = utcnow()
        hours = self.settings.hours
        conversation.mode = "waiting"
        conversation.waiting_since = now
        conversation.handoff_reason = reason
        conversation.agent_id = None
        language = conversation.language
        suffix = "_short" if brief else ""
        if hours.is_open(now):
            minutes = self.settings.expected_wait_minutes
            notice = texts.say(f"handoff_open{suffix}", language, minutes=minutes)
        else:
            opening = texts.when(hours.next_opening(now), language)
            notice = texts.say(f"handoff_closed{suffix}", language, when=opening)
        transcript, _ = self.outbox.stage(
            session, conversation, Reply(notice), author="system"
        )
        return [
            conversation_event(conversation),
            message_event(transcript, conversation.channel),
        ]

    async def claim(self, conversation_id: str, agent_id: str | int) -> bool:
        """Give a waiting conversation to ``agent_id``; False if it is not waiting."""

        def work(session: Session) -> dict[str, Any] | None:
            result = session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id, Conversation.mode == "waiting"
                )
                .values(mode="agent", agent_id=str(agent_id), updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                load(session, conversation_id)  # raises for an unknown id
                return None
            return conversation_event(load(session, conversation_id))

        event = await self.store.run(work)
        if event is None:
            return False

        logger.info("Conversation %s claimed by agent %s", conversation_id, agent_id)
        await self.events.publish(event)
        return True

    async def agent_reply(
        self, conversation_id: str, agent_id: str | int, text: str
    ) -> int:
        """Send an agent's text to the resident; return the first outbox id."""
        return await self.outbox.enqueue(
            conversation_id, Reply(text), author="agent", agent_id=str(agent_id)
        )

    async def hand_back(self, conversation_id: str) -> None:
        """Give the conversation back to the bot and resume Rasa's tracker.

        Raises:
            RasaUnavailable: Rasa could not be told; the mode is unchanged, try again.
        """
        await self.rasa.resume(conversation_id)
        await self._set_mode(conversation_id, "bot", notice="hand_back")

    async def close(self, conversation_id: str) -> None:
        """Close the conversation; the resident's next message starts with the bot."""
        try:
            await self.rasa.resume(conversation_id)
        except RasaUnavailable:
            # The router resumes the tracker when the resident writes again.
            logger.warning("Rasa not told that %s resumed", conversation_id)
        await self._set_mode(conversation_id, "closed", notice="closed")

    async def _set_mode(self, conversation_id: str, mode: str, *, notice: str) -> None:
        def work(session: Session) -> list[dict[str, Any]]:
            conversation = load(session, conversation_id)
            conversation.mode = mode
            conversation.waiting_since = None
            conversation.updated_at = utcnow()
            text = texts.say(notice, conversation.language)
            transcript, _ = self.outbox.stage(
                session, conversation, Reply(text), author="system"
            )
            return [
                conversation_event(conversation),
                message_event(transcript, conversation.channel),
            ]

        events = await self.store.run(work)
        logger.info("Conversation %s is now %s", conversation_id, mode)
        await self._publish(events)
        self.outbox.wake(conversation_id)

    async def _publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            await self.events.publish(event)
