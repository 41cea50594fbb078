"""The city's records: offices, agencies, civil-registration services and applications,
complaints, and the per-sender lookup log.

```
agencies 1--n complaint_categories 1--n complaints 1--n complaint_status_history
                                              \\--n complaint_photos
offices 1--n applications 1--n application_status_history
services (document x request_type: requirements, procedure, fee, time; id + min)
lookup_attempts (sender, number, time, success)  number_counters (prefix, year, last)
```

Status codes are the Indonesian words of the design (``siap_diambil`` for "siap
diambil"). Helpers here are what every part (actions, console) uses to change records,
so the status history is always written with the status.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, relationship
from sqlalchemy.types import TypeDecorator

from db import DatabaseError
from db.base import Base

APPLICATION_STATUSES = (
    "diajukan",
    "verifikasi",
    "diproses",
    "dicetak",
    "siap_diambil",
    "ditolak",
)
COMPLAINT_STATUSES = ("diterima", "diverifikasi", "diproses", "selesai", "ditolak")
DOCUMENTS = (
    "ktp_el",
    "kk",
    "akta_kelahiran",
    "akta_kematian",
    "akta_perkawinan",
    "akta_perceraian",
    "kia",
    "surat_pindah",
    "ikd",
)
REQUEST_TYPES = ("baru", "hilang", "rusak", "perubahan_data")
OFFICE_KINDS = ("disdukcapil", "mpp", "balai_kota", "kecamatan", "kelurahan")
SCOPES = ("padang", "nasional", "daerah_lain")

REGISTRATION_PREFIX = "DKP"
TICKET_PREFIX = "ADU"
NUMBER_RE = re.compile(r"^(DKP|ADU)-(\d{4})-(\d{6})$")


class RecordError(DatabaseError):
    """A record operation was refused (unknown record, invalid status)."""


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):  # type: ignore[misc]
    """Store naive UTC on every backend; hand back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"Naive datetime {value!r}: pass an aware datetime.")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Agency(Base):  # type: ignore[misc]
    """A city agency (OPD) or outside body that handles complaints."""

    __tablename__ = "agencies"

    code = Column(String(40), primary_key=True)
    name = Column(Text, nullable=False)
    contacts = Column(JSON, nullable=False, default=list)  # ["WhatsApp 0811-..."]
    note = Column(Text)
    sources = Column(JSON, nullable=False, default=list)

    categories = relationship("ComplaintCategory", back_populates="agency")


class ComplaintCategory(Base):  # type: ignore[misc]
    """A complaint category (TAXONOMY.md) and the agency it is routed to."""

    __tablename__ = "complaint_categories"

    code = Column(String(40), primary_key=True)
    label_id = Column(Text, nullable=False)
    label_min = Column(Text, nullable=False)
    agency_code = Column(ForeignKey("agencies.code"), nullable=False)
    # Routing when it is an emergency (people in danger): who, through 112.
    emergency_note = Column(Text)
    channels = Column(JSON, nullable=False, default=list)
    note = Column(Text)
    sources = Column(JSON, nullable=False, default=list)

    agency = relationship("Agency", back_populates="categories")


class Office(Base):  # type: ignore[misc]
    """A public office; every fact is nullable and ``None`` means "not known"."""

    __tablename__ = "offices"
    __table_args__ = (CheckConstraint(f"kind IN ({_in(OFFICE_KINDS)})", name="kind"),)

    code = Column(String(40), primary_key=True)
    kind = Column(String(20), nullable=False)
    name = Column(Text, nullable=False)
    kecamatan = Column(String(60))
    kecamatan_code = Column(String(12))
    kelurahan = Column(String(60))
    kelurahan_code = Column(String(16))
    # Other spellings residents use (BPS, older Kepmendagri, Minang forms).
    aliases = Column(JSON, nullable=False, default=list)
    address = Column(Text)
    postal_code = Column(String(5))
    days = Column(Text)
    hours = Column(Text)
    phone = Column(Text)
    email = Column(Text)
    website = Column(Text)
    latitude = Column(Float)
    longitude = Column(Float)
    note = Column(Text)
    as_of = Column(String(20))
    sources = Column(JSON, nullable=False, default=list)


