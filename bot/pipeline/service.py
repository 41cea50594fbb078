"""The whole pipeline in one object: store, event bus, Rasa client, inbox, router,
outbox, handoff and the channels, with one start and one stop.

The aiohttp app (:mod:`bot.app`) and the terminal chat (``python -m bot chat``) both
run one :class:`Pipeline`, so every channel goes through the same steps::

    channel.parse -> ingest (inbox, commit) -> router -> Rasa -> outbox -> channel.send
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from bot.channels.base import Channel, InboundMessage, Json
from bot.config import Settings
from bot.events import EventBus, make_event_bus
from bot.metrics import Labels, Metrics, gateway_metrics
from bot.pipeline.handoff import Handoff
from bot.pipeline.inbox import Inbox
from bot.pipeline.outbox import Outbox
from bot.pipeline.rasa import RasaClient
from bot.pipeline.router import Router
from bot.pipeline.store import Store
from db.gateway import DeliveryStatus, InboxMessage, OutboxMessage

logger = logging.getLogger(__name__)


class Pipeline:
    """Every part of the gateway except HTTP."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        # Which process leases inbox and outbox rows (several gateways, one database).
        self.owner = f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.metrics: Metrics = gateway_metrics()
        self.store = store or Store.from_url(settings.database_url)
        self.events = events or make_event_bus(settings.redis_url or None)
        self.rasa = RasaClient(
            settings.rasa_url,
            settings.action_server_url,
            timeout_s=settings.rasa_timeout_s,
            concurrency=settings.rasa_concurrency,
        )
        self.channels: dict[str, Channel] = {}
        self.inbox = Inbox(self.store, metrics=self.metrics)
        self.outbox = Outbox(
            self.store,
            self.channels,
            self.events,
            settings=settings,
            metrics=self.metrics,
            owner=self.owner,
        )
        self.handoff = Handoff(
            self.store, self.outbox, self.events, rasa=self.rasa, settings=settings
        )
        self.router = Router(
            self.store,
            self.rasa,
            self.outbox,
            self.handoff,
            events=self.events,
            settings=settings,
            metrics=self.metrics,
            owner=self.owner,
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._depths: dict[Labels, float] = {}
        self.metrics.gauge("queue_depth", lambda: dict(self._depths))
        self.started = False

    def add_channel(self, channel: Channel) -> None:
        """Serve ``channel`` (before :meth:`start`)."""
        self.channels[channel.name] = channel

    async def ingest(self, message: InboundMessage) -> bool:
        """Store a resident's message and schedule it; False for a duplicate."""
        stored = await self.inbox.accept(message)
        if stored:
            conversation_id = message.conversation_id
            if self.router.busy(conversation_id):
                # Its task may wait for Rasa: show the message to staff right now.
                self._spawn(self.router.admit(conversation_id))
            self.router.wake(conversation_id)
        return stored

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # After the webhook's answer: the acknowledgement does not wait for it.
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def record_status(
        self, platform_message_id: str, status: str, error_code: str | None
    ) -> None:
        """Record a platform's delivery status and tell the console."""

        def work(session: Session) -> Json | None:
            row = (
                session.query(OutboxMessage)
                .filter(OutboxMessage.platform_message_id == platform_message_id)
                .first()
            )
            session.add(
                DeliveryStatus(
                    channel=row.channel if row else "whatsapp",
                    platform_message_id=platform_message_id,
                    outbox_id=row.id if row else None,
                    status=status,
                    error_code=error_code,
                )
            )
            if row is None:
                return None
            row.delivery_status = status
            return {
                "type": "delivery",
                "conversation_id": row.conversation_id,
                "channel": row.channel,
                "outbox_id": row.id,
                "transcript_id": row.transcript_id,
                "status": status,
                "error": error_code,
            }

        event = await self.store.run(work)
        if event is not None:
            await self.events.publish(event)

    async def start(self) -> None:
        """Connect everything and resume the rows a previous run left pending."""
        if self.started:
            return

        logger.debug("Pipeline starting")
        await self.events.start()
        await self.rasa.start()
        for channel in self.channels.values():
            await channel.start()
        resumed = await self.router.resume()
        await self.outbox.resume()
        if resumed:
            logger.info("Resuming %s conversations with unprocessed messages", resumed)
        self._sweeper = asyncio.create_task(self._sweep(), name="pipeline-sweep")
        self.started = True
        logger.debug("Pipeline started")

    async def stop(self) -> None:
        """Stop taking work, stop the tasks, disconnect; pending rows stay stored."""
        if not self.started:
            return

        logger.debug("Pipeline stopping")
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for channel in self.channels.values():
            await channel.stop()
        if self._background:
            await asyncio.wait(self._background)
        await self.router.stop()
        await self.outbox.stop()
        await self.store.run(_release_leases, self.owner)
        await self.rasa.stop()
        await self.events.stop()
        self.started = False
        logger.debug("Pipeline stopped")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            try:
                await self.router.resume()
                await self.outbox.resume()
                await self.refresh_depths()
            except Exception:
                logger.exception("Pipeline sweep failed; trying again")

    async def refresh_depths(self) -> dict[str, int]:
        """Count the pending inbox and outbox rows (for /metrics and /healthz)."""

        def work(session: Session) -> dict[str, int]:
            inbox = (
                session.query(func.count(InboxMessage.id))
                .filter(InboxMessage.state == "pending")
                .scalar()
            )
            outbox = (
                session.query(func.count(OutboxMessage.id))
                .filter(OutboxMessage.state == "pending")
                .scalar()
            )
            return {"inbox": int(inbox or 0), "outbox": int(outbox or 0)}

        depths = await self.store.run(work)
        self._depths = {(("queue", k),): float(v) for k, v in depths.items()}
        return depths

    async def health(self) -> dict[str, Any]:
        """Each dependency's state; ``ok`` is False when a needed one is down."""
        database = await self.store.ping()
        rasa, actions = await asyncio.gather(
            self.rasa.rasa_up(), self.rasa.action_server_up()
        )
        report: dict[str, Any] = {
            "database": "up" if database else "down",
            "rasa": "up" if rasa else "down",
            "action_server": "up" if actions else "down",
            "channels": {name: ch.health() for name, ch in self.channels.items()},
        }
        if self.settings.redis_url:
            report["redis"] = "up" if await self._redis_up() else "down"
        if database:
            report["queues"] = await self.refresh_depths()
        report["ok"] = database and rasa and actions
        return report

    async def _redis_up(self) -> bool:
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.settings.redis_url, socket_timeout=2)
        try:
            return bool(await client.ping())
        except (OSError, aioredis.RedisError):
            return False
        finally:
            await client.close()


def _release_leases(session: Session, owner: str) -> None:
    # A stopped process hands its pending rows over at once instead of at lease end.
    for model in (InboxMessage, OutboxMessage):
        session.execute(
            update(model)
            .where(model.lease_owner == owner, model.state == "pending")
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
