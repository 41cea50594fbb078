"""The console's HTTP handlers: pages, login, and the JSON API the pages call.

Pages are static HTML with no data in them; their scripts fetch the JSON below and
build the DOM with ``textContent``, so nothing a resident wrote is ever parsed as HTML.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.channels.base import Reply
from bot.console import queries
from bot.console.context import CONSOLE_KEY, Console
from bot.console.security import (
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_FAILURES_PER_IP,
    LOGIN_WINDOW,
    SESSION_LIFETIME,
    Staff,
    clear_session_cookie,
    client_ip,
    public,
    set_session_cookie,
    staff_of,
    supervisor_only,
)
from bot.console.survey import ask as ask_survey
from bot.console.texts import complaint_status_text
from db import console as cdb
from db.gateway import Conversation
from db.records import (
    COMPLAINT_STATUSES,
    Complaint,
    RecordError,
    set_complaint_status,
    utcnow,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_STATIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.(js|css|svg)$")
_CONTENT_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
MAX_TEXT = 4000  # characters of a reply or a note
MAX_MEDIA_BYTES = 10 * 1024 * 1024
LOGIN_RETRY_AFTER_S = int(LOGIN_WINDOW.total_seconds())


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / name, headers={"Content-Type": "text/html"})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text='{"error": "body is not JSON"}', content_type="application/json"
        ) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body is not an object"}', content_type="application/json"
        )
    return body


def _text_field(body: dict[str, Any], name: str) -> str:
    value = str(body.get(name) or "").strip()
    if not value or len(value) > MAX_TEXT:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name} must be 1-{MAX_TEXT} characters"}}',
            content_type="application/json",
        )
    return value


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _audit(
    request: web.Request,
    action: str,
    *,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    agent_id: int | None = None,
) -> None:
    staff = request.get("console_staff")
    who = agent_id if agent_id is not None else (staff.id if staff else None)
    ip = client_ip(request)
    await _console(request).store.run(
        lambda s: cdb.audit(
            s, action, agent_id=who, subject=subject, ip=ip, detail=detail
        )
    )


# --- pages and static files ----------------------------------------------------------


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    """Serve the login form."""
    return _page("login.html")


async def console_page(request: web.Request) -> web.StreamResponse:
    """Serve the queue and conversation page."""
    return _page("console.html")


async def complaints_page(request: web.Request) -> web.StreamResponse:
    """Serve the complaints page."""
    return _page("complaints.html")


@supervisor_only
async def supervisor_page(request: web.Request) -> web.StreamResponse:
    """Serve the supervisor's figures page."""
    return _page("supervisor.html")