class Service(Base):  # type: ignore[misc]
    """What a civil-registration service needs, for one document and request type.

    List columns hold lists of strings; ``None`` means no source gave the fact.
    ``scope`` says whose statement it is: Padang's own, a national rule, or another
    Disdukcapil's standard that follows the national rule (presented as a national
    rule).
    """

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("document", "request_type", name="uq_services_document_type"),
        CheckConstraint(f"scope IS NULL OR scope IN ({_in(SCOPES)})", name="scope"),
    )

    id = Column(Integer, primary_key=True)
    document = Column(String(30), nullable=False)
    request_type = Column(String(30), nullable=False)
    scope = Column(String(20))
    requirements_id = Column(JSON)
    requirements_min = Column(JSON)
    procedure_id = Column(JSON)
    procedure_min = Column(JSON)
    notes_id = Column(JSON)
    notes_min = Column(JSON)
    # Free by law unless stated; None when no source states the fee (IKD).
    free_of_charge = Column(Boolean)
    service_time_id = Column(Text)
    service_time_min = Column(Text)
    legal_basis = Column(JSON, nullable=False, default=list)
    sources = Column(JSON, nullable=False, default=list)


class Application(Base):  # type: ignore[misc]
    """A civil-registration application (made-up demo records)."""

    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(APPLICATION_STATUSES)})", name="status"),
    )

    id = Column(Integer, primary_key=True)
    registration_number = Column(String(15), nullable=False, unique=True)
    nik = Column(String(16), nullable=False)
    applicant_name = Column(Text, nullable=False)
    document = Column(String(30), nullable=False)
    request_type = Column(String(30), nullable=False)
    status = Column(String(20), nullable=False, default="diajukan")
    reject_reason = Column(Text)
    pickup_office_code = Column(ForeignKey("offices.code"))
    submitted_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    pickup_office = relationship("Office")
    history = relationship(
        "ApplicationStatusChange",
        back_populates="application",
        order_by="ApplicationStatusChange.id",
        cascade="all, delete-orphan",
    )


class ApplicationStatusChange(Base):  # type: ignore[misc]
    """One step of an application's status history."""

    __tablename__ = "application_status_history"

    id = Column(Integer, primary_key=True)
    application_id = Column(
        ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status = Column(String(20), nullable=False)
    note = Column(Text)
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow)

    application = relationship("Application", back_populates="history")


