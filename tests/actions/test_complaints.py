"""Complaints: the form's use of shared location and photos, the read-back, storing
with ticket and agency, one ticket for a confirmation that arrives twice, status."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from db.engine import session_scope
from db.records import Complaint, set_complaint_status
from tests.actions.conftest import (
    buttons,
    make_tracker,
    run_action,
    slot_events,
    texts,
)

pytestmark = pytest.mark.usefixtures("use_database")

TICKET_RE = re.compile(r"ADU-\d{4}-\d{6}")
COLLECTED = {
    "complaint_category": "jalan_rusak",
    "location": "Jl. Khatib Sulaiman dekat simpang",
    "complaint_description": "Jalan berlubang dalam, motor sering jatuh",
}


def confirmed_tracker(
    *, sender_id=None, language="id", metadata=None, opening_metadata=None, **slots
):
    return make_tracker(
        sender_id=sender_id, text="ya", intent="affirm", language=language,
        metadata=metadata or {"channel": "whatsapp", "contact": "+6281200000001"},
        slots={**COLLECTED, "complaint_confirmed": True, **slots},
        active_loop="complaint_form", loop_started=1_790_000_000.0,
        opening_metadata=opening_metadata,
    )  # fmt: skip


async def validate(executor, domain, *, requested, candidates=None, **kwargs):
    tracker = make_tracker(
        active_loop="complaint_form", requested_slot=requested,
        slot_candidates=candidates or {}, **kwargs,
    )  # fmt: skip
    return await run_action(executor, "validate_complaint_form", tracker, domain)


async def test_a_shared_location_fills_the_location_and_coordinates(executor, domain):
    result = await validate(
        executor, domain, requested="location", text="/share_location",
        intent="share_location", candidates={"location": "/share_location"},
        metadata={"location": {"latitude": -0.9471, "longitude": 100.4172}},
    )  # fmt: skip

    slots = slot_events(result)
    assert slots["location"] == "lokasi dibagikan (-0.94710, 100.41720)"
    assert slots["complaint_latitude"] == pytest.approx(-0.9471)
    assert slots["complaint_longitude"] == pytest.approx(100.4172)


async def test_a_shared_location_while_another_slot_is_asked_fills_location(
    executor, domain
):
    result = await validate(
        executor, domain, requested="complaint_category", text="/share_location",
        intent="share_location", language="min",
        metadata={"location": {"latitude": -0.95, "longitude": 100.35}},
    )  # fmt: skip

    assert slot_events(result)["location"] == "lokasi dibagi (-0.95000, 100.35000)"


async def test_a_photo_is_kept_and_words_are_still_asked_for(executor, domain):
    photo = {
        "url": "https://files.example.invalid/p/1.jpg",
        "content_type": "image/jpeg",
    }
    result = await validate(
        executor, domain, requested="complaint_description", text="/share_media",
        intent="share_media", candidates={"complaint_description": "/share_media"},
        metadata={"media": [photo]},
    )  # fmt: skip

    slots = slot_events(result)
    assert slots["complaint_photos"] == [photo]
    assert slots["complaint_description"] is None
    assert "Foto diterima (1 foto)" in texts(result)


async def test_a_category_the_city_does_not_route_is_asked_again(executor, domain):
    result = await validate(
        executor, domain, requested="complaint_category", text="x",
        candidates={"complaint_category": "ufo"},
    )  # fmt: skip

    assert slot_events(result)["complaint_category"] is None


async def test_a_location_too_short_is_asked_again(executor, domain):
    result = await validate(
        executor, domain, requested="location", text="di",
        candidates={"location": "di"},
    )  # fmt: skip

    assert slot_events(result)["location"] is None
    assert "kurang jelas" in texts(result)


@pytest.mark.parametrize(
    ("language", "question", "yes"),
    [("id", "Kirim aduan ini?", "Ya, kirim"), ("min", "Kirim pangaduan iko?", "Iyo")],
)
async def test_the_complaint_is_read_back_with_yes_and_no(
    executor, domain, language, question, yes
):
    tracker = make_tracker(
        language=language, active_loop="complaint_form",
        requested_slot="complaint_confirmed",
        slots={**COLLECTED, "complaint_photos": [{"url": "u", "content_type": "x"}]},
    )  # fmt: skip
    result = await run_action(
        executor, "action_ask_complaint_confirmed", tracker, domain
    )

    reply = texts(result)
    assert question in reply
    assert "Jl. Khatib Sulaiman dekat simpang" in reply
    assert "Foto: 1" in reply
    assert [b["payload"] for b in buttons(result)] == ["/affirm", "/deny"]
    assert buttons(result)[0]["title"].startswith(yes)


async def test_a_confirmed_complaint_is_stored_and_routed(
    executor, domain, records_engine
):
    sender = f"whatsapp:+62812{uuid.uuid4().int % 10**7:07d}"
    photo = {
        "url": "https://files.example.invalid/p/2.jpg",
        "content_type": "image/jpeg",
    }
    tracker = confirmed_tracker(
        sender_id=sender, complaint_latitude=-0.91, complaint_longitude=100.36,
        complaint_photos=[photo],
    )  # fmt: skip
    result = await run_action(executor, "action_submit_complaint", tracker, domain)

    reply = texts(result)
    ticket = TICKET_RE.search(reply).group(0)
    assert "Dinas Pekerjaan Umum dan Penataan Ruang (PUPR) Kota Padang" in reply
    assert all(value is None for value in slot_events(result).values())
    with session_scope(records_engine) as session:
        stored = session.execute(
            select(Complaint)
            .where(Complaint.ticket_number == ticket)
            .options(selectinload(Complaint.photos), selectinload(Complaint.history))
        ).scalar_one()
        assert stored.sender_id == sender
        assert stored.channel == "whatsapp"
        assert stored.contact == "+6281200000001"
        assert stored.agency_code == "dinas_pupr"
        assert stored.location_text == COLLECTED["location"]
        assert (stored.latitude, stored.longitude) == (-0.91, 100.36)
        assert [p.url for p in stored.photos] == [photo["url"]]
        assert [h.status for h in stored.history] == ["diterima"]


async def test_a_photo_sent_with_the_opening_message_is_kept(
    executor, domain, records_engine
):
    photo = {
        "url": "https://files.example.invalid/p/3.jpg",
        "content_type": "image/jpeg",
    }
    tracker = confirmed_tracker(sender_id=f"telegram:{uuid.uuid4().int % 10**9}")
    tracker["events"].insert(
        1,
        {"event": "user", "text": "lapor jalan rusak", "metadata": {"media": [photo]}},
    )
    result = await run_action(executor, "action_submit_complaint", tracker, domain)

    ticket = TICKET_RE.search(texts(result)).group(0)
    with session_scope(records_engine) as session:
        stored = session.execute(
            select(Complaint)
            .where(Complaint.ticket_number == ticket)
            .options(selectinload(Complaint.photos))
        ).scalar_one()
        assert [p.url for p in stored.photos] == [photo["url"]]


async def test_a_flood_complaint_reminds_of_112_in_minang(executor, domain):
    tracker = confirmed_tracker(language="min", complaint_category="banjir")
    result = await run_action(executor, "action_submit_complaint", tracker, domain)

    reply = texts(result)
    assert "Pangaduan Sanak alah kami tarimo" in reply
    assert "112" in reply


async def test_a_denied_complaint_is_not_stored(executor, domain, records_engine):
    sender = f"telegram:{uuid.uuid4().int % 10**9}"
    tracker = confirmed_tracker(sender_id=sender, complaint_confirmed=False)
    result = await run_action(executor, "action_submit_complaint", tracker, domain)

    assert "dibatalkan" in texts(result)
    assert not TICKET_RE.search(texts(result))
    with session_scope(records_engine) as session:
        count = session.execute(
            select(func.count(Complaint.id)).where(Complaint.sender_id == sender)
        ).scalar_one()
    assert count == 0


async def test_a_confirmation_that_arrives_twice_makes_one_ticket(
    executor, domain, records_engine
):
    sender = f"telegram:{uuid.uuid4().int % 10**9}"
    tracker = confirmed_tracker(sender_id=sender)
    first = await run_action(executor, "action_submit_complaint", tracker, domain)
    again = await asyncio.gather(
        *[
            run_action(executor, "action_submit_complaint", tracker, domain)
            for _ in range(3)
        ]
    )

    tickets = {TICKET_RE.search(texts(r)).group(0) for r in [first, *again]}
    assert len(tickets) == 1
    with session_scope(records_engine) as session:
        count = session.execute(
            select(func.count(Complaint.id)).where(Complaint.sender_id == sender)
        ).scalar_one()
    assert count == 1


async def test_the_same_words_in_a_new_form_run_make_a_new_ticket(executor, domain):
    sender = f"telegram:{uuid.uuid4().int % 10**9}"
    first = await run_action(
        executor, "action_submit_complaint", confirmed_tracker(sender_id=sender), domain
    )
    later = confirmed_tracker(sender_id=sender)
    later["events"][1]["timestamp"] = time.time() + 60
    second = await run_action(executor, "action_submit_complaint", later, domain)

    assert TICKET_RE.search(texts(first)).group(0) != TICKET_RE.search(
        texts(second)
    ).group(0)


async def test_complaint_status_tells_the_history(executor, domain, records_engine):
    submitted = await run_action(
        executor, "action_submit_complaint", confirmed_tracker(), domain
    )
    ticket = TICKET_RE.search(texts(submitted)).group(0)
    with session_scope(records_engine) as session:
        complaint = session.execute(
            select(Complaint).where(Complaint.ticket_number == ticket)
        ).scalar_one()
        set_complaint_status(session, complaint, "diverifikasi", changed_by="petugas1")
        set_complaint_status(session, complaint, "diproses", changed_by="petugas1")

    typed = ticket.lower().replace("-", " ")
    tracker = make_tracker(
        text=f"status aduan {typed}", intent="check_complaint_status",
        entities={"ticket_number": typed}, language="min",
    )  # fmt: skip
    result = await run_action(executor, "action_complaint_status", tracker, domain)

    reply = texts(result)
    assert f"Pangaduan {ticket} (Jalan rusak)" in reply
    assert "*sadang ditangani*" in reply
    assert reply.count("\n- ") == 3
    assert COLLECTED["location"] not in reply
    assert slot_events(result) == {"ticket_number": None}


async def test_complaint_status_of_an_unknown_ticket(executor, domain):
    tracker = make_tracker(
        text="status ADU-2031-999999", intent="check_complaint_status",
        slots={"ticket_number": "ADU-2031-999999"},
    )  # fmt: skip
    result = await run_action(executor, "action_complaint_status", tracker, domain)

    assert "ADU-2031-999999 tidak kami temukan" in texts(result)


async def test_complaint_status_asks_for_the_ticket(executor, domain):
    tracker = make_tracker(text="status aduan saya", intent="check_complaint_status")
    result = await run_action(executor, "action_complaint_status", tracker, domain)

    assert "nomor tiket" in texts(result)


@pytest.mark.parametrize("intent", ["deny", "request_human", "report_emergency"])
async def test_an_interrupting_message_is_not_taken_as_an_answer(
    executor, domain, intent
):
    result = await validate(
        executor, domain, requested="location", text="batal", intent=intent,
        candidates={"location": "batal"},
    )  # fmt: skip

    assert {"event": "slot", "name": "location", "value": None, "timestamp": None} in (
        result["events"]
    )
    assert result["events"][-1]["event"] == "action_execution_rejected"


async def test_after_the_help_text_the_form_carries_on(executor, domain):
    tracker = make_tracker(
        text="menu", intent="ask_help", active_loop="complaint_form",
        requested_slot="location",
    )  # fmt: skip
    tracker["events"] += [
        {"event": "action", "name": "utter_help"},
        {"event": "action", "name": "complaint_form"},
    ]
    result = await run_action(executor, "validate_complaint_form", tracker, domain)

    assert all(e["event"] != "action_execution_rejected" for e in result["events"])


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("iya benar", True),
        ("yo bana, kirim", True),
        ("/affirm", True),
        ("👍", True),
        ("asdfghjkl", None),
        ("😀😀😀", None),
    ],
)
async def test_only_a_clear_yes_confirms_a_complaint(
    executor, domain, typed, stored
) -> None:
    tracker = make_tracker(
        text=typed, intent="affirm", active_loop="complaint_form",
        requested_slot="complaint_confirmed", slots=COLLECTED,
        slot_candidates={"complaint_confirmed": True},
    )  # fmt: skip

    result = await run_action(executor, "validate_complaint_form", tracker, domain)

    confirmed = [
        e["value"] for e in result["events"] if e.get("name") == "complaint_confirmed"
    ]
    assert confirmed == [stored]
    assert ("Ya" in texts(result)) == (stored is None)


async def test_a_place_in_a_later_answer_keeps_the_location_already_given(
    executor, domain
) -> None:
    answer = "jalan balubang gadang dakek simpang, lah tigo minggu"
    tracker = make_tracker(
        text=answer, intent="lodge_complaint", active_loop="complaint_form",
        requested_slot="complaint_description", language="min",
        slots={"complaint_category": "jalan_rusak"},
        slot_candidates={"location": "simpang", "complaint_description": answer},
    )  # fmt: skip
    latest_user = max(
        i for i, e in enumerate(tracker["events"]) if e["event"] == "user"
    )
    tracker["events"].insert(
        latest_user, {"event": "slot", "name": "location", "value": "jalan sudirman"}
    )

    result = await run_action(executor, "validate_complaint_form", tracker, domain)

    assert slot_events(result)["location"] == "jalan sudirman"
