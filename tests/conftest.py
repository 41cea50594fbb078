"""Fixtures every test folder shares: service URLs, and the real Rasa stack.

PostgreSQL and Redis are used for real. Where one is not reachable its tests are
skipped with the reason, and listed again at the end of the run; with
REQUIRE_SERVICES=1 (as .ci/run sets) they fail instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest

from tests.support.servers import MODEL, RasaStack, make_rasa_stack, prepare_database

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

_not_run: dict[str, str] = {}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def require(what: str, available: bool, reason: str) -> None:
    """Skip the current test when ``what`` is missing (fail with REQUIRE_SERVICES=1)."""
    if available:
        return

    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required here (REQUIRE_SERVICES=1): {reason}")
    _not_run[what] = reason
    pytest.skip(f"{what} not available: {reason}")


def pytest_collection_finish(session: Any) -> None:
    """Undo uvloop's policy installed by imports during collection (see below)."""
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())


@pytest.fixture(autouse=True)
def standard_asyncio_policy() -> None:
    """Run every test under asyncio's own event loop policy.

    Importing or starting Sanic (Rasa, rasa-sdk) installs uvloop's policy as a side
    effect. A uvloop loop that still holds a handle when the session ends waits for it
    forever on close, and uvloop's policy has no child watcher for the subprocesses
    that Playwright and the command tests start.
    """
    if type(asyncio.get_event_loop_policy()) is not asyncio.DefaultEventLoopPolicy:
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the PostgreSQL test database, or skip/fail when it is down."""
    require(
        "PostgreSQL",
        _reachable(POSTGRES_URL, 5432),
        f"nothing listens for {POSTGRES_URL}",
    )
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the Redis test server, or skip/fail when it is down."""
    require("Redis", _reachable(REDIS_URL, 6379), f"nothing listens for {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Return Debian's Chromium for the console tests, or skip/fail without it."""
    path = "/usr/bin/chromium"
    require(
        "Chromium", Path(path).exists(), f"{path} is missing (apt-get install chromium)"
    )
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared folder (evaluation data and facts) beside the repository."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the evaluation data lives there.")
    return SHARED


class RasaClient:
    """Talks to the running Rasa server the way the gateway does."""

    def __init__(self, stack: RasaStack) -> None:
        self.stack = stack

    async def say(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Post one resident message to Rasa's REST channel and return its replies."""
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.stack.rasa_url}/webhooks/rest/webhook", json=body
            ) as response,
        ):
            response.raise_for_status()
            return list(await response.json())

    async def tracker(self, sender: str) -> dict[str, Any]:
        """Return Rasa's tracker of ``sender``."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{self.stack.rasa_url}/conversations/{sender}/tracker"
            ) as response,
        ):
            response.raise_for_status()
            return dict(await response.json())

    async def parse(self, text: str) -> dict[str, Any]:
        """Return Rasa's parse of ``text``."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.stack.rasa_url}/model/parse", json={"text": text}
            ) as response,
        ):
            response.raise_for_status()
            return dict(await response.json())


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    """The real Rasa server and action server with the trained model, once per run.

    The database is a seeded SQLite file of this run; the servers' logs are kept in
    the run's temporary folder and shown when a server does not start.
    """
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make test` trains it first.")
    folder = tmp_path_factory.mktemp("rasa-stack")
    database_url = f"sqlite:///{folder / 'stack.db'}"
    prepare_database(database_url)
    stack = make_rasa_stack(database_url=database_url, log_dir=folder)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def rasa(rasa_stack: RasaStack) -> RasaClient:
    """A client for the running Rasa server."""
    return RasaClient(rasa_stack)


@pytest.fixture
def sender() -> str:
    """A fresh conversation id for one test."""
    return f"test:{uuid.uuid4().hex[:12]}"


def reply_texts(replies: list[dict[str, Any]]) -> str:
    """Join the text of Rasa's replies, for assertions on what the resident reads."""
    return "\n".join(str(reply.get("text", "")) for reply in replies)


def custom_payloads(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the custom payloads among Rasa's replies."""
    return [reply["custom"] for reply in replies if "custom" in reply]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly which services were missing and what was therefore not run."""
    if _not_run:
        terminalreporter.section("tests not run: services missing")
        for what, reason in _not_run.items():
            terminalreporter.write_line(f"{what}: {reason}")
        terminalreporter.write_line(json.dumps(sorted(_not_run)))
