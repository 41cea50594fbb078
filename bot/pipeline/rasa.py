"""The client for the Rasa server (REST channel, NLU parse, tracker events) and the
action server.

Rasa's REST channel catches every exception while it handles a message and answers
``[]``; an empty answer therefore means "nothing to say" only when the action server is
up, which :meth:`RasaClient.send` checks before it believes it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.errors import RasaUnavailable

logger = logging.getLogger(__name__)

# Appended to Rasa's tracker when staff hand a conversation back to the bot.
RESUME_EVENTS = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]

HEALTH_TIMEOUT_S = 3.0


class RasaClient:
    """Talk to Rasa at ``rasa_url`` and check the action server at ``action_url``."""

    def __init__(
        self,
        rasa_url: str,
        action_url: str,
        *,
        timeout_s: float = 30.0,
        concurrency: int = 8,
    ) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        # Rasa is CPU-bound: more parallel calls only queue inside it.
        self._slots = asyncio.Semaphore(concurrency)
        # ACTION_SERVER_URL is the webhook Rasa calls; its health route sits beside it.
        base = action_url.rstrip("/")
        self.action_health_url = base.removesuffix("/webhook") + "/health"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP session; idempotent."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        """Close the HTTP session; idempotent."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open HTTP session."""
        if self._session is None:
            raise RuntimeError("RasaClient used before start().")
        return self._session

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Post one message to Rasa's REST channel and return its replies.

        Raises:
            RasaUnavailable: Rasa cannot be reached or failed, or it answered nothing
                while the action server is down.
        """
        body = {
            "sender": sender,
            "message": message,
            "input_channel": metadata.get("channel", "rest"),
            "metadata": metadata,
        }
        replies = await self._post_json("/webhooks/rest/webhook", body)
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa answered something that is not a list.")
        if not replies and not await self.action_server_up():
            raise RasaUnavailable(
                "Rasa answered nothing and the action server is down."
            )
        return replies

    async def parse(self, text: str) -> dict[str, Any]:
        """Classify ``text`` with Rasa's NLU only and return its parse.

        The parse (``{"text", "intent": {"name", "confidence"}, "entities", ...}``)
        touches no tracker: no conversation hears of the message.

        Raises:
            RasaUnavailable: Rasa cannot be reached, failed, or answered something that
                is not a parse.
        """
        parsed = await self._post_json("/model/parse", {"text": text})
        if not isinstance(parsed, dict):
            raise RasaUnavailable("Rasa answered a parse that is not an object.")
        return parsed

    async def _post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to Rasa within the concurrency limit; return its JSON answer.

        Raises:
            RasaUnavailable: Rasa cannot be reached, answered an error status, or
                answered something that is not JSON.
        """
        url = f"{self.rasa_url}{path}"
        try:
            async with self._slots, self.session.post(url, json=body) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}.")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa cannot be reached: {exc!r}.") from exc

    async def resume(self, sender: str) -> None:
        """Tell Rasa's tracker that a paused conversation resumed.

        Rasa's ``resume`` event alone leaves ``action_handoff`` as the tracker's last
        action, and the rules then see no ``action_listen`` before the next message: it
        would fall back and escalate again. The listen event closes the bot's turn.

        Raises:
            RasaUnavailable: Rasa cannot be reached or refused the event.
        """
        url = f"{self.rasa_url}/conversations/{sender}/tracker/events"
        try:
            async with self.session.post(url, json=RESUME_EVENTS) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}.")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa cannot be reached: {exc!r}.") from exc

    async def rasa_up(self) -> bool:
        """Tell whether the Rasa server answers its root route."""
        return await self._ok(f"{self.rasa_url}/")

    async def action_server_up(self) -> bool:
        """Tell whether the action server answers /health."""
        return await self._ok(self.action_health_url)

    async def _ok(self, url: str) -> bool:
        try:
            async with self.session.get(
                url, timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False
