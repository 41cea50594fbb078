"""Application status: shape checks, disclosure only on a match, identical answers for
a mismatch and an unknown number, the lockout after five failures, NIK masking."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from sqlalchemy import delete, select

from actions import store
from db.engine import session_scope
from db.records import Application, LookupAttempt, set_application_status
from tests.actions.conftest import (
    customs,
    make_tracker,
    run_action,
    slot_events,
    texts,
)

pytestmark = pytest.mark.usefixtures("use_database")

NIK = "1371095208950003"  # made up: Kuranji, woman born 12-08-1995


@pytest.fixture
def application(records_engine):
    """A made-up application, rejected after verification, removed afterwards."""
    number = f"DKP-2031-{uuid.uuid4().int % 1_000_000:06d}"
    with session_scope(records_engine) as session:
        app = Application(
            registration_number=number,
            nik=NIK,
            applicant_name="Nurul Chaniago",
            document="kk",
            request_type="perubahan_data",
            pickup_office_code="disdukcapil",
        )
        session.add(app)
        at = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.timezone.utc)
        set_application_status(session, app, "diajukan", at=at)
        set_application_status(
            session, app, "verifikasi", at=at + dt.timedelta(hours=3)
        )
        set_application_status(
            session, app, "ditolak", note="Fotokopi KK tidak terbaca",
            at=at + dt.timedelta(days=1),
        )  # fmt: skip
    yield number
    with session_scope(records_engine) as session:
        session.execute(
            delete(Application).where(Application.registration_number == number)
        )


def status_tracker(number: str, nik: str, **kwargs):
    return make_tracker(
        text=nik, intent="check_application_status",
        slots={"registration_number": number, "nik": nik}, **kwargs,
    )  # fmt: skip


async def validate(executor, domain, **candidates):
    tracker = make_tracker(
        text=str(next(iter(candidates.values()))),
        active_loop="application_status_form",
        requested_slot=next(iter(candidates)),
        slot_candidates=candidates,
    )
    return await run_action(
        executor, "validate_application_status_form", tracker, domain
    )


@pytest.mark.parametrize(
    "typed", ["dkp-2026-000123", "DKP 2026 000123", "dkp2026000123", "DKP-2026-123"]
)
async def test_registration_numbers_are_normalised(executor, domain, typed):
    result = await validate(executor, domain, registration_number=typed)

    assert slot_events(result)["registration_number"] == "DKP-2026-000123"
    assert texts(result) == ""


async def test_a_number_of_the_wrong_shape_is_asked_again_with_a_hint(executor, domain):
    result = await validate(executor, domain, registration_number="ADU-2026-000123")

    assert slot_events(result)["registration_number"] is None
    assert "DKP-TAHUN-6 ANGKA" in texts(result)


@pytest.mark.parametrize(
    ("nik", "hint"),
    [
        ("137109520895", "16 angka"),  # too short
        ("1371095208950003X", "16 angka"),
        ("1371093208950003", "tanggal"),  # day 32
        ("1371097208950003", "tanggal"),  # woman's day 72 - 40 = 32
        ("1371091213950003", "tanggal"),  # month 13
        ("1371093002950003", "tanggal"),  # 30 February
    ],
)
async def test_a_malformed_nik_is_asked_again_without_echoing_it(
    executor, domain, nik, hint
):
    result = await validate(executor, domain, nik=nik)

    assert slot_events(result)["nik"] is None
    assert hint in texts(result)
    assert nik[-8:] not in texts(result)


@pytest.mark.parametrize(
    "nik", ["1371095208950003", "1371 0912 0895 0003", "1371096902000003"]
)
async def test_a_well_formed_nik_is_kept_as_digits(executor, domain, nik):
    result = await validate(executor, domain, nik=nik)

    assert slot_events(result)["nik"] == nik.replace(" ", "")


async def test_a_matching_number_and_nik_disclose_the_record_masked(
    executor, domain, application, caplog
):
    caplog.set_level(logging.INFO)
    result = await run_action(
        executor, "action_application_status", status_tracker(application, NIK), domain
    )

    reply = texts(result)
    assert application in reply
    assert "Nurul Chaniago" in reply
    assert "*ditolak*" in reply
    assert "Alasan: Fotokopi KK tidak terbaca" in reply
    assert "02-11-2026 09:00 WIB: diajukan" in reply
    assert "************0003" in reply
    assert NIK not in reply
    assert NIK not in caplog.text
    assert slot_events(result) == {
        "registration_number": None, "nik": None, "requested_slot": None,
    }  # fmt: skip


async def test_minang_reply(executor, domain, application):
    tracker = status_tracker(application, NIK, language="min")
    result = await run_action(executor, "action_application_status", tracker, domain)

    assert "ateh namo Nurul Chaniago" in texts(result)


async def test_a_mismatch_and_an_unknown_number_get_the_same_answer(
    executor, domain, application
):
    wrong_nik = await run_action(
        executor, "action_application_status",
        status_tracker(application, "1371090101900001"), domain,
    )  # fmt: skip
    unknown = await run_action(
        executor, "action_application_status",
        status_tracker("DKP-2031-999999", NIK), domain,
    )  # fmt: skip

    assert texts(wrong_nik) == texts(unknown)
    assert "tidak menemukan" in texts(unknown)
    assert "Nurul" not in texts(wrong_nik)
    assert wrong_nik["events"] == unknown["events"]


async def test_five_failures_lock_the_sender_out_and_hand_over(
    executor, domain, application, records_engine
):
    sender = f"telegram:{uuid.uuid4().int % 10**9}"
    for attempt in range(4):
        result = await run_action(
            executor, "action_application_status",
            status_tracker(application, f"13710901019{attempt:05d}", sender_id=sender),
            domain,
        )  # fmt: skip
        assert customs(result) == []

    fifth = await run_action(
        executor, "action_application_status",
        status_tracker("DKP-2031-999998", NIK, sender_id=sender), domain,
    )  # fmt: skip
    assert "tidak menemukan" in texts(fifth)
    assert customs(fifth) == [{"handoff": {"reason": "lookup_limit"}}]
    assert {"event": "pause", "timestamp": None} in fifth["events"]

    # The counter lives in the database: a fresh engine and executor still refuse,
    # even with the right number and NIK.
    store.dispose_all()
    sixth = await run_action(
        executor, "action_application_status",
        status_tracker(application, NIK, sender_id=sender), domain,
    )  # fmt: skip
    assert "Nurul" not in texts(sixth)
    assert "kami hentikan sementara" in texts(sixth)
    assert customs(sixth) == [{"handoff": {"reason": "lookup_limit"}}]

    other = await run_action(
        executor, "action_application_status", status_tracker(application, NIK), domain
    )
    assert "Nurul Chaniago" in texts(other)

    with session_scope(records_engine) as session:
        attempts = (
            session.execute(
                select(LookupAttempt.succeeded).where(LookupAttempt.sender_id == sender)
            )
            .scalars()
            .all()
        )
    assert attempts == [False] * 5


async def test_old_failures_do_not_count(executor, domain, application, records_engine):
    sender = f"web:{uuid.uuid4().hex}"
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=11)
    with session_scope(records_engine) as session:
        for _ in range(5):
            session.add(
                LookupAttempt(sender_id=sender, succeeded=False, attempted_at=old)
            )

    result = await run_action(
        executor, "action_application_status",
        status_tracker(application, NIK, sender_id=sender), domain,
    )  # fmt: skip

    assert "Nurul Chaniago" in texts(result)


async def test_failures_on_one_number_from_many_senders_lock_that_number(
    executor, domain, application, records_engine
):
    # A web-chat sender id is made up by the client: a guesser who opens a new session
    # for every try must still be stopped after five wrong NIKs on one number.
    with session_scope(records_engine) as session:
        for _ in range(5):
            session.add(
                LookupAttempt(
                    sender_id=f"web:{uuid.uuid4().hex}",
                    registration_number=application,
                    succeeded=False,
                )
            )

    result = await run_action(
        executor, "action_application_status",
        status_tracker(application, NIK, sender_id=f"web:{uuid.uuid4().hex}"), domain,
    )  # fmt: skip

    assert "Nurul" not in texts(result)
    assert customs(result) == [{"handoff": {"reason": "lookup_limit"}}]


async def test_batal_cancels_instead_of_being_a_registration_number(executor, domain):
    tracker = make_tracker(
        text="batal", intent="deny", active_loop="application_status_form",
        requested_slot="registration_number",
        slot_candidates={"registration_number": "batal"},
    )  # fmt: skip
    result = await run_action(
        executor, "validate_application_status_form", tracker, domain
    )

    assert slot_events(result) == {"registration_number": None}
    assert result["events"][-1]["event"] == "action_execution_rejected"
    assert texts(result) == ""
