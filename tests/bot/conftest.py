"""Fixtures for the gateway tests: a migrated scratch database, the fake platforms,
a fake Rasa, and a factory that runs the real gateway app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import PIPELINE, create_app
from bot.config import Settings
from bot.pipeline.service import Pipeline
from db.migrate import upgrade
from tests.db.fixtures import create_scratch_postgres, drop_scratch_postgres
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, WHATSAPP_NUMBER, FakeTwilio
from tests.support.servers import free_port

WEBHOOK_SECRET = "uji-rahasia-webhook-123"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; tests copy it."""
    path = tmp_path_factory.mktemp("gateway-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(migrated_template: Path, tmp_path: Path) -> str:
    """A fresh migrated database for one test."""
    path = tmp_path / "gateway.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh migrated scratch PostgreSQL database for one test."""
    url = create_scratch_postgres(postgres_url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_scratch_postgres(postgres_url, url)


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    """A fake Rasa REST channel and action server health."""
    async with FakeRasa() as rasa:
        yield rasa


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """The fake Telegram Bot API."""
    async with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    """The fake Twilio REST API."""
    async with FakeTwilio() as twilio:
        yield twilio


@dataclass
class Gateway:
    """A running gateway app and a client session for its webhooks."""

    url: str
    app: web.Application
    runner: web.AppRunner
    http: aiohttp.ClientSession
    settings: Settings

    @property
    def pipeline(self) -> Pipeline:
        """The app's pipeline."""
        return self.app[PIPELINE]

    async def post_telegram(
        self, update: Any, *, secret: str | None = WEBHOOK_SECRET
    ) -> aiohttp.ClientResponse:
        """Post an update to the Telegram webhook as Telegram does."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        kwargs: dict[str, Any] = {"headers": headers}
        raw = update if isinstance(update, bytes) else json.dumps(update).encode()
        kwargs["data"] = io.BytesIO(raw)  # large bodies too, without a warning
        headers["Content-Type"] = "application/json"
        async with self.http.post(f"{self.url}/webhooks/telegram", **kwargs) as resp:
            await resp.read()
            return resp

    async def post_form(
        self, path: str, form: dict[str, str], *, signature: str | None
    ) -> aiohttp.ClientResponse:
        """Post Twilio-style form fields with an X-Twilio-Signature."""
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        async with self.http.post(
            f"{self.url}{path}", data=form, headers=headers
        ) as resp:
            await resp.read()
            return resp

    async def close(self) -> None:
        """Stop the app (the pipeline stops; pending rows stay in the database)."""
        await self.http.close()
        await self.runner.cleanup()


MakeGateway = Callable[..., Awaitable[Gateway]]


def gateway_settings(
    *,
    database_url: str,
    rasa: FakeRasa | None = None,
    telegram: FakeTelegram | None = None,
    twilio: FakeTwilio | None = None,
    port: int,
    **changes: Any,
) -> Settings:
    """Settings for a gateway on ``port`` that talks only to local fakes."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "retry_base_s": 0.05,
        "retry_max_s": 0.4,
        "service_hours": "Mon-Sun 00:00-24:00 Asia/Jakarta",
        "telegram_api_url": "http://127.0.0.1:9/bot",  # never the real API
        "twilio_api_url": "http://127.0.0.1:9",
    }
    if rasa is not None:
        values["rasa_url"] = rasa.url
        values["action_server_url"] = rasa.action_url
    if telegram is not None:
        values["telegram_bot_token"] = telegram.token
        values["telegram_api_url"] = telegram.api_url
        values["telegram_webhook_secret"] = WEBHOOK_SECRET
    if twilio is not None:
        values["twilio_account_sid"] = ACCOUNT_SID
        values["twilio_auth_token"] = AUTH_TOKEN
        values["twilio_whatsapp_number"] = WHATSAPP_NUMBER
        values["twilio_api_url"] = twilio.url
    values.update(changes)
    return Settings(**values)


@pytest.fixture
async def make_gateway(
    database_url: str,
    fake_rasa: FakeRasa,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
) -> AsyncIterator[MakeGateway]:
    """Start gateways (the real app) against the fakes; all are stopped afterwards."""
    started: list[Gateway] = []

    async def make(**changes: Any) -> Gateway:
        port = changes.pop("port", None) or free_port()
        settings = gateway_settings(
            database_url=changes.pop("database_url", database_url),
            rasa=fake_rasa,
            telegram=fake_telegram,
            twilio=fake_twilio,
            port=port,
            **changes,
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        gateway = Gateway(
            f"http://127.0.0.1:{port}", app, runner, aiohttp.ClientSession(), settings
        )
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        if not gateway.http.closed:
            await gateway.close()


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Condition not met within {timeout} s.")
        await asyncio.sleep(interval)


async def rows(gateway: Gateway, model: Any, **filters: Any) -> list[Any]:
    """Return the rows of ``model`` matching ``filters`` in the gateway's database."""

    def work(session: Any) -> list[Any]:
        return list(session.query(model).filter_by(**filters).order_by(model.id).all())

    return await gateway.pipeline.store.run(work)
