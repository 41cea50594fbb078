"""A small fake of Rasa's REST channel, its NLU parse and the action server's /health,
for tests of the gateway's own behaviour (ordering, retries, outages). Conversation
tests use the real Rasa (tests/bot/test_end_to_end.py).

``FakeRasa`` answers ``POST /webhooks/rest/webhook`` through ``respond`` (by default an
echo) and ``POST /model/parse`` through ``classify`` (by default Rasa's fallback
intent), records every request, and can go down (connection refused) and come back on
the same port, or report the action server down (then it answers ``[]`` as Rasa does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Responder = Callable[[str, str, dict[str, Any]], Awaitable[list[dict[str, Any]]]]
Classifier = Callable[[str], Awaitable[dict[str, Any]]]


async def echo(
    sender: str, message: str, metadata: dict[str, Any]
) -> list[dict[str, Any]]:
    """Answer ``echo: <message>``."""
    return [{"recipient_id": sender, "text": f"echo: {message}"}]


async def fallback(text: str) -> dict[str, Any]:
    """Parse every text as Rasa's ``nlu_fallback``."""
    return parse_result(text, "nlu_fallback", 1.0)


def parse_result(text: str, intent: str, confidence: float) -> dict[str, Any]:
    """The body of Rasa's ``/model/parse`` for ``text`` read as ``intent``."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }


class FakeRasa:
    """Rasa's REST webhook, its tracker events route, and the action server health."""

    def __init__(
        self, respond: Responder = echo, classify: Classifier = fallback
    ) -> None:
        self.respond = respond
        self.classify = classify
        self.received: list[dict[str, Any]] = []
        self.parsed: list[str] = []  # the texts posted to /model/parse
        self.tracker_events: list[tuple[str, dict[str, Any]]] = []
        self.actions_up = True
        self.delay_s = 0.0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.down = False

    @property
    def url(self) -> str:
        """RASA_URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def action_url(self) -> str:
        """ACTION_SERVER_URL (its /health sits beside /webhook)."""
        return f"http://127.0.0.1:{self.port}/actions/webhook"

    def texts(self, sender: str) -> list[str]:
        """The messages Rasa received from ``sender``, in order."""
        return [r["message"] for r in self.received if r["sender"] == sender]

    async def __aenter__(self) -> FakeRasa:
        app = web.Application(middlewares=[self._refuse_when_down])
        app.router.add_get("/", self._root)
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/model/parse", self._parse)
        app.router.add_post("/conversations/{sender}/tracker/events", self._events)
        app.router.add_get("/actions/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self.start_serving()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def start_serving(self) -> None:
        """Listen (again, on the same port after :meth:`stop_serving`)."""
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]
        self.down = False

    async def stop_serving(self) -> None:
        """Stop listening: the gateway gets connection refused, as when Rasa is down."""
        self.down = True
        if self._site is not None:
            await self._site.stop()
            self._site = None

    @web.middleware
    async def _refuse_when_down(self, request: web.Request, handler: Any) -> Any:
        # A client's kept-alive connection outlives the listening socket: cut it.
        if self.down and request.transport is not None:
            request.transport.close()
            raise web.HTTPServiceUnavailable()
        return await handler(request)

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def _health(self, request: web.Request) -> web.Response:
        if not self.actions_up:
            raise web.HTTPServiceUnavailable()
        return web.json_response({"status": "ok"})

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.json()
        for event in body if isinstance(body, list) else [body]:
            self.tracker_events.append((request.match_info["sender"], event))
        return web.json_response({"sender_id": request.match_info["sender"]})

    async def _parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.parsed.append(body["text"])
        return web.json_response(await self.classify(body["text"]))

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.actions_up:
            return web.json_response([])  # Rasa's REST channel swallows the error
        replies = await self.respond(body["sender"], body["message"], body["metadata"])
        return web.json_response(replies)
