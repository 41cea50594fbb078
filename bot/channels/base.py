"""The one small interface every channel adapter implements, and the common messages.

An adapter turns a platform's inbound payload into :class:`InboundMessage` objects
(``parse``), and a :class:`Reply` into the platform's sends: ``render`` splits it into
payloads that each fit one platform message (stored in the outbox), ``send`` sends one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

from aiohttp import web

Json = dict[str, Any]

# A photo, a location or a contact without text reaches Rasa as one of these intents.
SHARE_MEDIA = "/share_media"
SHARE_LOCATION = "/share_location"
START = "/greet"  # what Telegram's /start becomes


@dataclass(frozen=True)
class Button:
    """One option offered to the resident."""

    title: str
    payload: str


@dataclass(frozen=True)
class InboundMessage:
    """A resident's message, whatever the platform.

    ``kind`` is text, edit, photo, location, contact, command or button; ``platform_id``
    is the platform's own id of the update (the inbox deduplicates on it).
    """

    channel: str
    chat_id: str
    platform_id: str
    text: str = ""
    kind: str = "text"
    sender_name: str | None = None
    location: Json | None = None
    media: list[Json] = field(default_factory=list)
    contact: str | None = None
    callback_id: str | None = None  # Telegram callback query to answer
    reply_to_message_id: str | None = None  # message whose keyboard was pressed

    @property
    def conversation_id(self) -> str:
        """Rasa's sender id: ``<channel>:<chat id>``."""
        return f"{self.channel}:{self.chat_id}"

    def to_json(self) -> Json:
        """Return a JSON-able dict (stored in the inbox)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Json) -> InboundMessage:
        """Rebuild a message stored with :meth:`to_json`."""
        return cls(**data)


@dataclass(frozen=True)
class Reply:
    """One reply for a resident: text, options and an image, each optional."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    image: str | None = None

    def to_json(self) -> Json:
        """Return the JSON-able payload stored in the outbox and transcript."""
        data: Json = {"text": self.text}
        if self.buttons:
            data["buttons"] = [asdict(b) for b in self.buttons]
        if self.image:
            data["image"] = self.image
        return data

    @classmethod
    def from_json(cls, data: Json) -> Reply:
        """Rebuild a reply from :meth:`to_json` output or a Rasa REST reply."""
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", b.get("title", ""))))
            for b in data.get("buttons") or []
        )
        return cls(str(data.get("text") or ""), buttons, data.get("image"))


class Channel(Protocol):
    """What the pipeline needs from a platform adapter."""

    name: ClassVar[str]
    max_text_length: ClassVar[int]

    async def start(self) -> None:
        """Connect (webhook registration, long polling); idempotent."""

    async def stop(self) -> None:
        """Disconnect; idempotent."""

    def add_routes(self, app: web.Application) -> None:
        """Register the channel's webhook routes on ``app``."""

    def render(self, reply: Reply) -> list[Json]:
        """Turn ``reply`` into send payloads that each fit one platform message."""

    async def send(self, chat_id: str, payload: Json, *, context: Json) -> str | None:
        """Send one payload; return the platform's message id.

        ``context`` carries what the conversation knows (last inbound time for the
        WhatsApp 24-hour window).

        Raises:
            bot.errors.RetryLater: Try again later (rate limit, network).
            bot.errors.Unreachable: The resident blocked the bot.
            bot.errors.PermanentFailure: The platform refused the message for good.
        """

    def health(self) -> Json:
        """Return the channel's state for /healthz."""


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters.

    Cuts at a paragraph or sentence end when one lies in the second half of the piece,
    else at a space, else (a single word longer than ``limit``) anywhere.
    """
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for match in _SENTENCE_END.finditer(window):
            if match.start() <= limit and match.start() >= limit // 2:
                cut = match.start()
        if cut < 0:
            cut = window.rfind(" ", 0, limit + 1)
            if cut < limit // 4:
                cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not pieces:
        pieces.append(text)
    return pieces


def numbered_options(buttons: tuple[Button, ...]) -> str:
    """Render buttons as the numbered list a resident answers with a number."""
    return "\n".join(f"{i}. {b.title}" for i, b in enumerate(buttons, start=1))


class InFlight:
    """Counts the platform sends under way, so that stopping can let them finish: a
    message the platform took, cut off, would be sent again after a restart."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        """Count the send in the ``with`` block."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._idle.set()

    async def drained(self, timeout_s: float) -> None:
        """Wait until no send is under way, at most ``timeout_s`` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
