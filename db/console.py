"""The agent console's tables: staff accounts, sessions, notes, canned replies, surveys,
audit log; and the helpers the console uses on them.

```
console_agents 1--n console_sessions        (token hash, CSRF token, expiry)
               1--n console_notes           (conversation id, text: staff only)
               1--n console_audit           (who did what, when, from where)
console_canned_replies                      (language id | min, title, text)
console_surveys                             (conversation id, language, score 1-5)
```

Conversation ids are the Rasa sender ids (``telegram:123``); they are kept as plain
strings so that the console's tables do not depend on the gateway's schema.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Session, relationship

from db import DatabaseError
from db.base import Base
from db.records import UTCDateTime, utcnow

ROLES = ("agent", "supervisor")
LANGUAGES = ("id", "min")

# scrypt parameters for new hashes; each hash records its own, so they can be raised.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32  # bytes
SCRYPT_SALT_BYTES = 16
SCRYPT_MAXMEM = 64 * 1024 * 1024  # bytes; n=2**15 with r=8 needs 32 MiB

SESSION_TOKEN_BYTES = 32
SURVEY_ANSWER_WINDOW = dt.timedelta(hours=24)

PADANG_KECAMATAN = (
    "Bungus Teluk Kabung",
    "Koto Tangah",
    "Kuranji",
    "Lubuk Begalung",
    "Lubuk Kilangan",
    "Nanggalo",
    "Padang Barat",
    "Padang Selatan",
    "Padang Timur",
    "Padang Utara",
    "Pauh",
)


class ConsoleError(DatabaseError):
    """A console record operation was refused (unknown agent, bad role or password)."""


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Agent(Base):  # type: ignore[misc]
    """A member of the call-center staff who logs in to the console."""

    __tablename__ = "console_agents"
    __table_args__ = (CheckConstraint(f"role IN ({_in(ROLES)})", name="role"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    role = Column(String(16), nullable=False, default="agent")
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ConsoleSession(Base):  # type: ignore[misc]
    """A logged-in browser; the cookie holds the token, the table only its hash."""

    __tablename__ = "console_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(
        ForeignKey("console_agents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    ip = Column(String(64))

    agent = relationship("Agent")


class Note(Base):  # type: ignore[misc]
    """An internal note on a conversation; the resident never sees it."""

    __tablename__ = "console_notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(200), nullable=False, index=True)
    agent_id = Column(ForeignKey("console_agents.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    agent = relationship("Agent")


class CannedReply(Base):  # type: ignore[misc]
    """A ready-made answer an agent can insert, in Indonesian or Minangkabau."""

    __tablename__ = "console_canned_replies"
    __table_args__ = (
        CheckConstraint(f"language IN ({_in(LANGUAGES)})", name="language"),
    )

    id = Column(Integer, primary_key=True)
    language = Column(String(3), nullable=False)
    title = Column(String(80), nullable=False)
    text = Column(Text, nullable=False)
    position = Column(Integer, nullable=False, default=0)


class Survey(Base):  # type: ignore[misc]
    """A one-question satisfaction survey sent when an agent closed a conversation."""

    __tablename__ = "console_surveys"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score BETWEEN 1 AND 5)", name="score"),
        Index("ix_console_surveys_conversation_asked", "conversation_id", "asked_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(200), nullable=False)
    agent_id = Column(ForeignKey("console_agents.id"))
    language = Column(String(3), nullable=False)
    asked_at = Column(UTCDateTime, nullable=False, default=utcnow)
    answered_at = Column(UTCDateTime)
    score = Column(Integer)


class AuditEntry(Base):  # type: ignore[misc]
    """One agent action (or failed login), kept for accountability."""

    __tablename__ = "console_audit"
    __table_args__ = (
        Index("ix_console_audit_action_at", "action", "at"),
        Index("ix_console_audit_subject", "subject"),
    )

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    agent_id = Column(ForeignKey("console_agents.id"))
    action = Column(String(40), nullable=False)
    # What the action was about: a conversation id, a ticket number, a username.
    subject = Column(String(200))
    ip = Column(String(64))
    detail = Column(JSON, nullable=False, default=dict)

    agent = relationship("Agent")


# --- passwords -----------------------------------------------------------------------


def hash_password(password: str) -> str:
    """Hash ``password`` with scrypt and a random salt; the parameters are recorded.

    The result reads ``scrypt$n$r$p$salt$hash`` (salt and hash in URL-safe base64).
    """
    if not password:
        raise ConsoleError("A password must not be empty.")
    salt = secrets.token_bytes(SCRYPT_SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=SCRYPT_DKLEN,
        maxmem=SCRYPT_MAXMEM,
    )
    encoded = [base64.urlsafe_b64encode(b).decode() for b in (salt, digest)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


# A hash of a random password: checked when the username is unknown, so that a login
# for a missing account takes as long as one for a real account.
@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


# --- agents and sessions -------------------------------------------------------------


def create_agent(
    session: Session,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    role: str = "agent",
) -> Agent:
    """Create a staff account.

    Raises:
        ConsoleError: the role is unknown, the username is malformed or taken.
    """
    if role not in ROLES:
        raise ConsoleError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    if not re.fullmatch(r"[a-z0-9._-]{2,64}", username):
        raise ConsoleError(
            f"Username {username!r} must be 2-64 of a-z, 0-9, dot, dash, underscore."
        )
    if session.execute(select(Agent.id).where(Agent.username == username)).first():
        raise ConsoleError(f"Username {username!r} is already taken.")

    agent = Agent(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(agent)
    session.flush()
    return agent


def authenticate(session: Session, username: str, password: str) -> Agent | None:
    """Return the active agent with these credentials, or ``None``."""
    agent = session.execute(
        select(Agent).where(Agent.username == username)
    ).scalar_one_or_none()
    if agent is None or not agent.active:
        verify_password(password, _dummy_hash())
        return None

    return agent if verify_password(password, agent.password_hash) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, agent: Agent, *, lifetime: dt.timedelta, ip: str | None
) -> tuple[str, ConsoleSession]:
    """Start a console session for ``agent``; return the cookie token and the row."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = utcnow()
    row = ConsoleSession(
        token_hash=_token_hash(token),
        agent_id=agent.id,
        csrf_token=secrets.token_urlsafe(SESSION_TOKEN_BYTES),
        created_at=now,
        expires_at=now + lifetime,
        ip=ip,
    )
    session.add(row)
    session.flush()
    return token, row