class Complaint(Base):  # type: ignore[misc]
    """A resident's complaint (aduan)."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(COMPLAINT_STATUSES)})", name="status"),
        Index("ix_complaints_sender_id", "sender_id"),
    )

    id = Column(Integer, primary_key=True)
    ticket_number = Column(String(15), nullable=False, unique=True)
    category_code = Column(ForeignKey("complaint_categories.code"), nullable=False)
    agency_code = Column(ForeignKey("agencies.code"), nullable=False)
    description = Column(Text, nullable=False)
    location_text = Column(Text, nullable=False)
    latitude = Column(Float)
    longitude = Column(Float)
    sender_id = Column(String(200))  # the Rasa sender id, e.g. "telegram:123"
    channel = Column(String(20))
    contact = Column(String(200))
    language = Column(String(3))
    status = Column(String(20), nullable=False, default="diterima")
    # Same key = the same complaint confirmed twice: both get the first ticket.
    idempotency_key = Column(String(64), unique=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    category = relationship("ComplaintCategory")
    agency = relationship("Agency")
    photos = relationship(
        "ComplaintPhoto", order_by="ComplaintPhoto.id", cascade="all, delete-orphan"
    )
    history = relationship(
        "ComplaintStatusChange",
        back_populates="complaint",
        order_by="ComplaintStatusChange.id",
        cascade="all, delete-orphan",
    )


class ComplaintPhoto(Base):  # type: ignore[misc]
    """A photo reference sent with a complaint (the channel's media URL)."""

    __tablename__ = "complaint_photos"

    id = Column(Integer, primary_key=True)
    complaint_id = Column(
        ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False, index=True
    )
    url = Column(Text, nullable=False)
    content_type = Column(String(100))


class ComplaintStatusChange(Base):  # type: ignore[misc]
    """One step of a complaint's status history."""

    __tablename__ = "complaint_status_history"

    id = Column(Integer, primary_key=True)
    complaint_id = Column(
        ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status = Column(String(20), nullable=False)
    note = Column(Text)
    changed_by = Column(String(100))
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow)

    complaint = relationship("Complaint", back_populates="history")


class LookupAttempt(Base):  # type: ignore[misc]
    """One application-status lookup by a sender; failures drive the lockout."""

    __tablename__ = "lookup_attempts"
    __table_args__ = (
        Index("ix_lookup_attempts_sender_time", "sender_id", "attempted_at"),
        Index("ix_lookup_attempts_number_time", "registration_number", "attempted_at"),
    )

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(200), nullable=False)
    # The number asked about: failures count per number too, because a web-chat
    # sender id is whatever the client makes up.
    registration_number = Column(String(20), nullable=True)
    succeeded = Column(Boolean, nullable=False)
    attempted_at = Column(UTCDateTime, nullable=False, default=utcnow)


class NumberCounter(Base):  # type: ignore[misc]
    """The last number given out per prefix and year (DKP-2026-000123)."""

    __tablename__ = "number_counters"

    prefix = Column(String(3), primary_key=True)
    year = Column(Integer, primary_key=True)
    last_value = Column(Integer, nullable=False, default=0)


# --- numbers and masking -------------------------------------------------------------


def mask_nik(nik: str | None) -> str:
    """Return a NIK with all but its last 4 digits hidden, safe for logs and replies."""
    digits = re.sub(r"\D", "", nik or "")
    if len(digits) < 4:
        return "****"
    return "*" * 12 + digits[-4:]


# 16 digits, optionally grouped by spaces, dots or dashes ("1371 0112 3456 7890").
_NIK_IN_TEXT_RE = re.compile(r"(?<!\d)(?:\d[ .\-]?){15}\d(?!\d)")
# An Indonesian mobile number: +62 8…, 62 8… or 08…, 9 to 13 digits after the prefix.
_PHONE_IN_TEXT_RE = re.compile(r"(?<![\w+])(\+?62|0)(8\d{7,11})(?!\d)")


def mask_niks(text: str) -> str:
    """Replace every 16-digit number in ``text`` by stars and its last 4 digits."""
    return _NIK_IN_TEXT_RE.sub(lambda match: mask_nik(match.group(0)), text)


def mask_phones(text: str) -> str:
    """Hide the middle of every Indonesian mobile number in ``text``:
    ``+6281234567890`` becomes ``+62812*****890``."""

    def _mask(match: re.Match[str]) -> str:
        prefix, number = match.groups()
        return prefix + number[:3] + "*" * (len(number) - 6) + number[-3:]

    return _PHONE_IN_TEXT_RE.sub(_mask, text)


def normalise_number(text: str | None, prefix: str) -> str | None:
    """Normalise a typed registration/ticket number to ``PFX-YYYY-NNNNNN``.

    Lowercase, spaces, dots and missing dashes are accepted; ``None`` when the text does
    not have the shape.
    """
    if not text:
        return None
    upper = text.strip().upper()
    match = re.fullmatch(rf"{prefix}[\s._/-]*(\d{{4}})[\s._/-]+(\d{{1,6}})", upper)
    if match is None:
        match = re.fullmatch(rf"{prefix}(\d{{4}})(\d{{6}})", re.sub(r"\s", "", upper))
    if match is None:
        return None
    return f"{prefix}-{match.group(1)}-{int(match.group(2)):06d}"


