"""A database that is down: the resident reads a plain "please try again" in their
language with a reference, the log has the error with the same reference, and no
stack trace reaches the chat."""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path

import pytest

from actions import store
from actions.config import Settings, get_settings, use_settings
from tests.actions.conftest import make_tracker, run_action, slot_events, texts


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["postgres_down", "sqlite_unopenable"])
def database_down(request, tmp_path: Path):
    if request.param == "postgres_down":
        url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    else:
        # A folder where the database file should be: SQLite cannot open it.
        (tmp_path / "padang.db").mkdir()
        url = f"sqlite:///{tmp_path / 'padang.db'}"
    before = get_settings()
    use_settings(Settings(database_url=url))
    yield url
    use_settings(before)
    store.dispose_all()


NIK = "1371095208950003"
CASES = [
    (
        "action_application_status",
        {"intent": "check_application_status",
         "slots": {"registration_number": "DKP-2026-000001", "nik": NIK}},
    ),
    (
        "action_submit_complaint",
        {"intent": "affirm", "slots": {
            "complaint_category": "sampah", "location": "Pasar Raya",
            "complaint_description": "Sampah menumpuk", "complaint_confirmed": True}},
    ),
    ("action_office_info", {"intent": "ask_office_info", "text": "kantor disdukcapil"}),
    (
        "action_tell_requirements",
        {"intent": "ask_requirements", "entities": {"document": "kk"}},
    ),
    (
        "action_complaint_status",
        {"intent": "check_complaint_status",
         "entities": {"ticket_number": "ADU-2026-000001"}},
    ),
]  # fmt: skip


@pytest.mark.usefixtures("database_down")
@pytest.mark.parametrize(("action", "kwargs"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize(
    ("language", "words"),
    [("id", "Silakan coba lagi"), ("min", "Cubo baliak sabanta lai")],
)
async def test_a_database_that_is_down_gives_a_plain_try_again(
    executor, domain, caplog, action, kwargs, language, words
):
    caplog.set_level(logging.ERROR)
    tracker = make_tracker(language=language, **kwargs)
    result = await run_action(executor, action, tracker, domain)

    reply = texts(result)
    assert len(result["responses"]) == 1
    assert words in reply
    assert "Traceback" not in reply
    assert "sqlalchemy" not in reply.lower()
    ref = re.search(r"kode: ([0-9a-f]{8})", reply).group(1)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(ref in r.getMessage() and r.exc_info for r in errors)
    assert NIK not in caplog.text


@pytest.mark.usefixtures("database_down")
async def test_a_failed_submission_keeps_the_complaint_to_confirm_again(
    executor, domain
):
    tracker = make_tracker(
        intent="affirm",
        slots={"complaint_category": "sampah", "location": "Pasar Raya",
               "complaint_description": "Sampah menumpuk", "complaint_confirmed": True},
    )  # fmt: skip
    result = await run_action(executor, "action_submit_complaint", tracker, domain)

    assert slot_events(result) == {"complaint_confirmed": None}
