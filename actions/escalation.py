"""Handing a conversation to staff: emergencies, requests for a human, fallbacks,
and cancelling a form.

An emergency is told to call 112 first, then the conversation goes to staff. Every
handoff sends the custom payload ``{"handoff": {"reason": ...}}`` the gateway acts on
and pauses the conversation (Rasa predicts nothing until staff hand it back).
"""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import application_status, complaints
from actions.common import (
    EventList,
    GuardedAction,
    language_of,
    latest_intent,
    send_handoff,
)
from actions.texts import text

logger = logging.getLogger(__name__)


class ActionEmergency(GuardedAction):
    """Tell the resident to call 112 at once, then hand the conversation to staff."""

    def name(self) -> str:
        return "action_emergency"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        logger.warning("Emergency reported by %s: handed to staff", tracker.sender_id)
        dispatcher.utter_message(text=text("emergency", language_of(tracker)))
        send_handoff(dispatcher, "emergency")
        return [ConversationPaused()]

    def events_on_failure(self, tracker: Tracker) -> EventList:
        return [ConversationPaused()]


def handoff_reason(tracker: Tracker) -> str:
    """Return why the conversation goes to staff, from the latest intent."""
    intent = latest_intent(tracker)
    if intent == "request_human":
        return "requested"
    if intent == "nlu_fallback":
        return "fallback"
    return "action"


class ActionHandoff(GuardedAction):
    """Tell the resident a human takes over, and hand the conversation to staff."""

    def name(self) -> str:
        return "action_handoff"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        reason = handoff_reason(tracker)
        key = "handoff_fallback" if reason == "fallback" else "handoff"
        logger.info("Handing %s to staff (%s)", tracker.sender_id, reason)
        dispatcher.utter_message(text=text(key, language_of(tracker)))
        send_handoff(dispatcher, reason)
        return [ConversationPaused()]


class ActionCancelForm(GuardedAction):
    """Clear what a cancelled form had collected, and say it was cancelled."""

    def name(self) -> str:
        return "action_cancel_form"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        dispatcher.utter_message(response="utter_cancelled")
        slots = (*application_status.FORM_SLOTS, *complaints.FORM_SLOTS)
        return [SlotSet(slot, None) for slot in slots] + [
            SlotSet("requested_slot", None)
        ]
