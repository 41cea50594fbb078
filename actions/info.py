"""Answers from the city's facts: requirements, fee and processing time of a
civil-registration service, and the hours, address and phone of an office.

A fact no source gave is stored as NULL; these actions then say that it is not known
and offer a human, and never fill the gap with a guess.
"""

from __future__ import annotations

import logging
import math
import re
from abc import abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import (
    EventList,
    GuardedAction,
    human_button,
    language_of,
    latest_entity,
    latest_intent,
    shared_location,
)
from actions.store import in_transaction
from actions.texts import DOCUMENTS, REQUEST_TYPES, label, text
from db.records import Office, Service

logger = logging.getLogger(__name__)

NATIONAL_SCOPES = ("nasional", "daerah_lain")
EARTH_RADIUS_KM = 6371.0


# --- which document ---------------------------------------------------------------


def requested_service(tracker: Tracker) -> tuple[str | None, str]:
    """Return the document and request type asked about (request type default baru).

    A document named in the latest message without a request type means "baru"; a
    request type alone applies to the document asked about before.
    """
    document_entity = latest_entity(tracker, "document")
    type_entity = latest_entity(tracker, "request_type")
    document = document_entity or tracker.get_slot("document")
    if document_entity and not type_entity:
        request_type = "baru"
    else:
        request_type = type_entity or tracker.get_slot("request_type") or "baru"
    if document not in DOCUMENTS:
        document = None
    if request_type not in REQUEST_TYPES:
        request_type = "baru"
    return document, request_type


def ask_for_document(
    dispatcher: CollectingDispatcher,
    language: str,
    *,
    intent: str,
    request_type: str | None = None,
) -> None:
    """Ask which document, with one button per document that re-enters ``intent``."""
    buttons = []
    for code in DOCUMENTS:
        entities = f'"document":"{code}"'
        if request_type and request_type != "baru":
            entities += f',"request_type":"{request_type}"'
        buttons.append(
            {
                "title": label(DOCUMENTS, code, language),
                "payload": f"/{intent}{{{entities}}}",
            }
        )
    dispatcher.utter_message(text=text("ask_document", language), buttons=buttons)


def _load_service(document: str, request_type: str) -> Any:
    def work(session: Session) -> Service | None:
        found: Service | None = session.execute(
            select(Service).where(
                Service.document == document, Service.request_type == request_type
            )
        ).scalar_one_or_none()
        return found

    return in_transaction(work)


def _pick(service: Service, field: str, language: str) -> list[str] | None:
    value = getattr(service, f"{field}_{language}", None)
    if value is None:
        value = getattr(service, f"{field}_id", None)
    return list(value) if value else None


def _numbered(items: list[str]) -> str:
    return "\n".join(f"{index}. {item}" for index, item in enumerate(items, 1))


# --- requirements, fee, processing time ---------------------------------------------


class ServiceAnswer(GuardedAction):
    """Answer a question about one civil-registration service (document + request).

    The three questions share their first steps: the document comes from the message
    or the slots, a missing one is asked for with buttons that re-enter ``intent``, and
    the service's record is loaded; :meth:`answer` says the rest.
    """

    intent: str

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        language = language_of(tracker)
        document, request_type = requested_service(tracker)
        if document is None:
            ask_for_document(
                dispatcher,
                language,
                intent=self.intent,
                request_type=latest_entity(tracker, "request_type"),
            )
            return []

        service = await _load_service(document, request_type)
        self.answer(
            dispatcher,
            language=language,
            document=document,
            request_type=request_type,
            service=service,
        )
        return [SlotSet("document", document), SlotSet("request_type", request_type)]

    @abstractmethod
    def answer(
        self,
        dispatcher: CollectingDispatcher,
        *,
        language: str,
        document: str,
        request_type: str,
        service: Service | None,
    ) -> None:
        """Send the answer for ``service`` (None: the records do not have it)."""


def _say_unknown(
    dispatcher: CollectingDispatcher, language: str, lines: list[str]
) -> None:
    """Say what is not known, offer a human, and add ``lines`` after."""
    first = lines[0] + " " + text("offer_human", language)
    dispatcher.utter_message(
        text="\n".join([first, *lines[1:]]), buttons=[human_button(language)]
    )


