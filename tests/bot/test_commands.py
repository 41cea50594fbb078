"""The command line: ``python -m bot chat`` and ``python -m bot gateway`` as a user
runs them (child processes), against the fake Rasa."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.fakes.rasa import FakeRasa
from tests.support.servers import REPO, free_port


def command_env(database_url: str, rasa: FakeRasa, **extra: str) -> dict[str, str]:
    """An environment with nothing but local services configured."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "TWILIO_", "PUBLIC_URL", "REDIS_URL"))
    }
    env.update(
        DATABASE_URL=database_url,
        RASA_URL=rasa.url,
        ACTION_SERVER_URL=rasa.action_url,
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


async def test_terminal_chat_goes_through_the_pipeline(
    database_url: str, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        cwd=tmp_path,  # no .env of the developer's
        env=command_env(database_url, fake_rasa),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(b"halo\nktp hilang\n"), timeout=120
    )

    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "bot> echo: halo" in text
    assert "bot> echo: ktp hilang" in text
    assert [r["sender"].split(":")[0] for r in fake_rasa.received] == ["terminal"] * 2


async def test_gateway_command_serves_and_stops_on_sigterm(
    database_url: str, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "gateway",
        cwd=tmp_path,
        env=command_env(database_url, fake_rasa, PORT=str(port)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        health = None
        async with aiohttp.ClientSession() as session:
            for _ in range(240):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                        health = (r.status, await r.json())
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.25)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)

    assert health is not None, err.decode()
    assert health[0] == 200
    assert health[1]["channels"] == {"web": {"state": "running", "open_sessions": 0}}
    assert process.returncode == 0
