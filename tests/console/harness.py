"""Run a whole gateway (``bot.app.create_app``: Telegram webhook, inbox, router,
outbox, handoff, console) on 127.0.0.1 for the console tests, against the fake
Telegram server and a Rasa.

Two gateways built with the same database URL and REDIS_URL are the two-process setup
of the design: one console served by either.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app import PIPELINE, create_app
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.config import Settings
from bot.pipeline.service import Pipeline
from db import console as cdb
from db.engine import session_scope
from db.gateway import InboxMessage, OutboxMessage
from tests.fakes.telegram import DEFAULT_TOKEN
from tests.support.servers import free_port


@dataclass
class Gateway:
    """One running gateway (an aiohttp app of its own, in this test process)."""

    url: str
    settings: Settings
    app: web.Application
    runner: web.AppRunner

    @property
    def pipeline(self) -> Pipeline:
        """The gateway's pipeline (store, router, outbox, handoff, channels)."""
        return self.app[PIPELINE]

    @property
    def telegram(self) -> TelegramChannel:
        """The Telegram adapter."""
        return self.pipeline.channels["telegram"]  # type: ignore[return-value]

    @property
    def console_url(self) -> str:
        """The console's address."""
        return f"{self.url}/console/"

    async def post_update(self, update: dict[str, Any]) -> int:
        """Post a Telegram update to the webhook as Telegram does; return the status."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.url}{WEBHOOK_PATH}",
                data=json.dumps(update),
                headers={
                    SECRET_HEADER: self.telegram.secret,
                    "Content-Type": "application/json",
                },
            ) as response,
        ):
            return response.status

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until no inbox or outbox row is pending (twice in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            pending = await self.pipeline.store.run(_pending)
            quiet = quiet + 1 if pending == 0 else 0
            if quiet >= 3:
                return
        raise TimeoutError(f"Rows still pending after {timeout} s.")

    async def stop(self) -> None:
        """Stop the app and its pipeline."""
        await self.runner.cleanup()


def _pending(session: Session) -> int:
    inbox = session.execute(
        select(func.count(InboxMessage.id)).where(InboxMessage.state == "pending")
    ).scalar_one()
    outbox = session.execute(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.state == "pending")
    ).scalar_one()
    return int(inbox) + int(outbox)


async def start_gateway(
    *,
    database_url: str,
    telegram_api_url: str,
    rasa_url: str,
    action_server_url: str | None = None,
    redis_url: str = "",
    service_hours: str = "Mon-Sun 00:00-23:59 Asia/Jakarta",
    public_url: str | None = None,
) -> Gateway:
    """Start a gateway on a free port of 127.0.0.1 (the database already migrated)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        telegram_bot_token=DEFAULT_TOKEN,
        telegram_api_url=telegram_api_url,
        public_url=public_url or url,
        host="127.0.0.1",
        port=port,
        database_url=database_url,
        redis_url=redis_url,
        rasa_url=rasa_url,
        action_server_url=action_server_url or f"{rasa_url}/webhook",
        service_hours=service_hours,
        retry_base_s=0.2,
        retry_max_s=1.0,
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return Gateway(url=url, settings=settings, app=app, runner=runner)


def create_staff(
    engine: Any, username: str, password: str, role: str = "agent"
) -> None:
    """Create a console account directly in the database."""
    with session_scope(engine) as session:
        cdb.create_agent(
            session, username, password, display_name=username.title(), role=role
        )
