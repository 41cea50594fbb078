"""Latency of the action server: an application-status lookup and a complaint
submission, on SQLite and on PostgreSQL.

Starts a real ``rasa run actions`` on 127.0.0.1 for a freshly migrated and seeded
database of each backend and POSTs /webhook with the bodies the Rasa server sends.
Run: ``.venv/bin/python -m bench.actions [--requests N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import select

from bench.common import REPO, summary_ms
from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.records import Application
from db.seed import seed
from tests.actions.conftest import make_tracker
from tests.actions.server import action_call, action_server, post_action, unique_sender
from tests.db.fixtures import create_scratch_postgres, drop_scratch_postgres

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WARMUP = 10


def _prepare(url: str) -> tuple[str, str]:
    upgrade(url)
    engine = make_engine(url)
    try:
        seed(engine)
        with session_scope(engine) as session:
            app = session.execute(select(Application).limit(1)).scalar_one()
            return app.registration_number, app.nik
    finally:
        engine.dispose()


def _status_body(domain: dict[str, Any], number: str, nik: str) -> dict[str, Any]:
    tracker = make_tracker(
        sender_id=unique_sender(), text=nik, intent="check_application_status",
        slots={"registration_number": number, "nik": nik},
    )  # fmt: skip
    return action_call("action_application_status", tracker, domain)


def _complaint_body(domain: dict[str, Any], index: int) -> dict[str, Any]:
    tracker = make_tracker(
        sender_id=unique_sender("whatsapp"), text="ya", intent="affirm",
        metadata={"channel": "whatsapp", "contact": "+6281200000000"},
        slots={"complaint_category": "lampu_jalan", "location": f"Jalan Bench {index}",
               "complaint_description": "Lampu jalan mati tiga titik",
               "complaint_confirmed": True},
        active_loop="complaint_form",
    )  # fmt: skip
    return action_call("action_submit_complaint", tracker, domain)


async def _measure(
    url: str, bodies: list[dict[str, Any]], concurrency: int
) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(body: dict[str, Any]) -> float:
            async with gate:
                seconds, answer = await post_action(session, url, body)
            if not answer.get("responses"):
                raise RuntimeError(f"Empty answer from the action server: {answer}")
            return seconds

        return list(await asyncio.gather(*[one(body) for body in bodies]))


async def bench_backend(
    name: str, url: str, *, requests: int, concurrency: int, log_dir: Path
) -> None:
    """Print the latencies of one backend."""
    number, nik = _prepare(url)
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    process, server = action_server(database_url=url, log_path=log_dir / f"{name}.log")
    process.start()
    try:
        await _measure(server, [_status_body(domain, number, nik)] * WARMUP, 1)
        for label, make in [
            ("status lookup", lambda i: _status_body(domain, number, nik)),
            ("complaint submission", lambda i: _complaint_body(domain, i)),
        ]:
            for level in sorted({1, concurrency}):
                bodies = [make(i) for i in range(requests)]
                seconds = await _measure(server, bodies, level)
                print(
                    f"{name:10} {label:21} concurrency {level:2}  {summary_ms(seconds)}"
                )
    finally:
        process.stop()


async def main(requests: int, concurrency: int) -> None:
    """Bench SQLite and PostgreSQL one after the other."""
    with tempfile.TemporaryDirectory(prefix="bench-actions-") as folder:
        log_dir = Path(folder)
        await bench_backend(
            "sqlite", f"sqlite:///{log_dir / 'bench.db'}",
            requests=requests, concurrency=concurrency, log_dir=log_dir,
        )  # fmt: skip
        url = create_scratch_postgres(POSTGRES_URL)
        try:
            await bench_backend(
                "postgresql", url, requests=requests, concurrency=concurrency,
                log_dir=log_dir,
            )  # fmt: skip
        finally:
            drop_scratch_postgres(POSTGRES_URL, url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    print(
        f"action server latency, {args.requests} requests per row "
        "(real `rasa run actions` on 127.0.0.1)"
    )
    asyncio.run(main(args.requests, args.concurrency))
