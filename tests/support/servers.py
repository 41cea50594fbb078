"""Start the real Rasa server and action server as child processes on free local ports.

Used by the test fixtures and by bench/: both need the same trained model served the
way production serves it (``rasa run --enable-api`` and ``rasa run actions``, through
:mod:`nlu.launch`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "padang.tar.gz"
# The ``rasa`` command as deployed (see nlu/launch.py); PYTHONPATH must hold REPO.
RASA_COMMAND = [sys.executable, "-m", "nlu.launch"]
STARTUP_TIMEOUT = 240.0  # seconds; loading TensorFlow and the model takes 20-60 s here


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, *, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll ``url`` until it answers 200, the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s.")


@dataclass
class ManagedProcess:
    """A child process with a health URL, started and stopped on demand."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        """Start the process and wait until its health URL answers."""
        if self.process is not None and self.process.poll() is None:
            return

        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        try:
            wait_http(self.health_url, timeout=STARTUP_TIMEOUT, process=self.process)
        except (RuntimeError, TimeoutError) as exc:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {exc}\n{tail}") from exc

    @property
    def pid(self) -> int:
        """The running process's id."""
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running.")
        return self.process.pid

    def stop(self) -> None:
        """Stop the process: SIGTERM, then SIGKILL after ten seconds."""
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return

        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@dataclass
class RasaStack:
    """The Rasa server and the action server, on one database."""

    rasa: ManagedProcess
    actions: ManagedProcess
    rasa_url: str
    action_url: str
    database_url: str

    def start(self) -> None:
        """Start the action server, then the Rasa server."""
        self.actions.start()
        self.rasa.start()

    def stop(self) -> None:
        """Stop both servers."""
        self.rasa.stop()
        self.actions.stop()

    def stop_rasa(self) -> None:
        """Stop the Rasa server alone (the action server keeps running)."""
        self.rasa.stop()

    def start_rasa(self) -> None:
        """Start the Rasa server again."""
        self.rasa.start()

    def restart_rasa(self) -> None:
        """Stop and start the Rasa server."""
        self.rasa.stop()
        self.rasa.start()


def make_rasa_stack(
    *, database_url: str, log_dir: Path, model: Path = MODEL
) -> RasaStack:
    """Describe a Rasa server and action server on free ports (not yet started)."""
    rasa_port, action_port = free_port(), free_port()
    action_url = f"http://127.0.0.1:{action_port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ACTION_SERVER_URL": f"{action_url}/webhook",
        "PYTHONPATH": str(REPO),
        # rasa-sdk 3.6 has no --interface option; Sanic reads the host from here.
        "SANIC_HOST": "127.0.0.1",
    }
    actions = ManagedProcess(
        name="action server",
        argv=[
            *RASA_COMMAND,
            "run",
            "actions",
            "--actions",
            "actions",
            "-p",
            str(action_port),
        ],
        health_url=f"{action_url}/health",
        env=env,
        log_path=log_dir / "actions.log",
    )
    rasa = ManagedProcess(
        name="rasa server",
        argv=[
            *RASA_COMMAND,
            "run",
            "--enable-api",
            "-m",
            str(model),
            "-i",
            "127.0.0.1",
            "-p",
            str(rasa_port),
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
        ],
        health_url=f"http://127.0.0.1:{rasa_port}/status",
        env=env,
        log_path=log_dir / "rasa.log",
    )
    return RasaStack(
        rasa=rasa,
        actions=actions,
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_url=action_url,
        database_url=database_url,
    )


def prepare_database(database_url: str) -> None:
    """Migrate and seed ``database_url`` with the project's own commands."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    for command in ("migrate", "seed"):
        subprocess.run(
            [sys.executable, "-m", "db", command], cwd=REPO, env=env, check=True
        )
