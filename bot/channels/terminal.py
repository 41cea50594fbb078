"""The terminal chat (``python -m bot chat``): one resident on stdin and stdout,
through the same inbox, router, Rasa and outbox as every other channel."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import ClassVar, TextIO

from aiohttp import web

from bot.channels.base import InboundMessage, Json, Reply, numbered_options

CHAT_ID = "local"


class TerminalChannel:
    """Print replies; options are numbered and answered with their number."""

    name: ClassVar[str] = "terminal"
    max_text_length: ClassVar[int] = 100_000

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.replied = asyncio.Event()

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    def add_routes(self, app: web.Application) -> None:
        """No routes: the terminal is not reached over HTTP."""

    def health(self) -> Json:
        """Always running."""
        return {"state": "running"}

    def render(self, reply: Reply) -> list[Json]:
        """One payload: text, image URL and numbered options."""
        parts = [reply.text] if reply.text else []
        if reply.image:
            parts.append(f"[gambar] {reply.image}")
        if reply.buttons:
            parts.append(numbered_options(reply.buttons))
        return [{"text": "\n".join(parts)}]

    async def send(self, chat_id: str, payload: Json, *, context: Json) -> str | None:
        """Print the reply."""
        self.out.write(f"bot> {payload.get('text', '')}\n")
        self.out.flush()
        self.replied.set()
        return uuid.uuid4().hex


def message(text: str, *, session: str) -> InboundMessage:
    """A typed line as a resident's message."""
    return InboundMessage(
        channel="terminal",
        chat_id=session,
        platform_id=uuid.uuid4().hex,
        text=text,
    )
