"""Logging for the gateway: one format, quiet libraries, and no secret in any record.

PTB logs its API URL (the bot token inside) and httpx logs every URL; their loggers
stay at LOG_LEVEL_LIBRARIES (WARNING by default), and :class:`RedactingFilter`, put
on every handler of the root logger, replaces the configured secrets in every record
that gets through anyway.
"""

from __future__ import annotations

import logging
import sys

LIBRARY_LOGGERS = (
    "telegram",
    "httpx",
    "httpcore",
    "twilio",
    "urllib3",
    "aiohttp.access",
    "asyncio",
    "alembic.runtime.plugins",
)
REDACTED = "[REDACTED]"


class RedactingFilter(logging.Filter):
    """Replace each secret in a record's final message with ``[REDACTED]``."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, REDACTED)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
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
