"""The real action server (``rasa run actions``) on both databases: 50 concurrent
complaint submissions get 50 distinct tickets, and one confirmation posted many
times at once gets one ticket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import aiohttp
import pytest
from sqlalchemy import func, select

from db.engine import make_engine, session_scope
from db.records import Complaint
from tests.actions.conftest import make_tracker
from tests.actions.server import action_call, action_server, post_action, unique_sender
from tests.db.fixtures import BACKENDS

TICKET_RE = re.compile(r"ADU-\d{4}-\d{6}")
CONCURRENT = 50


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A running action server and the URL of its (seeded) database."""
    database_url = request.getfixturevalue(f"{request.param}_records_url")
    log = tmp_path_factory.mktemp("action-server") / "actions.log"
    process, url = action_server(database_url=database_url, log_path=log)
    process.start()
    yield url, database_url
    process.stop()


def submission(sender: str, index: int, domain) -> dict:
    tracker = make_tracker(
        sender_id=sender, text="ya", intent="affirm",
        metadata={"channel": "telegram", "contact": None},
        slots={"complaint_category": "sampah", "location": f"Jalan Nomor {index}",
               "complaint_description": f"Sampah menumpuk {index}",
               "complaint_confirmed": True},
        active_loop="complaint_form",
    )  # fmt: skip
    return action_call("action_submit_complaint", tracker, domain)


def count_for(database_url: str, senders: list[str]) -> int:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            return int(
                session.execute(
                    select(func.count(Complaint.id)).where(
                        Complaint.sender_id.in_(senders)
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


async def test_concurrent_submissions_get_distinct_tickets(served, domain):
    url, database_url = served
    senders = [unique_sender() for _ in range(CONCURRENT)]
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *[
                post_action(session, url, submission(sender, i, domain))
                for i, sender in enumerate(senders)
            ]
        )

    tickets = []
    for _, answer in answers:
        text = "\n".join(r.get("text") or "" for r in answer["responses"])
        tickets.append(TICKET_RE.search(text).group(0))
    assert len(set(tickets)) == CONCURRENT
    assert count_for(database_url, senders) == CONCURRENT


async def test_one_confirmation_posted_many_times_at_once_makes_one_ticket(
    served, domain
):
    url, database_url = served
    sender = unique_sender()
    body = submission(sender, 0, domain)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *[post_action(session, url, body) for _ in range(10)]
        )

    texts = ["\n".join(r.get("text") or "" for r in a["responses"]) for _, a in answers]
    assert len({TICKET_RE.search(t).group(0) for t in texts}) == 1
    assert count_for(database_url, [sender]) == 1
