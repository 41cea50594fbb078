"""Lodging a complaint and asking its status.

complaint_form collects category, location and description; a location or photo the
channel attached to a message (metadata ``location`` / ``media``) fills the
coordinates and photo slots, and a shared location also satisfies ``location``. The
complaint is read back, and stored only once the resident confirms. Ticket numbers
come from a counter row locked by the transaction, so concurrent submissions never
share one; an idempotency key (sender, form run, contents) makes a confirmation
that arrives twice return the first ticket instead of making a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from actions import ActionsError
from actions.common import (
    WIB,
    EventList,
    GuardedAction,
    give_way,
    interrupts_form,
    language_of,
    latest_entity,
    local_date,
    metadata_of,
    shared_location,
)
from actions.store import in_transaction
from actions.texts import COMPLAINT_CATEGORIES, COMPLAINT_STATUSES, label, text
from db.records import (
    TICKET_PREFIX,
    Complaint,
    ComplaintCategory,
    ComplaintPhoto,
    next_number,
    normalise_number,
    set_complaint_status,
    utcnow,
)

logger = logging.getLogger(__name__)

FORM_SLOTS = (
    "complaint_category",
    "location",
    "complaint_description",
    "complaint_confirmed",
    "complaint_latitude",
    "complaint_longitude",
    "complaint_photos",
)
DANGER_CATEGORIES = ("banjir", "pohon_tumbang")
MIN_TEXT_LENGTH = 3
# A complaint is stored only on a yes the resident really wrote (or the Ya button):
# the intent classifier also calls "asdfghjkl" or a row of emoji `affirm`.
YES_WORDS = frozenset(
    [
        "ya",
        "iya",
        "iyaa",
        "iyo",
        "yo",
        "y",
        "yes",
        "yup",
        "ok",
        "oke",
        "okay",
        "okey",
        "sip",
        "siap",
        "betul",
        "benar",
        "bener",
        "bana",
        "setuju",
        "lanjut",
        "kirim",
        "boleh",
        "lai",
        "jadi",
        "tentu",
        "pasti",
        "mantap",
    ]
)
YES_SIGNS = ("👍", "👌", "✅")


def _value_before_this_turn(tracker: Tracker, slot: str) -> Any:
    """Return the value ``slot`` had before the resident's latest message."""
    events = list(tracker.events)
    latest_user = max(
        (i for i, event in enumerate(events) if event.get("event") == "user"),
        default=len(events),
    )
    value = None
    for event in events[:latest_user]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def _clearly_yes(tracker: Tracker) -> bool:
    """Whether the latest message is the Ya button or contains a yes word or sign."""
    message = str((tracker.latest_message or {}).get("text") or "")
    if message.startswith("/affirm"):
        return True
    words = {word.strip(".,!?;:'\"()") for word in message.lower().split()}
    return bool(words & YES_WORDS) or any(sign in message for sign in YES_SIGNS)


MAX_PHOTOS = 10


class UnknownCategoryError(ActionsError, ValueError):
    """The complaint's category is not one the city routes."""

    def __init__(self, category: Any) -> None:
        super().__init__(f"Complaint category {category!r} is not routed to an agency.")
        self.category = category


def _is_payload(value: Any) -> bool:
    # "/share_location" and friends: the gateway's text for a message without words.
    return isinstance(value, str) and value.strip().startswith("/")


def _media_of(tracker: Tracker) -> list[dict[str, str]]:
    return _media_in(metadata_of(tracker))


def _media_in(metadata: dict[str, Any]) -> list[dict[str, str]]:
    media = metadata.get("media") or []
    found = []
    for item in media if isinstance(media, list) else []:
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
            found.append(
                {
                    "url": item["url"],
                    "content_type": str(item.get("content_type") or ""),
                }
            )
    return found


