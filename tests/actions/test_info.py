"""Requirements, fee, processing time and office information, on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from db.engine import session_scope
from db.records import Office
from tests.actions.conftest import (
    buttons,
    make_tracker,
    run_action,
    slot_events,
    texts,
)

pytestmark = pytest.mark.usefixtures("use_database")


async def test_padang_requirements_are_presented_as_padang_own(executor, domain):
    tracker = make_tracker(
        text="syarat akta kelahiran", intent="ask_requirements",
        entities={"document": "akta_kelahiran"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_requirements", tracker, domain)

    reply = texts(result)
    assert "menurut Disdukcapil Kota Padang" in reply
    assert "menurut ketentuan nasional" not in reply
    assert "Surat keterangan kelahiran" in reply
    assert "gratis" in reply.lower()
    assert slot_events(result) == {"document": "akta_kelahiran", "request_type": "baru"}


async def test_national_requirements_are_presented_as_national_rules(executor, domain):
    tracker = make_tracker(
        text="syarat kk hilang", intent="ask_requirements",
        entities={"document": "kk", "request_type": "hilang"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_requirements", tracker, domain)

    reply = texts(result)
    assert "menurut ketentuan nasional" in reply
    assert "menurut Disdukcapil Kota Padang:" not in reply
    assert "Surat keterangan hilang dari kepolisian" in reply


async def test_requirements_in_minang(executor, domain):
    tracker = make_tracker(
        text="a syarat KTP ilang", intent="ask_requirements", language="min",
        entities={"document": "ktp_el", "request_type": "hilang"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_requirements", tracker, domain)

    reply = texts(result)
    assert "manuruik katantuan nasional" in reply
    assert "Surek keterangan kailangan dari kapolisian" in reply


async def test_requirements_nobody_gave_are_not_guessed(executor, domain):
    tracker = make_tracker(
        text="syarat akta kelahiran hilang", intent="ask_requirements",
        entities={"document": "akta_kelahiran", "request_type": "hilang"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_requirements", tracker, domain)

    assert "belum punya sumber resmi" in texts(result)
    assert {"title": "Bicara dengan petugas", "payload": "/request_human"} in buttons(
        result
    )


async def test_a_document_not_named_is_asked_for_with_buttons(executor, domain):
    tracker = make_tracker(text="apa syaratnya?", intent="ask_requirements")
    result = await run_action(executor, "action_tell_requirements", tracker, domain)

    payloads = [b["payload"] for b in buttons(result)]
    assert '/ask_requirements{"document":"kk"}' in payloads
    assert len(payloads) == 9
    name, entities = payloads[0].split("{", 1)
    assert name == "/ask_requirements"
    assert json.loads("{" + entities) == {"document": "ktp_el"}


async def test_a_request_type_alone_applies_to_the_document_asked_before(
    executor, domain
):
    tracker = make_tracker(
        text="kalau rusak?", intent="ask_requirements",
        entities={"request_type": "rusak"},
        slots={"document": "ktp_el", "request_type": "baru"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_requirements", tracker, domain)

    assert "KTP-el yang rusak" in texts(result)


@pytest.mark.parametrize(
    ("language", "free", "calo"),
    [("id", "GRATIS (Rp0)", "Jangan membayar calo"), ("min", "GRATIH", "calo")],
)
async def test_fee_is_free_by_law_with_a_warning_about_calo(
    executor, domain, language, free, calo
):
    tracker = make_tracker(
        text="berapa biaya bikin kk", intent="ask_fee", language=language,
        entities={"document": "kk"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_fee", tracker, domain)

    reply = texts(result)
    assert free in reply
    assert calo in reply
    assert "Pasal 79A" in reply


async def test_fee_without_a_source_is_not_stated(executor, domain):
    tracker = make_tracker(
        text="biaya aktivasi ikd", intent="ask_fee", entities={"document": "ikd"}
    )
    result = await run_action(executor, "action_tell_fee", tracker, domain)

    reply = texts(result)
    assert "GRATIS" not in reply
    assert "Belum ada sumber" in reply
    assert "/request_human" in [b["payload"] for b in buttons(result)]


async def test_fee_asks_for_the_document_with_buttons(executor, domain):
    tracker = make_tracker(text="bayar berapa?", intent="ask_fee")
    result = await run_action(executor, "action_tell_fee", tracker, domain)

    assert '/ask_fee{"document":"akta_kematian"}' in [
        b["payload"] for b in buttons(result)
    ]


@pytest.mark.parametrize(
    ("language", "unknown"),
    [("id", "belum kami ketahui"), ("min", "alun kami katahui")],
)
async def test_processing_time_of_padang_is_said_to_be_unknown(
    executor, domain, language, unknown
):
    tracker = make_tracker(
        text="berapa lama ktp jadi", intent="ask_processing_time", language=language,
        entities={"document": "ktp_el"},
    )  # fmt: skip
    result = await run_action(executor, "action_tell_processing_time", tracker, domain)

    reply = texts(result)
    assert unknown in reply
    assert "hari" not in reply.split("DKP")[0].lower()
    assert "/request_human" in [b["payload"] for b in buttons(result)]


async def test_office_info_gives_known_facts_and_owns_up_to_unknown_ones(
    executor, domain
):
    tracker = make_tracker(
        text="alamat disdukcapil di mana", intent="ask_office_info",
        entities={"location": "disdukcapil"},
    )  # fmt: skip
    result = await run_action(executor, "action_office_info", tracker, domain)

    reply = texts(result)
    assert "Jl. Jend. Sudirman No. 1" in reply
    assert "0751-28814" in reply
    assert "Hari dan jam layanan: belum kami ketahui" in reply
    assert "/request_human" in [b["payload"] for b in buttons(result)]
    assert slot_events(result) == {"location": None}


async def test_office_info_finds_a_kecamatan_office_from_the_text(executor, domain):
    tracker = make_tracker(
        text="kantor camat kuranji buka jam berapa", intent="ask_office_info",
        language="min",
    )  # fmt: skip
    result = await run_action(executor, "action_office_info", tracker, domain)

    reply = texts(result)
    assert "Kantor Camat Kuranji" in reply
    assert "Alamaik: alun kami katahui" in reply


async def test_office_info_finds_a_kelurahan_office_by_an_old_spelling(
    executor, domain
):
    tracker = make_tracker(
        text="kantor lurah kampung jao", intent="ask_office_info",
        entities={"location": "kampung jao"},
    )  # fmt: skip
    result = await run_action(executor, "action_office_info", tracker, domain)

    reply = texts(result)
    assert "Kantor Lurah Kampung Jawa" in reply
    assert "Kecamatan Padang Barat, kode pos 25112" in reply


async def test_office_info_asks_which_office_with_buttons(executor, domain):
    tracker = make_tracker(text="jam buka kantor?", intent="ask_office_info")
    result = await run_action(executor, "action_office_info", tracker, domain)

    assert '/ask_office_info{"location":"Disdukcapil"}' in [
        b["payload"] for b in buttons(result)
    ]


async def test_a_shared_location_without_office_coordinates_says_so(executor, domain):
    tracker = make_tracker(
        text="/share_location", intent="share_location",
        metadata={"location": {"latitude": -0.95, "longitude": 100.35}},
    )  # fmt: skip
    result = await run_action(executor, "action_office_info", tracker, domain)

    reply = texts(result)
    assert "belum punya data koordinat" in reply
    assert "Disdukcapil" in reply


async def test_a_shared_location_gives_the_nearest_office_with_coordinates(
    executor, domain, records_engine
):
    kuranji = "kecamatan_13_71_09"
    nanggalo = "kecamatan_13_71_10"
    with session_scope(records_engine) as session:
        for code, lat, lon in [(kuranji, -0.90, 100.40), (nanggalo, -0.89, 100.37)]:
            session.execute(
                update(Office)
                .where(Office.code == code)
                .values(latitude=lat, longitude=lon)
            )
    try:
        tracker = make_tracker(
            text="/share_location", intent="share_location",
            metadata={"location": {"latitude": -0.901, "longitude": 100.401}},
        )  # fmt: skip
        result = await run_action(executor, "action_office_info", tracker, domain)
    finally:
        with session_scope(records_engine) as session:
            session.execute(
                update(Office)
                .where(Office.code.in_([kuranji, nanggalo]))
                .values(latitude=None, longitude=None)
            )

    reply = texts(result)
    assert "Kantor terdekat" in reply
    assert "Kantor Camat Kuranji" in reply
    assert "Nanggalo" not in reply


@pytest.mark.parametrize(
    ("action", "intent", "entities"),
    [
        (
            "action_tell_requirements",
            "ask_requirements",
            {"document": "akta_kelahiran"},
        ),
        ("action_tell_fee", "ask_fee", {"document": "akta_kelahiran"}),
        ("action_tell_processing_time", "ask_processing_time", {"document": "kk"}),
        ("action_office_info", "ask_office_info", {"location": "mpp"}),
    ],
)
async def test_each_answer_is_one_chat_message(
    executor, domain, action, intent, entities
):
    # Rasa's REST channel cuts a text at every blank line into separate messages.
    tracker = make_tracker(text="...", intent=intent, entities=entities)
    result = await run_action(executor, action, tracker, domain)

    assert len(result["responses"]) == 1
    assert "\n\n" not in texts(result)
