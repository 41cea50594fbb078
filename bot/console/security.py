"""Who may do what on the console: session cookies, CSRF, Origin, headers, login limits.

Every console request passes :func:`security_middleware`:

    request ─> session from cookie ─> unsafe method? ─> Origin matches ─> CSRF token
       │            (none: 401 / redirect to login)     (else 403)       (else 403)
       └─> handler ─> security headers (CSP without inline script, no framing)

A handler marked :func:`public` runs without a session (login page, static files);
one marked :func:`supervisor_only` answers 403 to agents.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

logger = logging.getLogger(__name__)

COOKIE_NAME = "padang_console"
COOKIE_PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = dt.timedelta(hours=12)
LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_FAILURES_PER_ACCOUNT = 5  # per LOGIN_WINDOW
LOGIN_FAILURES_PER_IP = 20  # per LOGIN_WINDOW
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class Staff:
    """The logged-in agent of a request."""

    id: int
    username: str
    display_name: str
    role: str
    csrf: str
    token: str

    @property
    def supervisor(self) -> bool:
        """The agent has the supervisor role."""
        return self.role == "supervisor"


STAFF_KEY = "console_staff"


def public(handler: H) -> H:
    """Mark ``handler`` as reachable without logging in."""
    handler.console_public = True  # type: ignore[attr-defined]
    return handler


def supervisor_only(handler: H) -> H:
    """Mark ``handler`` as reserved to supervisors."""
    handler.console_supervisor = True  # type: ignore[attr-defined]
    return handler


def staff_of(request: web.Request) -> Staff:
    """Return the logged-in agent of ``request`` (the middleware put it there)."""
    staff = request.get(STAFF_KEY)
    if not isinstance(staff, Staff):
        raise web.HTTPUnauthorized()
    return staff


def client_ip(request: web.Request) -> str:
    """Return the peer address (the gateway is not meant to sit behind a proxy)."""
    return request.remote or "unknown"


def allowed_origins(request: web.Request, public_url: str) -> set[str]:
    """Return the origins the console is served from: this host and PUBLIC_URL."""
    origins = {f"{request.scheme}://{request.host}"}
    if public_url:
        parts = urlsplit(public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def origin_ok(request: web.Request, public_url: str, *, required: bool) -> bool:
    """Tell whether the request's Origin (or Referer) is the console's own."""
    origin = request.headers.get("Origin")
    if origin is None and "Referer" in request.headers:
        parts = urlsplit(request.headers["Referer"])
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin is None:
        return not required
    return origin in allowed_origins(request, public_url)


def csrf_ok(staff: Staff, token: str | None) -> bool:
    """Compare a request's CSRF token with the session's, in constant time."""
    return bool(token) and hmac.compare_digest(str(token), staff.csrf)


def set_session_cookie(
    response: web.StreamResponse, token: str, *, secure: bool
) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure over https."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )


def clear_session_cookie(response: web.StreamResponse, *, secure: bool) -> None:
    """Remove the session cookie."""
    response.del_cookie(COOKIE_NAME, path=COOKIE_PATH)
    # del_cookie does not carry the flags; set them again on the expired cookie.
    response.cookies[COOKIE_NAME]["httponly"] = True
    response.cookies[COOKIE_NAME]["samesite"] = "Strict"
    if secure:
        response.cookies[COOKIE_NAME]["secure"] = True


def add_security_headers(response: web.StreamResponse) -> None:
    """Add the console's CSP and related headers."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")


def _is_api(request: web.Request) -> bool:
    path = request.path
    return "/api/" in path or path.endswith("/ws") or "/media/" in path


def _refuse(
    request: web.Request, status: int, reason: str, *, prefix: str
) -> web.Response:
    if _is_api(request) or request.method not in SAFE_METHODS:
        return web.json_response({"error": reason}, status=status)
    if status == 401:
        raise web.HTTPSeeOther(location=f"{prefix}/login")
    return web.Response(status=status, text=reason)


def make_middleware(
    load_staff: Callable[[str], Awaitable[Staff | None]],
    *,
    public_url: str,
    prefix: str,
) -> Any:
    """Build the console's security middleware.

    Args:
        load_staff: Returns the staff of a session cookie token, or None.
        public_url: PUBLIC_URL, an allowed Origin besides the request's own host.
        prefix: The console's path prefix; other paths pass through untouched.
    """

    @web.middleware
    async def security_middleware(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if request.path != prefix and not request.path.startswith(f"{prefix}/"):
            return await handler(request)
        try:
            response = await _guarded(request, handler)
        except web.HTTPException as exc:
            add_security_headers(exc)
            raise
        add_security_headers(response)
        return response

    async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        target = getattr(handler, "__wrapped__", handler)
        unsafe = request.method not in SAFE_METHODS
        if getattr(target, "console_public", False):
            if unsafe and not origin_ok(request, public_url, required=False):
                return _refuse(request, 403, "origin refused", prefix=prefix)
            return await handler(request)

        token = request.cookies.get(COOKIE_NAME)
        staff = await load_staff(token) if token else None
        if staff is None:
            return _refuse(request, 401, "login required", prefix=prefix)
        request[STAFF_KEY] = staff
        if unsafe:
            if not origin_ok(request, public_url, required=False):
                logger.warning(
                    "Refused %s %s: foreign origin", request.method, request.path
                )
                return _refuse(request, 403, "origin refused", prefix=prefix)
            if not csrf_ok(staff, request.headers.get(CSRF_HEADER)):
                logger.warning(
                    "Refused %s %s: bad CSRF token", request.method, request.path
                )
                return _refuse(
                    request, 403, "csrf token missing or wrong", prefix=prefix
                )
        if getattr(target, "console_supervisor", False) and not staff.supervisor:
            return _refuse(request, 403, "supervisors only", prefix=prefix)
        return await handler(request)

    return security_middleware
