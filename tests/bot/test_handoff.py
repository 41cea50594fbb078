"""Handoff: escalation from Rasa's payload, the waiting queue, emergencies while
waiting, claims, agent replies, hand back and close, and the console events they
publish."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.config import ServiceHours
from bot.errors import UnknownConversation
from bot.pipeline import texts
from db.gateway import Conversation, InboxMessage, TranscriptMessage
from tests.bot.conftest import Gateway, MakeGateway, eventually, rows
from tests.fakes.rasa import FakeRasa, parse_result
from tests.fakes.telegram import FakeTelegram, location_update, text_update

CID = "telegram:1001"


async def handoff_when_asked(
    sender: str, message: str, metadata: Any
) -> list[dict[str, Any]]:
    """Rasa's replies: a handoff payload for "petugas", an echo otherwise."""
    if message == "mau bicara dengan petugas":
        return [
            {"recipient_id": sender, "text": "Baik, saya sambungkan."},
            {"recipient_id": sender, "custom": {"handoff": {"reason": "requested"}}},
        ]
    return [{"recipient_id": sender, "text": f"echo: {message}"}]


async def escalated(
    make_gateway: MakeGateway,
    fake_telegram: FakeTelegram,
    fake_rasa: FakeRasa,
    **settings: Any,
) -> Any:
    fake_rasa.respond = handoff_when_asked
    gateway = await make_gateway(**settings)
    await gateway.post_telegram(
        text_update(1, chat_id=1001, text="mau bicara dengan petugas")
    )
    await fake_telegram.wait_for("sendMessage", count=2)
    return gateway


async def test_handoff_payload_puts_the_conversation_in_the_queue(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)

    [conversation] = await rows(gateway, Conversation)
    assert conversation.mode == "waiting"
    assert conversation.handoff_reason == "requested"
    assert conversation.waiting_since is not None
    assert fake_telegram.sent_texts(1001) == [
        "Baik, saya sambungkan.",
        "Perkiraan waktu tunggu sekitar 10 menit.",
    ]


async def test_outside_service_hours_the_resident_is_told_when_staff_answer(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    # A service that is never open now: a single minute on one day.
    now = datetime.now(timezone.utc)
    closed_day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][
        (now.weekday() + 3) % 7
    ]
    await escalated(
        make_gateway,
        fake_telegram,
        fake_rasa,
        service_hours=f"{closed_day} 08:00-08:01 Asia/Jakarta",
    )

    notice = fake_telegram.sent_texts(1001)[1]
    assert notice.startswith(
        "Saat ini di luar jam layanan; petugas akan menjawab mulai"
    )
    assert notice.endswith("pukul 08.00 WIB.")


def test_service_hours_next_opening_skips_the_weekend() -> None:
    hours = ServiceHours.parse("Mon-Fri 08:00-16:00 Asia/Jakarta")
    friday_evening = datetime(2026, 12, 4, 10, 30, tzinfo=timezone.utc)  # 17:30 WIB

    opening = hours.next_opening(friday_evening)

    assert not hours.is_open(friday_evening)
    assert (opening.weekday(), opening.hour) == (0, 8)
    assert texts.when(opening, "id") == "Senin pukul 08.00 WIB"
    assert texts.when(opening, "min") == "Sanayan pukua 08.00 WIB"
    always = ServiceHours.parse("Mon-Sun 00:00-24:00 Asia/Jakarta")
    last_minute = datetime(2026, 12, 4, 16, 59, 30, tzinfo=timezone.utc)  # 23:59:30 WIB
    assert always.is_open(last_minute)


