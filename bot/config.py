"""The gateway's settings: one frozen object read once, at start, from the environment.

``Settings.from_env()`` reads the process environment, after an optional ``.env`` file
(a variable already set in the environment wins over the file). Nothing else in bot/
reads environment variables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import ConfigError

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "sqlite:///var/padang.db"
DEFAULT_RASA_PORT = 5005
DEFAULT_ACTIONS_PORT = 5055
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"  # PTB appends the token
DEFAULT_TWILIO_API_URL = "https://api.twilio.com"
DEFAULT_SERVICE_HOURS = "Mon-Fri 08:00-16:00 Asia/Jakarta"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # webhook bodies larger than this get 413
DEFAULT_RASA_TIMEOUT_S = 30.0
DEFAULT_RASA_CONCURRENCY = 8  # messages a gateway process has in Rasa at once
DEFAULT_EXPECTED_WAIT_MIN = 10  # minutes told to a resident waiting for staff
DEFAULT_RETRY_BASE_S = 1.0  # first backoff of the inbox and outbox retries
DEFAULT_RETRY_MAX_S = 60.0  # backoff cap
DEFAULT_OUTBOX_MAX_ATTEMPTS = 8
DEFAULT_SWEEP_INTERVAL_S = 5.0  # pending rows without a task are picked up this often

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS_RE = re.compile(
    r"^\s*(?P<d1>[A-Za-z]{3})(?:-(?P<d2>[A-Za-z]{3}))?\s+"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})\s+(?P<tz>\S+)\s*$"
)


def _closing(hour: int, minute: int) -> time:
    # "24:00" closes at the end of the day.
    return time.max if (hour, minute) == (24, 0) else time(hour, minute)


@dataclass(frozen=True)
class ServiceHours:
    """When staff answer: a run of weekdays, a daily window and a time zone."""

    first_day: int  # 0 = Monday
    last_day: int
    opens: time
    closes: time
    zone: str

    @classmethod
    def parse(cls, text: str) -> ServiceHours:
        """Parse ``"Mon-Fri 08:00-16:00 Asia/Jakarta"``.

        Raises:
            ConfigError: The text is not in that shape or names an unknown zone.
        """
        match = _HOURS_RE.match(text)
        if match is None:
            raise ConfigError(
                f"SERVICE_HOURS {text!r} is not like "
                "'Mon-Fri 08:00-16:00 Asia/Jakarta'."
            )
        try:
            first = _DAYS.index(match["d1"].lower())
            last = _DAYS.index((match["d2"] or match["d1"]).lower())
            opens = time(int(match["h1"]), int(match["m1"]))
            closes = _closing(int(match["h2"]), int(match["m2"]))
            ZoneInfo(match["tz"])
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"SERVICE_HOURS {text!r} is not valid: {exc}.") from exc
        return cls(first, last, opens, closes, match["tz"])

    def _is_day(self, weekday: int) -> bool:
        if self.first_day <= self.last_day:
            return self.first_day <= weekday <= self.last_day
        return weekday >= self.first_day or weekday <= self.last_day

    def is_open(self, moment: datetime) -> bool:
        """Tell whether staff answer at ``moment`` (an aware datetime)."""
        local = moment.astimezone(ZoneInfo(self.zone))
        return (
            self._is_day(local.weekday()) and self.opens <= local.time() < self.closes
        )

    def next_opening(self, moment: datetime) -> datetime:
        """Return the next time the service opens after ``moment``, in its zone."""
        local = moment.astimezone(ZoneInfo(self.zone))
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            start = datetime.combine(day, self.opens, tzinfo=ZoneInfo(self.zone))
            if self._is_day(day.weekday()) and start > local:
                return start
        raise ConfigError("SERVICE_HOURS names no working day.")


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines of a .env file (``#`` comments, optional quotes)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _secret(default: str = "") -> Any:
    return field(default=default, repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the gateway is configured with (see .env.example)."""

    telegram_bot_token: str = _secret()
    telegram_webhook_secret: str = _secret()
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    twilio_account_sid: str = ""
    twilio_auth_token: str = _secret()
    twilio_whatsapp_number: str = ""
    twilio_api_url: str = DEFAULT_TWILIO_API_URL
    twilio_template_sid: str = ""
    public_url: str = ""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = ""
    rasa_url: str = f"http://127.0.0.1:{DEFAULT_RASA_PORT}"
    action_server_url: str = f"http://127.0.0.1:{DEFAULT_ACTIONS_PORT}/webhook"
    rasa_port: int = DEFAULT_RASA_PORT
    actions_port: int = DEFAULT_ACTIONS_PORT
    rasa_host: str = DEFAULT_HOST
    rasa_model: str = "models/padang.tar.gz"
    service_hours: str = DEFAULT_SERVICE_HOURS
    expected_wait_minutes: int = DEFAULT_EXPECTED_WAIT_MIN
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rasa_timeout_s: float = DEFAULT_RASA_TIMEOUT_S
    rasa_concurrency: int = DEFAULT_RASA_CONCURRENCY
    retry_base_s: float = DEFAULT_RETRY_BASE_S
    retry_max_s: float = DEFAULT_RETRY_MAX_S
    outbox_max_attempts: int = DEFAULT_OUTBOX_MAX_ATTEMPTS
    sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S
    log_level: str = "INFO"
    log_level_libraries: str = "WARNING"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: Path | None = Path(".env"),
    ) -> Settings:
        """Build the settings from ``environ`` (default: the process) and ``env_file``.

        Raises:
            ConfigError: A value has the wrong type or shape.
        """
        merged: dict[str, str] = read_env_file(env_file) if env_file else {}
        merged.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = merged.get(spec.name.upper())
            if raw is None or raw == "":
                continue
            if spec.type in ("int", "float"):
                try:
                    values[spec.name] = int(raw) if spec.type == "int" else float(raw)
                except ValueError as exc:
                    raise ConfigError(
                        f"{spec.name.upper()}={raw!r} is not a number."
                    ) from exc
            else:
                values[spec.name] = raw
        settings = cls(**values)
        settings.hours  # noqa: B018 - fail at start on a bad SERVICE_HOURS
        return settings

    def with_changes(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (tests, the serve command)."""
        return replace(self, **changes)

    @property
    def hours(self) -> ServiceHours:
        """SERVICE_HOURS, parsed."""
        return ServiceHours.parse(self.service_hours)

    @property
    def telegram_enabled(self) -> bool:
        """A bot token is configured."""
        return bool(self.telegram_bot_token)

    @property
    def whatsapp_enabled(self) -> bool:
        """Twilio credentials and a sender number are configured."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and self.twilio_whatsapp_number
        )

    @property
    def secrets(self) -> list[str]:
        """The values the log filter redacts."""
        return [
            s
            for s in (
                self.telegram_bot_token,
                self.twilio_auth_token,
                self.telegram_webhook_secret,
            )
            if s
        ]

    def public(self, path: str) -> str:
        """Return the public URL of ``path`` ("" when no PUBLIC_URL is set)."""
        if not self.public_url:
            return ""
        return self.public_url.rstrip("/") + path
