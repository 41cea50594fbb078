"""WhatsApp through the real twilio client against the fake Twilio REST API."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.channels import whatsapp
from bot.channels.whatsapp import WhatsAppChannel
from bot.errors import PermanentFailure, RetryLater
from bot.metrics import Metrics
from db.gateway import (
    Conversation,
    DeliveryStatus,
    InboxMessage,
    OutboxMessage,
    utcnow,
)
from tests.bot.conftest import (
    Gateway,
    MakeGateway,
    eventually,
    gateway_settings,
    rows,
)
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio import (
    JPEG_BYTES,
    WHATSAPP_NUMBER,
    FakeTwilio,
    inbound_form,
    signature,
    status_form,
)
from tests.support.servers import free_port

PHONE = "+6281298765432"
PATH = "/webhooks/whatsapp"


async def send_inbound(
    gateway: Gateway, form: dict[str, str], *, public_url: str | None = None
) -> int:
    """Post a correctly signed inbound message; return the HTTP status."""
    url = (public_url or gateway.settings.public_url) + PATH
    response = await gateway.post_form(PATH, form, signature=signature(url, form))
    return response.status


async def test_inbound_message_is_answered_through_messages_create(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()

    status = await send_inbound(gateway, inbound_form(phone=PHONE, body="halo"))

    assert status == 200
    await fake_twilio.wait_for_messages(1)
    [sent] = fake_twilio.messages
    assert sent["To"] == f"whatsapp:{PHONE}"
    assert sent["From"] == f"whatsapp:{WHATSAPP_NUMBER}"
    assert sent["Body"] == "echo: halo"
    assert sent["StatusCallback"] == f"{gateway.url}/webhooks/whatsapp/status"
    [received] = fake_rasa.received
    assert received["sender"] == f"whatsapp:{PHONE}"
    assert received["metadata"]["contact"] == PHONE
    assert received["metadata"]["name"] == "Sari"


async def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    form = inbound_form(phone=PHONE, body="halo")
    forged = signature(gateway.url + PATH, form, auth_token="bukan-token-yang-benar")

    wrong = await gateway.post_form(PATH, form, signature=forged)
    missing = await gateway.post_form(PATH, form, signature=None)
    tampered_form = {**form, "Body": "diubah"}
    tampered = await gateway.post_form(
        PATH, tampered_form, signature=signature(gateway.url + PATH, form)
    )

    assert (wrong.status, missing.status, tampered.status) == (403, 403, 403)
    assert await rows(gateway, InboxMessage) == []
    assert fake_rasa.received == []


async def test_signature_is_checked_against_the_public_url_behind_a_proxy(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    public = "https://layanan.padang.example"
    gateway = await make_gateway(public_url=public)
    form = inbound_form(phone=PHONE, body="halo")

    local_signature = signature(gateway.url + PATH, form)
    refused = await gateway.post_form(PATH, form, signature=local_signature)
    accepted = await send_inbound(gateway, form, public_url=public)

    assert (refused.status, accepted) == (403, 200)
    await fake_twilio.wait_for_messages(1)


async def test_malformed_form_is_400(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway()
    form = inbound_form(phone=PHONE, body="halo")
    del form["From"]

    assert await send_inbound(gateway, form) == 400
    assert await rows(gateway, InboxMessage) == []


async def test_duplicate_message_sid_is_processed_once(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    form = inbound_form(phone=PHONE, body="akta lahir")

    assert [await send_inbound(gateway, form) for _ in range(3)] == [200, 200, 200]

    await fake_twilio.wait_for_messages(1)
    assert fake_rasa.texts(f"whatsapp:{PHONE}") == ["akta lahir"]
    assert len(await rows(gateway, InboxMessage)) == 1


async def test_an_image_reply_reaches_twilio_as_a_media_url(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    image = "https://padang.example/peta-disdukcapil.png"

    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        return [{"recipient_id": sender, "text": "Lokasi kantor:", "image": image}]

    fake_rasa.respond = respond
    gateway = await make_gateway()

    await send_inbound(gateway, inbound_form(phone=PHONE, body="di mana kantornya"))
    await fake_twilio.wait_for_messages(2)

    forms = fake_twilio.messages  # the image first, then the text
    assert [f.get("Body") for f in forms] == [None, "Lokasi kantor:"]
    assert forms[0]["MediaUrl"] == image
    assert {f["To"] for f in forms} == {f"whatsapp:{PHONE}"}


async def test_buttons_become_numbered_options_and_a_number_picks_one(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        if message == "menu":
            buttons = [
                {"title": "Syarat KTP-el", "payload": "/ask_requirements"},
                {"title": "Lapor aduan", "payload": "/lodge_complaint"},
            ]
            return [{"recipient_id": sender, "text": "Pilih:", "buttons": buttons}]
        return [{"recipient_id": sender, "text": f"ok {message}"}]

    fake_rasa.respond = respond
    gateway = await make_gateway()

    await send_inbound(gateway, inbound_form(phone=PHONE, body="menu"))
    await fake_twilio.wait_for_messages(1)
    await send_inbound(gateway, inbound_form(phone=PHONE, body="2"))
    await fake_twilio.wait_for_messages(2)
    await send_inbound(gateway, inbound_form(phone=PHONE, body="2"))
    await fake_twilio.wait_for_messages(3)

    assert fake_twilio.bodies(PHONE)[0] == "Pilih:\n\n1. Syarat KTP-el\n2. Lapor aduan"
    # The options hold for the turn that offered them only.
    assert fake_rasa.texts(f"whatsapp:{PHONE}") == ["menu", "/lodge_complaint", "2"]


async def test_rate_limits_are_retried_and_order_kept(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_next(status=429, code=20429, times=2)
    fake_twilio.fail_next(status=429, code=63018)
    gateway = await make_gateway()

    await send_inbound(gateway, inbound_form(phone=PHONE, body="satu"))
    await send_inbound(gateway, inbound_form(phone=PHONE, body="dua"))

    await fake_twilio.wait_for_messages(2, timeout=15)
    assert fake_twilio.bodies(PHONE) == ["echo: satu", "echo: dua"]
    assert [r["status"] for r in fake_twilio.requests] == [429, 429, 429, 201, 201]


async def test_long_reply_is_split_at_1600_characters(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    words = " ".join(f"kata{i}" for i in range(700))  # ~5,800 characters, no periods

    async def respond(sender: str, message: str, metadata: Any) -> list[dict[str, Any]]:
        return [{"recipient_id": sender, "text": words}]

    fake_rasa.respond = respond
    gateway = await make_gateway()

    await send_inbound(gateway, inbound_form(phone=PHONE, body="panjang"))

    await fake_twilio.wait_for_messages(4)
    bodies = fake_twilio.bodies(PHONE)
    assert all(len(b) <= 1600 for b in bodies)
    assert " ".join(bodies) == words  # cut between words, nothing lost


async def test_delivery_status_callbacks_are_recorded(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    gateway = await make_gateway()
    await send_inbound(gateway, inbound_form(phone=PHONE, body="halo"))
    await fake_twilio.wait_for_messages(1)
    [sent] = await eventually(lambda: rows(gateway, OutboxMessage, state="sent"))
    path = "/webhooks/whatsapp/status"
    url = gateway.url + path

    for status in ("sent", "delivered", "read"):
        form = status_form(
            message_sid=sent.platform_message_id, status=status, phone=PHONE
        )
        response = await gateway.post_form(path, form, signature=signature(url, form))
        assert response.status == 200
    forged = status_form(
        message_sid=sent.platform_message_id, status="failed", phone=PHONE
    )
    refused = await gateway.post_form(path, forged, signature="AAAA")

    assert refused.status == 403
    statuses = await rows(gateway, DeliveryStatus)
    assert [s.status for s in statuses] == ["sent", "delivered", "read"]
    assert {s.outbox_id for s in statuses} == {sent.id}
    [row] = await rows(gateway, OutboxMessage, id=sent.id)
    assert row.delivery_status == "read"


async def age_conversation(gateway: Gateway, conversation_id: str) -> None:
    """Pretend the resident last wrote 25 hours ago."""

    def work(session: Any) -> None:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_inbound_at=utcnow() - timedelta(hours=25))
        )

    await gateway.pipeline.store.run(work)


async def test_outside_the_24_hour_window_the_template_is_used(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    template = "HX" + "1" * 32
    gateway = await make_gateway(twilio_template_sid=template)
    await send_inbound(gateway, inbound_form(phone=PHONE, body="halo"))
    await fake_twilio.wait_for_messages(1)
    conversation_id = f"whatsapp:{PHONE}"

    await age_conversation(gateway, conversation_id)
    await gateway.pipeline.handoff.agent_reply(
        conversation_id, 7, "Aduan Anda sudah selesai ditangani."
    )

    await fake_twilio.wait_for_messages(2)
    late = fake_twilio.messages[1]
    assert "Body" not in late
    assert late["ContentSid"] == template
    assert json.loads(late["ContentVariables"]) == {
        "1": "Aduan Anda sudah selesai ditangani."
    }


async def test_outside_the_window_without_a_template_the_send_fails_visibly(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    gateway = await make_gateway()
    await send_inbound(gateway, inbound_form(phone=PHONE, body="halo"))
    await fake_twilio.wait_for_messages(1)
    await age_conversation(gateway, f"whatsapp:{PHONE}")

    outbox_id = await gateway.pipeline.handoff.agent_reply(
        f"whatsapp:{PHONE}", 7, "Halo lagi"
    )

    [failed] = await eventually(lambda: rows(gateway, OutboxMessage, state="failed"))
    assert failed.id == outbox_id
    assert "24-hour" in failed.last_error
    assert len(fake_twilio.messages) == 1


async def test_photo_and_location_reach_rasa_with_metadata(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    photo_url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"

    await send_inbound(
        gateway, inbound_form(phone=PHONE, media=[(photo_url, "image/jpeg")])
    )
    await send_inbound(
        gateway, inbound_form(phone=PHONE, latitude=-0.9492, longitude=100.3543)
    )

    await fake_twilio.wait_for_messages(2)
    photo, place = fake_rasa.received
    assert photo["message"] == "/share_media"
    assert photo["metadata"]["media"] == [
        {"url": photo_url, "content_type": "image/jpeg"}
    ]
    assert place["message"] == "/share_location"
    assert place["metadata"]["location"] == {"latitude": -0.9492, "longitude": 100.3543}


async def test_a_residents_photo_can_be_fetched_for_the_console(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    gateway = await make_gateway()
    channel = gateway.pipeline.channels["whatsapp"]
    entry = {"url": fake_twilio.media_url(), "content_type": "image/jpeg"}

    body, content_type = await channel.fetch_media(entry)

    assert (body, content_type) == (JPEG_BYTES, "image/jpeg")
    with pytest.raises(PermanentFailure):
        await channel.fetch_media({"url": "http://127.0.0.1:9/elsewhere.jpg"})


async def test_refused_as_outside_the_window_the_template_is_sent(
    make_gateway: MakeGateway, fake_twilio: FakeTwilio
) -> None:
    template = "HX" + "2" * 32
    fake_twilio.fail_next(
        status=400,
        code=63016,
        message="Failed to send freeform message because "
        "you are outside the allowed window.",
    )
    gateway = await make_gateway(twilio_template_sid=template)

    await send_inbound(gateway, inbound_form(phone=PHONE, body="halo"))

    await fake_twilio.wait_for_messages(1)
    [sent] = fake_twilio.messages
    assert sent["ContentSid"] == template
    assert json.loads(sent["ContentVariables"]) == {"1": "echo: halo"}


async def test_twilio_unreachable_is_retried_later_not_failed(
    fake_twilio: FakeTwilio,
) -> None:
    # The fake's credentials, but a port where nothing listens.
    settings = gateway_settings(
        database_url="sqlite://",
        twilio=fake_twilio,
        port=free_port(),
        twilio_api_url=f"http://127.0.0.1:{free_port()}",
    )
    channel = WhatsAppChannel(
        settings,
        accept=_never_called,
        record_status=_never_called,
        metrics=Metrics(),
    )
    await channel.start()
    try:
        with pytest.raises(RetryLater, match="Twilio not reachable"):
            await channel.send(
                PHONE, {"text": "halo"}, context={"last_inbound_at": utcnow()}
            )
    finally:
        await channel.stop()
    assert fake_twilio.messages == []


def _channel(fake_twilio: FakeTwilio) -> WhatsAppChannel:
    settings = gateway_settings(
        database_url="sqlite://", twilio=fake_twilio, port=free_port()
    )
    return WhatsAppChannel(
        settings,
        accept=_never_called,
        record_status=_never_called,
        metrics=Metrics(),
    )


async def test_stopping_lets_a_send_under_way_finish_and_refuses_new_ones(
    fake_twilio: FakeTwilio,
) -> None:
    # Cut off, a message Twilio took would be sent again after the restart.
    fake_twilio.latency_s = 0.5
    channel = _channel(fake_twilio)
    await channel.start()
    context = {"last_inbound_at": utcnow()}
    send = channel.send(PHONE, {"text": "satu"}, context=context)
    under_way = asyncio.create_task(send)
    await asyncio.sleep(0.1)

    stopping = asyncio.create_task(channel.stop())
    await asyncio.sleep(0.1)
    with pytest.raises(RetryLater, match="stopping"):
        await channel.send(PHONE, {"text": "dua"}, context=context)
    await stopping

    assert (await under_way).startswith("SM")
    assert fake_twilio.bodies(PHONE) == ["satu"]


async def test_a_twilio_that_never_answers_is_retried_later(
    fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whatsapp, "HTTP_TIMEOUT_S", 0.3)
    fake_twilio.latency_s = 30.0
    channel = _channel(fake_twilio)
    await channel.start()
    try:
        with pytest.raises(RetryLater, match="TimeoutError"):
            await asyncio.wait_for(
                channel.send(
                    PHONE, {"text": "halo"}, context={"last_inbound_at": utcnow()}
                ),
                timeout=5,
            )
    finally:
        fake_twilio.latency_s = 0.0
        await channel.stop()


async def _never_called(*args: Any) -> bool:
    raise AssertionError("no inbound traffic in this test")
