"""The status of a civil-registration application, disclosed only to a resident who
gives both its registration number and the matching NIK.

A mismatch and an unknown number get the same answer. Every lookup is logged in the
database per sender and number; after ``lookup_max_failures`` failures within the
window by the sender, or on the number by anyone (a web-chat sender id is made up by
the client), lookups are refused and the conversation goes to staff (``lookup_limit``).
NIKs appear in replies and logs only masked (last four digits).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from actions.common import (
    EventList,
    GuardedAction,
    give_way,
    interrupts_form,
    language_of,
    local_date,
    send_handoff,
)
from actions.config import get_settings
from actions.store import in_transaction
from actions.texts import APPLICATION_STATUSES, DOCUMENTS, REQUEST_TYPES, label, text
from db.records import (
    REGISTRATION_PREFIX,
    Application,
    LookupAttempt,
    count_failed_lookups,
    mask_nik,
    normalise_number,
    utcnow,
)

logger = logging.getLogger(__name__)

FORM_SLOTS = ("registration_number", "nik")


def nik_digits(value: Any) -> str:
    """Return the digits of a typed NIK (spaces, dots and dashes dropped)."""
    return re.sub(r"[\s.\-]", "", str(value or ""))


def nik_problem(value: Any) -> str | None:
    """Return why ``value`` cannot be a NIK (a text key), or ``None`` when it can.

    A NIK has 16 digits; digits 7-12 are the birth date DDMMYY, with 40 added to the
    day for women. A date that cannot exist means the NIK was mistyped.
    """
    digits = nik_digits(value)
    if not re.fullmatch(r"\d{16}", digits):
        return "nik_invalid_length"
    day, month, year = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    if day > 40:
        day -= 40
    for century in (1900, 2000):
        try:
            dt.date(century + year, month, day)
        except ValueError:
            continue
        return None
    return "nik_invalid_date"


class ValidateApplicationStatusForm(FormValidationAction):  # type: ignore[misc]
    """Check the shapes of the registration number and NIK; ask again with a hint."""

    def name(self) -> str:
        return "validate_application_status_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        """Give way to cancel, help, a human or an emergency; else validate."""
        if interrupts_form(tracker, self.form_name()):
            return give_way(tracker, self.form_name())
        events: EventList = await super().run(dispatcher, tracker, domain)
        return events

    def validate_registration_number(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Normalise the number to DKP-YYYY-NNNNNN or ask again."""
        number = normalise_number(str(value or ""), REGISTRATION_PREFIX)
        if number is None:
            dispatcher.utter_message(
                text=text("registration_number_invalid", language_of(tracker))
            )
        return {"registration_number": number}

    def validate_nik(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep a well-formed NIK (digits only) or ask again, never echoing it."""
        problem = nik_problem(value)
        if problem is not None:
            logger.info(
                "Rejected a malformed NIK from %s (%s)", tracker.sender_id, problem
            )
            dispatcher.utter_message(text=text(problem, language_of(tracker)))
            return {"nik": None}
        return {"nik": nik_digits(value)}


@dataclass
class LookupResult:
    """What one status lookup found (copied out of the session)."""

    outcome: str  # found | not_found | locked_now | locked
    details: dict[str, Any] = field(default_factory=dict)


def lookup(
    session: Session, *, sender_id: str, number: str | None, nik: str
) -> LookupResult:
    """Look an application up for ``sender_id`` and log the attempt."""
    settings = get_settings()
    since = utcnow() - dt.timedelta(seconds=settings.lookup_window_seconds)
    failures = count_failed_lookups(
        session, sender_id, since=since, registration_number=number
    )
    if failures >= settings.lookup_max_failures:
        return LookupResult("locked")

    application = None
    if number is not None:
        application = session.execute(
            select(Application)
            .where(Application.registration_number == number)
            .options(
                selectinload(Application.history),
                selectinload(Application.pickup_office),
            )
        ).scalar_one_or_none()
    # Compare even when the number is unknown, so both failures cost the same.
    stored = application.nik if application is not None else "0" * 16
    matched = (
        hmac.compare_digest(stored.encode(), nik.encode()) and application is not None
    )
    session.add(
        LookupAttempt(
            sender_id=sender_id, registration_number=number, succeeded=matched
        )
    )
    if not matched:
        if failures + 1 >= settings.lookup_max_failures:
            return LookupResult("locked_now")
        return LookupResult("not_found")

    assert application is not None  # narrowed by `matched`
    return LookupResult(
        "found",
        {
            "number": application.registration_number,
            "nik": application.nik,
            "name": application.applicant_name,
            "document": application.document,
            "request_type": application.request_type,
            "status": application.status,
            "reject_reason": application.reject_reason,
            "office": application.pickup_office.name
            if application.pickup_office
            else None,
            "history": [(h.changed_at, h.status, h.note) for h in application.history],
        },
    )


def describe_application(details: dict[str, Any], language: str) -> str:
    """Return the reply that discloses a matched application (NIK masked)."""
    lines = [
        text(
            "status_found",
            language,
            number=details["number"],
            document=label(DOCUMENTS, details["document"], language),
            request_type=label(REQUEST_TYPES, details["request_type"], language),
            name=details["name"],
            nik=mask_nik(details["nik"]),
            status=label(APPLICATION_STATUSES, details["status"], language),
        )
    ]
    if details["status"] == "siap_diambil" and details["office"]:
        lines.append(text("status_ready", language, office=details["office"]))
    if details["status"] == "ditolak" and details["reject_reason"]:
        lines.append(text("status_rejected", language, reason=details["reject_reason"]))
    if details["history"]:
        lines.append(text("history", language))
        for changed_at, status, _note in details["history"]:
            name = label(APPLICATION_STATUSES, status, language)
            lines.append(f"- {local_date(changed_at)}: {name}")
    return "\n".join(lines)


def _clear_form() -> EventList:
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [
        SlotSet("requested_slot", None)
    ]


class ActionApplicationStatus(GuardedAction):
    """Disclose an application's status when number and NIK match; count failures."""

    def name(self) -> str:
        return "action_application_status"

    def events_on_failure(self, tracker: Tracker) -> EventList:
        return _clear_form()

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        language = language_of(tracker)
        number = normalise_number(
            str(tracker.get_slot("registration_number") or ""), REGISTRATION_PREFIX
        )
        nik = nik_digits(tracker.get_slot("nik"))
        sender_id = tracker.sender_id
        result = await in_transaction(
            lambda session: lookup(session, sender_id=sender_id, number=number, nik=nik)
        )
        logger.info(
            "Status lookup of %s with NIK %s by %s: %s",
            number,
            mask_nik(nik),
            sender_id,
            result.outcome,
        )
        if result.outcome == "found":
            dispatcher.utter_message(
                text=describe_application(result.details, language)
            )
            return _clear_form()

        if result.outcome == "not_found":
            dispatcher.utter_message(text=text("status_not_found", language))
            return _clear_form()

        if result.outcome == "locked_now":
            dispatcher.utter_message(text=text("status_not_found", language))
        dispatcher.utter_message(text=text("lookup_locked", language))
        send_handoff(dispatcher, "lookup_limit")
        return [*_clear_form(), ConversationPaused()]
