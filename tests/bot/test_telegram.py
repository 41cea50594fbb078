"""Telegram through the real python-telegram-bot client against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import telegram
from telegram import error as tg_error

from bot.channels.base import Reply
from bot.channels.telegram_http import AiohttpRequest
from db.gateway import Conversation, InboxMessage, OutboxMessage
from tests.bot.conftest import MakeGateway, eventually, rows
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import (
    JPEG_BYTES,
    FakeTelegram,
    callback_update,
    channel_post_update,
    contact_update,
    edited_update,
    group_text_update,
    location_update,
    member_update,
    photo_update,
    text_update,
)


async def test_text_message_is_answered_in_the_same_chat(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    response = await gateway.post_telegram(text_update(1, chat_id=1001, text="halo"))

    assert response.status == 200
    await fake_telegram.wait_for("sendMessage")
    assert fake_telegram.sent_texts(1001) == ["echo: halo"]
    assert fake_rasa.received[0]["sender"] == "telegram:1001"
    assert fake_rasa.received[0]["metadata"]["channel"] == "telegram"
    assert fake_telegram.webhook_url == f"{gateway.url}/webhooks/telegram"
    assert fake_telegram.webhook_secret


async def test_forged_secret_token_is_refused_and_nothing_stored(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    wrong = await gateway.post_telegram(
        text_update(2, chat_id=1001, text="halo"), secret="tebakan"
    )
    missing = await gateway.post_telegram(
        text_update(3, chat_id=1001, text="halo"), secret=None
    )

    assert (wrong.status, missing.status) == (403, 403)
    assert await rows(gateway, InboxMessage) == []
    assert fake_rasa.received == []


async def test_malformed_and_oversized_bodies(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway()

    not_json = await gateway.post_telegram(b"{not json")
    not_update = await gateway.post_telegram(b'["a", "list"]')
    no_id = await gateway.post_telegram({"message": {"text": "halo"}})
    huge = await gateway.post_telegram(
        text_update(4, chat_id=1001, text="x" * (1024 * 1024 + 10))
    )

    assert [not_json.status, not_update.status, no_id.status] == [400, 400, 400]
    assert huge.status == 413
    assert await rows(gateway, InboxMessage) == []


async def test_other_update_kinds_and_groups_are_acknowledged_and_ignored(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    statuses = [
        (await gateway.post_telegram(update)).status
        for update in (
            channel_post_update(10, chat_id=-100123, text="pengumuman"),
            member_update(11, chat_id=1001),
            group_text_update(12, chat_id=-4001, text="halo grup"),
            {"update_id": 13, "poll": {"id": "1", "question": "?", "options": []}},
        )
    ]

    assert statuses == [200, 200, 200, 200]
    assert await rows(gateway, InboxMessage) == []
    assert fake_rasa.received == []
    assert fake_telegram.calls("sendMessage") == []


async def test_duplicate_update_is_processed_once(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    update = text_update(20, chat_id=1001, text="ktp hilang")

    first = await gateway.post_telegram(update)
    second = await gateway.post_telegram(update)

    assert (first.status, second.status) == (200, 200)
    await fake_telegram.wait_for("sendMessage")
    await eventually(
        lambda: gateway.pipeline.metrics.value("duplicates_total", channel="telegram")
    )
    assert fake_rasa.texts("telegram:1001") == ["ktp hilang"]
    assert len(await rows(gateway, InboxMessage)) == 1


async def test_messages_of_one_chat_are_processed_and_answered_in_order(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.delay_s = 0.02
    gateway = await make_gateway()
    texts = [f"pesan {i}" for i in range(12)]

    for i, text in enumerate(texts):
        await gateway.post_telegram(text_update(100 + i, chat_id=1001, text=text))
        await gateway.post_telegram(text_update(200 + i, chat_id=1002, text=text))

    await fake_telegram.wait_for("sendMessage", count=24, timeout=20)
    assert fake_rasa.texts("telegram:1001") == texts
    assert fake_telegram.sent_texts(1001) == [f"echo: {t}" for t in texts]
    assert fake_telegram.sent_texts(1002) == [f"echo: {t}" for t in texts]


async def test_photo_location_contact_edit_and_start_reach_rasa_with_metadata(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    for update in (
        text_update(30, chat_id=1001, text="/start"),
        photo_update(31, chat_id=1001, caption="jalan berlubang"),
        photo_update(32, chat_id=1001),
        location_update(33, chat_id=1001, latitude=-0.9471, longitude=100.4172),
        contact_update(34, chat_id=1001, phone_number="+6281200000001"),
        edited_update(35, chat_id=1001, text="jalan rusak parah", message_id=31),
    ):
        assert (await gateway.post_telegram(update)).status == 200

    await fake_telegram.wait_for("sendMessage", count=6)
    got = fake_rasa.received
    assert [r["message"] for r in got] == [
        "/greet",
        "jalan berlubang",
        "/share_media",
        "/share_location",
        "+6281200000001",
        "jalan rusak parah",
    ]
    media = got[1]["metadata"]["media"][0]
    assert media["content_type"] == "image/jpeg"
    assert media["file_id"].endswith("s1280")  # the largest size
    assert fake_telegram.token not in json.dumps(got)
    assert got[3]["metadata"]["location"] == {
        "latitude": -0.9471,
        "longitude": 100.4172,
    }
    assert got[4]["metadata"]["contact"] == "+6281200000001"
    assert got[5]["metadata"]["edited"] is True


async def test_buttons_become_an_inline_keyboard_and_a_press_is_answered(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    long_payload = (
        '/ask_requirements{"document": "akta_kelahiran", "request_type": "baru"}'
    )

    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        if message == "menu":
            return [
                {
                    "recipient_id": sender,
                    "text": "Pilih layanan:",
                    "buttons": [
                        {"title": "KTP-el", "payload": "/ask_requirements"},
                        {"title": "Akta kelahiran", "payload": long_payload},
                    ],
                }
            ]
        return [{"recipient_id": sender, "text": f"ok {message}"}]

    fake_rasa.respond = respond
    gateway = await make_gateway()

    await gateway.post_telegram(text_update(40, chat_id=1001, text="menu"))
    [menu] = await fake_telegram.wait_for("sendMessage")
    keyboard = menu.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["KTP-el", "Akta kelahiran"]
    assert keyboard[0][0]["callback_data"] == "/ask_requirements"
    assert len(keyboard[1][0]["callback_data"].encode()) <= 64

    await gateway.post_telegram(
        callback_update(41, chat_id=1001, data=keyboard[1][0]["callback_data"])
    )
    await fake_telegram.wait_for("answerCallbackQuery")
    await fake_telegram.wait_for("editMessageReplyMarkup")
    await fake_telegram.wait_for("sendMessage", count=2)
    assert fake_rasa.texts("telegram:1001") == ["menu", long_payload]


async def test_flood_control_retry_after_is_honoured(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1)
    gateway = await make_gateway()

    await gateway.post_telegram(text_update(50, chat_id=1001, text="satu"))
    await gateway.post_telegram(text_update(51, chat_id=1001, text="dua"))

    calls = await fake_telegram.wait_for("sendMessage", count=3)
    assert calls[1].at - calls[0].at >= 1.0
    assert fake_telegram.sent_texts(1001) == ["echo: satu", "echo: satu", "echo: dua"]
    first = (await rows(gateway, OutboxMessage))[0]
    assert (first.state, first.attempts) == ("sent", 2)  # one refused, one sent


async def test_blocked_resident_is_marked_unreachable_not_retried(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.block(chat_id=1003)
    gateway = await make_gateway()

    await gateway.post_telegram(text_update(60, chat_id=1003, text="halo"))
    await eventually(lambda: rows(gateway, Conversation, unreachable=True))
    await asyncio.sleep(1.0)  # ten retry periods of the test settings
    later = await gateway.pipeline.outbox.enqueue("telegram:1003", Reply("Info baru"))

    assert len(fake_telegram.calls("sendMessage")) == 1
    states = {r.id: r.state for r in await rows(gateway, OutboxMessage)}
    assert set(states.values()) == {"unreachable"}
    assert states[later] == "unreachable"


async def test_long_reply_is_split_at_sentence_ends(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    sentence = "Syarat pembuatan KTP-el adalah fotokopi Kartu Keluarga. "
    long_text = sentence * 200  # ~11,400 characters

    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        return [{"recipient_id": sender, "text": long_text}]

    fake_rasa.respond = respond
    gateway = await make_gateway()

    await gateway.post_telegram(text_update(70, chat_id=1001, text="syarat ktp"))

    await eventually(lambda: len(fake_telegram.calls("sendMessage")) >= 3)
    await eventually(lambda: rows(gateway, OutboxMessage, state="sent"))
    await eventually(
        lambda: len(fake_telegram.sent_texts(1001)) == len(long_text) // 4000 + 1
    )
    pieces = fake_telegram.sent_texts(1001)
    assert all(len(p) <= 4096 for p in pieces)
    assert all(p.endswith("Keluarga.") for p in pieces)
    assert " ".join(pieces) == long_text.strip()


async def test_long_polling_without_public_url(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    await make_gateway(public_url="")
    await fake_telegram.wait_for("deleteWebhook")

    fake_telegram.push_update(text_update(80, chat_id=1001, text="dari laptop"))
    fake_telegram.push_update(text_update(81, chat_id=1001, text="kedua"))

    await fake_telegram.wait_for("sendMessage", count=2)
    assert fake_telegram.sent_texts(1001) == ["echo: dari laptop", "echo: kedua"]
    offsets = [c.params.get("offset") for c in fake_telegram.calls("getUpdates")]
    assert "82" in [str(o) for o in offsets]


async def test_a_residents_photo_can_be_fetched_for_the_console(
    make_gateway: MakeGateway, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    await gateway.post_telegram(photo_update(90, chat_id=1001, caption="sampah"))
    await fake_telegram.wait_for("sendMessage")
    [entry] = fake_rasa.received[0]["metadata"]["media"]

    body, content_type = await gateway.pipeline.channels["telegram"].fetch_media(entry)

    assert body == JPEG_BYTES
    assert content_type == "image/jpeg"


async def test_shutting_down_lets_a_send_under_way_finish(
    fake_telegram: FakeTelegram,
) -> None:
    # Cut off, a message Telegram took would be sent again after the restart.
    bot = telegram.Bot(
        fake_telegram.token,
        base_url=fake_telegram.api_url,
        request=AiohttpRequest(connection_pool_size=4),
    )
    await bot.initialize()
    fake_telegram.latency_s = 0.5
    under_way = asyncio.create_task(bot.send_message(1001, "satu"))
    await asyncio.sleep(0.1)

    await bot.shutdown()

    assert (await under_way).text == "satu"
    with pytest.raises(tg_error.NetworkError, match="closed"):
        await bot.send_message(1001, "dua")
    assert fake_telegram.sent_texts(1001) == ["satu"]
