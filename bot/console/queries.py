"""What the console reads from the database, as JSON-able dicts with NIKs masked.

Every function takes a SQLAlchemy session first and runs inside the caller's
transaction (through ``Store.run``); none of them changes the resident's chat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import console as cdb
from db.gateway import Conversation, OutboxMessage, TranscriptMessage
from db.records import (
    COMPLAINT_STATUSES,
    Complaint,
    ComplaintCategory,
    mask_niks,
    utcnow,
)

Json = dict[str, Any]

TRANSCRIPT_LIMIT = 500  # messages shown per conversation, the newest
COMPLAINT_LIMIT = 200  # complaints per listing page
STATS_WINDOW = dt.timedelta(days=7)


def mask_data(value: Any) -> Any:
    """Mask NIKs in every string of a JSON-able value."""
    if isinstance(value, str):
        return mask_niks(value)
    if isinstance(value, list):
        return [mask_data(item) for item in value]
    if isinstance(value, dict):
        return {key: mask_data(item) for key, item in value.items()}
    return value


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def conversation_json(conversation: Conversation, *, now: dt.datetime) -> Json:
    """Describe one conversation for the queue and the header of its page."""
    waiting = conversation.waiting_since
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "name": mask_niks(conversation.display_name or ""),
        "language": conversation.language or "id",
        "mode": conversation.mode,
        "reason": conversation.handoff_reason,
        "agent": conversation.agent_id,
        "waiting_since": _iso(waiting),
        "waiting_seconds": int((now - waiting).total_seconds()) if waiting else None,
        "last_inbound_at": _iso(conversation.last_inbound_at),
        "unreachable": bool(conversation.unreachable),
    }


def queue(session: Session, *, agent: str, supervisor: bool) -> Json:
    """Return the waiting conversations (oldest first) and those with agents."""
    now = utcnow()
    waiting = session.execute(
        select(Conversation)
        .where(Conversation.mode == "waiting")
        .order_by(Conversation.waiting_since.asc().nulls_last(), Conversation.id)
    ).scalars()
    active_query = select(Conversation).where(Conversation.mode == "agent")
    if not supervisor:
        active_query = active_query.where(Conversation.agent_id == agent)
    active = session.execute(active_query.order_by(Conversation.updated_at)).scalars()
    return {
        "waiting": [conversation_json(c, now=now) for c in waiting],
        "active": [conversation_json(c, now=now) for c in active],
    }


def can_see(conversation: Conversation, *, agent: str, supervisor: bool) -> bool:
    """Agents see waiting conversations and their own; supervisors see all."""
    if supervisor:
        return True
    return bool(conversation.mode == "waiting" or conversation.agent_id == agent)


def transcript(session: Session, conversation_id: str) -> list[Json]:
    """Return the newest messages of a conversation, oldest first, NIKs masked.

    An agent's or bot's message carries the states of its outbox rows.
    """
    rows = list(
        session.execute(
            select(TranscriptMessage)
            .where(TranscriptMessage.conversation_id == conversation_id)
            .order_by(TranscriptMessage.id.desc())
            .limit(TRANSCRIPT_LIMIT)
        ).scalars()
    )
    rows.reverse()
    ids = [row.id for row in rows]
    deliveries: dict[int, list[Json]] = {}
    if ids:
        for out in session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.transcript_id.in_(ids))
            .order_by(OutboxMessage.id)
        ).scalars():
            deliveries.setdefault(out.transcript_id, []).append(
                {"id": out.id, "state": out.state, "status": out.delivery_status}
            )
    return [
        {
            "id": row.id,
            "direction": row.direction,
            "author": row.author,
            "agent": row.agent_id,
            "kind": row.kind,
            "text": mask_niks(row.text or ""),
            "data": _message_data(row),
            "at": _iso(row.created_at),
            "delivery": deliveries.get(row.id, []),
        }
        for row in rows
    ]


def _message_data(row: TranscriptMessage) -> Json:
    """Keep what the console shows of a message's data: location, photos, buttons."""
    data = row.data if isinstance(row.data, dict) else {}
    shown: Json = {}
    location = data.get("location")
    if isinstance(location, dict):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            shown["location"] = {
                "latitude": float(location["latitude"]),
                "longitude": float(location["longitude"]),
            }
    media = data.get("media")
    if isinstance(media, list):
        shown["media"] = [
            {
                "index": i,
                "content_type": str(m.get("content_type") or ""),
                "url": f"media/{row.id}/{i}",
            }
            for i, m in enumerate(media)
            if isinstance(m, dict)
        ]
    if data.get("image"):
        shown["image"] = True
    buttons = data.get("buttons")
    if isinstance(buttons, list):
        shown["buttons"] = [
            mask_niks(str(b.get("title", ""))) for b in buttons if isinstance(b, dict)
        ]
    if data.get("contact"):
        shown["contact"] = mask_niks(str(data["contact"]))
    return shown


def media_ref(session: Session, message_id: int, index: int) -> tuple[str, Json] | None:
    """Return the conversation id and the stored media entry of one message photo."""
    row = session.get(TranscriptMessage, message_id)
    if row is None or not isinstance(row.data, dict):
        return None
    media = row.data.get("media")
    if not isinstance(media, list) or not 0 <= index < len(media):
        return None
    return row.conversation_id, media[index]