class ActionTellRequirements(ServiceAnswer):
    """Tell the requirements and procedure, saying whose rule they are."""

    intent = "ask_requirements"

    def name(self) -> str:
        return "action_tell_requirements"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        *,
        language: str,
        document: str,
        request_type: str,
        service: Service | None,
    ) -> None:
        """List requirements, procedure, notes, fee, legal basis and source."""
        names = {
            "document": label(DOCUMENTS, document, language),
            "request_type": label(REQUEST_TYPES, request_type, language),
        }
        requirements = _pick(service, "requirements", language) if service else None
        procedure = _pick(service, "procedure", language) if service else None
        if service is None or service.scope is None or not (requirements or procedure):
            _say_unknown(dispatcher, language, [text("req_unknown", language, **names)])
            return

        header = (
            "req_header_padang" if service.scope == "padang" else "req_header_national"
        )
        parts = [text(header, language, **names)]
        if requirements:
            parts.append(_numbered(requirements))
        if procedure:
            parts.append(text("req_procedure", language) + "\n" + _numbered(procedure))
        notes = _pick(service, "notes", language)
        if notes:
            parts.append(
                text("req_notes", language) + "\n" + "\n".join(f"- {n}" for n in notes)
            )
        if service.free_of_charge:
            parts.append(text("req_free", language))
        if service.legal_basis:
            parts.append(
                text("req_basis", language, basis="; ".join(service.legal_basis))
            )
        if service.sources:
            parts.append(text("req_source", language, source=service.sources[0]))
        dispatcher.utter_message(text="\n".join(parts))


class ActionTellFee(ServiceAnswer):
    """Tell that civil-registration services are free by law, and warn about calo."""

    intent = "ask_fee"

    def name(self) -> str:
        return "action_tell_fee"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        *,
        language: str,
        document: str,
        request_type: str,
        service: Service | None,
    ) -> None:
        """Say it is free (and about late-registration fines), or that it is unknown."""
        name = label(DOCUMENTS, document, language)
        if service is None or not service.free_of_charge:
            _say_unknown(
                dispatcher,
                language,
                [
                    text("fee_unknown", language, document=name),
                    text("fee_calo", language),
                ],
            )
            return

        parts = [text("fee_free", language, document=name)]
        if document == "akta_kelahiran":
            parts.append(text("fee_late_fine", language))
        parts.append(text("fee_calo", language))
        dispatcher.utter_message(text="\n".join(parts))


class ActionTellProcessingTime(ServiceAnswer):
    """Tell the processing time; Padang's is not known, and the bot says so."""

    intent = "ask_processing_time"

    def name(self) -> str:
        return "action_tell_processing_time"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        *,
        language: str,
        document: str,
        request_type: str,
        service: Service | None,
    ) -> None:
        """Say the known processing time, or that it is not known."""
        name = label(DOCUMENTS, document, language)
        known = None
        if service is not None:
            known = (
                getattr(service, f"service_time_{language}") or service.service_time_id
            )
        if known:
            dispatcher.utter_message(
                text=text("time_known", language, document=name, time=known)
            )
            return

        _say_unknown(
            dispatcher,
            language,
            [
                text("time_unknown", language, document=name),
                text("time_status_hint", language),
            ],
        )


# --- offices ----------------------------------------------------------------------

_KIND_WORDS = {
    "kelurahan": ("kelurahan", "lurah", "kel."),
    "kecamatan": ("kecamatan", "camat", "kec."),
}


