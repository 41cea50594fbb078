"""Telegram through the real python-telegram-bot client against the fake Bot API."""

from __future__ import annotations

from tests.bot.conftest import MakeGateway, eventually
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import FakeTelegram, text_update


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
    await eventually(lambda: True)
