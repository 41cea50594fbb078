"""``python -m bot serve``: the action server, the Rasa server and the gateway as child
processes, each waited for until healthy, their output prefixed with their name, and
all stopped together on Ctrl-C (SIGINT/SIGTERM to each, a wait, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.config import Settings

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 300.0  # TensorFlow and the model take a while on a small machine
STOP_TIMEOUT_S = 15.0  # SIGTERM, then SIGKILL after this
HEALTH_POLL_S = 0.5


@dataclass
class Child:
    """One child process and the URL that says it is ready."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str]
    any_status: bool = False  # ready as soon as it answers (the gateway's 503)
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    relay: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> None:
        """Start the process and relay its output, each line prefixed."""
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.relay = asyncio.create_task(self._relay())

    async def _relay(self) -> None:
        if self.process is None or self.process.stdout is None:
            return
        width = 8
        while line := await self.process.stdout.readline():
            text = line.decode("utf-8", "replace").rstrip()
            sys.stdout.write(f"{self.name:<{width}}| {text}\n")
            sys.stdout.flush()

    async def wait_healthy(self, session: aiohttp.ClientSession) -> None:
        """Poll the health URL until it answers, the process dies, or time runs out.

        Raises:
            RuntimeError: The process exited or did not become healthy in time.
        """
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise RuntimeError(f"{self.name} exited during start-up.")
            try:
                async with session.get(
                    self.health_url, timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    if response.status == 200 or self.any_status:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(HEALTH_POLL_S)
        raise RuntimeError(f"{self.name} was not healthy within {STARTUP_TIMEOUT_S} s.")

    async def stop(self) -> None:
        """SIGTERM, wait, SIGKILL; idempotent."""
        process = self.process
        if process is None or process.returncode is not None:
            return

        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            logger.warning("%s did not stop in %s s: killed", self.name, STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self.relay is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.relay


def children(settings: Settings) -> list[Child]:
    """Describe the action server, the Rasa server and the gateway."""
    rasa = [sys.executable, "-m", "nlu.launch"]  # `rasa`, frozen after start-up
    actions_url = f"http://127.0.0.1:{settings.actions_port}"
    rasa_url = f"http://127.0.0.1:{settings.rasa_port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": settings.database_url,
        "ACTION_SERVER_URL": f"{actions_url}/webhook",
        "RASA_URL": rasa_url,
        "SANIC_HOST": settings.rasa_host,  # the action server's bind address
    }
    return [
        Child(
            "actions",
            [
                *rasa,
                "run",
                "actions",
                "--actions",
                "actions",
                "-p",
                str(settings.actions_port),
            ],
            f"{actions_url}/health",
            env,
        ),
        Child(
            "rasa",
            [
                *rasa,
                "run",
                "--enable-api",
                "-m",
                settings.rasa_model,
                "-i",
                settings.rasa_host,
                "-p",
                str(settings.rasa_port),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
            ],
            f"{rasa_url}/",
            env,
        ),
        Child(
            "gateway",
            [sys.executable, "-m", "bot", "gateway", "--no-migrate"],
            f"http://127.0.0.1:{settings.port}/healthz",
            env,
            any_status=True,
        ),
    ]


def model_exists(model: str) -> bool:
    """Tell whether the Rasa model file is there (relative to the repository)."""
    return (REPO / model).exists() or Path(model).exists()


async def serve(settings: Settings) -> int:
    """Run everything until Ctrl-C or a child dies; return the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[Child] = []
    status = 0
    try:
        async with aiohttp.ClientSession() as session:
            for child in children(settings):
                logger.info("Starting %s", child.name)
                await child.start()
                started.append(child)
                waiting = asyncio.create_task(child.wait_healthy(session))
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({waiting, stopping}, return_when="FIRST_COMPLETED")
                stopping.cancel()
                if stop.is_set():
                    waiting.cancel()
                    return 0
                waiting.result()
                logger.info("%s is up", child.name)
        base = settings.public_url or f"http://127.0.0.1:{settings.port}"
        sys.stdout.write(
            f"\n  Web chat:      {base}/chat\n"
            f"  Agent console: {base}/console/\n"
            f"  Health:        {base}/healthz\n  Ctrl-C stops everything.\n\n"
        )
        sys.stdout.flush()
        status = await _until_stopped(stop, started)
    except RuntimeError as exc:
        logger.error("%s", exc)  # noqa: TRY400 - the child's own log says why
        status = 1
    finally:
        for child in reversed(started):
            logger.info("Stopping %s", child.name)
            await child.stop()
    return status


async def _until_stopped(stop: asyncio.Event, started: list[Child]) -> int:
    exits = {asyncio.create_task(c.process.wait()): c for c in started if c.process}
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopping, *exits}, return_when="FIRST_COMPLETED")
    stopping.cancel()
    for task in exits:
        task.cancel()
    for task in done:
        if task in exits:
            logger.error(
                "%s exited (%s): stopping the rest", exits[task].name, task.result()
            )
            return 1
    return 0
