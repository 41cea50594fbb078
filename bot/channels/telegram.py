"""Telegram through python-telegram-bot 22: webhook or long polling, and sending.

With PUBLIC_URL set, the adapter registers ``PUBLIC_URL/webhooks/telegram`` with a
secret token and Telegram posts updates there; without it (a laptop with only a bot
token) it deletes any webhook and long-polls getUpdates. Either way an update goes
through :meth:`TelegramChannel.handle_update`: parsed with ``Update.de_json``, stored by
the inbox, then acknowledged (webhook) or confirmed by the next offset (polling).

Private chats only; channel posts, membership changes and group messages are
acknowledged and ignored. The library's HTTP goes through aiohttp
(:mod:`bot.channels.telegram_http`). The bot token never reaches the logs: the
``telegram`` and ``aiohttp`` loggers stay at WARNING and :mod:`bot.logs` redacts it
anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import error as tg_error

from bot.channels.base import (
    START,
    Button,
    InboundMessage,
    Json,
    Reply,
    split_text,
)
from bot.channels.telegram_http import AiohttpRequest
from bot.config import Settings
from bot.errors import PermanentFailure, RetryLater, Unreachable
from bot.metrics import Metrics

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096  # characters per message (Bot API)
MAX_CALLBACK_DATA = 64  # bytes of callback_data (Bot API)
MAX_MEDIA_BYTES = 20 * 1024 * 1024  # the Bot API serves files up to 20 MB
POLL_TIMEOUT_S = 25  # long-polling wait per getUpdates call
POLL_RETRY_MAX_S = 30.0
SEND_POOL_SIZE = 32  # concurrent HTTP connections for sends
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
BUTTONS_ONLY_TEXT = "👇"
COMMANDS = {"/start": START, "/help": "/ask_help", "/bantuan": "/ask_help"}

Accept = Callable[[InboundMessage], Awaitable[bool]]


def webhook_secret(settings: Settings) -> str:
    """Return TELEGRAM_WEBHOOK_SECRET, or one derived from the bot token."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    digest = hashlib.sha256(b"padang-webhook:" + settings.telegram_bot_token.encode())
    return digest.hexdigest()[:48]


def file_url(api_url: str) -> str:
    """Return the file download base of an API base: ``.../bot`` -> ``.../file/bot``."""
    head, _, tail = api_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