@public
async def static_file(request: web.Request) -> web.StreamResponse:
    """Serve one script, stylesheet or icon of the console (no directory listing)."""
    name = request.match_info["name"]
    path = STATIC_DIR / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    response = web.FileResponse(
        path, headers={"Content-Type": _CONTENT_TYPES[name.rsplit(".", 1)[1]]}
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- login and logout ----------------------------------------------------------------


@public
async def login(request: web.Request) -> web.StreamResponse:
    """Check a username and password; open a session (rate limited).

    Failures are counted from the audit log, per account and per IP address, over
    LOGIN_WINDOW: past the limit the answer is 429 without checking the password.
    """
    console = _console(request)
    form = await request.post()
    username = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")
    ip = client_ip(request)

    def attempt(session: Session) -> tuple[str, str | None, int | None]:
        since = utcnow() - LOGIN_WINDOW
        if (
            cdb.failed_logins(session, username=username, since=since)
            >= LOGIN_FAILURES_PER_ACCOUNT
            or cdb.failed_logins(session, ip=ip, since=since) >= LOGIN_FAILURES_PER_IP
        ):
            cdb.audit(session, "login_throttled", subject=username, ip=ip)
            return "throttled", None, None
        agent = cdb.authenticate(session, username, password)
        if agent is None:
            cdb.audit(session, "login_failed", subject=username, ip=ip)
            return "failed", None, None
        token, _row = cdb.open_session(session, agent, lifetime=SESSION_LIFETIME, ip=ip)
        cdb.audit(session, "login", agent_id=agent.id, subject=username, ip=ip)
        return "ok", token, agent.id

    outcome, token, _agent_id = await console.store.run(attempt)
    if outcome == "throttled":
        logger.warning("Login throttled for %s from %s", username, ip)
        return web.json_response(
            {"error": "too many failed logins, try again later"},
            status=429,
            headers={"Retry-After": str(LOGIN_RETRY_AFTER_S)},
        )
    if outcome == "failed" or token is None:
        logger.info("Login failed for %s from %s", username, ip)
        return _error(401, "wrong username or password")

    logger.info("Agent %s logged in", username)
    response = web.json_response({"ok": True, "next": "./"})
    set_session_cookie(response, token, secure=console.secure_cookies)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session and close its WebSockets."""
    console = _console(request)
    staff = staff_of(request)
    await console.store.run(lambda s: cdb.close_session(s, staff.token))
    await _audit(request, "logout")
    await console.sockets.close_session(staff.token)
    response = web.json_response({"ok": True, "next": "login"})
    clear_session_cookie(response, secure=console.secure_cookies)
    return response


async def me(request: web.Request) -> web.StreamResponse:
    """Return the logged-in agent and the session's CSRF token."""
    staff = staff_of(request)
    return web.json_response(
        {
            "username": staff.username,
            "display_name": staff.display_name,
            "role": staff.role,
            "csrf": staff.csrf,
        }
    )


# --- conversations -------------------------------------------------------------------


async def queue(request: web.Request) -> web.StreamResponse:
    """Return waiting conversations (oldest first) and those being answered."""
    staff = staff_of(request)
    data = await _console(request).store.run(
        lambda s: queries.queue(s, agent=staff.username, supervisor=staff.supervisor)
    )
    return web.json_response(data)


async def conversation(request: web.Request) -> web.StreamResponse:
    """Return one conversation with its transcript and notes."""
    staff = staff_of(request)
    conversation_id = request.match_info["cid"]
    data = await _console(request).store.run(
        lambda s: queries.conversation_page(
            s, conversation_id, agent=staff.username, supervisor=staff.supervisor
        )
    )
    if data is None:
        return _error(404, "no such conversation, or not yours")
    return web.json_response(data)


async def _mode_of(
    request: web.Request, conversation_id: str
) -> tuple[str, str | None]:
    def read(session: Session) -> tuple[str, str | None]:
        row = session.get(Conversation, conversation_id)
        if row is None:
            raise web.HTTPNotFound(
                text='{"error": "no such conversation"}',
                content_type="application/json",
            )
        return row.mode, row.agent_id

    return await _console(request).store.run(read)


async def _require_own(request: web.Request, conversation_id: str) -> Staff:
    """Return the staff when the conversation is theirs (or they supervise)."""
    staff = staff_of(request)
    mode, agent = await _mode_of(request, conversation_id)
    if mode != "agent":
        raise web.HTTPConflict(
            text='{"error": "the conversation is not with an agent"}',
            content_type="application/json",
        )
    if agent != staff.username and not staff.supervisor:
        raise web.HTTPForbidden(
            text='{"error": "another agent has this conversation"}',
            content_type="application/json",
        )
    return staff


async def claim(request: web.Request) -> web.StreamResponse:
    """Claim a waiting conversation; 409 when another agent was faster."""
    staff = staff_of(request)
    conversation_id = request.match_info["cid"]
    await _mode_of(request, conversation_id)
    won = await _console(request).handoff.claim(conversation_id, staff.username)
    await _audit(request, "claim" if won else "claim_lost", subject=conversation_id)
    if not won:
        return _error(409, "already claimed or no longer waiting")
    return web.json_response({"ok": True})


async def reply(request: web.Request) -> web.StreamResponse:
    """Send an agent's reply to the resident through the channel's outbox."""
    conversation_id = request.match_info["cid"]
    staff = await _require_own(request, conversation_id)
    text = _text_field(await _json_body(request), "text")
    outbox_id = await _console(request).handoff.agent_reply(
        conversation_id, staff.username, text
    )
    await _audit(
        request, "reply", subject=conversation_id, detail={"outbox_id": outbox_id}
    )
    return web.json_response({"ok": True, "outbox_id": outbox_id})


async def note(request: web.Request) -> web.StreamResponse:
    """Add an internal note (never sent to the resident)."""
    staff = staff_of(request)
    conversation_id = request.match_info["cid"]
    text = _text_field(await _json_body(request), "text")
    console = _console(request)
    visible = await console.store.run(
        lambda s: (
            queries.conversation_page(
                s, conversation_id, agent=staff.username, supervisor=staff.supervisor
            )
            is not None
        )
    )
    if not visible:
        return _error(404, "no such conversation, or not yours")
    note_id = await console.store.run(
        lambda s: cdb.add_note(s, conversation_id, staff.id, text).id
    )
    await _audit(request, "note", subject=conversation_id, detail={"note_id": note_id})
    await console.events.publish(
        {"type": "note", "conversation_id": conversation_id, "note_id": note_id}
    )
    return web.json_response({"ok": True, "note_id": note_id})


async def hand_back(request: web.Request) -> web.StreamResponse:
    """Give the conversation back to the bot (Rasa is told it resumed)."""
    conversation_id = request.match_info["cid"]
    await _require_own(request, conversation_id)
    await _console(request).handoff.hand_back(conversation_id)
    await _audit(request, "hand_back", subject=conversation_id)
    return web.json_response({"ok": True})


async def close(request: web.Request) -> web.StreamResponse:
    """Close the conversation, optionally asking the one-question survey."""
    conversation_id = request.match_info["cid"]
    staff = await _require_own(request, conversation_id)
    body = await _json_body(request)
    survey = bool(body.get("survey"))
    console = _console(request)
    await console.handoff.close(conversation_id)
    if survey:
        await ask_survey(console, conversation_id, agent_id=staff.id)
    await _audit(request, "close", subject=conversation_id, detail={"survey": survey})
    return web.json_response({"ok": True})


async def canned(request: web.Request) -> web.StreamResponse:
    """Return the canned replies in Indonesian and Minangkabau."""
    rows = await _console(request).store.run(
        lambda s: [
            {"id": r.id, "language": r.language, "title": r.title, "text": r.text}
            for r in cdb.canned_replies(s)
        ]
    )
    return web.json_response({"canned": rows})


async def media(request: web.Request) -> web.StreamResponse:
    """Proxy one photo of a resident's message from the channel (never a redirect)."""
    staff = staff_of(request)
    console = _console(request)
    try:
        message_id = int(request.match_info["mid"])
        index = int(request.match_info["index"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc

    def find(session: Session) -> tuple[str, dict[str, Any]] | None:
        ref = queries.media_ref(session, message_id, index)
        if ref is None:
            return None
        row = session.get(Conversation, ref[0])
        if row is None or not queries.can_see(
            row, agent=staff.username, supervisor=staff.supervisor
        ):
            return None
        return row.channel, ref[1]

    found = await console.store.run(find)
    if found is None:
        raise web.HTTPNotFound()
    channel_name, entry = found
    fetched = await console.fetch_media(channel_name, entry)
    if fetched is None:
        return _error(502, "the channel could not give the photo")
    body, content_type = fetched
    if not content_type.startswith("image/") or len(body) > MAX_MEDIA_BYTES:
        return _error(415, "not an image")
    return web.Response(body=body, headers={"Content-Type": content_type})


# --- complaints ----------------------------------------------------------------------


async def complaints(request: web.Request) -> web.StreamResponse:
    """List complaints filtered by status, category and kecamatan."""
    params = request.query
    data = await _console(request).store.run(
        lambda s: queries.complaints(
            s,
            status=params.get("status") or None,
            category=params.get("category") or None,
            kecamatan=params.get("kecamatan") or None,
        )
    )
    return web.json_response(data)


async def complaint_status(request: web.Request) -> web.StreamResponse:
    """Change a complaint's status (who and when recorded) and tell the resident."""
    staff = staff_of(request)
    ticket = request.match_info["ticket"]
    body = await _json_body(request)
    status = str(body.get("status") or "")
    note_text = str(body.get("note") or "").strip()[:MAX_TEXT] or None
    if status not in COMPLAINT_STATUSES:
        return _error(400, f"status must be one of {', '.join(COMPLAINT_STATUSES)}")
    console = _console(request)

    def change(session: Session) -> dict[str, Any] | None:
        complaint = (
            session.query(Complaint)
            .filter(Complaint.ticket_number == ticket)
            .one_or_none()
        )
        if complaint is None:
            return None
        previous = complaint.status
        set_complaint_status(
            session, complaint, status, note=note_text, changed_by=staff.username
        )
        cdb.audit(
            session,
            "complaint_status",
            agent_id=staff.id,
            subject=ticket,
            ip=client_ip(request),
            detail={"from": previous, "to": status},
        )
        conversation = (
            session.get(Conversation, complaint.sender_id)
            if complaint.sender_id
            else None
        )
        return {
            "conversation_id": conversation.id if conversation else None,
            "language": complaint.language
            or (conversation.language if conversation else None),
        }

    try:
        outcome = await console.store.run(change)
    except RecordError as exc:
        return _error(400, str(exc))
    if outcome is None:
        return _error(404, "no such complaint")

    notified = None
    if outcome["conversation_id"]:
        text = complaint_status_text(ticket, status, outcome["language"], note_text)
        notified = await console.outbox.enqueue(
            outcome["conversation_id"], Reply(text), author="system"
        )
    await console.events.publish({"type": "complaint", "ticket": ticket})
    return web.json_response({"ok": True, "notified_outbox_id": notified})


# --- supervisors ---------------------------------------------------------------------


@supervisor_only
async def stats(request: web.Request) -> web.StreamResponse:
    """Return the supervisor's figures."""
    return web.json_response(await _console(request).store.run(queries.stats))


@supervisor_only
async def audit_log(request: web.Request) -> web.StreamResponse:
    """Return the newest entries of the audit log."""
    return web.json_response(
        {"audit": await _console(request).store.run(queries.audit_log)}
    )


def add_routes(app: web.Application, prefix: str) -> None:
    """Register the console's routes on the gateway's app under ``prefix``."""
    from bot.console.ws import websocket

    get, post = app.router.add_get, app.router.add_post
    get(f"{prefix}/", console_page, name="console")
    get(f"{prefix}/login", login_page, name="console-login")
    post(f"{prefix}/login", login)
    post(f"{prefix}/logout", logout)
    get(f"{prefix}/complaints", complaints_page)
    get(f"{prefix}/supervisor", supervisor_page)
    get(f"{prefix}/static/{{name}}", static_file)
    get(f"{prefix}/ws", websocket)
    get(f"{prefix}/media/{{mid}}/{{index}}", media)
    get(f"{prefix}/api/me", me)
    get(f"{prefix}/api/queue", queue)
    get(f"{prefix}/api/canned", canned)
    get(f"{prefix}/api/conversations/{{cid}}", conversation)
    post(f"{prefix}/api/conversations/{{cid}}/claim", claim)
    post(f"{prefix}/api/conversations/{{cid}}/reply", reply)
    post(f"{prefix}/api/conversations/{{cid}}/note", note)
    post(f"{prefix}/api/conversations/{{cid}}/handback", hand_back)
    post(f"{prefix}/api/conversations/{{cid}}/close", close)
    get(f"{prefix}/api/complaints", complaints)
    post(f"{prefix}/api/complaints/{{ticket}}/status", complaint_status)
    get(f"{prefix}/api/stats", stats)
    get(f"{prefix}/api/audit", audit_log)
