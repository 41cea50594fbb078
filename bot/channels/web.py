"""The web chat page (GET /chat): for demonstrations and for staff to try the bot.

One HTML page, no build step. The page keeps a session id (a UUID) in localStorage,
opens a WebSocket on /chat/ws?session=<id>, sends ``{"id", "text"}`` or ``{"id",
"payload", "title"}`` (a button press) and shows what the gateway pushes. Every text
is put in the page with ``textContent``, never as HTML. On reconnect the page reloads
the transcript from /chat/history.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from bot.channels.base import InboundMessage, Json, Reply
from bot.metrics import Metrics

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_WS_MESSAGE_BYTES = 64 * 1024
_SESSION_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Accept = Callable[[InboundMessage], Awaitable[bool]]
History = Callable[[str], Awaitable[list[Json]]]


def page() -> str:
    """The chat page's HTML."""
    return resources.files("bot.channels").joinpath("web_chat.html").read_text("utf-8")


class WebChannel:
    """The web chat adapter: replies are pushed to the session's open sockets."""

    name: ClassVar[str] = "web"
    max_text_length: ClassVar[int] = MAX_TEXT

    def __init__(self, *, accept: Accept, history: History, metrics: Metrics) -> None:
        self.accept = accept
        self.history = history
        self.metrics = metrics
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Close the open sockets."""
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                await socket.close()
        self._sockets.clear()

    def add_routes(self, app: web.Application) -> None:
        """Register the page, its socket and its history."""
        app.router.add_get("/chat", self.page)
        app.router.add_get("/chat/ws", self.socket)
        app.router.add_get("/chat/history", self.transcript)

    def health(self) -> Json:
        """How many chat sessions are open."""
        return {"state": "running", "open_sessions": len(self._sockets)}

    async def page(self, request: web.Request) -> web.Response:
        """Serve the chat page."""
        return web.Response(
            text=page(),
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'; script-src 'self' "
                "'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                "connect-src 'self' ws: wss:; img-src 'self' https: data:",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @staticmethod
    def _session(request: web.Request) -> str:
        session = request.query.get("session", "")
        if not _SESSION_RE.match(session):
            raise web.HTTPBadRequest(text="session must be a UUID")
        return session

    async def transcript(self, request: web.Request) -> web.Response:
        """Return the session's transcript (JSON list)."""
        session = self._session(request)
        return web.json_response(await self.history(f"web:{session}"))

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        """Relay one browser session: its messages in, the bot's replies out."""
        session = self._session(request)
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_WS_MESSAGE_BYTES)
        await socket.prepare(request)
        self._sockets[session].add(socket)
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    continue
                message = self._parse(session, frame.data)
                if message is None:
                    await socket.send_json({"type": "error", "error": "bad message"})
                    continue
                await self.accept(message)
                await socket.send_json({"type": "ack", "id": message.platform_id})
        finally:
            self._sockets[session].discard(socket)
            if not self._sockets[session]:
                del self._sockets[session]
        return socket

    @staticmethod
    def _parse(session: str, raw: str) -> InboundMessage | None:
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        client_id = str(data.get("id") or uuid.uuid4().hex)
        if not _CLIENT_ID_RE.match(client_id):
            return None
        payload = data.get("payload")
        text = payload if isinstance(payload, str) else data.get("text", "")
        if not isinstance(text, str):
            return None
        return InboundMessage(
            channel="web",
            chat_id=session,
            platform_id=f"{session}:{client_id}",
            text=text,
            kind="button" if isinstance(payload, str) else "text",
        )

    def render(self, reply: Reply) -> list[Json]:
        """One payload per reply: the page shows any length and real buttons."""
        return [reply.to_json()]

    async def send(self, chat_id: str, payload: Json, *, context: Json) -> str | None:
        """Push ``payload`` to the session's open pages (the transcript keeps it)."""
        message_id = uuid.uuid4().hex
        for socket in list(self._sockets.get(chat_id, ())):
            if not socket.closed:
                await socket.send_json({"type": "reply", "id": message_id, **payload})
        return message_id
