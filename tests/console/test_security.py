"""The console's defences over HTTP: cookie flags, CSRF, Origin, CSP, login limits,
sessions, the WebSocket handshake and messages, and the add-agent command."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import pytest
from sqlalchemy import select

from bot.console.security import LOGIN_FAILURES_PER_ACCOUNT
from db import console as cdb
from db.engine import session_scope
from tests.console.conftest import PASSWORD
from tests.console.harness import Gateway, create_staff, start_gateway
from tests.console.test_api import escalate


def _jar_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_session_cookie_is_httponly_strict_and_scoped(gateway: Gateway) -> None:
    async with (
        _jar_session() as session,
        session.post(
            f"{gateway.console_url}login",
            data={"username": "ani", "password": PASSWORD},
        ) as response,
    ):
        header = response.headers["Set-Cookie"]

    assert response.status == 200
    assert "HttpOnly" in header
    assert "SameSite=Strict" in header
    assert "Path=/console" in header
    # Served over plain http here (PUBLIC_URL http://...): no Secure flag.
    assert "Secure" not in header


async def test_session_cookie_is_secure_when_the_public_url_is_https(
    database_url: str, engine, fake_telegram, fake_rasa
) -> None:
    create_staff(engine, "ani", PASSWORD)
    gateway = await start_gateway(
        database_url=database_url,
        telegram_api_url=fake_telegram.api_url,
        rasa_url=fake_rasa.url,
        public_url="https://layanan.padang.example",
    )
    try:
        async with (
            _jar_session() as session,
            session.post(
                f"{gateway.console_url}login",
                data={"username": "ani", "password": PASSWORD},
            ) as response,
        ):
            header = response.headers["Set-Cookie"]
    finally:
        await gateway.stop()

    assert response.status == 200
    assert "Secure" in header
    assert "HttpOnly" in header


async def test_pages_carry_a_strict_content_security_policy(gateway: Gateway) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{gateway.console_url}login") as response,
    ):
        policy = response.headers["Content-Security-Policy"]
        page = await response.text()

    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in page  # only external scripts: nothing inline


async def test_without_a_session_the_api_answers_401_and_pages_redirect(
    gateway: Gateway,
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.console_url}api/queue") as response:
            assert response.status == 401
        async with session.get(gateway.console_url, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/console/login"


async def test_a_post_without_the_csrf_token_is_refused(
    gateway: Gateway, staff_client, engine
) -> None:
    cid = await escalate(gateway)
    ani = await staff_client("ani")

    status, body = await ani.post(f"api/conversations/{cid}/claim", csrf=False)
    assert status == 403
    assert "csrf" in body["error"]
    ani_wrong = ani.csrf
    ani.csrf = "not-the-token"
    assert (await ani.post(f"api/conversations/{cid}/claim"))[0] == 403
    ani.csrf = ani_wrong

    queue = await ani.get("api/queue")
    assert [c["id"] for c in queue["waiting"]] == [cid]  # nothing was claimed


async def test_a_post_from_a_foreign_origin_is_refused(
    gateway: Gateway, staff_client
) -> None:
    cid = await escalate(gateway)
    ani = await staff_client("ani")
    ani.origin = "http://evil.example"

    status, body = await ani.post(f"api/conversations/{cid}/claim")

    assert status == 403
    assert "origin" in body["error"]


async def test_a_login_posted_from_another_site_is_refused(gateway: Gateway) -> None:
    async with (
        _jar_session() as session,
        session.post(
            f"{gateway.console_url}login",
            data={"username": "ani", "password": PASSWORD},
            headers={"Origin": "http://evil.example"},
        ) as response,
    ):
        assert response.status == 403
        assert "Set-Cookie" not in response.headers


async def test_failed_logins_are_limited_per_account(gateway: Gateway) -> None:
    async with _jar_session() as session:
        url = f"{gateway.console_url}login"
        for _ in range(LOGIN_FAILURES_PER_ACCOUNT):
            async with session.post(
                url, data={"username": "budi", "password": "salah-salah"}
            ) as response:
                assert response.status == 401
        # Even the right password is refused now, without being checked.
        async with session.post(
            url, data={"username": "budi", "password": PASSWORD}
        ) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) > 0
        # Another account from the same address still logs in.
        async with session.post(
            url, data={"username": "ani", "password": PASSWORD}
        ) as response:
            assert response.status == 200


async def test_failed_logins_are_limited_per_address(gateway: Gateway, engine) -> None:
    with session_scope(engine) as session:
        for i in range(20):
            cdb.audit(session, "login_failed", subject=f"tebak{i}", ip="127.0.0.1")

    async with (
        _jar_session() as session,
        session.post(
            f"{gateway.console_url}login",
            data={"username": "ani", "password": PASSWORD},
        ) as response,
    ):
        assert response.status == 429


async def test_logout_ends_the_session(gateway: Gateway, staff_client) -> None:
    ani = await staff_client("ani")

    assert (await ani.post("logout"))[0] == 200

    async with ani.session.get(f"{ani.base}api/queue") as response:
        assert response.status == 401


async def test_websocket_refuses_a_foreign_origin(
    gateway: Gateway, staff_client
) -> None:
    ani = await staff_client("ani")

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await ani.session.ws_connect(
            f"{ani.base}ws", headers={"Origin": "http://evil.example"}
        )

    assert refused.value.status == 403


async def test_websocket_messages_need_the_csrf_token(
    gateway: Gateway, staff_client
) -> None:
    ani = await staff_client("ani")

    async with ani.session.ws_connect(
        f"{ani.base}ws", headers={"Origin": ani.origin}
    ) as ws:
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_str(json.dumps({"type": "ping", "csrf": ani.csrf}))
        assert (await ws.receive_json())["type"] == "pong"
        await ws.send_str(json.dumps({"type": "ping", "csrf": "falsch"}))
        message = await ws.receive()

    assert message.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4403


async def test_websocket_pushes_a_resident_message_live(
    gateway: Gateway, staff_client
) -> None:
    ani = await staff_client("ani")
    async with ani.session.ws_connect(
        f"{ani.base}ws", headers={"Origin": ani.origin}
    ) as ws:
        await ws.receive_json()
        cid = await escalate(gateway)
        seen = []
        while not any(e.get("type") == "conversation" for e in seen):
            seen.append(await ws.receive_json(timeout=10))

    assert any(e.get("conversation_id") == cid for e in seen)
    # Only what a page needs to refresh travels on the socket, not the texts.
    assert all("message" not in e and "text" not in e for e in seen)


def test_add_agent_command_creates_a_hashed_account(database_url: str, engine) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.console",
            "add-agent",
            "dewi",
            "--role",
            "supervisor",
            "--name",
            "Dewi Lestari",
            "--password-stdin",
            "--database-url",
            database_url,
        ],
        input="kata-sandi-dewi-1\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "Created supervisor 'dewi'" in done.stdout
    with session_scope(engine) as session:
        agent = session.execute(
            select(cdb.Agent).where(cdb.Agent.username == "dewi")
        ).scalar_one()
        assert agent.display_name == "Dewi Lestari"
        assert agent.password_hash.startswith("scrypt$")
        assert cdb.authenticate(session, "dewi", "kata-sandi-dewi-1") is not None
