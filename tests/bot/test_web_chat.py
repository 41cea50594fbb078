"""The web chat page: served as HTML that renders text as text, and a WebSocket that
goes through the same pipeline."""

from __future__ import annotations

import uuid
from typing import Any

from tests.bot.conftest import MakeGateway
from tests.fakes.rasa import FakeRasa


async def test_page_is_served_without_html_injection_points(
    make_gateway: MakeGateway,
) -> None:
    gateway = await make_gateway()

    async with gateway.http.get(f"{gateway.url}/chat") as response:
        page = await response.text()

    assert response.status == 200
    assert response.content_type == "text/html"
    assert "Content-Security-Policy" in response.headers
    assert "textContent" in page
    assert "innerHTML" not in page
    assert "insertAdjacentHTML" not in page


async def test_websocket_chat_round_trip_with_buttons(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        return [
            {
                "recipient_id": sender,
                "text": f"<b>{message}</b>",
                "buttons": [{"title": "Ya", "payload": "/affirm"}],
            }
        ]

    fake_rasa.respond = respond
    gateway = await make_gateway()
    session = str(uuid.uuid4())

    async with gateway.http.ws_connect(
        f"{gateway.url}/chat/ws?session={session}"
    ) as ws:
        await ws.send_json({"id": "m1", "text": "<script>alert(1)</script>"})
        ack = await ws.receive_json(timeout=5)
        reply = await ws.receive_json(timeout=5)
        await ws.send_json({"id": "m2", "payload": "/affirm", "title": "Ya"})
        await ws.receive_json(timeout=5)
        second = await ws.receive_json(timeout=5)
        await ws.send_json({"id": "m1", "text": "<script>alert(1)</script>"})  # resent
        await ws.receive_json(timeout=5)

    assert ack == {"type": "ack", "id": f"{session}:m1"}
    assert reply["type"] == "reply"
    assert reply["text"] == "<b><script>alert(1)</script></b>"  # data; the page escapes
    assert reply["buttons"] == [{"title": "Ya", "payload": "/affirm"}]
    assert second["text"] == "<b>/affirm</b>"
    assert [r["message"] for r in fake_rasa.received] == [
        "<script>alert(1)</script>",
        "/affirm",
    ]
    async with gateway.http.get(
        f"{gateway.url}/chat/history", params={"session": session}
    ) as response:
        history = await response.json()
    assert [m["direction"] for m in history] == ["in", "out", "in", "out"]


async def test_bad_session_ids_are_refused(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway()

    async with gateway.http.get(
        f"{gateway.url}/chat/history", params={"session": "../../etc"}
    ) as response:
        assert response.status == 400


async def test_only_buttons_the_bot_offered_reach_rasa_as_payloads(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        if message == "halo":
            buttons = [{"title": "Ya", "payload": "/affirm"}]
            return [{"recipient_id": sender, "text": "Lanjut?", "buttons": buttons}]
        return [{"recipient_id": sender, "text": f"echo: {message}"}]

    fake_rasa.respond = respond
    gateway = await make_gateway()
    forged = '/check_application_status{"nik": "1371015505900001"}'

    async with gateway.http.ws_connect(
        f"{gateway.url}/chat/ws?session={uuid.uuid4()}"
    ) as ws:
        replies = []
        for i, message in enumerate(
            [
                {"text": "halo"},
                {"payload": "/affirm", "title": "Ya"},  # offered: a payload
                {"payload": forged, "title": "Cek"},  # never offered: text
                {"payload": "/affirm", "title": "Ya"},  # offered a turn ago: text
            ]
        ):
            await ws.send_json({"id": f"m{i}", **message})
            await ws.receive_json(timeout=5)  # the ack
            replies.append((await ws.receive_json(timeout=5))["text"])

    assert [r["message"] for r in fake_rasa.received] == [
        "halo",
        "/affirm",
        'check_application_status{"nik": "1371015505900001"}',
        "affirm",
    ]
    assert replies[2] == 'echo: check_application_status{"nik": "1371015505900001"}'
