"""Two gateway processes on one PostgreSQL database and one Redis: one console.

An agent connected to B sees live what a resident sent to A, and two agents on the two
processes still cannot claim the same conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from db.engine import make_engine
from db.migrate import upgrade
from tests.console.conftest import PASSWORD, StaffClient
from tests.console.fake_rasa import FakeRasa
from tests.console.harness import Gateway, create_staff, start_gateway
from tests.console.test_api import escalate
from tests.db.fixtures import create_scratch_postgres, drop_scratch_postgres
from tests.fakes.telegram import FakeTelegram, text_update

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A migrated scratch PostgreSQL database with the staff accounts."""
    url = create_scratch_postgres(postgres_url)
    try:
        upgrade(url)
        engine = make_engine(url)
        create_staff(engine, "ani", PASSWORD)
        create_staff(engine, "budi", PASSWORD)
        create_staff(engine, "sari", PASSWORD, role="supervisor")
        engine.dispose()
        yield url
    finally:
        drop_scratch_postgres(postgres_url, url)


@pytest.fixture
async def two_gateways(
    pg_database: str, redis_url: str, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Gateways A and B on one database and one Redis."""
    gateways = [
        await start_gateway(
            database_url=pg_database,
            telegram_api_url=fake_telegram.api_url,
            rasa_url=fake_rasa.url,
            redis_url=redis_url,
        )
        for _ in range(2)
    ]
    yield gateways[0], gateways[1]
    await asyncio.gather(*(g.stop() for g in gateways))


async def _client(gateway: Gateway, username: str, sessions: list[Any]) -> StaffClient:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    sessions.append(session)
    client = StaffClient(session, gateway.console_url)
    assert (await client.login(username)).status == 200
    return client


async def test_one_console_over_two_gateways(
    two_gateways: tuple[Gateway, Gateway], fake_telegram: FakeTelegram
) -> None:
    a, b = two_gateways
    sessions: list[Any] = []
    try:
        ani = await _client(b, "ani", sessions)
        budi = await _client(a, "budi", sessions)
        async with ani.session.ws_connect(
            f"{ani.base}ws", headers={"Origin": ani.origin}
        ) as ws:
            await ws.receive_json()
            cid = await escalate(a, 880500, first=70)
            queue = await ani.get("api/queue")
            assert [c["id"] for c in queue["waiting"]] == [cid]

            results = await asyncio.gather(
                ani.post(f"api/conversations/{cid}/claim"),
                budi.post(f"api/conversations/{cid}/claim"),
            )
            assert sorted(status for status, _ in results) == [200, 409]

            await a.post_update(text_update(80, chat_id=880500, text="lewat proses A"))
            seen: list[dict[str, Any]] = []
            while not any(
                e.get("type") == "message"
                and e.get("author") == "resident"
                and e.get("conversation_id") == cid
                and e.get("message_id")
                for e in seen[-1:]
            ):
                seen.append(await ws.receive_json(timeout=10))

        winner = ani if results[0][0] == 200 else budi
        await winner.post(f"api/conversations/{cid}/reply", {"text": "Dari petugas."})
        await a.settle()
        await b.settle()
        assert "Dari petugas." in fake_telegram.sent_texts(880500)
        page = await winner.get(f"api/conversations/{cid}")
        assert "lewat proses A" in [m["text"] for m in page["messages"]]
    finally:
        for session in sessions:
            await session.close()


async def test_supervisor_figures_on_postgresql(
    two_gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = two_gateways
    sessions: list[Any] = []
    try:
        await escalate(a, 880600, first=90)
        sari = await _client(b, "sari", sessions)
        ani = await _client(a, "ani", sessions)
        await ani.post("api/conversations/telegram:880600/claim")
        await ani.post("api/conversations/telegram:880600/reply", {"text": "Halo"})

        stats = await sari.get("api/stats")
        audit = await sari.get("api/audit")
        complaints = await sari.get("api/complaints?status=diterima")
    finally:
        for session in sessions:
            await session.close()

    assert stats["agents"] == [{"agent": "ani", "active": 1, "handled_7d": 1}]
    assert {"claim", "reply", "login"} <= {e["action"] for e in audit["audit"]}
    assert complaints["complaints"] == []
