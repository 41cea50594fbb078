"""Fixtures of the console tests: a migrated database, the fake Telegram server, a
Rasa stand-in, a running gateway, and logged-in staff clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from db.engine import make_engine
from db.migrate import upgrade
from tests.console.fake_rasa import FakeRasa
from tests.console.harness import Gateway, create_staff, start_gateway
from tests.fakes.telegram import FakeTelegram

PASSWORD = "sandi-uji-12345"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite database with every migration applied."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Any:
    """An engine on the test database (for setup and for checking what was stored)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """The fake Telegram Bot API on a free local port."""
    async with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    """The Rasa stand-in on a free local port."""
    async with FakeRasa() as rasa:
        yield rasa


@pytest.fixture
async def gateway(
    database_url: str, engine: Any, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> AsyncIterator[Gateway]:
    """A running gateway with an agent ``ani``, an agent ``budi`` and supervisor
    ``sari`` (password PASSWORD)."""
    create_staff(engine, "ani", PASSWORD)
    create_staff(engine, "budi", PASSWORD)
    create_staff(engine, "sari", PASSWORD, role="supervisor")
    gw = await start_gateway(
        database_url=database_url,
        telegram_api_url=fake_telegram.api_url,
        rasa_url=fake_rasa.url,
        action_server_url=fake_rasa.action_url,
    )
    yield gw
    await gw.stop()


class StaffClient:
    """An HTTP client logged in to the console, sending the CSRF token like the page."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.csrf = ""
        self.origin = base.split("/console/")[0]

    async def login(
        self, username: str, password: str = PASSWORD
    ) -> aiohttp.ClientResponse:
        """Log in; keep the CSRF token of the session."""
        response = await self.session.post(
            f"{self.base}login", data={"username": username, "password": password}
        )
        if response.status == 200:
            me = await self.get("api/me")
            self.csrf = me["csrf"]
        return response

    async def get(self, path: str) -> Any:
        """GET a JSON route; fail on an error status."""
        async with self.session.get(f"{self.base}{path}") as response:
            assert response.status == 200, (
                path,
                response.status,
                await response.text(),
            )
            return await response.json()

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> tuple[int, Any]:
        """POST JSON with the CSRF header and the page's Origin."""
        headers = {"Origin": self.origin}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.session.post(
            f"{self.base}{path}", json=body or {}, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture
async def staff_client(
    gateway: Gateway,
) -> AsyncIterator[Callable[[str], Awaitable[StaffClient]]]:
    """Return a factory: ``await staff_client("ani")`` is a logged-in client."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(username: str) -> StaffClient:
        # The gateway listens on an IP address: the jar must accept its cookies.
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        client = StaffClient(session, gateway.console_url)
        response = await client.login(username)
        assert response.status == 200
        return client

    yield make
    for session in sessions:
        await session.close()