def format_number(prefix: str, year: int, value: int) -> str:
    """Format a registration or ticket number."""
    return f"{prefix}-{year:04d}-{value:06d}"


def next_number(session: Session, prefix: str, year: int) -> str:
    """Take the next number for ``prefix`` and ``year`` inside the caller's transaction.

    The counter row is created if missing and then incremented with one UPDATE, which
    locks the row until the transaction ends (PostgreSQL row lock; SQLite transactions
    begin IMMEDIATE), so concurrent callers never get the same number.
    """
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert_fn(NumberCounter)
        .values(prefix=prefix, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["prefix", "year"])
    )
    session.execute(
        update(NumberCounter)
        .where(NumberCounter.prefix == prefix, NumberCounter.year == year)
        .values(last_value=NumberCounter.last_value + 1)
    )
    value = session.execute(
        select(NumberCounter.last_value).where(
            NumberCounter.prefix == prefix, NumberCounter.year == year
        )
    ).scalar_one()
    return format_number(prefix, year, value)


def sync_counters(session: Session) -> None:
    """Set every counter to the highest number already used (after seeding)."""
    used: dict[tuple[str, int], int] = {}
    numbers = list(session.execute(select(Application.registration_number)).scalars())
    numbers += list(session.execute(select(Complaint.ticket_number)).scalars())
    for number in numbers:
        match = NUMBER_RE.match(number)
        if match:
            key = (match.group(1), int(match.group(2)))
            used[key] = max(used.get(key, 0), int(match.group(3)))
    for (prefix, year), value in used.items():
        counter = session.get(NumberCounter, (prefix, year))
        if counter is None:
            session.add(NumberCounter(prefix=prefix, year=year, last_value=value))
        elif counter.last_value < value:
            counter.last_value = value


# --- status changes ------------------------------------------------------------------


def set_application_status(
    session: Session,
    application: Application,
    status: str,
    *,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Change an application's status and append the step to its history.

    Raises:
        RecordError: ``status`` is not an application status, or ``ditolak`` has no
            reason.
    """
    if status not in APPLICATION_STATUSES:
        raise RecordError(f"Unknown application status {status!r}.")
    if status == "ditolak" and not note:
        raise RecordError("A rejected application needs a reason.")

    at = at or utcnow()
    application.status = status
    application.reject_reason = note if status == "ditolak" else None
    application.updated_at = at
    application.history.append(
        ApplicationStatusChange(status=status, note=note, changed_at=at)
    )


def set_complaint_status(
    session: Session,
    complaint: Complaint,
    status: str,
    *,
    note: str | None = None,
    changed_by: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Change a complaint's status and append the step to its history.

    Raises:
        RecordError: ``status`` is not a complaint status.
    """
    if status not in COMPLAINT_STATUSES:
        raise RecordError(f"Unknown complaint status {status!r}.")

    at = at or utcnow()
    complaint.status = status
    complaint.updated_at = at
    complaint.history.append(
        ComplaintStatusChange(
            status=status, note=note, changed_by=changed_by, changed_at=at
        )
    )


def count_failed_lookups(
    session: Session,
    sender_id: str,
    *,
    since: dt.datetime,
    registration_number: str | None = None,
) -> int:
    """Count the failed status lookups since ``since``: of ``sender_id``, or of
    ``registration_number`` (by any sender) when the number is given, whichever is more.
    """
    recent_failures = select(func.count(LookupAttempt.id)).where(
        LookupAttempt.succeeded.is_(False), LookupAttempt.attempted_at >= since
    )
    by_sender = session.execute(
        recent_failures.where(LookupAttempt.sender_id == sender_id)
    ).scalar_one()
    if registration_number is None:
        return int(by_sender)

    by_number = session.execute(
        recent_failures.where(LookupAttempt.registration_number == registration_number)
    ).scalar_one()
    return int(max(by_sender, by_number))
