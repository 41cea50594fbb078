"""Logging for the gateway: one format, quiet libraries, and no secret or personal
number in any record.

PTB logs its API URL (the bot token inside) and HTTP clients log URLs; their loggers
stay at LOG_LEVEL_LIBRARIES (WARNING by default), and :class:`RedactingFilter`, put
on every handler of the root logger, replaces the configured secrets in every record
that gets through anyway. It also masks NIKs and residents' phone numbers (a WhatsApp
conversation id is one): ``whatsapp:+62812*****890``.
"""

from __future__ import annotations

import logging
import sys

from db.records import mask_niks, mask_phones

LIBRARY_LOGGERS = (
    "telegram",
    "httpx",
    "httpcore",
    "twilio",
    "urllib3",
    "aiohttp.access",
    "aiohttp.client",
    "asyncio",
    "alembic.runtime.plugins",
)
REDACTED = "[REDACTED]"


class RedactingFilter(logging.Filter):
    """Replace each secret in a record's final message with ``[REDACTED]``, and mask
    NIKs and phone numbers."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def clean(self, text: str) -> str:
        """``text`` without secrets, NIKs or whole phone numbers."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return mask_phones(mask_niks(text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup(
    *,
    level: str = "INFO",
    library_level: str = "WARNING",
    secrets: list[str] | None = None,
    prefix: str = "",
) -> None:
    """Configure the root logger once for the process (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_padang", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._padang = True  # type: ignore[attr-defined]
    head = f"{prefix} | " if prefix else ""
    handler.setFormatter(
        logging.Formatter(f"{head}%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter(secrets or []))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(library_level.upper())
