"""Start the real action server (``rasa run actions``, through :mod:`nlu.launch`) on
127.0.0.1 for one database, and call its webhook the way the Rasa server does. Used by
the tests and bench/."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.servers import RASA_COMMAND, REPO, ManagedProcess, free_port

RASA_VERSION = "3.6.21"


def action_server(*, database_url: str, log_path: Path) -> tuple[ManagedProcess, str]:
    """Describe an action server on a free local port; return it and its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(REPO),
        # rasa-sdk binds 0.0.0.0 unless told otherwise.
        "SANIC_HOST": "127.0.0.1",
    }
    argv = [
        *RASA_COMMAND, "run", "actions", "--actions", "actions",
        "-p", str(port),
    ]  # fmt: skip
    process = ManagedProcess(
        name="action server",
        argv=argv,
        health_url=f"{url}/health",
        env=env,
        log_path=log_path,
    )
    return process, url


def action_call(
    name: str, tracker: dict[str, Any], domain: dict[str, Any]
) -> dict[str, Any]:
    """Return the body Rasa posts to the action server's /webhook."""
    return {
        "next_action": name,
        "sender_id": tracker["sender_id"],
        "tracker": tracker,
        "domain": domain,
        "version": RASA_VERSION,
    }


async def post_action(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """POST one action call; return the seconds it took and the JSON answer."""
    started = time.perf_counter()
    async with session.post(f"{url}/webhook", json=body) as response:
        answer = await response.json()
        response.raise_for_status()
    return time.perf_counter() - started, dict(answer)


def unique_sender(channel: str = "telegram") -> str:
    """Return a made-up conversation id nobody else uses."""
    return f"{channel}:{uuid.uuid4().int % 10**12}"
