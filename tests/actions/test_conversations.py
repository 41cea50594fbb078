"""Every action flow end to end: the real Rasa server with the trained model, the real
action server and the seeded database, one conversation in Indonesian and one in
Minangkabau per flow."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from db.engine import make_engine, session_scope
from db.records import Application, Complaint
from tests.conftest import RasaClient, custom_payloads, reply_texts

pytestmark = pytest.mark.rasa

REPO = Path(__file__).resolve().parents[2]
TICKET_RE = re.compile(r"ADU-\d{4}-\d{6}")


def response_text(name: str, language: str) -> str:
    """Return the text of response ``name`` in ``language`` as domain.yml has it."""
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    for variant in domain["responses"][name]:
        is_min = {"type": "slot", "name": "language", "value": "min"} in variant.get(
            "condition", []
        )
        if is_min == (language == "min"):
            return str(variant["text"])
    raise KeyError(name)


def meta(channel: str = "telegram", **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "message_id": uuid.uuid4().hex, **extra}


@pytest.fixture(scope="module")
def demo_application(rasa_stack) -> tuple[str, str, str]:
    """A seeded application that is ready for pickup: number, NIK, applicant."""
    engine = make_engine(rasa_stack.database_url)
    try:
        with session_scope(engine) as session:
            app = session.execute(
                select(Application)
                .where(Application.status == "siap_diambil")
                .order_by(Application.id)
                .limit(1)
            ).scalar_one()
            return app.registration_number, app.nik, app.applicant_name
    finally:
        engine.dispose()


# --- requirements, fee, processing time ------------------------------------------

INFO_TURNS = [
    ("id", "apa saja syarat bikin kk baru?", ["Syarat Kartu Keluarga (KK) (baru)"]),
    ("min", "a syarat mambuek KK baru?", ["Syarat Kartu Kaluarga (KK) (baru)"]),
    ("id", "berapa biaya bikin akta kelahiran", ["GRATIS (Rp0)", "calo"]),
    ("min", "bara biayo mambuek akta kalahiran", ["GRATIH (Rp0)", "calo"]),
    ("id", "berapa lama bikin ktp sampai jadi", ["belum kami ketahui"]),
    ("min", "bara lamo mambuek KTP sampai jadi", ["alun kami katahui"]),
    ("id", "alamat kantor disdukcapil dimana ya", ["Jl. Jend. Sudirman No. 1"]),
    ("min", "dima alamaik kantua disdukcapil", ["Alamaik: Jl. Jend. Sudirman No. 1"]),
]


@pytest.mark.parametrize(("language", "text", "expected"), INFO_TURNS)
async def test_information_is_answered_in_the_residents_language(
    rasa: RasaClient, sender: str, language: str, text: str, expected: list[str]
) -> None:
    replies = await rasa.say(sender, text, meta())

    said = reply_texts(replies)
    for words in expected:
        assert words in said


# --- application status ----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "opening", "found"),
    [
        ("id", "saya mau cek status permohonan ktp saya", "atas nama"),
        ("min", "ambo nio mancaliak status permohonan KK ambo", "ateh namo"),
    ],
)
async def test_application_status_form(
    rasa: RasaClient, sender: str, demo_application, language, opening, found
) -> None:
    number, nik, name = demo_application
    asked = await rasa.say(sender, opening, meta())
    assert reply_texts(asked) == response_text(
        "utter_ask_registration_number", language
    )

    asked_nik = await rasa.say(sender, number.lower().replace("-", " "), meta())
    assert response_text("utter_ask_nik", language) in reply_texts(asked_nik)

    impossible = nik[:6] + "99" + nik[8:]
    hint = await rasa.say(sender, impossible, meta())
    assert "TTBBTT" in reply_texts(hint)
    assert impossible not in reply_texts(hint)

    answer = await rasa.say(sender, nik, meta())
    said = reply_texts(answer)
    assert number in said
    assert f"{found} {name}" in said
    assert nik not in said
    assert nik[-4:] in said


# --- complaints --------------------------------------------------------------------


async def _file_complaint(
    rasa: RasaClient, sender: str, language: str, opening: str, *, description: str
) -> list[dict[str, Any]]:
    """Answer whatever the complaint form asks until it reads the complaint back."""
    location = {"latitude": -0.9136, "longitude": 100.3615}
    replies = await rasa.say(sender, opening, meta())
    for _ in range(6):
        said = reply_texts(replies)
        if any(
            b.get("payload") == "/affirm" for r in replies for b in r.get("buttons", [])
        ):
            return replies
        if response_text("utter_ask_location", language) in said:
            replies = await rasa.say(sender, "/share_location", meta(location=location))
        elif response_text("utter_ask_complaint_description", language) in said:
            photo = {
                "url": "https://files.example.invalid/a.jpg",
                "content_type": "image/jpeg",
            }
            replies = await rasa.say(sender, description, meta(media=[photo]))
        elif response_text("utter_ask_complaint_category", language) in said:
            replies = await rasa.say(
                sender, '/lodge_complaint{"complaint_category": "jalan_rusak"}', meta()
            )
        else:
            pytest.fail(f"Unexpected turn in the complaint form: {replies}")
    pytest.fail("The complaint form never read the complaint back.")


@pytest.mark.parametrize(
    ("language", "opening", "description", "yes", "received"),
    [
        ("id", "saya mau lapor jalan rusak", "jalannya berlubang besar",
         "ya", "Aduan Anda sudah kami terima"),
        ("min", "ambo nio mangadu, jalan rusak", "jalannyo balubang gadang",
         "iyo", "Pangaduan Sanak alah kami tarimo"),
    ],
)  # fmt: skip
async def test_complaint_form_then_its_status(
    rasa: RasaClient, rasa_stack, sender: str, language, opening, description, yes,
    received,
) -> None:  # fmt: skip
    readback = await _file_complaint(
        rasa, sender, language, opening, description=description
    )
    assert "(-0.91360, 100.36150)" in reply_texts(readback)

    confirmed = await rasa.say(sender, yes, meta())
    said = reply_texts(confirmed)
    assert received in said
    ticket = TICKET_RE.search(said).group(0)

    engine = make_engine(rasa_stack.database_url)
    try:
        with session_scope(engine) as session:
            stored = session.execute(
                select(Complaint)
                .where(Complaint.ticket_number == ticket)
                .options(selectinload(Complaint.photos))
            ).scalar_one()
            assert stored.sender_id == sender
            assert stored.channel == "telegram"
            assert stored.latitude == pytest.approx(-0.9136)
            assert [p.url for p in stored.photos] == [
                "https://files.example.invalid/a.jpg"
            ]
            assert stored.language == language
    finally:
        engine.dispose()

    status = await rasa.say(sender, f"status aduan {ticket}", meta())
    assert ticket in reply_texts(status)


@pytest.mark.parametrize(
    ("language", "opening", "no"),
    [("id", "saya mau lapor lampu jalan mati", "tidak"),
     ("min", "ambo nio mangadu lampu jalan mati", "indak")],
)  # fmt: skip
async def test_a_complaint_that_is_not_confirmed_is_not_stored(
    rasa: RasaClient, sender: str, language, opening, no
) -> None:
    await _file_complaint(
        rasa, sender, language, opening, description="mati tiga titik"
    )

    cancelled = await rasa.say(sender, no, meta())
    assert not TICKET_RE.search(reply_texts(cancelled))


# --- escalation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "words"),
    [("id", "tolong ada kebakaran di rumah tetangga saya", "telepon *112*"),
     ("min", "tolong, rumah tetangga ambo tabaka", "talepon *112*")],
)  # fmt: skip
async def test_an_emergency_is_told_to_call_112_and_handed_over(
    rasa: RasaClient, sender: str, language, text, words
) -> None:
    replies = await rasa.say(sender, text, meta())

    assert words in reply_texts(replies)
    assert {"handoff": {"reason": "emergency"}} in custom_payloads(replies)
    tracker = await rasa.tracker(sender)
    assert tracker["paused"] is True


@pytest.mark.parametrize(
    ("language", "text", "words"),
    [("id", "saya mau bicara dengan petugas", "kami teruskan ke petugas"),
     ("min", "ambo nio bacakap jo patugas", "kami taruihan ka patugas")],
)  # fmt: skip
async def test_a_human_on_request(rasa: RasaClient, sender: str, language, text, words):
    replies = await rasa.say(sender, text, meta())

    assert words in reply_texts(replies)
    assert {"handoff": {"reason": "requested"}} in custom_payloads(replies)
