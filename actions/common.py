"""What every action shares: the resident's language, the message metadata, entities,
the handoff payload, and :class:`GuardedAction`, which turns a fault into a plain
"please try again" and a logged error with a correlation id.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.texts import normalise_language, text

logger = logging.getLogger(__name__)

EventList = list[dict[str, Any]]
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")  # Padang's time; no daylight saving


def language_of(tracker: Tracker) -> str:
    """Return the resident's language: the slot, else the parse, else Indonesian."""
    slot = tracker.get_slot("language")
    if slot in ("id", "min"):
        return str(slot)
    parsed = (tracker.latest_message or {}).get("language") or {}
    name = parsed.get("name") if isinstance(parsed, dict) else None
    return normalise_language(name)


def metadata_of(tracker: Tracker) -> dict[str, Any]:
    """Return the metadata the gateway attached to the latest message (or {})."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


def latest_intent(tracker: Tracker) -> str | None:
    """Return the name of the latest message's intent."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name") if isinstance(intent, dict) else None


def latest_entity(tracker: Tracker, name: str) -> str | None:
    """Return the first value of entity ``name`` in the latest message."""
    value = next(tracker.get_latest_entity_values(name), None)
    return None if value is None else str(value)


def shared_location(tracker: Tracker) -> tuple[float, float] | None:
    """Return the (latitude, longitude) shared with the latest message, if valid."""
    location = metadata_of(tracker).get("location")
    if not isinstance(location, dict):
        return None
    try:
        latitude = float(location["latitude"])
        longitude = float(location["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


# Intents that interrupt a form: the domain's rules cancel the form (deny), hand over
# (request_human), call 112 (report_emergency) or show the menu (ask_help). A form
# whose requested slot is filled from free text would otherwise swallow them as an
# answer, so the validators reject the form's turn for these intents.
INTERRUPTING_INTENTS = ("deny", "request_human", "report_emergency", "ask_help")


_FORM_TURN_ACTIONS = ("action_listen", "action_extract_slots")


def interrupts_form(tracker: Tracker, form: str) -> bool:
    """Return whether the latest message should interrupt ``form`` now.

    Only the form's first run after the message gives way: once another action
    answered it (``utter_help``, then the form again), the form carries on.
    """
    if latest_intent(tracker) not in INTERRUPTING_INTENTS:
        return False

    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return True
        name = event.get("name")
        if event.get("event") == "action" and name not in (*_FORM_TURN_ACTIONS, form):
            return False
    return True


def give_way(tracker: Tracker, form: str) -> EventList:
    """Reject the form's turn and undo what the form took from the interrupting text.

    Rasa fills a free-text slot from the message before the form runs; those values
    ("batal", "/ask_help") are reset so the form asks for the slot again later.
    """
    message = (tracker.latest_message or {}).get("text")
    resets = [
        SlotSet(name, None)
        for name, value in tracker.slots_to_validate().items()
        if value == message
    ]
    return [*resets, ActionExecutionRejected(form)]


def human_button(language: str) -> dict[str, str]:
    """Return the button that asks for a human."""
    return {"title": text("human_button", language), "payload": "/request_human"}


def send_handoff(dispatcher: CollectingDispatcher, reason: str) -> None:
    """Send the custom payload that hands the conversation to staff."""
    dispatcher.utter_message(json_message={"handoff": {"reason": reason}})


def local_date(moment: dt.datetime) -> str:
    """Format an aware datetime as Padang's local date and time."""
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


class GuardedAction(Action, ABC):  # type: ignore[misc]
    """An action whose faults reach the resident as "please try again", never a trace.

    Subclasses implement :meth:`act`. Any exception (a database that is down, a bug)
    is logged with a short correlation id; the resident gets the apology with the
    same id in their language, and :meth:`events_on_failure` is returned.
    """

    @abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        """Do the action's work and return its events."""

    def events_on_failure(self, tracker: Tracker) -> EventList:
        """Return the events to apply when :meth:`act` failed (default: none)."""
        return []

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        """Run :meth:`act`, turning any fault into a reply the resident can act on."""
        try:
            return await self.act(dispatcher, tracker, domain)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            logger.exception(
                "Action %s failed for sender %s (ref %s)",
                self.name(),
                tracker.sender_id,
                ref,
            )
            dispatcher.messages.clear()
            dispatcher.utter_message(
                text=text("service_down", language_of(tracker), ref=ref)
            )
            return self.events_on_failure(tracker)
