"""Emergencies, handoffs and cancelling a form."""

from __future__ import annotations

import pytest

from tests.actions.conftest import customs, make_tracker, run_action, slot_events, texts

PAUSE = {"event": "pause", "timestamp": None}


@pytest.mark.parametrize(
    ("language", "words"),
    [("id", "segera telepon *112*"), ("min", "capek talepon *112*")],
)
async def test_an_emergency_is_told_to_call_112_first_then_handed_over(
    executor, domain, language, words
):
    tracker = make_tracker(
        text="rumah tetangga terbakar", intent="report_emergency", language=language
    )
    result = await run_action(executor, "action_emergency", tracker, domain)

    first, second = result["responses"]
    assert words in first["text"]
    assert second["custom"] == {"handoff": {"reason": "emergency"}}
    assert result["events"] == [PAUSE]


@pytest.mark.parametrize(
    ("intent", "reason", "words"),
    [
        ("request_human", "requested", "kami teruskan ke petugas"),
        ("nlu_fallback", "fallback", "belum bisa memahami"),
        ("check_application_status", "action", "kami teruskan ke petugas"),
    ],
)
async def test_handoff_says_why(executor, domain, intent, reason, words):
    tracker = make_tracker(text="...", intent=intent)
    result = await run_action(executor, "action_handoff", tracker, domain)

    assert words in texts(result)
    assert customs(result) == [{"handoff": {"reason": reason}}]
    assert result["events"] == [PAUSE]


async def test_handoff_in_minang(executor, domain):
    tracker = make_tracker(
        text="nio bacakap jo urang", intent="request_human", language="min"
    )
    result = await run_action(executor, "action_handoff", tracker, domain)

    assert "kami taruihan ka patugas" in texts(result)


async def test_cancelling_a_form_clears_what_it_collected(executor, domain):
    tracker = make_tracker(
        text="batal", intent="deny",
        slots={"complaint_category": "sampah", "location": "Pasar Raya", "nik": "1"},
    )  # fmt: skip
    result = await run_action(executor, "action_cancel_form", tracker, domain)

    assert result["responses"][0]["response"] == "utter_cancelled"
    slots = slot_events(result)
    assert slots["complaint_category"] is None
    assert slots["location"] is None
    assert slots["nik"] is None