def collected_photos(tracker: Tracker) -> list[dict[str, str]]:
    """Return the photos of this complaint: the slot's, plus any sent with the message
    that opened the form (the form validates nothing on that turn unless a slot was
    already filled, so a photo sent with "lapor jalan rusak" would be lost)."""
    photos = [
        p for p in tracker.get_slot("complaint_photos") or [] if isinstance(p, dict)
    ]
    events = tracker.events or []
    start = None
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if (
            event.get("event") == "active_loop"
            and event.get("name") == "complaint_form"
        ):
            start = index
            break
    if start is not None:
        opening = next(
            (e for e in reversed(events[:start]) if e.get("event") == "user"), None
        )
        if opening is not None:
            metadata = opening.get("metadata") or {}
            if not metadata:
                metadata = (opening.get("parse_data") or {}).get("metadata") or {}
            known = {p.get("url") for p in photos}
            photos += [m for m in _media_in(metadata) if m["url"] not in known]
    return photos[:MAX_PHOTOS]


class ValidateComplaintForm(FormValidationAction):  # type: ignore[misc]
    """Validate the complaint slots and take location and photos from the metadata."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        """Add the metadata's location and photos, then validate as usual.

        Cancel, help, a human or an emergency reject the form's turn instead, so that
        the domain's rules for them run.
        """
        if interrupts_form(tracker, self.form_name()):
            return give_way(tracker, self.form_name())

        language = language_of(tracker)
        extra: EventList = []
        point = shared_location(tracker)
        if point is not None:
            latitude, longitude = point
            extra += [
                SlotSet("complaint_latitude", latitude),
                SlotSet("complaint_longitude", longitude),
            ]
            current = tracker.get_slot("location")
            if current is None or _is_payload(current):
                shared = text(
                    "location_shared", language, latitude=latitude, longitude=longitude
                )
                extra.append(SlotSet("location", shared))

        media = _media_of(tracker)
        if media:
            photos = list(tracker.get_slot("complaint_photos") or [])
            known = {p.get("url") for p in photos if isinstance(p, dict)}
            photos += [m for m in media if m["url"] not in known]
            photos = photos[:MAX_PHOTOS]
            extra.append(SlotSet("complaint_photos", photos))
            dispatcher.utter_message(
                text=text("photo_received", language, count=len(photos))
            )

        tracker.add_slots(extra)
        events = await super().run(dispatcher, tracker, domain)
        return [*extra, *events]

    def validate_complaint_category(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep a category the city routes; otherwise it is asked again with buttons."""
        return {"complaint_category": value if value in COMPLAINT_CATEGORIES else None}

    def validate_location(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep a location text of a few characters (a shared location counts).

        A place named in a later answer (the description "dekat simpang") does not
        replace the location the resident already gave.
        """
        earlier = _value_before_this_turn(tracker, "location")
        if earlier and tracker.get_slot("requested_slot") != "location":
            return {"location": earlier}

        point = shared_location(tracker)
        if _is_payload(value) and point is not None:
            latitude, longitude = point
            value = text(
                "location_shared",
                language_of(tracker),
                latitude=latitude,
                longitude=longitude,
            )
        if _is_payload(value) or len(str(value or "").strip()) < MIN_TEXT_LENGTH:
            if not _is_payload(value):
                dispatcher.utter_message(
                    text=text("location_too_short", language_of(tracker))
                )
            return {"location": None}
        return {"location": str(value).strip()}

    def validate_complaint_description(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep a description in words (a photo alone is kept, and words asked for)."""
        if _is_payload(value):
            return {"complaint_description": None}
        if len(str(value or "").strip()) < MIN_TEXT_LENGTH:
            dispatcher.utter_message(
                text=text("description_too_short", language_of(tracker))
            )
            return {"complaint_description": None}
        return {"complaint_description": str(value).strip()}

    def validate_complaint_confirmed(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep a no, and a yes only when the resident clearly said yes."""
        if value is True and not _clearly_yes(tracker):
            dispatcher.utter_message(text=text("confirm_unclear", language_of(tracker)))
            return {"complaint_confirmed": None}
        return {"complaint_confirmed": value if isinstance(value, bool) else None}


def _location_line(tracker: Tracker) -> str:
    location = str(tracker.get_slot("location") or "-")
    latitude = tracker.get_slot("complaint_latitude")
    longitude = tracker.get_slot("complaint_longitude")
    if latitude is not None and longitude is not None and "(" not in location:
        location += f" ({float(latitude):.5f}, {float(longitude):.5f})"
    return location


class ActionAskComplaintConfirmed(GuardedAction):
    """Read the collected complaint back and ask Ya/Tidak."""

    def name(self) -> str:
        return "action_ask_complaint_confirmed"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        language = language_of(tracker)
        photos = collected_photos(tracker)
        dispatcher.utter_message(
            text=text(
                "confirm_complaint",
                language,
                category=label(
                    COMPLAINT_CATEGORIES,
                    tracker.get_slot("complaint_category"),
                    language,
                ),
                location=_location_line(tracker),
                description=tracker.get_slot("complaint_description") or "-",
                photos=len(photos) if photos else text("no_photos", language),
            ),
            buttons=[
                {"title": text("yes_send", language), "payload": "/affirm"},
                {"title": text("no_cancel", language), "payload": "/deny"},
            ],
        )
        return []


def idempotency_key(tracker: Tracker, contents: dict[str, Any]) -> str:
    """Key one complaint: the sender, the run of the form, and what was collected.

    The run of the form is the timestamp of the event that activated complaint_form,
    so the same confirmation processed twice maps to one key, while the same words
    filed again in a later conversation turn get their own ticket.
    """
    started = None
    for event in reversed(tracker.events or []):
        if (
            event.get("event") == "active_loop"
            and event.get("name") == "complaint_form"
        ):
            started = event.get("timestamp")
            break
    material = json.dumps(
        {"sender": tracker.sender_id, "form_started": started, **contents},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def store_complaint(session: Session, fields: dict[str, Any]) -> tuple[str, str, bool]:
    """Store a complaint unless its key exists; return (ticket, agency, created)."""
    existing = session.execute(
        select(Complaint)
        .where(Complaint.idempotency_key == fields["idempotency_key"])
        .options(selectinload(Complaint.agency))
    ).scalar_one_or_none()
    if existing is not None:
        return existing.ticket_number, existing.agency.name, False

    category = session.get(ComplaintCategory, fields["category_code"])
    if category is None:
        raise UnknownCategoryError(fields["category_code"])
    now = utcnow()
    complaint = Complaint(
        ticket_number=next_number(session, TICKET_PREFIX, now.astimezone(WIB).year),
        category_code=category.code,
        agency_code=category.agency_code,
        description=fields["description"],
        location_text=fields["location_text"],
        latitude=fields["latitude"],
        longitude=fields["longitude"],
        sender_id=fields["sender_id"],
        channel=fields["channel"],
        contact=fields["contact"],
        language=fields["language"],
        idempotency_key=fields["idempotency_key"],
        created_at=now,
    )
    for photo in fields["photos"]:
        complaint.photos.append(
            ComplaintPhoto(
                url=photo["url"], content_type=photo.get("content_type") or None
            )
        )
    session.add(complaint)
    set_complaint_status(session, complaint, "diterima", changed_by="bot", at=now)
    session.flush()
    return complaint.ticket_number, category.agency.name, True


class ActionSubmitComplaint(GuardedAction):
    """Store the confirmed complaint and tell its ticket and agency."""

    def name(self) -> str:
        return "action_submit_complaint"

    def events_on_failure(self, tracker: Tracker) -> EventList:
        # Keep what was collected: the resident can confirm again once it works.
        return [SlotSet("complaint_confirmed", None)]

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        language = language_of(tracker)
        if tracker.get_slot("complaint_confirmed") is not True:
            dispatcher.utter_message(text=text("complaint_cancelled", language))
            return _clear_form()

        metadata = metadata_of(tracker)
        category = tracker.get_slot("complaint_category")
        contents = {
            "category_code": category,
            "location_text": str(tracker.get_slot("location") or "").strip(),
            "description": str(tracker.get_slot("complaint_description") or "").strip(),
            "latitude": _float_or_none(tracker.get_slot("complaint_latitude")),
            "longitude": _float_or_none(tracker.get_slot("complaint_longitude")),
            "photos": collected_photos(tracker),
        }
        channel = metadata.get("channel") or tracker.sender_id.split(":", 1)[0]
        fields = {
            **contents,
            "idempotency_key": idempotency_key(tracker, contents),
            "sender_id": tracker.sender_id,
            "channel": str(channel)[:20] or None,
            "contact": str(metadata["contact"])[:200]
            if metadata.get("contact")
            else None,
            "language": language,
        }
        try:
            ticket, agency, created = await in_transaction(
                lambda session: store_complaint(session, fields)
            )
        except IntegrityError:
            # The same confirmation was committed first by another request: reuse it.
            ticket, agency, created = await in_transaction(
                lambda session: store_complaint(session, fields)
            )
        logger.info(
            "Complaint %s (%s) %s for %s",
            ticket,
            category,
            "stored" if created else "already stored",
            tracker.sender_id,
        )
        reply = text("complaint_submitted", language, ticket=ticket, agency=agency)
        if category in DANGER_CATEGORIES:
            reply += "\n" + text("complaint_danger_hint", language)
        dispatcher.utter_message(text=reply)
        return _clear_form()


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _clear_form() -> EventList:
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [
        SlotSet("requested_slot", None)
    ]


def complaint_snapshot(session: Session, ticket: str) -> dict[str, Any] | None:
    """Return what may be told about ticket ``ticket`` to whoever has the number."""
    complaint = session.execute(
        select(Complaint)
        .where(Complaint.ticket_number == ticket)
        .options(selectinload(Complaint.history), selectinload(Complaint.agency))
    ).scalar_one_or_none()
    if complaint is None:
        return None
    return {
        "ticket": complaint.ticket_number,
        "category": complaint.category_code,
        "agency": complaint.agency.name,
        "status": complaint.status,
        "history": [(h.changed_at, h.status, h.note) for h in complaint.history],
    }


class ActionComplaintStatus(GuardedAction):
    """Tell a complaint's status and history by its ticket number."""

    def name(self) -> str:
        return "action_complaint_status"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        language = language_of(tracker)
        raw = latest_entity(tracker, "ticket_number") or tracker.get_slot(
            "ticket_number"
        )
        if not raw:
            dispatcher.utter_message(text=text("ask_ticket", language))
            return []

        ticket = normalise_number(str(raw), TICKET_PREFIX)
        if ticket is None:
            dispatcher.utter_message(text=text("ticket_invalid", language))
            return [SlotSet("ticket_number", None)]

        snapshot = await in_transaction(lambda s: complaint_snapshot(s, ticket))
        if snapshot is None:
            dispatcher.utter_message(
                text=text("ticket_not_found", language, ticket=ticket)
            )
            return [SlotSet("ticket_number", None)]

        lines = [
            text(
                "complaint_status",
                language,
                ticket=ticket,
                category=label(COMPLAINT_CATEGORIES, snapshot["category"], language),
                agency=snapshot["agency"],
                status=label(COMPLAINT_STATUSES, snapshot["status"], language),
            ),
            text("history", language),
        ]
        for changed_at, status, note in snapshot["history"]:
            name = label(COMPLAINT_STATUSES, status, language)
            line = f"- {local_date(changed_at)}: {name}"
            if status == "ditolak" and note:
                line += f" ({note})"
            lines.append(line)
        dispatcher.utter_message(text="\n".join(lines))
        return [SlotSet("ticket_number", None)]