def conversation_page(
    session: Session, conversation_id: str, *, agent: str, supervisor: bool
) -> Json | None:
    """Return a conversation, its transcript and its notes; None if not visible."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or not can_see(
        conversation, agent=agent, supervisor=supervisor
    ):
        return None
    return {
        "conversation": conversation_json(conversation, now=utcnow()),
        "messages": transcript(session, conversation_id),
        "notes": [
            {
                "id": note.id,
                "agent": note.agent.username,
                "text": mask_niks(note.text),
                "at": _iso(note.created_at),
            }
            for note in cdb.notes_for(session, conversation_id)
        ],
    }


# --- complaints ----------------------------------------------------------------------


def complaint_json(complaint: Complaint) -> Json:
    """Describe a complaint for the list, NIKs masked."""
    return {
        "ticket": complaint.ticket_number,
        "category": complaint.category_code,
        "status": complaint.status,
        "kecamatan": cdb.kecamatan_of(complaint.location_text),
        "location": mask_niks(complaint.location_text or ""),
        "description": mask_niks(complaint.description or ""),
        "latitude": complaint.latitude,
        "longitude": complaint.longitude,
        "channel": complaint.channel,
        "conversation": complaint.sender_id,
        "language": complaint.language or "id",
        "created_at": _iso(complaint.created_at),
        "updated_at": _iso(complaint.updated_at),
        "history": [
            {
                "status": step.status,
                "note": mask_niks(step.note or ""),
                "by": step.changed_by,
                "at": _iso(step.changed_at),
            }
            for step in complaint.history
        ],
    }


def complaints(
    session: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    kecamatan: str | None = None,
) -> Json:
    """List complaints, newest first, filtered; with the filter choices."""
    query = select(Complaint).order_by(Complaint.created_at.desc(), Complaint.id.desc())
    if status:
        query = query.where(Complaint.status == status)
    if category:
        query = query.where(Complaint.category_code == category)
    rows = session.execute(query).scalars()
    items = [complaint_json(c) for c in rows]
    if kecamatan:
        items = [c for c in items if c["kecamatan"] == kecamatan]
    categories = session.execute(
        select(ComplaintCategory.code, ComplaintCategory.label_id).order_by(
            ComplaintCategory.code
        )
    ).all()
    return {
        "complaints": items[:COMPLAINT_LIMIT],
        "total": len(items),
        "statuses": list(COMPLAINT_STATUSES),
        "categories": [{"code": code, "label": label} for code, label in categories],
        "kecamatan": list(cdb.PADANG_KECAMATAN),
    }


# --- supervisor figures --------------------------------------------------------------


def stats(session: Session) -> Json:
    """Return the supervisor's figures: queue, agents, complaints, survey."""
    now = utcnow()
    waiting = list(
        session.execute(
            select(Conversation.id, Conversation.waiting_since).where(
                Conversation.mode == "waiting"
            )
        ).all()
    )
    waits = sorted(
        int((now - since).total_seconds()) for _id, since in waiting if since
    )
    active = Counter(
        agent
        for (agent,) in session.execute(
            select(Conversation.agent_id).where(Conversation.mode == "agent")
        ).all()
    )
    handled = dict(
        session.execute(
            select(
                TranscriptMessage.agent_id,
                func.count(func.distinct(TranscriptMessage.conversation_id)),
            )
            .where(
                TranscriptMessage.author == "agent",
                TranscriptMessage.created_at >= now - STATS_WINDOW,
            )
            .group_by(TranscriptMessage.agent_id)
        ).all()
    )
    agents = sorted((set(active) | set(handled)) - {None})
    by_category: Counter[str] = Counter()
    by_kecamatan: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for code, location, status in session.execute(
        select(Complaint.category_code, Complaint.location_text, Complaint.status)
    ).all():
        by_category[code] += 1
        by_kecamatan[cdb.kecamatan_of(location) or "(tidak diketahui)"] += 1
        by_status[status] += 1
    return {
        "queue": {
            "length": len(waiting),
            "waits_seconds": waits,
            "longest_seconds": waits[-1] if waits else 0,
            "mean_seconds": round(sum(waits) / len(waits)) if waits else 0,
        },
        "agents": [
            {
                "agent": agent,
                "active": active.get(agent, 0),
                "handled_7d": int(handled.get(agent, 0)),
            }
            for agent in agents
        ],
        "complaints_by_category": dict(by_category.most_common()),
        "complaints_by_kecamatan": dict(by_kecamatan.most_common()),
        "complaints_by_status": dict(by_status.most_common()),
        "survey": cdb.survey_summary(session),
    }


def audit_log(session: Session, *, limit: int = 200) -> list[Json]:
    """Return the newest audit entries."""
    rows = session.execute(
        select(cdb.AuditEntry).order_by(cdb.AuditEntry.id.desc()).limit(limit)
    ).scalars()
    return [
        {
            "at": _iso(row.at),
            "agent": row.agent.username if row.agent else None,
            "action": row.action,
            "subject": mask_niks(row.subject or ""),
            "ip": row.ip,
            "detail": mask_data(row.detail or {}),
        }
        for row in rows
    ]
