"""The console's JSON API against a running gateway: the handoff flow end to end
(fake Telegram chat, Rasa stand-in), roles, surveys and complaint statuses."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from db import console as cdb
from db.engine import session_scope
from db.gateway import Conversation, OutboxMessage
from db.records import Agency, Complaint, ComplaintCategory
from tests.console.fake_rasa import FakeRasa
from tests.console.harness import Gateway
from tests.fakes.telegram import FakeTelegram, location_update, text_update

CHAT = 880001
CID = f"telegram:{CHAT}"


async def escalate(gateway: Gateway, chat_id: int = CHAT, *, first: int = 1) -> str:
    """Have a resident ask for a human on Telegram; return the conversation id."""
    await gateway.post_update(text_update(first, chat_id=chat_id, text="halo"))
    await gateway.settle()
    await gateway.post_update(
        text_update(first + 1, chat_id=chat_id, text="saya mau bicara dengan petugas")
    )
    await gateway.settle()
    return f"telegram:{chat_id}"


async def test_agent_claims_replies_and_hands_back(
    gateway: Gateway, staff_client, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    cid = await escalate(gateway)
    ani = await staff_client("ani")

    queue = await ani.get("api/queue")
    assert [c["id"] for c in queue["waiting"]] == [cid]
    assert queue["waiting"][0]["reason"] == "requested"
    assert queue["waiting"][0]["channel"] == "telegram"

    assert (await ani.post(f"api/conversations/{cid}/claim"))[0] == 200
    # While the agent has it, the resident's messages do not go to the bot.
    asked = len(fake_rasa.messages)
    await gateway.post_update(text_update(3, chat_id=CHAT, text="masih di sana?"))
    await gateway.post_update(
        location_update(4, chat_id=CHAT, latitude=-0.95, longitude=100.35)
    )
    await gateway.settle()
    assert len(fake_rasa.messages) == asked

    status, body = await ani.post(
        f"api/conversations/{cid}/reply", {"text": "Halo, saya Ani dari Disdukcapil."}
    )
    assert status == 200
    assert body["outbox_id"]
    await gateway.settle()
    assert "Halo, saya Ani dari Disdukcapil." in fake_telegram.sent_texts(CHAT)

    page = await ani.get(f"api/conversations/{cid}")
    authors = [m["author"] for m in page["messages"]]
    assert authors[:2] == ["resident", "bot"]
    assert "agent" in authors
    agent_message = next(m for m in page["messages"] if m["author"] == "agent")
    assert agent_message["delivery"][0]["state"] == "sent"
    located = next(m for m in page["messages"] if "location" in m["data"])
    assert located["data"]["location"] == {"latitude": -0.95, "longitude": 100.35}

    assert (await ani.post(f"api/conversations/{cid}/handback"))[0] == 200
    assert (cid, {"event": "resume"}) in fake_rasa.events
    await gateway.post_update(text_update(5, chat_id=CHAT, text="jam buka kantor?"))
    await gateway.settle()
    assert "Bot: jam buka kantor?" in fake_telegram.sent_texts(CHAT)


async def test_two_agents_cannot_claim_the_same_conversation(
    gateway: Gateway, staff_client
) -> None:
    cid = await escalate(gateway)
    ani, budi = await staff_client("ani"), await staff_client("budi")

    results = await asyncio.gather(
        ani.post(f"api/conversations/{cid}/claim"),
        budi.post(f"api/conversations/{cid}/claim"),
    )

    assert sorted(status for status, _ in results) == [200, 409]
    winner, loser = (ani, budi) if results[0][0] == 200 else (budi, ani)
    assert (await loser.post(f"api/conversations/{cid}/reply", {"text": "x"}))[0] == 403
    async with loser.session.get(f"{loser.base}api/conversations/{cid}") as response:
        assert response.status == 404
    assert (await winner.post(f"api/conversations/{cid}/reply", {"text": "ok"}))[
        0
    ] == 200


async def test_transcript_masks_niks(gateway: Gateway, staff_client) -> None:
    cid = await escalate(gateway)
    await gateway.post_update(
        text_update(
            3, chat_id=CHAT, text="NIK saya 1371015505900001 dan 1371 0155 0590 0002"
        )
    )
    await gateway.settle()
    ani = await staff_client("ani")

    page = await ani.get(f"api/conversations/{cid}")
    texts = " ".join(m["text"] for m in page["messages"])
    assert "1371015505900001" not in texts
    assert "1371 0155" not in texts
    assert "************0001" in texts
    assert "************0002" in texts


async def test_notes_stay_internal(
    gateway: Gateway, staff_client, fake_telegram: FakeTelegram
) -> None:
    cid = await escalate(gateway)
    ani = await staff_client("ani")
    await ani.post(f"api/conversations/{cid}/claim")

    status, _ = await ani.post(
        f"api/conversations/{cid}/note", {"text": "Warga sudah dua kali menelepon."}
    )
    await gateway.settle()

    assert status == 200
    page = await ani.get(f"api/conversations/{cid}")
    assert [n["text"] for n in page["notes"]] == ["Warga sudah dua kali menelepon."]
    assert not any("dua kali" in t for t in fake_telegram.sent_texts(CHAT))


async def test_close_with_survey_stores_the_answer_instead_of_asking_rasa(
    gateway: Gateway,
    staff_client,
    fake_telegram: FakeTelegram,
    fake_rasa: FakeRasa,
    engine,
) -> None:
    cid = await escalate(gateway)
    with session_scope(engine) as session:
        session.get(Conversation, cid).language = "min"
    ani = await staff_client("ani")
    await ani.post(f"api/conversations/{cid}/claim")

    assert (await ani.post(f"api/conversations/{cid}/close", {"survey": True}))[
        0
    ] == 200
    await gateway.settle()
    assert any("Sabara puaih Sanak" in t for t in fake_telegram.sent_texts(CHAT))

    asked = len(fake_rasa.messages)
    await gateway.post_update(text_update(9, chat_id=CHAT, text="5"))
    await gateway.settle()
    assert len(fake_rasa.messages) == asked
    assert any(
        "Tarimo kasih ateh panilaian" in t for t in fake_telegram.sent_texts(CHAT)
    )
    with session_scope(engine) as session:
        assert cdb.survey_summary(session) == {"answers": 1, "mean": 5.0}

    await gateway.post_update(text_update(10, chat_id=CHAT, text="jam buka?"))
    await gateway.settle()
    assert "Bot: jam buka?" in fake_telegram.sent_texts(CHAT)


def _add_complaint(engine, *, sender_id: str | None, language: str = "id") -> None:
    with session_scope(engine) as session:
        if session.get(Agency, "dinas_uji") is None:
            session.add(
                Agency(code="dinas_uji", name="Dinas Uji", contacts=[], sources=[])
            )
            session.add(
                ComplaintCategory(
                    code="jalan_rusak",
                    label_id="Jalan rusak",
                    label_min="Jalan rusak",
                    agency_code="dinas_uji",
                    channels=[],
                    sources=[],
                )
            )
        session.add(
            Complaint(
                ticket_number="ADU-2026-900001",
                category_code="jalan_rusak",
                agency_code="dinas_uji",
                description="Lubang besar <b>di jalan</b>",
                location_text="Jl. Uji No. 1, Kuranji",
                sender_id=sender_id,
                channel="telegram",
                language=language,
                status="diterima",
            )
        )


async def test_complaint_status_change_is_recorded_and_told_to_the_resident(
    gateway: Gateway, staff_client, fake_telegram: FakeTelegram, engine
) -> None:
    await gateway.post_update(text_update(1, chat_id=CHAT, text="halo"))
    await gateway.settle()
    _add_complaint(engine, sender_id=CID, language="min")
    budi = await staff_client("budi")

    listed = await budi.get("api/complaints?kecamatan=Kuranji&status=diterima")
    assert [c["ticket"] for c in listed["complaints"]] == ["ADU-2026-900001"]
    assert (await budi.get("api/complaints?kecamatan=Pauh"))["complaints"] == []

    status, body = await budi.post(
        "api/complaints/ADU-2026-900001/status", {"status": "diproses", "note": ""}
    )
    await gateway.settle()

    assert status == 200
    assert body["notified_outbox_id"]
    assert "Status pangaduan ADU-2026-900001 kini: sadang diproses." in (
        fake_telegram.sent_texts(CHAT)
    )
    listed = await budi.get("api/complaints")
    step = listed["complaints"][0]["history"][-1]
    assert step["status"] == "diproses"
    assert step["by"] == "budi"
    assert step["at"]


async def test_agents_reach_only_what_their_role_allows(
    gateway: Gateway, staff_client
) -> None:
    ani, sari = await staff_client("ani"), await staff_client("sari")

    async with ani.session.get(f"{ani.base}api/stats") as response:
        assert response.status == 403
    async with ani.session.get(f"{ani.base}supervisor") as response:
        assert response.status == 403
    stats = await sari.get("api/stats")
    assert stats["queue"]["length"] == 0
    audit = await sari.get("api/audit")
    assert {"login"} <= {entry["action"] for entry in audit["audit"]}


async def test_audit_log_records_agent_actions(
    gateway: Gateway, staff_client, engine
) -> None:
    cid = await escalate(gateway)
    ani = await staff_client("ani")
    await ani.post(f"api/conversations/{cid}/claim")
    await ani.post(f"api/conversations/{cid}/reply", {"text": "Halo"})
    await ani.post(f"api/conversations/{cid}/handback")

    with session_scope(engine) as session:
        rows: list[Any] = list(
            session.execute(
                select(cdb.AuditEntry.action, cdb.AuditEntry.subject).where(
                    cdb.AuditEntry.agent_id.is_not(None)
                )
            ).all()
        )
    assert [a for a, s in rows if s == cid] == ["claim", "reply", "hand_back"]
    with session_scope(engine) as session:
        outbox = session.execute(select(OutboxMessage)).scalars().all()
    assert outbox
