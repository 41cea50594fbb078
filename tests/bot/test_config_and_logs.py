"""Settings from the environment and .env; secrets never reach the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import telegram

from bot import logs
from bot.config import ServiceHours, Settings
from bot.errors import ConfigError
from tests.fakes.telegram import FakeTelegram


def test_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nPORT=9001\nexport PUBLIC_URL='https://bot.example'\n"
        'SERVICE_HOURS="Mon-Sat 07:30-15:00 Asia/Jakarta"\nRASA_URL=http://x:1\n',
        encoding="utf-8",
    )

    settings = Settings.from_env(
        {"RASA_URL": "http://127.0.0.1:5999"}, env_file=env_file
    )

    assert settings.port == 9001
    assert settings.public_url == "https://bot.example"
    assert settings.rasa_url == "http://127.0.0.1:5999"
    assert settings.hours == ServiceHours.parse("Mon-Sat 07:30-15:00 Asia/Jakarta")
    assert (
        settings.public("/webhooks/telegram") == "https://bot.example/webhooks/telegram"
    )


def test_defaults_without_anything(tmp_path: Path) -> None:
    settings = Settings.from_env({}, env_file=tmp_path / "missing.env")

    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert not settings.telegram_enabled
    assert not settings.whatsapp_enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "delapan ribu"),
        ("SERVICE_HOURS", "kantor buka pagi"),
        ("SERVICE_HOURS", "Mon-Fri 08:00-16:00 Mars/Olympus"),
    ],
)
def test_bad_values_are_refused_at_start(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value}, env_file=tmp_path / "none")


def test_settings_repr_hides_secrets() -> None:
    settings = Settings(
        telegram_bot_token="123:SECRETTOKEN", twilio_auth_token="tw-s3cret"
    )

    assert "SECRETTOKEN" not in repr(settings)
    assert "tw-s3cret" not in repr(settings)


async def test_bot_token_is_redacted_even_from_library_debug_logs(
    capfd: pytest.CaptureFixture[str],
) -> None:
    async with FakeTelegram() as fake:
        logs.setup(level="DEBUG", library_level="DEBUG", secrets=[fake.token])
        try:
            bot = telegram.Bot(fake.token, base_url=fake.api_url)
            async with bot:
                await bot.send_message(1001, "halo")
            logging.getLogger("bot").info("token is %s", fake.token)
        finally:
            logs.setup(level="WARNING", library_level="WARNING", secrets=[])

    err = capfd.readouterr().err
    assert logs.REDACTED in err
    assert fake.token not in err
    assert fake.token.split(":")[1] not in err


def _fail_with(message: str) -> None:
    raise ValueError(message)


def test_niks_and_phone_numbers_are_masked_in_every_log_line(
    capfd: pytest.CaptureFixture[str],
) -> None:
    logs.setup(level="INFO", secrets=[])
    try:
        log = logging.getLogger("bot.pipeline.outbox")
        log.info("Outbox %s: row 7 sent", "whatsapp:+6281234567890")
        log.warning("Lookup for NIK %s by %s", "1371 0112 3456 7890", "081298765432")
        try:
            _fail_with("NIK 1371011234567890 unknown")
        except ValueError:
            log.exception("Action failed")
    finally:
        logs.setup(level="WARNING", library_level="WARNING", secrets=[])

    err = capfd.readouterr().err
    assert "Outbox whatsapp:+62812*****890: row 7 sent" in err
    assert "6281234567890" not in err
    assert "by 0812*****432" in err
    assert "081298765432" not in err
    assert "************7890" in err
    assert "1371 0112 3456 7890" not in err
    assert "1371011234567890" not in err  # also in the traceback
