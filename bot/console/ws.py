"""The console's WebSocket: console events pushed live to every open page.

The socket forwards only what a page needs to refresh (event type, conversation id,
delivery state); the page then fetches the masked data over HTTP. Every message a page
sends must carry the session's CSRF token, and the handshake must come from the
console's own Origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from bot.console.context import CONSOLE_KEY
from bot.console.security import csrf_ok, origin_ok, staff_of

logger = logging.getLogger(__name__)

HEARTBEAT_S = 25.0
CLOSE_FORBIDDEN = 4403  # application close code: bad CSRF token
FORWARDED_FIELDS = (
    "type",
    "conversation_id",
    "mode",
    "agent_id",
    "outbox_id",
    "transcript_id",
    "status",
    "ticket",
    "note_id",
    "reason",
)


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """Keep the fields of ``event`` a page needs to know what to refresh."""
    kept = {key: event[key] for key in FORWARDED_FIELDS if key in event}
    message = event.get("message")
    if isinstance(message, dict):
        kept["message_id"] = message.get("id")
        kept["author"] = message.get("author")
    return kept


class Sockets:
    """The open console sockets of this process, by session token."""

    def __init__(self) -> None:
        self._by_token: dict[str, set[web.WebSocketResponse]] = {}

    def add(self, token: str, ws: web.WebSocketResponse) -> None:
        """Remember an open socket of session ``token``."""
        self._by_token.setdefault(token, set()).add(ws)

    def discard(self, token: str, ws: web.WebSocketResponse) -> None:
        """Forget a closed socket."""
        sockets = self._by_token.get(token)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._by_token[token]

    async def close_session(self, token: str) -> None:
        """Close every socket of a session that logged out."""
        for ws in list(self._by_token.get(token, ())):
            await ws.close(code=1000, message=b"logged out")

    async def close_all(self) -> None:
        """Close every socket (the gateway is shutting down)."""
        for token in list(self._by_token):
            for ws in list(self._by_token.get(token, ())):
                await ws.close(code=1001, message=b"server shutdown")


async def websocket(request: web.Request) -> web.StreamResponse:
    """Push console events to one page until it closes."""
    console = request.app[CONSOLE_KEY]
    staff = staff_of(request)
    if not origin_ok(request, console.public_url, required=True):
        logger.warning(
            "Refused a console WebSocket from origin %s", request.headers.get("Origin")
        )
        return web.json_response({"error": "origin refused"}, status=403)

    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    console.sockets.add(staff.token, ws)
    relay = asyncio.create_task(_relay(console.events, ws))
    logger.debug("Console socket opened for %s", staff.username)
    try:
        await ws.send_json({"type": "hello", "agent": staff.username})
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                data = None
            if not isinstance(data, dict) or not csrf_ok(staff, data.get("csrf")):
                logger.warning(
                    "Closed a console socket of %s: bad CSRF token", staff.username
                )
                await ws.close(code=CLOSE_FORBIDDEN, message=b"csrf")
                break
            if data.get("type") == "ping":
                await ws.send_json({"type": "pong"})
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        console.sockets.discard(staff.token, ws)
        logger.debug("Console socket closed for %s", staff.username)
    return ws


async def _relay(events: Any, ws: web.WebSocketResponse) -> None:
    subscription = events.subscribe()
    try:
        async for event in subscription:
            if ws.closed:
                return
            await ws.send_json(public_event(event))
    except ConnectionResetError:
        return
    finally:
        await subscription.aclose()
