"""Settings of the action server, read once from the environment at process start.

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | sqlite:///var/padang.db | the records database |
| LOOKUP_MAX_FAILURES | 5 | failed lookups per sender and per registration number |
| LOOKUP_WINDOW_SECONDS | 600 | the window (and so the lockout) in seconds |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from db.engine import DEFAULT_DATABASE_URL

DEFAULT_LOOKUP_MAX_FAILURES = 5
DEFAULT_LOOKUP_WINDOW_SECONDS = 600  # 10 minutes


@dataclass(frozen=True)
class Settings:
    """What the actions need to know about their environment."""

    database_url: str = DEFAULT_DATABASE_URL
    lookup_max_failures: int = DEFAULT_LOOKUP_MAX_FAILURES
    lookup_window_seconds: int = DEFAULT_LOOKUP_WINDOW_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            lookup_max_failures=int(
                env.get("LOOKUP_MAX_FAILURES", DEFAULT_LOOKUP_MAX_FAILURES)
            ),
            lookup_window_seconds=int(
                env.get("LOOKUP_WINDOW_SECONDS", DEFAULT_LOOKUP_WINDOW_SECONDS)
            ),
        )


_settings: Settings | None = None


def get_settings() -> Settings:
    """Return the process's settings, reading the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def use_settings(settings: Settings) -> None:
    """Replace the process's settings (tests, benchmarks)."""
    global _settings
    _settings = settings