def find_session(session: Session, token: str) -> ConsoleSession | None:
    """Return the live session for cookie ``token`` (its agent active), or ``None``."""
    row = session.get(ConsoleSession, _token_hash(token))
    if row is None or row.expires_at <= utcnow() or not row.agent.active:
        return None
    return cast(ConsoleSession, row)


def close_session(session: Session, token: str) -> None:
    """End the session of cookie ``token`` (logging out); unknown tokens are ignored."""
    row = session.get(ConsoleSession, _token_hash(token))
    if row is not None:
        session.delete(row)


# --- audit and login throttling ------------------------------------------------------


def audit(
    session: Session,
    action: str,
    *,
    agent_id: int | None = None,
    subject: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log."""
    session.add(
        AuditEntry(
            action=action,
            agent_id=agent_id,
            subject=subject,
            ip=ip,
            detail=detail or {},
            at=utcnow(),
        )
    )


def failed_logins(
    session: Session,
    *,
    username: str | None = None,
    ip: str | None = None,
    since: dt.datetime,
) -> int:
    """Count failed logins since ``since`` for a username or from an IP address."""
    query = select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "login_failed", AuditEntry.at >= since
    )
    if username is not None:
        query = query.where(AuditEntry.subject == username)
    if ip is not None:
        query = query.where(AuditEntry.ip == ip)
    return int(session.execute(query).scalar_one())


# --- notes, canned replies, surveys --------------------------------------------------


def add_note(session: Session, conversation_id: str, agent_id: int, text: str) -> Note:
    """Store an internal note on a conversation."""
    note = Note(
        conversation_id=conversation_id,
        agent_id=agent_id,
        text=text,
        created_at=utcnow(),
    )
    session.add(note)
    session.flush()
    return note


def notes_for(session: Session, conversation_id: str) -> list[Note]:
    """Return the notes of a conversation, oldest first."""
    return list(
        session.execute(
            select(Note)
            .where(Note.conversation_id == conversation_id)
            .order_by(Note.created_at, Note.id)
        ).scalars()
    )


def canned_replies(session: Session) -> list[CannedReply]:
    """Return every canned reply, grouped by language then position."""
    return list(
        session.execute(
            select(CannedReply).order_by(CannedReply.language, CannedReply.position)
        ).scalars()
    )


def open_survey(
    session: Session, conversation_id: str, *, language: str, agent_id: int | None
) -> Survey:
    """Record that the survey question was sent to a conversation."""
    survey = Survey(
        conversation_id=conversation_id,
        agent_id=agent_id,
        language=language if language in LANGUAGES else "id",
        asked_at=utcnow(),
    )
    session.add(survey)
    session.flush()
    return survey


def pending_survey(session: Session, conversation_id: str) -> Survey | None:
    """Return the unanswered survey of a conversation asked less than 24 h ago."""
    found = session.execute(
        select(Survey)
        .where(
            Survey.conversation_id == conversation_id,
            Survey.answered_at.is_(None),
            Survey.asked_at >= utcnow() - SURVEY_ANSWER_WINDOW,
        )
        .order_by(Survey.asked_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return cast("Survey | None", found)


def parse_score(text: str) -> int | None:
    """Return the score 1-5 in an answer ("4", "5!", "nilai 3"), or ``None``."""
    digits = re.findall(r"(?<!\d)[1-5](?!\d)", text or "")
    if len(digits) != 1 or re.search(r"\d{2,}", text):
        return None
    return int(digits[0])


def answer_survey(session: Session, conversation_id: str, text: str) -> Survey | None:
    """Store ``text`` as the answer to the pending survey when it is a score 1-5.

    Returns:
        The answered survey, or ``None`` when there is no pending survey or ``text`` is
        not a score (the message then goes on to the bot as usual).
    """
    survey = pending_survey(session, conversation_id)
    score = parse_score(text)
    if survey is None or score is None:
        return None

    survey.score = score
    survey.answered_at = utcnow()
    return survey


def survey_summary(session: Session) -> dict[str, Any]:
    """Return the number of answers and the mean score of all surveys."""
    count, mean = session.execute(
        select(func.count(Survey.score), func.avg(Survey.score))
    ).one()
    return {"answers": int(count), "mean": float(mean) if mean is not None else None}


# --- complaints: kecamatan -----------------------------------------------------------


def kecamatan_of(location_text: str | None) -> str | None:
    """Return the Padang kecamatan named in a complaint's location text, if any.

    Complaints keep the location as the resident typed it; the console groups and
    filters them by the kecamatan found in that text ("Jl. Sudirman, Padang Barat").
    """
    text = re.sub(r"[^a-z]+", " ", (location_text or "").lower())
    for name in sorted(PADANG_KECAMATAN, key=len, reverse=True):
        if f" {name.lower()} " in f" {text} ":
            return name
    return None