def _normalise(value: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", value.lower()).strip() + " "


def _office_names(office: Office) -> list[str]:
    names = [office.name, *(office.aliases or [])]
    if office.kind == "kecamatan" and office.kecamatan:
        names.append(office.kecamatan)
    if office.kind == "kelurahan" and office.kelurahan:
        names.append(office.kelurahan)
    return [n for n in (_normalise(name).strip() for name in names) if n]


def find_office(offices: list[Office], query: str) -> Office | None:
    """Return the office ``query`` names: the longest name match, kind words breaking
    ties (``kelurahan X`` prefers the kelurahan office, otherwise the kecamatan)."""
    haystack = _normalise(query)
    wants = [
        kind
        for kind, words in _KIND_WORDS.items()
        if any(_normalise(word) in haystack for word in words)
    ]
    best: tuple[int, int, Office] | None = None
    for office in offices:
        for name in _office_names(office):
            if f" {name} " not in haystack:
                continue
            if office.kind in wants:
                preference = 2
            elif office.kind == "kelurahan":
                preference = 0
            else:
                preference = 1
            key = (len(name), preference)
            if best is None or key > best[:2]:
                best = (key[0], key[1], office)
    return best[2] if best else None


def nearest_office(
    offices: list[Office], latitude: float, longitude: float
) -> tuple[Office, float] | None:
    """Return the office with known coordinates nearest to a point, and its distance."""
    best: tuple[Office, float] | None = None
    for office in offices:
        if office.latitude is None or office.longitude is None:
            continue
        distance = _haversine_km(latitude, longitude, office.latitude, office.longitude)
        if best is None or distance < best[1]:
            best = (office, distance)
    return best


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def describe_office(office: Office, language: str) -> tuple[str, bool]:
    """Return the reply about ``office`` and whether any of its facts is unknown."""
    unknown = text("unknown_value", language)
    hours = ", ".join(filter(None, [office.days, office.hours])) or None
    message = text(
        "office_info",
        language,
        name=office.name,
        address=office.address or unknown,
        hours=hours or unknown,
        phone=office.phone or unknown,
    )
    if office.kecamatan and office.kind in ("kecamatan", "kelurahan"):
        postal = (
            text("office_postal", language, code=office.postal_code)
            if office.postal_code
            else ""
        )
        message += "\n" + text(
            "office_area", language, kecamatan=office.kecamatan, postal=postal
        )
    if office.note and language == "id":
        message += "\n" + office.note
    if office.as_of and office.as_of[:1].isdigit():
        message += "\n" + text("office_as_of", language, as_of=office.as_of)
    incomplete = not (office.address and hours and office.phone)
    return message, incomplete


def _office_buttons(language: str) -> list[dict[str, str]]:
    return [
        {
            "title": "Disdukcapil",
            "payload": '/ask_office_info{"location":"Disdukcapil"}',
        },
        {
            "title": "Mal Pelayanan Publik",
            "payload": '/ask_office_info{"location":"Mal Pelayanan Publik"}',
        },
        {"title": "Balai Kota", "payload": '/ask_office_info{"location":"Balai Kota"}'},
        human_button(language),
    ]


class ActionOfficeInfo(GuardedAction):
    """Hours, address and phone of the office asked about, or the nearest one."""

    def name(self) -> str:
        return "action_office_info"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        language = language_of(tracker)
        offices = await in_transaction(
            lambda session: list(session.execute(select(Office)).scalars())
        )
        point = shared_location(tracker)
        if point is not None or latest_intent(tracker) == "share_location":
            self._nearest(dispatcher, offices, point, language)
            return [SlotSet("location", None)]

        named = latest_entity(tracker, "location")
        message_text = str((tracker.latest_message or {}).get("text") or "")
        office = None
        for query in filter(None, [named, message_text]):
            office = find_office(offices, query)
            if office is not None:
                break
        if office is None:
            if named:
                dispatcher.utter_message(
                    text=text("office_not_found", language, name=named)
                )
            dispatcher.utter_message(
                text=text("office_ask", language), buttons=_office_buttons(language)
            )
            return [SlotSet("location", None)]

        self._tell(dispatcher, office, language)
        return [SlotSet("location", None)]

    @staticmethod
    def _tell(dispatcher: CollectingDispatcher, office: Office, language: str) -> None:
        message, incomplete = describe_office(office, language)
        if incomplete:
            message += "\n" + text("office_incomplete", language)
            message += " " + text("offer_human", language)
            dispatcher.utter_message(text=message, buttons=[human_button(language)])
        else:
            dispatcher.utter_message(text=message)

    def _nearest(
        self,
        dispatcher: CollectingDispatcher,
        offices: list[Office],
        point: tuple[float, float] | None,
        language: str,
    ) -> None:
        found = nearest_office(offices, *point) if point else None
        if found is None:
            dispatcher.utter_message(text=text("nearest_unknown", language))
            main = next((o for o in offices if o.kind == "disdukcapil"), None)
            if main is not None:
                self._tell(dispatcher, main, language)
            else:
                dispatcher.utter_message(
                    text=text("offer_human", language), buttons=[human_button(language)]
                )
            return

        office, distance = found
        dispatcher.utter_message(
            text=text("nearest_office", language, km=f"{distance:.1f}")
        )
        self._tell(dispatcher, office, language)