def _retry_seconds(exc: tg_error.RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def parse_update(update: Update) -> InboundMessage | None:
    """Turn a Telegram update into a common message; None for what is not served."""
    platform_id = str(update.update_id)
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message else None
        if chat is None or chat.type != "private":
            return None
        return InboundMessage(
            channel="telegram",
            chat_id=str(chat.id),
            platform_id=platform_id,
            text=query.data or "",
            kind="button",
            sender_name=query.from_user.full_name if query.from_user else None,
            callback_id=query.id,
            reply_to_message_id=str(query.message.message_id)
            if query.message
            else None,
        )

    message = update.message or update.edited_message
    if message is None or message.chat.type != "private":
        return None

    kind = "edit" if update.edited_message is not None else "text"
    text = message.text or message.caption or ""
    media: list[Json] = []
    location: Json | None = None
    contact: str | None = None
    if message.text and message.text.startswith("/"):
        command = message.text.split()[0].split("@")[0].lower()
        if command in COMMANDS:
            text, kind = COMMANDS[command], "command"
    if message.photo:
        largest = message.photo[-1]
        media.append(_media(largest.file_id, "image/jpeg"))
        kind = "photo"
    for attachment, default_type in (
        (message.document, "application/octet-stream"),
        (message.voice, "audio/ogg"),
        (message.audio, "audio/mpeg"),
        (message.video, "video/mp4"),
    ):
        if attachment is not None:
            content_type = getattr(attachment, "mime_type", None) or default_type
            media.append(_media(attachment.file_id, content_type))
            kind = "photo" if content_type.startswith("image/") else "media"
    if message.sticker is not None and not text:
        text = message.sticker.emoji or ""
    if message.location is not None:
        location = {
            "latitude": message.location.latitude,
            "longitude": message.location.longitude,
        }
        kind = "location"
    if message.contact is not None:
        contact = message.contact.phone_number
        kind = "contact"
    return InboundMessage(
        channel="telegram",
        chat_id=str(message.chat.id),
        platform_id=platform_id,
        text=text,
        kind=kind,
        sender_name=message.from_user.full_name if message.from_user else None,
        location=location,
        media=media,
        contact=contact,
    )


def _media(file_id: str, content_type: str) -> Json:
    # A download URL would carry the bot token; the file id is what Telegram resolves.
    return {
        "url": f"telegram-file:{file_id}",
        "file_id": file_id,
        "content_type": content_type,
    }


class TelegramChannel:
    """The Telegram adapter."""

    name: ClassVar[str] = "telegram"
    max_text_length: ClassVar[int] = MAX_TEXT

    def __init__(self, settings: Settings, *, accept: Accept, metrics: Metrics) -> None:
        self.settings = settings
        self.accept = accept
        self.metrics = metrics
        self.secret = webhook_secret(settings)
        self.bot = telegram.Bot(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_url,
            base_file_url=file_url(settings.telegram_api_url),
            request=AiohttpRequest(connection_pool_size=SEND_POOL_SIZE),
            get_updates_request=AiohttpRequest(connection_pool_size=1),
        )
        self.mode = "webhook" if settings.public_url else "polling"
        self.state = "stopped"
        self._poller: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Check the token (getMe), then register the webhook or start polling."""
        if self.state != "stopped":
            return

        self.state = "starting"
        try:
            await self.bot.initialize()
            if self.mode == "webhook":
                await self.bot.set_webhook(
                    self.settings.public(WEBHOOK_PATH),
                    secret_token=self.secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
                logger.info("Telegram webhook registered")
        except tg_error.TelegramError as exc:
            # Telegram unreachable at start: polling retries; set the webhook later.
            logger.warning("Telegram start incomplete: %s", exc)
        if self.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")
        self.state = "running"

    async def stop(self) -> None:
        """Stop polling and close the HTTP clients."""
        if self.state == "stopped":
            return

        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        for task in list(self._background):
            task.cancel()
        with contextlib.suppress(tg_error.TelegramError, RuntimeError):
            await self.bot.shutdown()
        self.state = "stopped"

    def add_routes(self, app: web.Application) -> None:
        """Register POST /webhooks/telegram."""
        app.router.add_post(WEBHOOK_PATH, self.webhook)

    def health(self) -> Json:
        """Mode and state."""
        return {"state": self.state, "mode": self.mode}

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret token, store the update, acknowledge."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.metrics.inc("webhook_rejected_total", channel=self.name, status="403")
            logger.warning("Telegram webhook with a wrong secret token refused")
            # The body is left unread: close the connection instead of draining it.
            response = web.Response(status=403, text="forbidden")
            response.force_close()
            return response

        body = await request.read()  # 413 above client_max_size
        try:
            update = _decode_update(body, self.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.metrics.inc("webhook_rejected_total", channel=self.name, status="400")
            raise web.HTTPBadRequest(text="malformed update") from exc
        if update is not None:
            await self.handle_update(update)
        return web.Response(text="ok")

    async def handle_update(self, update: Update) -> None:
        """Store ``update`` (when served) and answer a button press."""
        message = parse_update(update)
        if message is None:
            logger.debug("Telegram update %s ignored", update.update_id)
            return

        await self.accept(message)
        if message.callback_id:
            self._spawn(self._answer_button(message))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _answer_button(self, message: InboundMessage) -> None:
        # Stop the button's spinner and take the keyboard away so it is pressed once.
        try:
            await self.bot.answer_callback_query(message.callback_id or "")
            if message.reply_to_message_id:
                await self.bot.edit_message_reply_markup(
                    chat_id=int(message.chat_id),
                    message_id=int(message.reply_to_message_id),
                    reply_markup=None,
                )
        except tg_error.TelegramError as exc:
            logger.warning("Telegram button answer failed: %s", exc)

    async def _poll(self) -> None:
        prefix = "Telegram polling:"
        offset = 0
        failures = 0
        deleted = False
        logger.info("%s started", prefix)
        while True:
            try:
                if not deleted:
                    await self.bot.delete_webhook()
                    deleted = True
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=POLL_TIMEOUT_S,
                    allowed_updates=ALLOWED_UPDATES,
                )
                failures = 0
            except tg_error.InvalidToken:
                logger.exception("%s the bot token was refused; polling stops", prefix)
                self.state = "failed"
                return
            except tg_error.TelegramError as exc:
                failures += 1
                wait = min(POLL_RETRY_MAX_S, 2.0**failures)
                if isinstance(exc, tg_error.RetryAfter):
                    wait = _retry_seconds(exc)
                logger.warning("%s %s; retrying in %.0f s", prefix, exc, wait)
                await asyncio.sleep(wait)
                continue
            for update in updates:
                # Telegram drops an update once a later offset is asked for, so the
                # offset moves only after the inbox has committed the update.
                await self.handle_update(update)
                offset = update.update_id + 1

    async def fetch_media(self, entry: Json) -> tuple[bytes, str]:
        """Download a resident's file (the console shows photos through this).

        Raises:
            PermanentFailure: The file is unknown, too large, or Telegram refused it.
        """
        try:
            file = await self.bot.get_file(str(entry["file_id"]))
            if (file.file_size or 0) > MAX_MEDIA_BYTES:
                raise PermanentFailure(f"File of {file.file_size} bytes is too large.")
            data = await file.download_as_bytearray()
        except (KeyError, tg_error.TelegramError) as exc:
            raise PermanentFailure(f"Telegram file not available: {exc}") from exc
        return bytes(data), str(entry.get("content_type") or "application/octet-stream")

    def render(self, reply: Reply) -> list[Json]:
        """Split the reply at 4096 characters; buttons ride on the last piece."""
        payloads: list[Json] = []
        if reply.image:
            payloads.append({"image": reply.image})
        text = reply.text or (BUTTONS_ONLY_TEXT if reply.buttons else "")
        if text:
            payloads.extend({"text": piece} for piece in split_text(text, MAX_TEXT))
        if reply.buttons:
            payloads[-1]["buttons"] = [
                {"title": b.title, "payload": b.payload} for b in reply.buttons
            ]
        return payloads

    async def send(self, chat_id: str, payload: Json, *, context: Json) -> str | None:
        """Send one rendered payload."""
        try:
            if payload.get("image"):
                sent = await self.bot.send_photo(int(chat_id), photo=payload["image"])
            else:
                sent = await self.bot.send_message(
                    int(chat_id),
                    payload.get("text") or BUTTONS_ONLY_TEXT,
                    reply_markup=_keyboard(payload.get("buttons") or []),
                )
        except tg_error.RetryAfter as exc:
            raise RetryLater(str(exc), retry_after=_retry_seconds(exc)) from exc
        except tg_error.Forbidden as exc:
            raise Unreachable(str(exc)) from exc
        except (
            tg_error.BadRequest,
            tg_error.InvalidToken,
            tg_error.ChatMigrated,
        ) as exc:
            raise PermanentFailure(str(exc)) from exc
        except tg_error.TelegramError as exc:  # TimedOut, NetworkError, Conflict
            raise RetryLater(str(exc)) from exc
        return str(sent.message_id)


def _decode_update(body: bytes, bot: telegram.Bot) -> Update | None:
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise TypeError("An update is an object with an integer update_id.")
    if not any(kind in data for kind in ALLOWED_UPDATES):
        return None  # a kind the gateway does not serve: acknowledged, not parsed
    return Update.de_json(data, bot)


def _keyboard(buttons: list[Json]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = []
    for index, raw in enumerate(buttons, start=1):
        button = Button(str(raw["title"]), str(raw["payload"]))
        data = button.payload
        if len(data.encode()) > MAX_CALLBACK_DATA:
            data = f"#opt{index}"  # the router maps it back through last_options
        rows.append([InlineKeyboardButton(button.title[:64], callback_data=data)])
    return InlineKeyboardMarkup(rows)
