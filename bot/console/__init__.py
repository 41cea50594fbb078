"""The agent console: staff take over escalated conversations from a browser.

``setup_console(app, ...)`` mounts it on the gateway's aiohttp application under
``/console/``::

    /console/login, /console/logout       session cookie (HttpOnly, SameSite=Strict)
    /console/, /complaints, /supervisor   static pages; their scripts call the API
    /console/api/...                      JSON (CSRF token on every POST)
    /console/ws                           live console events (Origin checked)
    /console/media/{message}/{index}      a resident's photo, fetched by the channel
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console.context import CONSOLE_KEY, Console, Handoff, Outbox
from bot.console.security import Staff, make_middleware
from bot.console.survey import intercept_router
from bot.console.views import add_routes
from bot.console.ws import Sockets
from bot.events import EventBus
from bot.pipeline.store import Store
from db import console as cdb

logger = logging.getLogger(__name__)

CONSOLE_PREFIX = "/console"

__all__ = ["CONSOLE_PREFIX", "Console", "Handoff", "Outbox", "setup", "setup_console"]


def setup_console(
    app: web.Application,
    *,
    store: Store,
    events: EventBus,
    handoff: Handoff,
    outbox: Outbox,
    public_url: str = "",
    channels: Mapping[str, Any] | None = None,
    router: Any = None,
) -> Console:
    """Mount the agent console on the gateway's ``app`` under ``/console/``.

    Args:
        app: The gateway's application (before it is started).
        store: The gateway's database runner.
        events: The console event bus the gateway publishes on (started by the
            gateway).
        handoff: The handoff core: claim, agent_reply, hand_back, close.
        outbox: The outbox, for the survey question and complaint status news.
        public_url: PUBLIC_URL; https makes the session cookie Secure.
        channels: The channel adapters by name; one with ``fetch_media(entry)``
            serves the photos of its residents.
        router: The gateway's router; given, a survey answer is stored instead of
            going to Rasa.

    Returns:
        The console's state (also stored on the sub-application).
    """
    console = Console(
        store=store,
        events=events,
        handoff=handoff,
        outbox=outbox,
        public_url=public_url,
        channels=dict(channels or {}),
        sockets=Sockets(),
    )

    async def load_staff(token: str) -> Staff | None:
        def find(session: Session) -> Staff | None:
            row = cdb.find_session(session, token)
            if row is None:
                return None
            agent = row.agent
            return Staff(
                id=agent.id,
                username=agent.username,
                display_name=agent.display_name,
                role=agent.role,
                csrf=row.csrf_token,
                token=token,
            )

        return await store.run(find)

    # Routes go on the gateway's own app under the prefix, not on a sub-application:
    # aiohttp 3.9 sub-apps resolve through request.url, which yarl 1.25 refuses to
    # build for a Host header with a port.
    app[CONSOLE_KEY] = console
    app.middlewares.append(
        make_middleware(load_staff, public_url=public_url, prefix=CONSOLE_PREFIX)
    )
    add_routes(app, CONSOLE_PREFIX)

    async def redirect(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(location=f"{CONSOLE_PREFIX}/")

    async def close_sockets(_app: web.Application) -> None:
        await console.sockets.close_all()

    app.router.add_get(CONSOLE_PREFIX, redirect)
    app.on_shutdown.append(close_sockets)  # type: ignore[arg-type]
    if router is not None:
        intercept_router(console, router)
    logger.info("Agent console mounted at %s/", CONSOLE_PREFIX)
    return console


def setup(app: web.Application) -> Console:
    """Mount the console on an app built by ``bot.app.create_app`` (its pipeline)."""
    from bot.app import PIPELINE, SETTINGS

    pipeline = app[PIPELINE]
    return setup_console(
        app,
        store=pipeline.store,
        events=pipeline.events,
        handoff=pipeline.handoff,
        outbox=pipeline.outbox,
        public_url=app[SETTINGS].public_url,
        channels=pipeline.channels,
        router=pipeline.router,
    )
