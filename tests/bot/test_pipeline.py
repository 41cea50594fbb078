"""The pipeline's own behaviour against a fake Rasa: outages, restarts, odd messages,
health and metrics. Conversations with the real Rasa are in test_end_to_end.py."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from bot.app import PIPELINE
from bot.channels.base import Reply, split_text
from bot.pipeline import texts
from db.gateway import Conversation, InboxMessage, TranscriptMessage
from tests.bot.conftest import MakeGateway, eventually, rows
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import FakeTelegram, photo_update, text_update


async def test_rasa_down_resident_told_once_and_nothing_lost(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    await fake_rasa.stop_serving()

    for i, text in enumerate(["ktp saya hilang", "bagaimana caranya", "tolong"]):
        response = await gateway.post_telegram(
            text_update(i + 1, chat_id=1001, text=text)
        )
        assert response.status == 200
    await fake_telegram.wait_for("sendMessage")
    await asyncio.sleep(0.5)  # several retry periods while Rasa is down

    assert fake_telegram.sent_texts(1001) == [texts.say("outage", "id")]
    assert fake_telegram.sent_texts(1001)[0].startswith(
        "Maaf, sistem sedang ada gangguan"
    )
    pending = await rows(gateway, InboxMessage, state="pending")
    assert len(pending) == 3

    await fake_rasa.start_serving()
    await fake_telegram.wait_for("sendMessage", count=4, timeout=10)
    assert fake_telegram.sent_texts(1001)[1:] == [
        "echo: ktp saya hilang",
        "echo: bagaimana caranya",
        "echo: tolong",
    ]
    assert await rows(gateway, InboxMessage, state="pending") == []


async def test_a_second_outage_is_told_again(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    notice = texts.say("outage", "id")
    for update_id, text in [(1, "ktp saya hilang"), (2, "akta lahir")]:
        await fake_rasa.stop_serving()
        await gateway.post_telegram(text_update(update_id, chat_id=1001, text=text))
        await fake_telegram.wait_for("sendMessage", count=2 * update_id - 1)
        await fake_rasa.start_serving()
        await fake_telegram.wait_for("sendMessage", count=2 * update_id, timeout=10)

    assert fake_telegram.sent_texts(1001) == [
        notice,
        "echo: ktp saya hilang",
        notice,
        "echo: akta lahir",
    ]


async def test_messages_reach_the_console_while_rasa_is_down(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway(retry_base_s=30.0, retry_max_s=30.0)
    await fake_rasa.stop_serving()
    await gateway.post_telegram(text_update(1, chat_id=1001, text="ktp saya hilang"))
    await fake_telegram.wait_for("sendMessage")  # the outage notice; next try in 30 s

    await gateway.post_telegram(text_update(2, chat_id=1001, text="tolong dibalas"))

    inbound = await eventually(lambda: _texts_when(gateway, 2), timeout=3.0)
    assert inbound == ["ktp saya hilang", "tolong dibalas"]


async def _texts_when(gateway: Any, count: int) -> list[str] | None:
    inbound = await rows(gateway, TranscriptMessage, direction="in")
    return [m.text for m in inbound] if len(inbound) >= count else None


async def test_minang_resident_gets_the_outage_notice_in_minang(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    await fake_rasa.stop_serving()

    await gateway.post_telegram(
        text_update(1, chat_id=1001, text="ambo nio mambuek KTP baru, baa caronyo?")
    )
    await fake_telegram.wait_for("sendMessage")
    await fake_rasa.start_serving()
    await fake_telegram.wait_for("sendMessage", count=2)

    assert fake_telegram.sent_texts(1001)[0].startswith(
        "Maaf, sistem sadang ado gangguan"
    )
    assert fake_rasa.received[0]["metadata"]["language"] == "min"


async def test_indonesian_message_is_forwarded_with_its_language(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    await gateway.post_telegram(
        text_update(1, chat_id=1001, text="saya mau bikin KTP baru, gimana caranya?")
    )
    await gateway.post_telegram(text_update(2, chat_id=1001, text="🙏"))
    await fake_telegram.wait_for("sendMessage", count=2)

    first, emoji = fake_rasa.received
    assert first["metadata"]["language"] == "id"
    assert "language" not in emoji["metadata"]  # no words: no guess
    [conversation] = await rows(gateway, Conversation)
    assert conversation.language == "id"


async def test_action_server_down_empty_reply_is_an_outage(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.actions_up = False
    gateway = await make_gateway()

    await gateway.post_telegram(text_update(1, chat_id=1001, text="status aduan"))
    await fake_telegram.wait_for("sendMessage")
    assert "gangguan" in fake_telegram.sent_texts(1001)[0]

    fake_rasa.actions_up = True
    await fake_telegram.wait_for("sendMessage", count=2)
    assert fake_telegram.sent_texts(1001)[1] == "echo: status aduan"
    assert fake_rasa.texts("telegram:1001")[-1] == "status aduan"


async def test_restarted_gateway_resumes_its_inbox(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    first = await make_gateway()
    await fake_rasa.stop_serving()
    for i in range(3):
        await first.post_telegram(text_update(10 + i, chat_id=1001, text=f"pesan {i}"))
    await fake_telegram.wait_for("sendMessage")  # the outage notice
    await first.close()
    assert len(await _pending(first.settings.database_url)) == 3

    await fake_rasa.start_serving()
    second = await make_gateway(port=first.settings.port)

    await fake_telegram.wait_for("sendMessage", count=4)
    assert fake_telegram.sent_texts(1001)[1:] == [f"echo: pesan {i}" for i in range(3)]
    assert await rows(second, InboxMessage, state="pending") == []


async def _pending(database_url: str) -> list[Any]:
    from bot.pipeline.store import Store

    store = Store.from_url(database_url)
    try:
        return await store.run(
            lambda s: s.query(InboxMessage).filter_by(state="pending").all()
        )
    finally:
        store.close()


async def test_odd_messages_get_a_sensible_answer(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    long_text = "tolong " * 714  # ~5,000 characters

    await gateway.post_telegram(text_update(1, chat_id=1001, text="   "))
    await gateway.post_telegram(text_update(2, chat_id=1001, text="🙏🙏🙏"))
    await gateway.post_telegram(text_update(3, chat_id=1001, text=long_text))
    await gateway.post_telegram(photo_update(4, chat_id=1001))
    await gateway.post_telegram(text_update(5, chat_id=1001, text="<b>halo</b>"))

    await fake_telegram.wait_for("sendMessage", count=5)
    replies = fake_telegram.sent_texts(1001)
    assert replies[0] == "Maaf, pesan Anda kosong. Silakan tulis pertanyaan Anda."
    assert replies[1] == "echo: 🙏🙏🙏"
    assert len(fake_rasa.texts("telegram:1001")[1]) <= 2000
    assert fake_rasa.texts("telegram:1001")[2] == "/share_media"
    # The transcript keeps the whole long message.
    transcript = await rows(gateway, TranscriptMessage, direction="in")
    assert transcript[2].text == long_text


async def test_typed_intent_syntax_is_not_passed_to_rasa(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    await gateway.post_telegram(
        text_update(1, chat_id=1001, text='/check_application_status{"nik": "1371"}')
    )

    await fake_telegram.wait_for("sendMessage")
    assert not fake_rasa.texts("telegram:1001")[0].startswith("/")


async def test_healthz_reports_each_dependency(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    async with gateway.http.get(f"{gateway.url}/healthz") as response:
        up = await response.json()
        up_status = response.status
    fake_rasa.actions_up = False
    async with gateway.http.get(f"{gateway.url}/healthz") as response:
        down = await response.json()
        down_status = response.status

    assert up_status == 200
    assert (up["database"], up["rasa"], up["action_server"]) == ("up", "up", "up")
    assert set(up["channels"]) == {"telegram", "whatsapp", "web"}
    assert down_status == 503
    assert down["action_server"] == "down"


async def test_metrics_speak_the_prometheus_text_format(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    gateway = await make_gateway()
    await gateway.post_telegram(text_update(1, chat_id=1001, text="halo"))
    await fake_telegram.wait_for("sendMessage")
    await eventually(
        lambda: gateway.pipeline.metrics.value("messages_out_total", channel="telegram")
    )

    async with gateway.http.get(f"{gateway.url}/metrics") as response:
        text = await response.text()

    assert response.content_type == "text/plain"
    assert 'padang_gateway_messages_in_total{channel="telegram"} 1' in text
    assert 'padang_gateway_messages_out_total{channel="telegram"} 1' in text
    assert "# TYPE padang_gateway_webhook_latency_seconds histogram" in text
    assert 'padang_gateway_queue_depth{queue="inbox"} 0' in text


def test_split_text_prefers_sentence_then_word_boundaries() -> None:
    text = "Satu dua tiga. " * 10 + "x" * 30

    pieces = split_text(text, 40)

    assert all(len(p) <= 40 for p in pieces)
    assert pieces[0].endswith(".")
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert split_text("a" * 100, 30) == ["a" * 30, "a" * 30, "a" * 30, "a" * 10]
    assert split_text("", 10) == [""]


async def test_two_gateways_on_one_database_process_a_message_once(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.delay_s = 0.8  # the row stays pending while the other process sweeps
    first = await make_gateway(sweep_interval_s=0.05)
    await make_gateway(sweep_interval_s=0.05)

    await first.post_telegram(text_update(1, chat_id=1001, text="satu kali saja"))
    await first.post_telegram(text_update(2, chat_id=1001, text="dua"))

    await fake_telegram.wait_for("sendMessage", count=2)
    await asyncio.sleep(1.0)
    assert fake_rasa.texts("telegram:1001") == ["satu kali saja", "dua"]
    assert fake_telegram.sent_texts(1001) == ["echo: satu kali saja", "echo: dua"]


@pytest.mark.postgres
async def test_a_message_admitted_while_the_turn_before_ends_crosses_no_lock(
    postgres_database_url: str,  # first: it is dropped after the gateway stops
    make_gateway: MakeGateway,
    fake_telegram: FakeTelegram,
    fake_rasa: FakeRasa,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The router ends a turn (inbox row done, conversation updated, reply staged)
    while a second message is admitted for the console (inbox rows, then the
    conversation). On PostgreSQL both take row locks; in opposite orders one of the
    two transactions would be aborted as a deadlock."""
    gateway = await make_gateway(database_url=postgres_database_url)
    telegram = gateway.app[PIPELINE].channels["telegram"]
    render = telegram.render
    staging = threading.Event()

    def slow_render(reply: Reply) -> list[dict[str, Any]]:
        # Runs inside the turn's transaction: hold it open while message 2 comes.
        if not staging.is_set():
            staging.set()
            time.sleep(1.5)
        return render(reply)

    monkeypatch.setattr(telegram, "render", slow_render)
    caplog.set_level(logging.WARNING, logger="bot")

    await gateway.post_telegram(text_update(1, chat_id=1001, text="satu"))
    await eventually(staging.is_set)
    await gateway.post_telegram(text_update(2, chat_id=1001, text="dua"))

    await fake_telegram.wait_for("sendMessage", count=2)
    assert fake_telegram.sent_texts(1001) == ["echo: satu", "echo: dua"]
    assert fake_rasa.texts("telegram:1001") == ["satu", "dua"]
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == []
