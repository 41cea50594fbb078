"""The console event bus: what happens in a conversation, told to every open console.

The gateway publishes an event (a JSON-able dict with a ``type``) whenever a resident
message arrives, a reply goes out, a delivery status changes or a conversation changes
mode; every console WebSocket subscribes. In one process :class:`LocalEventBus` fans the
events out in memory. With REDIS_URL set, :class:`RedisEventBus` publishes through one
Redis channel and each process relays what it reads there to its own subscribers, so
that two gateway processes serve one console::

    gateway A --publish--> Redis channel --> relay in A --> sockets on A
                                         \\-> relay in B --> sockets on B
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

Event = dict[str, Any]

DEFAULT_CHANNEL = "padang:console-events"
SUBSCRIBER_QUEUE_SIZE = (
    1000  # events; a console that falls further behind loses the oldest
)


class EventBus(Protocol):
    """What the gateway and the console need from a bus."""

    async def publish(self, event: Event) -> None:
        """Send ``event`` to every subscriber of every process."""

    def subscribe(self) -> Subscription:
        """Return an iterator of the events published from now on; close it after."""

    async def start(self) -> None:
        """Connect; idempotent."""

    async def stop(self) -> None:
        """Disconnect; idempotent."""


class LocalEventBus:
    """Fan events out to the subscribers of this process."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    async def start(self) -> None:
        """Nothing to connect in memory."""

    async def stop(self) -> None:
        """Nothing to disconnect in memory."""

    async def publish(self, event: Event) -> None:
        """Hand ``event`` to every local subscriber."""
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Put ``event`` on every subscriber's queue, dropping its oldest when full."""
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def subscribe(self) -> Subscription:
        """Return an iterator of the events published from now on, already listening."""
        return Subscription(self._queues)


class Subscription:
    """One subscriber's queue; registered when created, removed by :meth:`aclose`."""

    def __init__(self, queues: set[asyncio.Queue[Event]]) -> None:
        self._queues = queues
        self._queue: asyncio.Queue[Event] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        queues.add(self._queue)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._queue not in self._queues:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop receiving events."""
        self._queues.discard(self._queue)


class RedisEventBus(LocalEventBus):
    """Carry events through a Redis channel so that every gateway process sees them."""

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        super().__init__()
        self._url = url
        self._channel = channel
        self._redis: aioredis.Redis | None = None
        self._relay: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and start relaying the channel to local subscribers."""
        if self._redis is not None:
            return

        self._redis = aioredis.from_url(self._url)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        self._relay = asyncio.create_task(self._run_relay(pubsub))
        logger.info("Console events go through Redis channel %s", self._channel)

    async def stop(self) -> None:
        """Stop relaying and disconnect."""
        if self._redis is None:
            return

        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
        await self._redis.close()
        self._redis, self._relay = None, None

    async def publish(self, event: Event) -> None:
        """Publish ``event`` on the Redis channel (this process gets it back too)."""
        if self._redis is None:
            raise RuntimeError("RedisEventBus.publish() called before start().")
        await self._redis.publish(self._channel, json.dumps(event, default=str))

    async def _run_relay(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            if message is None:
                continue
            try:
                self.deliver(json.loads(message["data"]))
            except (ValueError, TypeError):
                logger.warning("Ignored a console event that is not JSON")


def make_event_bus(redis_url: str | None) -> EventBus:
    """Return the Redis bus when ``redis_url`` is set, the in-memory bus otherwise."""
    return RedisEventBus(redis_url) if redis_url else LocalEventBus()