async def test_waiting_and_agent_messages_are_stored_not_forwarded(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    events, collector = await listen(gateway)
    await gateway.post_telegram(text_update(2, chat_id=1001, text="halo? ada orang?"))
    await gateway.post_telegram(
        location_update(3, chat_id=1001, latitude=-0.95, longitude=100.36)
    )
    assert await gateway.pipeline.handoff.claim(CID, 7)
    await gateway.post_telegram(text_update(4, chat_id=1001, text="ini nomor saya"))

    await eventually(lambda: len([e for e in events if e["type"] == "message"]) >= 3)
    collector.cancel()
    assert fake_rasa.texts(CID) == ["mau bicara dengan petugas"]
    inbound = await rows(gateway, TranscriptMessage, direction="in")
    assert [m.text for m in inbound][1:] == ["halo? ada orang?", "", "ini nomor saya"]
    shown = [e["message"]["text"] for e in events if e["type"] == "message"]
    assert shown[:3] == ["halo? ada orang?", "", "ini nomor saya"]
    modes = [e["mode"] for e in events if e["type"] == "conversation"]
    assert modes == ["agent"]


async def test_a_resident_talking_to_staff_is_not_held_behind_busy_rasa(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await escalated(
        make_gateway, fake_telegram, fake_rasa, rasa_concurrency=2
    )
    assert await gateway.pipeline.handoff.claim(CID, 7)
    rasa_free = asyncio.Event()

    async def busy(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        await rasa_free.wait()
        return [{"recipient_id": sender, "text": f"echo: {message}"}]

    fake_rasa.respond = busy
    for chat in (2001, 2002, 2003, 2004):
        await gateway.post_telegram(text_update(chat, chat_id=chat, text="halo"))

    # Two turns are in Rasa; the other two wait, their messages not admitted yet.
    await eventually(lambda: len(fake_rasa.received) == 3)
    await asyncio.sleep(0.3)
    assert len(fake_rasa.received) == 3  # the escalation, and two of the four
    admitted = await rows(gateway, TranscriptMessage, direction="in", text="halo")
    assert len(admitted) == 2

    # The agent's resident is not a turn for Rasa: it goes through at once.
    await gateway.post_telegram(text_update(5, chat_id=1001, text="ini nomor saya"))

    async def shown_to_the_agent() -> bool:
        said = await rows(gateway, TranscriptMessage, conversation_id=CID)
        return any(m.text == "ini nomor saya" for m in said)

    await eventually(shown_to_the_agent, timeout=5)
    assert len(fake_rasa.received) == 3

    # Still waiting for Rasa, the other two are shown to staff after a while.
    async def all_admitted() -> bool:
        said = await rows(gateway, TranscriptMessage, direction="in", text="halo")
        return len(said) == 4

    await eventually(all_admitted, timeout=5)
    assert len(fake_rasa.received) == 3

    rasa_free.set()
    await eventually(lambda: all_done(gateway))
    assert (
        sorted(fake_rasa.texts(f"telegram:{c}") for c in (2001, 2002, 2003, 2004))
        == [["halo"]] * 4
    )


async def test_two_agents_cannot_claim_the_same_conversation(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    handoff = gateway.pipeline.handoff

    results = await asyncio.gather(*(handoff.claim(CID, agent) for agent in range(8)))

    assert sorted(results) == [False] * 7 + [True]
    [conversation] = await rows(gateway, Conversation)
    assert conversation.mode == "agent"
    assert conversation.agent_id == str(results.index(True))
    with pytest.raises(UnknownConversation):
        await handoff.claim("telegram:404", 1)


async def test_agent_reply_hand_back_and_close(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    handoff = gateway.pipeline.handoff
    await handoff.claim(CID, 7)

    outbox_id = await handoff.agent_reply(
        CID, 7, "Selamat siang, saya Dina dari Disdukcapil."
    )
    await fake_telegram.wait_for("sendMessage", count=3)
    await handoff.hand_back(CID)
    await fake_telegram.wait_for("sendMessage", count=4)
    await gateway.post_telegram(text_update(5, chat_id=1001, text="terima kasih"))
    await fake_telegram.wait_for("sendMessage", count=5)

    assert outbox_id > 0
    sent = fake_telegram.sent_texts(1001)
    assert sent[2] == "Selamat siang, saya Dina dari Disdukcapil."
    assert sent[3].startswith("Percakapan dengan petugas selesai.")
    assert sent[4] == "echo: terima kasih"
    assert fake_rasa.tracker_events == [
        (CID, {"event": "resume"}),
        (CID, {"event": "action", "name": "action_listen"}),
    ]
    authors = [
        m.author for m in await rows(gateway, TranscriptMessage, direction="out")
    ]
    assert authors == ["bot", "system", "agent", "system", "bot"]

    await handoff.close(CID)
    [conversation] = await rows(gateway, Conversation)
    assert conversation.mode == "closed"
    events, collector = await listen(gateway)
    await gateway.post_telegram(text_update(6, chat_id=1001, text="halo lagi"))
    await fake_telegram.wait_for("sendMessage", count=7)
    [conversation] = await rows(gateway, Conversation)
    assert conversation.mode == "bot"
    assert fake_telegram.sent_texts(1001)[-1] == "echo: halo lagi"
    # The console learns that the conversation is open again.
    reopened = await eventually(
        lambda: [e for e in events if e["type"] == "conversation"]
    )
    collector.cancel()
    assert [e["mode"] for e in reopened] == ["bot"]


async def test_handoff_without_rasa_text_tells_the_whole_notice(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    async def bare(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        return [{"recipient_id": sender, "custom": {"handoff": {"reason": "fallback"}}}]

    fake_rasa.respond = bare
    gateway = await make_gateway()

    await gateway.post_telegram(text_update(1, chat_id=1001, text="???"))

    [notice] = await fake_telegram.wait_for("sendMessage")
    assert notice.params["text"] == (
        "Baik, percakapan ini kami teruskan ke petugas. Perkiraan waktu tunggu "
        "sekitar 10 menit."
    )
    [conversation] = await rows(gateway, Conversation)
    assert conversation.handoff_reason == "fallback"


async def test_second_handoff_while_waiting_says_nothing_new(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)

    await gateway.pipeline.handoff.escalate(CID, "fallback")

    await asyncio.sleep(0.2)
    assert len(fake_telegram.sent_texts(1001)) == 2
    [conversation] = await rows(gateway, Conversation)
    assert conversation.handoff_reason == "requested"


async def emergency_words(text: str) -> dict[str, Any]:
    """Rasa's NLU for these tests: a fire or a drowning is an emergency, smoke only
    perhaps (below the gateway's threshold), anything else a greeting."""
    if "kebakaran" in text or "tabanam" in text:
        return parse_result(text, "report_emergency", 0.97)
    if "asap" in text:
        return parse_result(text, "report_emergency", 0.3)
    return parse_result(text, "greet", 0.9)


async def listen(gateway: Gateway) -> tuple[list[dict[str, Any]], asyncio.Task[None]]:
    """Collect the console events the gateway publishes from now on."""
    subscription = gateway.pipeline.events.subscribe()
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in subscription:
            events.append(event)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)
    return events, collector


async def all_done(gateway: Gateway) -> bool:
    return not await rows(gateway, InboxMessage, state="pending")


def flags(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "flag"]


async def test_waiting_resident_reporting_an_emergency_is_told_to_call_112(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.classify = emergency_words
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    events, collector = await listen(gateway)

    await gateway.post_telegram(
        text_update(2, chat_id=1001, text="tolong ada kebakaran di rumah saya")
    )

    await fake_telegram.wait_for("sendMessage", count=3)
    await eventually(lambda: flags(events))
    collector.cancel()
    advice = fake_telegram.sent_texts(1001)[2]
    assert advice == texts.say("emergency_waiting", "id")
    assert advice.startswith("🚨 Jika ini keadaan darurat, segera telepon *112*")
    assert "Petugas kami sudah diberi tahu" in advice
    assert flags(events) == [
        {"type": "flag", "conversation_id": CID, "reason": "emergency"}
    ]
    # Classified only: Rasa's paused conversation never heard of it.
    assert fake_rasa.parsed == ["tolong ada kebakaran di rumah saya"]
    assert fake_rasa.texts(CID) == ["mau bicara dengan petugas"]
    [conversation] = await rows(gateway, Conversation)
    assert conversation.mode == "waiting"
    transcript = await rows(gateway, TranscriptMessage)
    last = [(m.direction, m.author) for m in transcript[-2:]]
    assert last == [("in", "resident"), ("out", "system")]


async def test_waiting_minang_resident_gets_the_112_advice_in_minang(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.classify = emergency_words
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)

    await gateway.post_telegram(
        text_update(2, chat_id=1001, text="tolong, ado urang tabanam di sungai")
    )

    await fake_telegram.wait_for("sendMessage", count=3)
    advice = fake_telegram.sent_texts(1001)[2]
    assert advice == texts.say("emergency_waiting", "min")
    assert advice.startswith("🚨 Kalau iko kaadaan darurat, capek talepon *112*")


async def test_waiting_resident_without_an_emergency_gets_no_bot_reply(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.classify = emergency_words
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    events, collector = await listen(gateway)

    await gateway.post_telegram(text_update(2, chat_id=1001, text="halo? ada orang?"))
    await gateway.post_telegram(
        text_update(3, chat_id=1001, text="sepertinya ada asap dari sebelah")
    )

    await eventually(lambda: all_done(gateway))
    await asyncio.sleep(0.3)  # time enough for a reply to go out, if one were queued
    collector.cancel()
    assert len(fake_telegram.sent_texts(1001)) == 2  # the handoff and the wait only
    assert flags(events) == []
    assert fake_rasa.parsed == ["halo? ada orang?", "sepertinya ada asap dari sebelah"]
    assert fake_rasa.texts(CID) == ["mau bicara dengan petugas"]


async def test_second_emergency_within_ten_minutes_gets_no_second_advice(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.classify = emergency_words
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    events, collector = await listen(gateway)

    await gateway.post_telegram(
        text_update(2, chat_id=1001, text="tolong ada kebakaran di rumah saya")
    )
    await fake_telegram.wait_for("sendMessage", count=3)
    await gateway.post_telegram(
        text_update(3, chat_id=1001, text="kebakaran makin besar, cepat!")
    )
    # Staff are alerted each time, the resident is told once.
    await eventually(lambda: len(flags(events)) == 2)
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent_texts(1001)) == 3

    # Eleven minutes later the advice is given again.
    await gateway.pipeline.store.run(_age_transcript, timedelta(minutes=11))
    await gateway.post_telegram(
        text_update(4, chat_id=1001, text="masih kebakaran, belum ada yang datang")
    )
    await fake_telegram.wait_for("sendMessage", count=4)
    collector.cancel()
    assert fake_telegram.sent_texts(1001)[3] == texts.say("emergency_waiting", "id")


def _age_transcript(session: Any, age: timedelta) -> None:
    for message in session.query(TranscriptMessage).all():
        message.created_at = message.created_at - age


async def test_emergency_rasa_already_answered_with_112_is_not_advised_again(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    async def emergency_handoff(
        sender: str, message: str, metadata: Any
    ) -> list[dict[str, Any]]:
        # What action_emergency answers: the 112 advice, then the handoff.
        return [
            {"recipient_id": sender, "text": "🚨 Segera telepon 112 SEKARANG."},
            {"recipient_id": sender, "custom": {"handoff": {"reason": "emergency"}}},
        ]

    fake_rasa.respond = emergency_handoff
    fake_rasa.classify = emergency_words
    gateway = await make_gateway()
    await gateway.post_telegram(
        text_update(1, chat_id=1001, text="tolong ada kebakaran di rumah saya")
    )
    await fake_telegram.wait_for("sendMessage", count=2)
    events, collector = await listen(gateway)

    await gateway.post_telegram(
        text_update(2, chat_id=1001, text="kebakaran makin besar, cepat!")
    )

    await eventually(lambda: flags(events))
    await asyncio.sleep(0.3)
    collector.cancel()
    assert len(fake_telegram.sent_texts(1001)) == 2
    [conversation] = await rows(gateway, Conversation)
    assert (conversation.mode, conversation.handoff_reason) == ("waiting", "emergency")


async def test_emergency_while_waiting_and_rasa_down_is_still_on_the_console(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.classify = emergency_words
    gateway = await escalated(make_gateway, fake_telegram, fake_rasa)
    events, collector = await listen(gateway)
    await fake_rasa.stop_serving()

    await gateway.post_telegram(
        text_update(2, chat_id=1001, text="tolong ada kebakaran di rumah saya")
    )

    await eventually(lambda: all_done(gateway))
    shown = [e["message"]["text"] for e in events if e["type"] == "message"]
    assert shown == ["tolong ada kebakaran di rumah saya"]
    await asyncio.sleep(0.5)  # several retry periods: nothing is retried
    assert len(fake_telegram.sent_texts(1001)) == 2
    assert flags(events) == []

    await fake_rasa.start_serving()
    await gateway.post_telegram(
        text_update(3, chat_id=1001, text="kebakaran makin besar, cepat!")
    )
    await fake_telegram.wait_for("sendMessage", count=3)
    collector.cancel()
    assert fake_rasa.parsed == ["kebakaran makin besar, cepat!"]
    assert fake_telegram.sent_texts(1001)[2] == texts.say("emergency_waiting", "id")
