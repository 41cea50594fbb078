"""The router: take each conversation's pending inbox rows in order and act on them.

Per row, by the conversation's mode:

- ``bot`` (or ``closed``, which reopens to ``bot``): forward to Rasa with metadata, then
  in one transaction mark the row done and queue the replies (a ``handoff`` custom
  payload escalates, a ``flag`` alerts staff);
- ``waiting``: nothing to forward; the message is already in the transcript and on
  the console. Rasa's NLU alone classifies it (``/model/parse``, no tracker): an
  emergency gets the 112 advice, at most once per ``EMERGENCY_ADVICE_INTERVAL``, and a
  ``flag`` event alerts staff. The row is marked done, even when Rasa is down;
- ``agent``: a human is talking; nothing to forward, the row is marked done.

A button payload goes to Rasa as it is (``/intent{...}`` sets slots) only when it is
one of the options the bot offered on its last turn (``last_options``); a number or
``#optN`` picks one of them. Any other ``/intent{...}`` is sent as plain text.

At most ``RASA_CONCURRENCY`` turns are under way at once; a message that waits longer
than ``ADMIT_AFTER_S`` for its turn is admitted meanwhile (see ``Router._slot``).

When Rasa or the action server is down, the resident is told once ("sedang ada
gangguan"), the row stays pending and is retried with backoff; later rows of the same
conversation wait behind it, so the order holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bot.channels.base import (
    SHARE_LOCATION,
    SHARE_MEDIA,
    InboundMessage,
    Reply,
)
from bot.config import Settings
from bot.errors import RasaUnavailable
from bot.events import EventBus
from bot.metrics import Metrics
from bot.pipeline import texts
from bot.pipeline.conversations import (
    conversation_event,
    end_turn,
    find_state,
    load,
    message_event,
    set_language,
)
from bot.pipeline.handoff import Handoff
from bot.pipeline.inbox import admit_pending, lease, pending_rows
from bot.pipeline.outbox import Outbox, backoff
from bot.pipeline.rasa import RasaClient
from bot.pipeline.sql import Prepared, Record
from bot.pipeline.store import Store
from bot.pipeline.tasks import ConversationTasks
from db.gateway import (
    Conversation,
    InboxMessage,
    TranscriptMessage,
    leased_to_another,
    utcnow,
)

logger = logging.getLogger(__name__)

LEASE_MARGIN_S = 30.0  # beyond the Rasa timeout, before another process may take over
MAX_RASA_TEXT = 2000  # characters forwarded to Rasa; the transcript keeps all
_NUMBER_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_OPTION_RE = re.compile(r"^#opt(\d{1,2})$")  # Telegram callback data for long payloads
# Kinds whose text the gateway itself set (Telegram's /start and the like). A button
# payload is trusted only when the bot offered it (see Router._prepare).
TRUSTED_KINDS = ("command",)
STAFF_MODES = ("waiting", "agent")  # the conversation is with staff, not the bot
STAFF_HINTS_MAX = 10_000  # conversations remembered as with staff (see Router._slot)
ADMIT_AFTER_S = 1.0  # a message waiting for a turn longer is shown to staff meanwhile
EMERGENCY_INTENT = "report_emergency"
# From this intent confidence on, a resident waiting for staff gets the 112 advice.
EMERGENCY_CONFIDENCE = 0.5
EMERGENCY_ADVICE_INTERVAL = timedelta(minutes=10)  # one advice per conversation within
_HAS_WORD_RE = re.compile(r"[^\W_]", re.UNICODE)


def _load_language_identifier() -> Any:
    try:
        from nlu import langid

        return langid.default_identifier()
    except Exception:  # missing module or model: the gateway runs without it
        logger.warning("nlu.langid unavailable: messages go to Rasa without a language")
        return None


@dataclass(frozen=True)
class Turn:
    """What one inbox row asks of Rasa."""

    inbox_id: int
    conversation_id: str
    mode: str
    attempts: int
    message: InboundMessage
    text: str  # what Rasa gets
    metadata: dict[str, Any]
    local_reply: str | None  # answered by the gateway itself (empty message)
    events: list[dict[str, Any]]  # to publish: the message, when it was just admitted


Interceptor = Callable[[Turn], Awaitable[bool]]


class Router(ConversationTasks):
    """Process the inbox, one task per conversation with pending rows."""

    name = "router"
    model = InboxMessage

    def __init__(
        self,
        store: Store,
        rasa: RasaClient,
        outbox: Outbox,
        handoff: Handoff,
        *,
        events: EventBus,
        settings: Settings,
        metrics: Metrics,
        owner: str,
    ) -> None:
        super().__init__(store)
        self.rasa = rasa
        self.outbox = outbox
        self.handoff = handoff
        self.events = events
        self.settings = settings
        self.metrics = metrics
        self.language_identifier = _load_language_identifier()
        self._interceptors: list[Interceptor] = []
        self.owner = owner
        # A row is leased for one Rasa call and a margin; an outage extends it.
        self._lease_s = settings.rasa_timeout_s + LEASE_MARGIN_S
        self._turn_slots = asyncio.Semaphore(settings.rasa_concurrency)
        self._with_staff: set[str] = set()  # see _slot

    async def admit(self, conversation_id: str) -> None:
        """Put a conversation's new messages in the transcript and on the console now,
        even while an earlier message waits for Rasa."""
        try:
            events = await self.store.run(admit_pending, conversation_id, quick=True)
            for event in events:
                await self.events.publish(event)
        except Exception:  # the conversation's next turn admits them instead
            logger.exception("Admitting messages of %s failed", conversation_id)

    def add_interceptor(self, hook: Interceptor) -> None:
        """Let ``hook(turn)`` see each turn first; when it returns True the hook has
        handled the message (the console's survey answers) and Rasa never sees it.
        """
        self._interceptors.append(hook)

    async def _drain(self, conversation_id: str) -> None:
        while not self._stopping:
            async with self._slot(conversation_id):
                self._dirty.discard(conversation_id)
                outcome = await self._take_turn(conversation_id)
            if outcome is None:
                if conversation_id in self._dirty:
                    continue
                return

            wait, more = outcome
            if wait:
                if not await self._pause(wait):  # stopping
                    return
            elif not more and conversation_id not in self._dirty:
                return

    @contextlib.asynccontextmanager
    async def _slot(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold what a turn of ``conversation_id`` needs before it starts.

        A turn for Rasa waits for one of ``rasa_concurrency`` slots: more turns under
        way would only wait inside the Rasa client, and admitting their messages at
        once would take the event loop from the webhooks that a burst of messages
        sends (each admission is a transaction). A message that waits longer than
        ``ADMIT_AFTER_S`` is admitted meanwhile, so staff see it. A conversation last
        seen with staff skips the queue: Rasa has nothing to do for it. That memory
        is a hint only (staff or another gateway process may have changed the mode
        since); a wrong guess costs order of service, never a message.
        """
        if conversation_id in self._with_staff:
            yield
            return

        try:
            await asyncio.wait_for(self._turn_slots.acquire(), ADMIT_AFTER_S)
        except asyncio.TimeoutError:
            await self.admit(conversation_id)
            await self._turn_slots.acquire()
        try:
            yield
        finally:
            self._turn_slots.release()

    def _seen_mode(self, conversation_id: str, mode: str) -> None:
        """Remember whether the conversation is with staff (see :meth:`_slot`)."""
        if mode not in STAFF_MODES:
            self._with_staff.discard(conversation_id)
            return
        if len(self._with_staff) >= STAFF_HINTS_MAX:
            self._with_staff.clear()  # hints only: forgetting them is safe
        self._with_staff.add(conversation_id)

    async def _take_turn(self, conversation_id: str) -> tuple[float, bool] | None:
        """Admit and process the conversation's next row; None when it has none.

        Returns:
            As :meth:`_process`.
        """
        turn = await self.store.run(self._next_turn, conversation_id, quick=True)
        if turn is None:
            return None

        self._seen_mode(conversation_id, turn.mode)
        for event in turn.events:
            await self.events.publish(event)
        return await self._process(turn)

    def _next_turn(self, session: Session, conversation_id: str) -> Turn | None:
        # Runs for every message: read the pending rows and the conversation, create
        # or update it, add the transcript, mark the row admitted, lease it.
        pending = pending_rows(session, conversation_id)
        row = pending[0] if pending else None
        if row is None or leased_to_another(
            row.lease_owner, row.lease_until, self.owner
        ):
            return None  # nothing to do, or another gateway process is on it

        message = InboundMessage.from_json(row.message)
        state = find_state(session, conversation_id)  # None: the first message
        text, metadata, local = self._prepare(state, message)
        events = admit_pending(session, conversation_id, pending)
        language = metadata.get("language")
        if language and (state is None or state.language != language):
            # Known before Rasa answers, so that even an outage notice fits it.
            set_language(session, conversation_id, language)
        lease(session, row.id, self.owner, self._lease_s)
        return Turn(
            inbox_id=row.id,
            conversation_id=conversation_id,
            mode=state.mode if state is not None else "bot",
            attempts=row.attempts,
            message=message,
            text=text,
            metadata=metadata,
            local_reply=local,
            events=events,
        )

    def _prepare(
        self, state: Record | None, message: InboundMessage
    ) -> tuple[str, dict[str, Any], str | None]:
        """Return Rasa's text and metadata, and the gateway's own reply if any.

        ``state``: the conversation's (:func:`find_state`), None on first contact.
        """
        text = message.text.strip()
        options = (state.last_options if state is not None else None) or []
        offered = {str(option["payload"]).strip() for option in options}
        trusted = message.kind in TRUSTED_KINDS or (
            message.kind == "button" and text in offered
        )
        number = _NUMBER_RE.match(text) or _OPTION_RE.match(text)
        if number and options and 1 <= int(number[1]) <= len(options):
            text = str(options[int(number[1]) - 1]["payload"])
        elif not trusted:
            # Typed or forged "/intent{...}" would skip the NLU and set slots: keep
            # it text.
            text = text.lstrip("/").strip()

        metadata: dict[str, Any] = {
            "channel": message.channel,
            "message_id": message.platform_id,
        }
        if message.location:
            metadata["location"] = message.location
        if message.media:
            metadata["media"] = message.media
        if message.contact:
            metadata["contact"] = message.contact
        if message.sender_name:
            metadata["name"] = message.sender_name
        if message.kind == "edit":
            metadata["edited"] = True

        # Bounded: the identifier runs on the event loop, in the turn's transaction.
        language = self._language(text[:MAX_RASA_TEXT])
        if language is not None:
            metadata["language"] = language
        if not text:
            if message.media:
                text = SHARE_MEDIA
            elif message.location:
                text = SHARE_LOCATION
            elif message.contact:
                text = message.contact
        if not text:
            known = state.language if state is not None else None
            return "", metadata, texts.say("empty", known)
        if len(text) > MAX_RASA_TEXT:
            cut = text.rfind(" ", 0, MAX_RASA_TEXT)
            text = text[: cut if cut > MAX_RASA_TEXT // 2 else MAX_RASA_TEXT]
        return text, metadata, None

    def _language(self, text: str) -> str | None:
        if self.language_identifier is None or text.startswith("/"):
            return None
        if not _HAS_WORD_RE.search(text):
            return None
        prediction = self.language_identifier.predict(text)
        # A message without evidence keeps the conversation's language.
        return str(prediction.language) if prediction.decisive else None

    async def _process(self, turn: Turn) -> tuple[float, bool]:
        """Handle one row.

        Returns:
            How long to wait before trying it again (0: it is done), and whether the
            conversation has more pending rows.
        """
        for hook in self._interceptors:
            if await hook(turn):
                return 0.0, await self.store.run(_done, turn, quick=True)
        if turn.mode == "waiting":
            return 0.0, await self._while_waiting(turn)
        if turn.mode == "agent":
            return 0.0, await self.store.run(_done, turn, quick=True)

        self.outbox.mark_received(turn.conversation_id)
        if turn.local_reply is not None:
            return 0.0, await self._finish(turn, [{"text": turn.local_reply}])

        started = time.monotonic()
        try:
            if turn.mode == "closed":
                await self.rasa.resume(turn.conversation_id)
            replies = await self.rasa.send(
                turn.conversation_id, turn.text, turn.metadata
            )
        except RasaUnavailable as exc:
            return await self._outage(turn, exc), True

        self.metrics.observe("rasa_latency_seconds", time.monotonic() - started)
        return 0.0, await self._finish(turn, replies)

    async def _while_waiting(self, turn: Turn) -> bool:
        """Mark a waiting resident's row done; meet an emergency with the 112 advice.

        Every emergency publishes a ``flag`` for staff; the resident is advised when
        not told to call 112 within ``EMERGENCY_ADVICE_INTERVAL``. Returns whether more
        rows of the conversation are pending.
        """
        if not await self._is_emergency(turn):
            return await self.store.run(_done, turn, quick=True)

        def work(session: Session) -> tuple[list[dict[str, Any]], bool, bool]:
            conversation = session.get(Conversation, turn.conversation_id)
            events: list[dict[str, Any]] = [
                {
                    "type": "flag",
                    "conversation_id": conversation.id,
                    "reason": "emergency",
                }
            ]
            advised = _advised_recently(session, conversation)
            if not advised:
                advice = texts.say("emergency_waiting", conversation.language)
                transcript, _ = self.outbox.stage(
                    session, conversation, Reply(advice), author="system"
                )
                events.append(message_event(transcript, conversation.channel))
            return events, advised, _done(session, turn)

        events, advised, more = await self.store.run(work)
        # The inbox row, not the conversation id: a WhatsApp id is a phone number.
        logger.info(
            "Emergency while waiting for staff (inbox row %s, %s): %s",
            turn.inbox_id,
            turn.message.channel,
            "112 advice already given" if advised else "112 advice queued",
        )
        for event in events:
            await self.events.publish(event)
        if not advised:
            self.outbox.wake(turn.conversation_id)
        return more

    async def _is_emergency(self, turn: Turn) -> bool:
        """Tell whether Rasa's NLU reads the resident's words as an emergency."""
        if turn.local_reply is not None or not turn.message.text.strip():
            return False  # nothing typed: a bare photo, location or contact

        try:
            parsed = await self.rasa.parse(turn.text)
        except RasaUnavailable as exc:
            # The message is stored and on the console; staff will read it.
            self.metrics.inc("rasa_failures_total", cause="parse")
            logger.warning(
                "Emergency check skipped for inbox row %s: %s", turn.inbox_id, exc
            )
            return False

        intent = parsed.get("intent")
        if not isinstance(intent, dict) or intent.get("name") != EMERGENCY_INTENT:
            return False
        confidence = intent.get("confidence")
        return (
            isinstance(confidence, (int, float)) and confidence >= EMERGENCY_CONFIDENCE
        )

    async def _outage(self, turn: Turn, exc: RasaUnavailable) -> float:
        self.metrics.inc("rasa_failures_total", cause="unavailable")
        attempts = turn.attempts + 1
        wait = backoff(attempts, self.settings)
        logger.warning(
            "Rasa unavailable for %s (attempt %s, next in %.1f s): %s",
            turn.conversation_id,
            attempts,
            wait,
            exc,
        )

        def work(session: Session) -> dict[str, Any] | None:
            row = session.get(InboxMessage, turn.inbox_id)
            row.attempts = attempts
            row.last_error = str(exc)[:1000]
            row.take_lease(self.owner, wait + self._lease_s)
            session.flush()  # the inbox row before the conversation (lock order)
            conversation = session.get(Conversation, turn.conversation_id)
            if conversation.outage_notified:
                return None
            conversation.outage_notified = True
            notice = texts.say("outage", conversation.language)
            transcript, _ = self.outbox.stage(
                session, conversation, Reply(notice), author="system"
            )
            return message_event(transcript, conversation.channel)

        event = await self.store.run(work)
        if event is not None:
            await self.events.publish(event)
            self.outbox.wake(turn.conversation_id)
        return wait

    async def _finish(self, turn: Turn, replies: list[dict[str, Any]]) -> bool:
        """Mark the row done, queue the replies and lease the first to send, in one
        transaction; return whether more rows of the conversation are pending."""

        def work(
            session: Session,
        ) -> tuple[list[dict[str, Any]], bool, dict[str, Any] | None]:
            # Core statements on the common path; the ORM object only when the
            # conversation reopens or a reply hands it to staff. Rows are locked in
            # the gateway's one order, inbox, then conversation, then outbox (see
            # docs/ARCHITECTURE.md): on PostgreSQL two transactions that lock in
            # opposite orders can deadlock, and one of them is aborted.
            more = _done(session, turn)
            state = end_turn(session, turn.conversation_id, _offered(replies))
            events: list[dict[str, Any]] = []
            if state.mode == "closed":
                events.append(conversation_event(load(session, state.id)))
            said = False  # Rasa's text came before a handoff: the notice is brief
            for raw in replies:
                events.extend(self._stage_reply(session, state, raw, said))
                said = said or bool(raw.get("text"))
            return events, more, self.outbox.lease_next(session, state.id)

        events, more, first = await self.store.run(work, quick=True)
        # Hand over before any await: the outbox task that may be sending ``first``
        # right now is still running, so it gets a wake and not a second copy.
        self.outbox.send_leased(turn.conversation_id, first)
        for event in events:
            await self.events.publish(event)
        return more

    def _stage_reply(
        self,
        session: Session,
        state: Record,
        raw: dict[str, Any],
        said: bool,
    ) -> list[dict[str, Any]]:
        """Stage one of Rasa's replies for the conversation ``state`` (of
        :func:`end_turn`); return the console events."""
        events: list[dict[str, Any]] = []
        custom = raw.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            reason = str(custom["handoff"].get("reason") or "requested")
            staged = self.handoff.stage_escalation(
                session, load(session, state.id), reason, brief=said
            )
            self._seen_mode(state.id, "waiting")
            events.extend(staged or [])
        if isinstance(custom, dict) and isinstance(custom.get("flag"), dict):
            events.append(
                {
                    "type": "flag",
                    "conversation_id": state.id,
                    "reason": str(custom["flag"].get("reason") or ""),
                }
            )
        reply = Reply.from_json(raw)
        if reply.text or reply.image or reply.buttons:
            transcript, _ = self.outbox.stage(session, state, reply)
            events.append(message_event(transcript, state.channel))
        return events


def _offered(replies: list[dict[str, Any]]) -> list[dict[str, str]] | None:
    """The buttons of Rasa's last reply that has any: a typed number picks one."""
    options: list[dict[str, str]] | None = None
    for raw in replies:
        if raw.get("buttons"):
            buttons = Reply.from_json(raw).buttons
            options = [{"title": b.title, "payload": b.payload} for b in buttons]
    return options


def _advised_recently(session: Session, conversation: Conversation) -> bool:
    """Tell whether the resident was told to call 112 within the advice interval.

    Either the gateway's advice is in the transcript, or Rasa's ``action_emergency``
    gave its own when it escalated the conversation (reason ``emergency``).
    """
    since = utcnow() - EMERGENCY_ADVICE_INTERVAL
    rasa_advised = (
        conversation.handoff_reason == "emergency"
        and conversation.waiting_since is not None
        and conversation.waiting_since >= since
    )
    if rasa_advised:
        return True

    advice = list(texts.TEXTS["emergency_waiting"].values())
    found = (
        session.query(TranscriptMessage.id)
        .filter(
            TranscriptMessage.conversation_id == conversation.id,
            TranscriptMessage.direction == "out",
            TranscriptMessage.author == "system",
            TranscriptMessage.text.in_(advice),
            TranscriptMessage.created_at >= since,
        )
        .first()
    )
    return found is not None


_DONE = Prepared(
    update(InboxMessage.__table__)
    .where(InboxMessage.id == bindparam("row_id"))
    .values(state="done", processed_at=bindparam("now"))
)
_ANY_PENDING = Prepared(
    select(InboxMessage.id)
    .where(
        InboxMessage.conversation_id == bindparam("conversation_id"),
        InboxMessage.state == "pending",
    )
    .limit(1)
)


def _done(session: Session, turn: Turn) -> bool:
    """Mark the turn's row done; return whether its conversation has more pending rows.

    Two Core statements, no row loaded: this runs once for every message.
    """
    connection = session.connection()
    _DONE.run(connection, {"row_id": turn.inbox_id, "now": utcnow()})
    more = _ANY_PENDING.first(connection, {"conversation_id": turn.conversation_id})
    return more is not None
