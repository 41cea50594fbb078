"""Conversations through the gateway and the real Rasa and action servers (the trained
model), with the fake Telegram and Twilio servers on the residents' side."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.pipeline import texts
from bot.pipeline.router import EMERGENCY_CONFIDENCE
from db.gateway import Conversation, InboxMessage
from tests.bot.conftest import MakeGateway, eventually, rows
from tests.bot.test_whatsapp import send_inbound
from tests.fakes.telegram import FakeTelegram, photo_update, text_update
from tests.fakes.twilio import FakeTwilio, inbound_form
from tests.support.servers import RasaStack

pytestmark = pytest.mark.rasa

REPO = Path(__file__).resolve().parents[2]


def response_text(name: str, language: str) -> str:
    """The text of response ``name`` in ``language`` as domain.yml has it."""
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    for variant in domain["responses"][name]:
        is_minang = variant.get("condition", []) == [
            {"type": "slot", "name": "language", "value": "min"}
        ]
        if is_minang == (language == "min"):
            return str(variant["text"])
    raise KeyError(name)


def real_rasa(stack: RasaStack) -> dict[str, Any]:
    """Gateway settings that point at the real servers."""
    return {
        "rasa_url": stack.rasa_url,
        "action_server_url": f"{stack.action_url}/webhook",
        "retry_base_s": 0.5,
        "retry_max_s": 2.0,
    }


async def test_telegram_resident_is_answered_in_their_language(
    rasa_stack: RasaStack, make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))

    await gateway.post_telegram(
        text_update(1, chat_id=2001, text="Selamat pagi min 🙏")
    )
    await fake_telegram.wait_for("sendMessage", timeout=60)
    await gateway.post_telegram(
        text_update(2, chat_id=2002, text="assalamualaikum uda, baa kaba?")
    )
    await fake_telegram.wait_for("sendMessage", count=2, timeout=60)

    assert fake_telegram.sent_texts(2001) == [response_text("utter_greet", "id")]
    assert fake_telegram.sent_texts(2002) == [response_text("utter_greet", "min")]


async def test_whatsapp_resident_gets_an_answer_and_a_photo_is_accepted(
    rasa_stack: RasaStack, make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))
    phone = "+6281234500001"

    await send_inbound(
        gateway, inbound_form(phone=phone, body="syarat bikin ktp el apa aja?")
    )
    await fake_twilio.wait_for_messages(1, timeout=60)
    await send_inbound(
        gateway,
        inbound_form(phone=phone, media=[(fake_twilio.media_url(), "image/jpeg")]),
    )
    await eventually(lambda: _all_done(gateway), timeout=60)

    assert "ktp" in fake_twilio.bodies(phone)[0].lower()
    events = (await _tracker(rasa_stack, f"whatsapp:{phone}"))["events"]
    intents = [
        e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"
    ]
    assert intents[-1] == "share_media"


async def _all_done(gateway: Any) -> bool:
    pending = await rows(gateway, InboxMessage, state="pending")
    return not pending


async def test_rasa_killed_mid_conversation_loses_no_message(
    rasa_stack: RasaStack, make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))
    sender = "telegram:2003"

    await gateway.post_telegram(text_update(10, chat_id=2003, text="halo kak"))
    await fake_telegram.wait_for("sendMessage", timeout=60)
    await asyncio.to_thread(rasa_stack.stop_rasa)
    try:
        await gateway.post_telegram(
            text_update(11, chat_id=2003, text="syarat bikin ktp el apa aja?")
        )
        await gateway.post_telegram(
            text_update(12, chat_id=2003, text="makasih banyak ya min")
        )
        await fake_telegram.wait_for("sendMessage", count=2, timeout=30)
        assert "gangguan" in fake_telegram.sent_texts(2003)[1]
        assert len(await rows(gateway, InboxMessage, state="pending")) == 2
    finally:
        await asyncio.to_thread(rasa_stack.start_rasa)

    await eventually(lambda: _all_done(gateway), timeout=120)
    thanks = response_text("utter_thank", "id")
    await eventually(lambda: fake_telegram.sent_texts(2003)[-1] == thanks, timeout=60)
    assert sum("gangguan" in t for t in fake_telegram.sent_texts(2003)) == 1
    tracker = await _tracker(rasa_stack, sender)
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said[-2:] == ["syarat bikin ktp el apa aja?", "makasih banyak ya min"]


async def _tracker(stack: RasaStack, sender: str) -> dict[str, Any]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.rasa_url}/conversations/{sender}/tracker") as response,
    ):
        return dict(await response.json())


async def test_handoff_through_rasa_and_back(
    rasa_stack: RasaStack, make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))
    cid = "telegram:2004"

    await gateway.post_telegram(
        text_update(20, chat_id=2004, text="tolong sambungkan ke operator")
    )
    [conversation] = await eventually(
        lambda: rows(gateway, Conversation, id=cid, mode="waiting"), timeout=60
    )
    assert conversation.handoff_reason
    await gateway.post_telegram(text_update(21, chat_id=2004, text="halo?"))
    await eventually(lambda: _all_done(gateway), timeout=30)
    forwarded = [
        e["text"]
        for e in (await _tracker(rasa_stack, cid))["events"]
        if e["event"] == "user"
    ]
    assert "halo?" not in forwarded

    assert await gateway.pipeline.handoff.claim(cid, 3)
    await gateway.pipeline.handoff.agent_reply(
        cid, 3, "Halo, saya petugas Disdukcapil."
    )
    await gateway.pipeline.handoff.hand_back(cid)
    # Rasa's handoff text, the wait, the agent's reply, the hand-back notice.
    await eventually(lambda: len(fake_telegram.sent_texts(2004)) >= 4, timeout=30)
    before = len(fake_telegram.sent_texts(2004))
    await gateway.post_telegram(
        text_update(22, chat_id=2004, text="makasih banyak ya min")
    )

    # The bot answers again, as the bot: the thanks, not a second handoff.
    await eventually(lambda: len(fake_telegram.sent_texts(2004)) > before, timeout=60)
    events = (await _tracker(rasa_stack, cid))["events"]
    resumed = [e["event"] for e in events].index("resume")
    said = [e["text"] for e in events[resumed:] if e["event"] == "user"]
    done = [e["name"] for e in events[resumed:] if e["event"] == "action"]
    assert said[0] == "makasih banyak ya min"
    assert "utter_thank" in done
    assert "action_handoff" not in done
    assert not (await _tracker(rasa_stack, cid))["paused"]


async def test_photo_without_text_goes_through_rasa(
    rasa_stack: RasaStack, make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))

    await gateway.post_telegram(photo_update(30, chat_id=2005))

    await eventually(lambda: _all_done(gateway), timeout=60)
    events = (await _tracker(rasa_stack, "telegram:2005"))["events"]
    [user] = [e for e in events if e["event"] == "user"]
    assert user["parse_data"]["intent"]["name"] == "share_media"
    assert user["parse_data"]["metadata"]["media"][0]["content_type"] == "image/jpeg"


async def test_serve_starts_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    import os
    import signal
    import sys

    import aiohttp

    from tests.support.servers import MODEL, free_port

    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make test` trains it first.")
    port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "TWILIO_", "PUBLIC_URL", "REDIS_URL"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        PORT=str(port),
        RASA_PORT=str(rasa_port),
        ACTIONS_PORT=str(actions_port),
        RASA_MODEL=str(MODEL),
        DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not any("Web chat:" in line for line in lines):
            raw = await asyncio.wait_for(process.stdout.readline(), timeout=300)
            if not raw:
                break
            lines.append(raw.decode(errors="replace"))
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            health = await response.json()
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        lines.extend(rest.decode(errors="replace").splitlines(keepends=True))

    output = "".join(lines)
    assert f"http://127.0.0.1:{port}/chat" in output, output[-3000:]
    assert health["ok"] is True
    assert {"rasa", "actions", "gateway"} <= {
        line.split("|")[0].strip() for line in lines if "|" in line
    }
    assert process.returncode == 0


async def test_waiting_resident_reporting_an_emergency_gets_the_112_advice(
    rasa_stack: RasaStack,
    rasa: Any,
    make_gateway: MakeGateway,
    fake_telegram: FakeTelegram,
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))
    emergencies = {
        2006: ("tolong ada kebakaran di rumah saya", "id"),
        2007: ("tolong, ado urang tabanam di sungai", "min"),
    }
    for text, _ in emergencies.values():
        intent = (await rasa.parse(text))["intent"]
        assert intent["name"] == "report_emergency"
        assert intent["confidence"] >= EMERGENCY_CONFIDENCE

    for chat_id, (text, _) in emergencies.items():
        await gateway.post_telegram(
            text_update(chat_id * 10, chat_id=chat_id, text="mau bicara dengan petugas")
        )
        await eventually(
            lambda chat_id=chat_id: rows(
                gateway, Conversation, id=f"telegram:{chat_id}", mode="waiting"
            ),
            timeout=60,
        )
        await gateway.post_telegram(
            text_update(chat_id * 10 + 1, chat_id=chat_id, text=text)
        )

    for chat_id, (_, language) in emergencies.items():
        advice = texts.say("emergency_waiting", language)
        await eventually(
            lambda chat_id=chat_id, advice=advice: (
                fake_telegram.sent_texts(chat_id)[-1:] == [advice]
            ),
            timeout=60,
        )
    forwarded = [
        e["text"]
        for e in (await _tracker(rasa_stack, "telegram:2006"))["events"]
        if e["event"] == "user"
    ]
    assert forwarded == ["mau bicara dengan petugas"]


async def test_a_forged_web_chat_button_is_read_as_text(
    rasa_stack: RasaStack, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(**real_rasa(rasa_stack))
    offered_session, forged_session = str(uuid.uuid4()), str(uuid.uuid4())
    payload = '/ask_requirements{"document":"kk"}'

    async with gateway.http.ws_connect(
        f"{gateway.url}/chat/ws?session={offered_session}"
    ) as ws:
        await ws.send_json({"id": "m1", "text": "apa syaratnya?"})
        await ws.receive_json(timeout=60)  # the ack
        menu = await ws.receive_json(timeout=60)
        assert payload in [b["payload"] for b in menu.get("buttons", [])]
        await ws.send_json({"id": "m2", "payload": payload, "title": "KK"})
        await ws.receive_json(timeout=60)  # the ack: stored, so "all done" waits for it
        await eventually(lambda: _all_done(gateway), timeout=60)
    # A payload would set the slot; the words alone name no registration number.
    forged = '/check_application_status{"registration_number": "X-1"}'
    async with gateway.http.ws_connect(
        f"{gateway.url}/chat/ws?session={forged_session}"
    ) as ws:
        await ws.send_json({"id": "m1", "payload": forged, "title": "Cek"})
        await ws.receive_json(timeout=60)  # the ack
        await eventually(lambda: _all_done(gateway), timeout=60)

    offered = await _tracker(rasa_stack, f"web:{offered_session}")
    assert offered["slots"]["document"] == "kk"
    tracker = await _tracker(rasa_stack, f"web:{forged_session}")
    [user] = [e for e in tracker["events"] if e["event"] == "user"]
    assert user["text"] == forged.lstrip("/")
    assert tracker["slots"]["registration_number"] is None
