"""The fake Telegram server speaks the Bot API well enough for the real PTB client."""

from __future__ import annotations

import pytest
import telegram
from telegram.error import Forbidden, RetryAfter

from tests.fakes.telegram import FakeTelegram, text_update


async def test_real_client_sends_and_gets_updates() -> None:
    async with FakeTelegram() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.api_url)
        async with bot:
            me = await bot.get_me()
            sent = await bot.send_message(1001, "Selamat pagi")
            fake.push_update(text_update(7, chat_id=1001, text="halo"))
            updates = await bot.get_updates(offset=0, timeout=1)

    assert me.username == "padang_uji_bot"
    assert sent.text == "Selamat pagi"
    assert fake.sent_texts(1001) == ["Selamat pagi"]
    assert [u.message.text for u in updates] == ["halo"]


async def test_fake_answers_flood_control_and_blocked() -> None:
    async with FakeTelegram() as fake:
        fake.fail_next("sendMessage", status=429, retry_after=3)
        fake.block(chat_id=1002)
        bot = telegram.Bot(fake.token, base_url=fake.api_url)
        async with bot:
            with pytest.raises(RetryAfter) as flood:
                await bot.send_message(1001, "satu")
            with pytest.raises(Forbidden):
                await bot.send_message(1002, "dua")

    assert flood.value.retry_after in (3, __import__("datetime").timedelta(seconds=3))
