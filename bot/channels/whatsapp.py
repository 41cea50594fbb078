"""WhatsApp through Twilio (twilio 8.2): inbound webhook, status callbacks, REST sends.

Inbound: ``POST /webhooks/whatsapp`` with Twilio's form fields; the X-Twilio-Signature
is checked against PUBLIC_URL + path (so it holds behind a proxy that rewrites the
host). Status callbacks arrive on ``POST /webhooks/whatsapp/status``, signed the same
way. Replies go out through the REST API (``Messages.create``), never as TwiML, with
twilio's asynchronous client (aiohttp, each call bounded by HTTP_TIMEOUT_S); its
synchronous one needed worker threads, which competed with the event loop for the GIL.
Media downloads, rare, run in a worker thread.

WhatsApp has no inline buttons here: options become a numbered list, and the router
maps a reply of "1" to the first option. Outside the 24-hour window that follows the
resident's last message WhatsApp refuses free-form text, so the approved template
TWILIO_TEMPLATE_SID is sent instead (the text as its variable ``1``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import aiohttp
import requests
from aiohttp import web
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import (
    InboundMessage,
    InFlight,
    Json,
    Reply,
    numbered_options,
    split_text,
)
from bot.config import Settings
from bot.errors import PermanentFailure, RetryLater, Unreachable
from bot.metrics import Metrics
from db.gateway import utcnow

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_TEXT = 1600  # characters per WhatsApp message through Twilio
MAX_MEDIA = 10  # NumMedia never exceeds this
SESSION_WINDOW = timedelta(hours=24)
MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's media limit
MEDIA_THREADS = 2  # media downloads at once (requests, synchronous)
HTTP_TIMEOUT_S = 15.0
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
RATE_LIMIT_CODES = {20429, 63018}  # too many requests; WhatsApp rate limit
UNREACHABLE_CODES = {21610, 63024}  # unsubscribed (STOP); not a WhatsApp user
OUTSIDE_WINDOW_CODE = 63016
RATE_LIMIT_RETRY_S = 1.0

Accept = Callable[[InboundMessage], Awaitable[bool]]
RecordStatus = Callable[[str, str, str | None], Awaitable[None]]


def parse_form(form: dict[str, str]) -> InboundMessage:
    """Turn Twilio's webhook fields into a common message.

    Raises:
        ValueError: A required field is missing or malformed.
    """
    sender = form.get("From", "")
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not sender.startswith("whatsapp:+") or not sid:
        raise ValueError("From (whatsapp:+...) and MessageSid are required.")
    chat_id = sender.removeprefix("whatsapp:")

    media: list[Json] = []
    count = min(int(form.get("NumMedia") or 0), MAX_MEDIA)
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if url:
            content_type = form.get(f"MediaContentType{index}", "")
            media.append({"url": url, "content_type": content_type})
    location: Json | None = None
    if form.get("Latitude") and form.get("Longitude"):
        location = {
            "latitude": float(form["Latitude"]),
            "longitude": float(form["Longitude"]),
        }
        if form.get("Address"):
            location["address"] = form["Address"]

    text = form.get("Body", "")
    kind = "text"
    if form.get("ButtonPayload"):
        text, kind = form["ButtonPayload"], "button"
    elif location:
        kind = "location"
    elif media:
        kind = "photo" if media[0]["content_type"].startswith("image/") else "media"
    return InboundMessage(
        channel="whatsapp",
        chat_id=chat_id,
        platform_id=sid,
        text=text,
        kind=kind,
        sender_name=form.get("ProfileName") or None,
        location=location,
        media=media,
        contact=chat_id,
    )


def translate_error(exc: Exception) -> Exception:
    """Map a twilio or HTTP client error to the outbox's retry policy."""
    if isinstance(exc, TwilioRestException):
        code = exc.code or 0
        if exc.status == 429 or code in RATE_LIMIT_CODES:
            return RetryLater(
                f"Twilio rate limit ({code})", retry_after=RATE_LIMIT_RETRY_S
            )
        if code in UNREACHABLE_CODES:
            return Unreachable(f"Twilio error {code}: {exc.msg}")
        if exc.status >= 500:
            return RetryLater(f"Twilio HTTP {exc.status}")
        return PermanentFailure(f"Twilio error {code} (HTTP {exc.status}): {exc.msg}")
    return RetryLater(f"Twilio not reachable: {type(exc).__name__}")


class FormEncodingHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio's aiohttp client, with the form body encoded before aiohttp gets it.

    Given a dict, aiohttp builds a FormData for every message sent: about 0.2 ms of
    CPU for a form of this size (the bench process paid it for each Twilio webhook it
    posted). A list value becomes repeated fields (``MediaUrl``), as the library's
    synchronous client sends it.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request to the REST API (see the parent class)."""
        body: Any = data
        if data:
            body = urlencode(data, doseq=True).encode()
            headers = {**(headers or {}), "Content-Type": FORM_CONTENT_TYPE}
        return await super().request(
            method, url, params, body, headers, auth, timeout, allow_redirects
        )


class WhatsAppChannel:
    """The WhatsApp (Twilio) adapter."""

    name: ClassVar[str] = "whatsapp"
    max_text_length: ClassVar[int] = MAX_TEXT

    def __init__(
        self,
        settings: Settings,
        *,
        accept: Accept,
        record_status: RecordStatus,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.accept = accept
        self.record_status = record_status
        self.metrics = metrics
        self.validator = RequestValidator(settings.twilio_auth_token)
        self.client: Client | None = None  # made in start(): its session needs a loop
        self.sender = "whatsapp:" + settings.twilio_whatsapp_number.removeprefix(
            "whatsapp:"
        )
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight = InFlight()  # Messages.create calls
        self.state = "stopped"

    async def start(self) -> None:
        """Open the REST client and the media thread; idempotent."""
        if self.client is None:
            self.client = Client(
                self.settings.twilio_account_sid,
                self.settings.twilio_auth_token,
                http_client=FormEncodingHttpClient(),
            )
            self.client.api.base_url = self.settings.twilio_api_url
            self._executor = ThreadPoolExecutor(
                MEDIA_THREADS, thread_name_prefix="twilio-media"
            )
            self.state = "running"

    async def stop(self) -> None:
        """Refuse new sends, let those under way finish (Twilio may have taken them:
        cut off, they would be sent again after a restart), then close; idempotent."""
        if self.client is not None:
            self.state = "stopping"
            await self._in_flight.drained(HTTP_TIMEOUT_S)
            http_client = self.client.http_client
            self.client = None
            if isinstance(http_client, AsyncTwilioHttpClient):
                await http_client.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.state = "stopped"

    def add_routes(self, app: web.Application) -> None:
        """Register the message webhook and the status callback."""
        app.router.add_post(WEBHOOK_PATH, self.webhook)
        app.router.add_post(STATUS_PATH, self.status_callback)

    def health(self) -> Json:
        """State and where replies go."""
        return {"state": self.state, "api": self.settings.twilio_api_url}

    async def _verified_form(self, request: web.Request) -> dict[str, str]:
        form = await request.post()  # 413 above client_max_size
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if self.settings.public_url:
            url = self.settings.public(request.path_qs)
        else:
            url = str(request.url)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature or not self.validator.validate(url, fields, signature):
            self.metrics.inc("webhook_rejected_total", channel=self.name, status="403")
            logger.warning("Twilio webhook with a wrong signature refused")
            raise web.HTTPForbidden(text="forbidden")
        return fields

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the signature, store the message, acknowledge with empty TwiML."""
        form = await self._verified_form(request)
        try:
            message = parse_form(form)
        except ValueError as exc:
            self.metrics.inc("webhook_rejected_total", channel=self.name, status="400")
            raise web.HTTPBadRequest(text="malformed message") from exc
        await self.accept(message)
        return web.Response(text="<Response/>", content_type="text/xml")

    async def status_callback(self, request: web.Request) -> web.Response:
        """Record a delivery status (queued, sent, delivered, read, failed...)."""
        form = await self._verified_form(request)
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if not sid or not status:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
        await self.record_status(sid, status, form.get("ErrorCode") or None)
        return web.Response(text="<Response/>", content_type="text/xml")

    async def fetch_media(self, entry: Json) -> tuple[bytes, str]:
        """Download a resident's media from Twilio (HTTP basic auth, redirects to the
        CDN followed without the credentials).

        Raises:
            PermanentFailure: Not a Twilio media URL, too large, or refused.
        """
        url = str(entry.get("url", ""))
        if not url.startswith(self.settings.twilio_api_url.rstrip("/") + "/"):
            raise PermanentFailure("Only Twilio media URLs are fetched.")
        if self._executor is None:
            raise PermanentFailure("WhatsApp channel not started.")

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._download, url, entry)

    def _download(self, url: str, entry: Json) -> tuple[bytes, str]:
        auth = (self.settings.twilio_account_sid, self.settings.twilio_auth_token)
        try:
            with requests.get(
                url, auth=auth, timeout=HTTP_TIMEOUT_S, stream=True
            ) as got:
                got.raise_for_status()
                body = got.raw.read(MAX_MEDIA_BYTES + 1, decode_content=True)
                content_type = got.headers.get("Content-Type") or ""
        except requests.RequestException as exc:
            raise PermanentFailure(f"Twilio media not available: {exc}") from exc
        if len(body) > MAX_MEDIA_BYTES:
            raise PermanentFailure("Twilio media is too large.")
        return body, content_type or str(entry.get("content_type") or "")

    def render(self, reply: Reply) -> list[Json]:
        """Number the options under the text and split at 1600 characters."""
        payloads: list[Json] = []
        if reply.image:
            payloads.append({"image": reply.image})
        text = reply.text
        if reply.buttons:
            text = (text + "\n\n" if text else "") + numbered_options(reply.buttons)
        if text:
            payloads.extend({"text": piece} for piece in split_text(text, MAX_TEXT))
        return payloads

    async def send(self, chat_id: str, payload: Json, *, context: Json) -> str | None:
        """Send one payload through Messages.create (a template outside the window)."""
        if self.client is None or self.state != "running":
            raise RetryLater(f"WhatsApp channel {self.state}")

        address: dict[str, Any] = {"from_": self.sender, "to": f"whatsapp:{chat_id}"}
        if self.settings.public_url:
            address["status_callback"] = self.settings.public(STATUS_PATH)
        last_inbound: datetime | None = context.get("last_inbound_at")
        in_window = (
            last_inbound is not None and utcnow() - last_inbound < SESSION_WINDOW
        )
        try:
            if in_window:
                return await self._send(address | self._free_form(payload))
            return await self._send(address | self._template(payload))
        except TwilioRestException as exc:
            # WhatsApp's clock decides the window: refused as outside it, use the
            # template after all.
            if exc.code != OUTSIDE_WINDOW_CODE or not in_window:
                raise translate_error(exc) from exc
        try:
            return await self._send(address | self._template(payload))
        except TwilioRestException as exc:
            raise translate_error(exc) from exc

    @staticmethod
    def _free_form(payload: Json) -> dict[str, Any]:
        if payload.get("image"):
            return {"media_url": [payload["image"]]}
        return {"body": payload.get("text", "")}

    def _template(self, payload: Json) -> dict[str, Any]:
        if not self.settings.twilio_template_sid:
            raise PermanentFailure(
                "Outside WhatsApp's 24-hour window, and no TWILIO_TEMPLATE_SID."
            )
        text = payload.get("text") or payload.get("image") or ""
        return {
            "content_sid": self.settings.twilio_template_sid,
            "content_variables": json.dumps({"1": text}),
        }

    async def _send(self, kwargs: dict[str, Any]) -> str:
        """Create the message; TwilioRestException (an answer) is the caller's."""
        if self.client is None:
            raise RetryLater("WhatsApp channel not started")
        try:
            with self._in_flight.tracking():
                # twilio's async client leaves aiohttp without a timeout: bound it.
                message = await asyncio.wait_for(
                    self.client.messages.create_async(**kwargs), HTTP_TIMEOUT_S
                )
        except TwilioRestException:
            raise
        except (TwilioException, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise translate_error(exc) from exc
        return str(message.sid)
