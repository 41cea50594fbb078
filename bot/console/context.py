"""What the console's handlers share: the gateway's parts it uses, under one app key."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from bot.channels.base import Reply
from bot.events import EventBus
from bot.pipeline.store import Store

logger = logging.getLogger(__name__)


class Handoff(Protocol):
    """The gateway's handoff core (bot.pipeline.handoff), as the console calls it."""

    async def claim(self, conversation_id: str, agent_id: str) -> bool:
        """Give a waiting conversation to ``agent_id``; False if someone was faster."""

    async def agent_reply(self, conversation_id: str, agent_id: str, text: str) -> int:
        """Send an agent's text through the outbox; return the outbox id."""

    async def hand_back(self, conversation_id: str) -> None:
        """Return the conversation to the bot and tell Rasa it resumed."""

    async def close(self, conversation_id: str) -> None:
        """Close the conversation."""


class Outbox(Protocol):
    """The gateway's outbox (bot.pipeline.outbox.Outbox), as the console calls it."""

    async def enqueue(
        self,
        conversation_id: str,
        reply: Reply,
        *,
        author: str = "bot",
        agent_id: str | None = None,
    ) -> int:
        """Store ``reply`` and start sending it; return its first outbox id."""


@dataclass
class Console:
    """The console's state: the gateway's store, bus, handoff, outbox and channels."""

    store: Store
    events: EventBus
    handoff: Handoff
    outbox: Outbox
    public_url: str = ""
    channels: Mapping[str, Any] = field(default_factory=dict)
    sockets: Any = None  # bot.console.ws.Sockets, set by setup_console
    _warned: set[str] = field(default_factory=set)

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag when the console is served over https."""
        return self.public_url.startswith("https://")

    async def fetch_media(
        self, channel_name: str, entry: dict[str, Any]
    ) -> tuple[bytes, str] | None:
        """Fetch a resident's photo through its channel adapter's ``fetch_media``.

        Returns:
            The bytes and content type, or None when the channel cannot fetch it.
        """
        channel = self.channels.get(channel_name)
        fetch = getattr(channel, "fetch_media", None)
        if fetch is None:
            if channel_name not in self._warned:
                self._warned.add(channel_name)
                logger.warning("Channel %s cannot fetch media", channel_name)
            return None
        try:
            body, content_type = await fetch(entry)
        except Exception:  # any platform failure is shown as "not available"
            logger.exception("Fetching a photo from %s failed", channel_name)
            return None
        return bytes(body), str(content_type)


CONSOLE_KEY = web.AppKey("console", Console)
