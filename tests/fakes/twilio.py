"""A fake Twilio REST API (Messages.create) on 127.0.0.1, and signed webhook helpers.

The real twilio client talks to it once ``client.api.base_url`` points here. It checks
HTTP basic auth, records every request, answers with Twilio's JSON shapes, and can be
told to fail (429 / 20429, 63018, 21610 ...)::

    async with FakeTwilio() as twilio:
        settings = ... TWILIO_API_URL=twilio.url, TWILIO_ACCOUNT_SID=twilio.account_sid
        twilio.fail_next(status=429, code=20429)
        await twilio.wait_for_messages(2)
        twilio.messages[0]["Body"]

``inbound_form`` builds the fields Twilio posts for a WhatsApp message and
``signature`` signs them as Twilio does. Every number and name here is made up.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web
from twilio.request_validator import RequestValidator

JPEG_BYTES = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
ACCOUNT_SID = "AC" + "0" * 30 + "fa"
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
WHATSAPP_NUMBER = "+14155550100"


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int


class FakeTwilio:
    """The fake server; use it as an async context manager."""

    def __init__(
        self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[dict[str, Any]] = []  # every request: path, form, status
        self.messages: list[dict[str, str]] = []  # accepted Messages.create forms
        self._failures: list[_Failure] = []
        self._new = asyncio.Event()
        self._counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.latency_s = 0.0
        self.listeners: list[Callable[[dict[str, str]], None]] = []  # accepted sends

    @property
    def url(self) -> str:
        """The value for TWILIO_API_URL (client.api.base_url)."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post(
            "/2010-04-01/Accounts/{account}/Messages.json", self._create_message
        )
        app.router.add_get(
            "/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}",
            self._media,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(
        self,
        *,
        status: int = 429,
        code: int = 20429,
        message: str = "Too Many Requests",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` Messages.create calls with a Twilio error."""
        self._failures.append(_Failure(status, code, message, times))

    def bodies(self, to: str) -> list[str]:
        """Bodies sent to ``to`` (``+62...``), in order."""
        return [
            m.get("Body", "") for m in self.messages if m.get("To") == f"whatsapp:{to}"
        ]

    async def wait_for_messages(self, count: int, *, timeout: float = 10.0) -> None:
        """Wait until ``count`` messages were accepted."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.messages)} messages, not {count}.")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                continue

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()
        ).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    def media_url(self, name: str = "ME0001") -> str:
        """A media URL of this fake, as Twilio puts in MediaUrl0."""
        return (
            f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Messages/"
            f"MM{'0' * 32}/Media/{name}"
        )

    async def _media(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        return web.Response(body=JPEG_BYTES, content_type="image/jpeg")

    async def _create_message(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        record: dict[str, Any] = {"path": request.path, "form": form}
        self.requests.append(record)
        self._new.set()
        if not self._authorised(request) or (
            request.match_info["account"] != self.account_sid
        ):
            record["status"] = 401
            return _error(401, 20003, "Authenticate")
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            record["status"] = failure.status
            return _error(failure.status, failure.code, failure.message)
        if not form.get("To") or not (
            form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")
        ):
            record["status"] = 400
            return _error(
                400, 21619, "A text message body or media urls must be specified."
            )

        record["status"] = 201
        self.messages.append(form)
        for listener in self.listeners:
            listener(form)
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return web.json_response(
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": None,
                "num_media": "1" if form.get("MediaUrl") else "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"{base}/Media.json"},
                "to": form.get("To"),
                "uri": f"{base}.json",
            },
            status=201,
        )


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


_sids = itertools.count(1)


def inbound_form(
    *,
    phone: str,
    body: str = "",
    profile_name: str = "Sari",
    message_sid: str | None = None,
    media: list[tuple[str, str]] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    to: str = WHATSAPP_NUMBER,
    account_sid: str = ACCOUNT_SID,
) -> dict[str, str]:
    """The fields Twilio posts for one inbound WhatsApp message."""
    sid = message_sid or f"SM{next(_sids):032x}"
    form = {
        "SmsMessageSid": sid,
        "NumMedia": str(len(media or [])),
        "ProfileName": profile_name,
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": phone.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": f"whatsapp:{to}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": f"whatsapp:{phone}",
        "ApiVersion": "2010-04-01",
    }
    for index, (url, content_type) in enumerate(media or []):
        form[f"MediaUrl{index}"] = url
        form[f"MediaContentType{index}"] = content_type
        form["MessageType"] = "image"
    if latitude is not None and longitude is not None:
        form["Latitude"] = str(latitude)
        form["Longitude"] = str(longitude)
        form["MessageType"] = "location"
    return form


def status_form(
    *, message_sid: str, status: str, phone: str, error_code: str | None = None
) -> dict[str, str]:
    """The fields of a delivery status callback."""
    form = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": f"whatsapp:{phone}",
        "From": f"whatsapp:{WHATSAPP_NUMBER}",
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "ChannelPrefix": "whatsapp",
    }
    if error_code:
        form["ErrorCode"] = error_code
    return form


def signature(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for a POST of ``form`` to ``url``."""
    return str(RequestValidator(auth_token).compute_signature(url, form))
