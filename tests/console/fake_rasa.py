"""A stand-in for Rasa's REST channel (127.0.0.1, a free port) for console tests that
run before the model exists; the flow with the real Rasa server is in test_browser.py.

It answers "petugas" (or "manusia") with a reply and the ``handoff`` custom payload,
anything else with "Bot: <text>", and records the tracker events posted to it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.support.servers import free_port


class FakeRasa:
    """Rasa's REST webhook and tracker-events routes, recorded."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.messages: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeRasa:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{sender}/tracker/events", self._event)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.messages.append(body)
        sender, text = body["sender"], str(body.get("message") or "")
        if "petugas" in text.lower() or "manusia" in text.lower():
            return web.json_response(
                [
                    {
                        "recipient_id": sender,
                        "text": "Baik, saya hubungkan ke petugas.",
                    },
                    {
                        "recipient_id": sender,
                        "custom": {"handoff": {"reason": "requested"}},
                    },
                ]
            )
        return web.json_response([{"recipient_id": sender, "text": f"Bot: {text}"}])

    async def _event(self, request: web.Request) -> web.Response:
        body = await request.json()
        for event in body if isinstance(body, list) else [body]:
            self.events.append((request.match_info["sender"], event))
        return web.json_response({"sender_id": request.match_info["sender"]})
