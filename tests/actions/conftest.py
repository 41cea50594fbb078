"""Fixtures of the action tests: a seeded database per backend, the action executor
of rasa-sdk with this project's actions, and a keyword-argument tracker factory."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import ActionExecutor

from actions import store
from actions.config import Settings, get_settings, use_settings
from tests.db.fixtures import (  # noqa: F401
    postgres_records_url,
    records_engine,
    records_url,
    sqlite_records_url,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The project's domain.yml, as Rasa sends it to the action server."""
    with (REPO / "domain.yml").open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


@pytest.fixture(scope="session")
def executor() -> ActionExecutor:
    """rasa-sdk's executor with every action of the ``actions`` package registered."""
    executor = ActionExecutor()
    executor.register_package("actions")
    return executor


@pytest.fixture
def use_database(records_url: str) -> Iterator[str]:  # noqa: F811
    """Point the actions at the seeded database of the current backend."""
    before = get_settings()
    use_settings(Settings(database_url=records_url))
    yield records_url
    use_settings(before)
    store.dispose_all()


def make_tracker(
    *,
    sender_id: str | None = None,
    text: str = "",
    intent: str | None = None,
    entities: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    slot_candidates: dict[str, Any] | None = None,
    language: str = "id",
    active_loop: str | None = None,
    requested_slot: str | None = None,
    loop_started: float | None = None,
    opening_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the tracker state Rasa would send, from keyword arguments.

    ``slot_candidates`` are the slots a form extracted this turn (the trailing slot
    events a validation action validates); ``loop_started`` is the timestamp of the
    event that activated ``active_loop``; ``opening_metadata`` is the metadata of the
    message that opened it.
    """
    all_slots: dict[str, Any] = {"language": language, **(slots or {})}
    if requested_slot is not None:
        all_slots["requested_slot"] = requested_slot
    latest_message = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0} if intent else {},
        "entities": [
            {"entity": name, "value": value, "start": 0, "end": 0}
            for name, value in (entities or {}).items()
        ],
        "metadata": metadata or {},
        "message_id": uuid.uuid4().hex,
    }
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
    if active_loop is not None:
        if opening_metadata is not None:
            events.append(
                {"event": "user", "text": "lapor", "metadata": opening_metadata}
            )
        events.append(
            {
                "event": "active_loop",
                "name": active_loop,
                "timestamp": loop_started or time.time(),
            }
        )
    events.append({"event": "user", "text": text, "parse_data": latest_message})
    for name, value in (slot_candidates or {}).items():
        all_slots[name] = value
        events.append({"event": "slot", "name": name, "value": value})
    return {
        "sender_id": sender_id or f"test:{uuid.uuid4().hex[:12]}",
        "slots": all_slots,
        "latest_message": latest_message,
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen",
    }


async def run_action(
    executor: ActionExecutor, name: str, tracker: dict[str, Any], domain: dict[str, Any]
) -> dict[str, Any]:
    """Run action ``name`` through the executor the action server uses."""
    result = await executor.run(
        {
            "next_action": name,
            "sender_id": tracker["sender_id"],
            "tracker": tracker,
            "domain": domain,
            "version": "3.6.2",
        }
    )
    assert result is not None
    return result


def texts(result: dict[str, Any]) -> str:
    """Join the texts of an action's responses."""
    return "\n".join(r.get("text") or "" for r in result["responses"])


def buttons(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every button of an action's responses."""
    return [b for r in result["responses"] for b in r.get("buttons") or []]


def customs(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the custom payloads of an action's responses."""
    return [r["custom"] for r in result["responses"] if r.get("custom")]


def slot_events(result: dict[str, Any]) -> dict[str, Any]:
    """Return the slots an action set, last value winning."""
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
