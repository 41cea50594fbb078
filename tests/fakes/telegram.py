"""A fake Telegram Bot API server (aiohttp, 127.0.0.1, a free port) and update builders.

It answers the methods the gateway uses with the Bot API's real JSON shapes, records
every request, and can be told to fail::

    async with FakeTelegram(token=TOKEN) as telegram:
        bot = telegram.Bot(base_url=telegram.api_url)     # PTB appends the token
        telegram.fail_next("sendMessage", status=429, retry_after=1)
        telegram.block(chat_id=1001)                       # 403 bot was blocked
        telegram.push_update(text_update(1, chat_id=1001, text="halo"))  # getUpdates
        await telegram.wait_for("sendMessage", count=2)
        telegram.calls("sendMessage")[0].params["text"]

Every person and number here is made up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Layanan Kota Padang (uji)",
    "username": "padang_uji_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
# The first bytes of a JPEG file: enough for a test to recognise what it fetched.
JPEG_BYTES = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
DEFAULT_TOKEN = "7000000001:AAFakeTokenForTestsOnly_0123456789abc"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


def _decode(value: str) -> Any:
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeTelegram:
    """The fake server; use it as an async context manager."""

    def __init__(self, *, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self.calls_log: list[Call] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self._failures: dict[str, list[_Failure]] = {}
        self._blocked: set[str] = set()
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._message_ids = itertools.count(5001)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.latency_s = 0.0  # added to every answer (bench: a realistic round trip)
        self.listeners: list[Callable[[Call], None]] = []  # told of every call

    @property
    def api_url(self) -> str:
        """The base_url to give PTB (it appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
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

    # Controls -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else "Internal Server Error"
            )
        self._failures.setdefault(method, []).append(
            _Failure(status, description, retry_after if status == 429 else None, times)
        )

    def block(self, *, chat_id: int | str) -> None:
        """Answer every send to ``chat_id`` with 403 "bot was blocked by the user"."""
        self._blocked.add(str(chat_id))

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (long polling)."""
        self._updates.append(update)
        self._new_update.set()

    def calls(self, method: str | None = None) -> list[Call]:
        """Return the recorded calls, of ``method`` only when given."""
        return [c for c in self.calls_log if method is None or c.method == method]

    def sent_texts(self, chat_id: int | str) -> list[str]:
        """Return the texts sent to ``chat_id`` by sendMessage, in order."""
        return [
            str(c.params.get("text", ""))
            for c in self.calls("sendMessage")
            if str(c.params.get("chat_id")) == str(chat_id)
        ]

    async def wait_for(
        self, method: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        """Wait until ``method`` was called ``count`` times; return those calls."""
        deadline = time.monotonic() + timeout
        while len(self.calls(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{method} called {len(self.calls(method))} times, not {count}."
                )
            self._new_call.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new_call.wait(), timeout=remaining)
        return self.calls(method)

    # Server ---------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        form = await request.post()
        return {k: _decode(v) for k, v in form.items() if isinstance(v, str)}

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")

        call = Call(method, params)
        self.calls_log.append(call)
        self._new_call.set()
        for listener in self.listeners:
            listener(call)
        failures = self._failures.get(method)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            return _error(failure.status, failure.description, failure.retry_after)
        if str(params.get("chat_id")) in self._blocked:
            return _error(403, "Forbidden: bot was blocked by the user")

        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        if method == "getUpdates":
            return _ok(await self._m_getUpdates(params))
        return _ok(handler(params))

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": {"id": chat_id, "first_name": "Warga", "type": "private"},
            "date": int(time.time()),
            **extra,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        self.calls_log.append(Call("file", {"path": request.match_info["path"]}))
        return web.Response(body=JPEG_BYTES, content_type="application/octet-stream")

    def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        return {
            "file_id": file_id,
            "file_unique_id": "AQADFile",
            "file_size": len(JPEG_BYTES),
            "file_path": f"photos/{file_id}.jpg",
        }

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._message(params, text=params.get("text", ""))

    def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = [
            {
                "file_id": "AgACAgUAAxkDAAIFakePhoto",
                "file_unique_id": "AQADFakePhoto",
                "width": 320,
                "height": 240,
                "file_size": 12000,
            }
        ]
        extra: dict[str, Any] = {"photo": photo}
        if params.get("caption"):
            extra["caption"] = params["caption"]
        return self._message(params, **extra)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._message(params, text="(edited)")

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = str(params.get("url", ""))
        self.webhook_secret = str(params.get("secret_token", ""))
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = ""
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            self._new_update.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=min(timeout, 2))
        limit = int(params.get("limit") or 100)
        return [u for u in self._updates if u["update_id"] >= offset][:limit]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(
    status: int, description: str, retry_after: int | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": status,
        "description": description,
    }
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# Update builders: the shapes Telegram sends (private chats unless said otherwise). ----


def _user(chat_id: int, first_name: str) -> dict[str, Any]:
    return {
        "id": chat_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": "id",
    }


def _chat(chat_id: int, first_name: str) -> dict[str, Any]:
    return {"id": chat_id, "first_name": first_name, "type": "private"}


def _base_message(
    update_id: int, chat_id: int, first_name: str, message_id: int | None
) -> dict[str, Any]:
    return {
        "message_id": message_id or update_id,
        "from": _user(chat_id, first_name),
        "chat": _chat(chat_id, first_name),
        "date": int(time.time()),
    }


def text_update(
    update_id: int,
    *,
    chat_id: int,
    text: str,
    first_name: str = "Rina",
    message_id: int | None = None,
) -> dict[str, Any]:
    """A text message (``/start`` too: it carries a bot_command entity)."""
    message = _base_message(update_id, chat_id, first_name, message_id)
    message["text"] = text
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def edited_update(
    update_id: int,
    *,
    chat_id: int,
    text: str,
    message_id: int,
    first_name: str = "Rina",
) -> dict[str, Any]:
    """An edited text message."""
    message = _base_message(update_id, chat_id, first_name, message_id)
    message["text"] = text
    message["edit_date"] = int(time.time())
    return {"update_id": update_id, "edited_message": message}


def photo_update(
    update_id: int,
    *,
    chat_id: int,
    caption: str | None = None,
    first_name: str = "Rina",
) -> dict[str, Any]:
    """A photo (three sizes, as Telegram sends), with an optional caption."""
    message = _base_message(update_id, chat_id, first_name, None)
    message["photo"] = [
        {
            "file_id": f"AgACAgUAAxkBAAI{update_id}s{size}",
            "file_unique_id": f"AQ{size}",
            "width": size,
            "height": size * 3 // 4,
            "file_size": size * 40,
        }
        for size in (90, 320, 1280)
    ]
    if caption is not None:
        message["caption"] = caption
    return {"update_id": update_id, "message": message}


def location_update(
    update_id: int,
    *,
    chat_id: int,
    latitude: float,
    longitude: float,
    first_name: str = "Rina",
) -> dict[str, Any]:
    """A shared location."""
    message = _base_message(update_id, chat_id, first_name, None)
    message["location"] = {"latitude": latitude, "longitude": longitude}
    return {"update_id": update_id, "message": message}


def contact_update(
    update_id: int, *, chat_id: int, phone_number: str, first_name: str = "Rina"
) -> dict[str, Any]:
    """A shared contact (the resident's own number)."""
    message = _base_message(update_id, chat_id, first_name, None)
    message["contact"] = {
        "phone_number": phone_number,
        "first_name": first_name,
        "user_id": chat_id,
    }
    return {"update_id": update_id, "message": message}


def callback_update(
    update_id: int,
    *,
    chat_id: int,
    data: str,
    message_id: int = 5001,
    first_name: str = "Rina",
) -> dict[str, Any]:
    """A press on an inline keyboard button of the bot's message ``message_id``."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"4382{update_id:012d}",
            "from": _user(chat_id, first_name),
            "message": {
                "message_id": message_id,
                "from": BOT_USER,
                "chat": _chat(chat_id, first_name),
                "date": int(time.time()),
                "text": "Pilih salah satu:",
            },
            "chat_instance": "-81234567890123",
            "data": data,
        },
    }


def group_text_update(update_id: int, *, chat_id: int, text: str) -> dict[str, Any]:
    """A text message in a group chat (not served)."""
    update = text_update(update_id, chat_id=1001, text=text)
    update["message"]["chat"] = {"id": chat_id, "title": "Grup Warga", "type": "group"}
    return update


def channel_post_update(update_id: int, *, chat_id: int, text: str) -> dict[str, Any]:
    """A channel post (ignored)."""
    return {
        "update_id": update_id,
        "channel_post": {
            "message_id": update_id,
            "sender_chat": {"id": chat_id, "title": "Kanal", "type": "channel"},
            "chat": {"id": chat_id, "title": "Kanal", "type": "channel"},
            "date": int(time.time()),
            "text": text,
        },
    }


def member_update(update_id: int, *, chat_id: int) -> dict[str, Any]:
    """The resident blocked the bot (my_chat_member: member -> kicked; ignored)."""
    user = _user(chat_id, "Rina")
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": _chat(chat_id, "Rina"),
            "from": user,
            "date": int(time.time()),
            "old_chat_member": {"user": BOT_USER, "status": "member"},
            "new_chat_member": {"user": BOT_USER, "status": "kicked", "until_date": 0},
        },
    }
