"""The gateway's aiohttp application: webhooks, web chat, health, metrics, console.

``create_app(settings)`` builds the app; the pipeline is started and stopped by a
``cleanup_ctx`` generator and kept under typed keys::

    app[PIPELINE]   bot.pipeline.service.Pipeline (store, inbox, router, outbox, ...)
    app[HANDOFF]    bot.pipeline.handoff.Handoff (the console's API)
    app[EVENTS]     bot.events.EventBus
    app[SETTINGS]   bot.config.Settings

Routes: POST /webhooks/telegram, POST /webhooks/whatsapp, POST
/webhooks/whatsapp/status, GET /chat (+ /chat/ws, /chat/history), GET /healthz,
GET /metrics, and the console's routes when bot.console provides ``setup(app)``.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.channels.base import Json
from bot.channels.web import WebChannel
from bot.config import Settings
from bot.events import EventBus
from bot.pipeline.handoff import Handoff
from bot.pipeline.service import Pipeline
from db.gateway import TranscriptMessage

logger = logging.getLogger(__name__)

PIPELINE = web.AppKey("pipeline", Pipeline)
HANDOFF = web.AppKey("handoff", Handoff)
EVENTS = web.AppKey("events", EventBus)
SETTINGS = web.AppKey("settings", Settings)

HISTORY_LIMIT = 200  # transcript messages the web chat reloads


def build_pipeline(settings: Settings, **kwargs: Any) -> Pipeline:
    """Return a pipeline with every configured channel (web chat always)."""
    pipeline = Pipeline(settings, **kwargs)
    if settings.telegram_enabled:
        from bot.channels.telegram import TelegramChannel

        pipeline.add_channel(
            TelegramChannel(settings, accept=pipeline.ingest, metrics=pipeline.metrics)
        )
    if settings.whatsapp_enabled:
        from bot.channels.whatsapp import WhatsAppChannel

        pipeline.add_channel(
            WhatsAppChannel(
                settings,
                accept=pipeline.ingest,
                record_status=pipeline.record_status,
                metrics=pipeline.metrics,
            )
        )

    async def history(conversation_id: str) -> list[Json]:
        return await pipeline.store.run(_history, conversation_id)

    pipeline.add_channel(
        WebChannel(accept=pipeline.ingest, history=history, metrics=pipeline.metrics)
    )
    return pipeline


def _history(session: Session, conversation_id: str) -> list[Json]:
    rows = (
        session.query(TranscriptMessage)
        .filter(TranscriptMessage.conversation_id == conversation_id)
        .order_by(TranscriptMessage.id.desc())
        .limit(HISTORY_LIMIT)
        .all()
    )
    return [
        {
            "direction": r.direction,
            "author": r.author,
            "text": r.text,
            "data": r.data,
            "created_at": r.created_at.isoformat(),
        }
        for r in reversed(rows)
    ]


@web.middleware
async def timing_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Measure how long webhooks take to be acknowledged."""
    if not request.path.startswith("/webhooks/"):
        return await handler(request)

    started = time.monotonic()
    try:
        return await handler(request)
    finally:
        request.app[PIPELINE].metrics.observe(
            "webhook_latency_seconds",
            time.monotonic() - started,
            path=request.path,
        )


async def healthz(request: web.Request) -> web.Response:
    """Each dependency's state; 503 when the database, Rasa or the actions are down."""
    report = await request.app[PIPELINE].health()
    return web.json_response(report, status=200 if report["ok"] else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format."""
    pipeline = request.app[PIPELINE]
    await pipeline.refresh_depths()
    return web.Response(
        text=pipeline.metrics.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def index(request: web.Request) -> web.Response:
    """Point a visitor at the chat page."""
    raise web.HTTPFound("/chat")


def create_app(
    settings: Settings, *, pipeline: Pipeline | None = None
) -> web.Application:
    """Build the gateway app (the pipeline starts with the app)."""
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[timing_middleware]
    )
    pipeline = pipeline or build_pipeline(settings)
    app[PIPELINE] = pipeline
    app[HANDOFF] = pipeline.handoff
    app[EVENTS] = pipeline.events
    app[SETTINGS] = settings
    for channel in pipeline.channels.values():
        channel.add_routes(app)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    _add_console(app)
    app.cleanup_ctx.append(_pipeline_ctx)
    return app


def _add_console(app: web.Application) -> None:
    if importlib.util.find_spec("bot.console") is None:
        logger.info("No agent console (bot.console) to mount")
        return

    console = importlib.import_module("bot.console")
    setup = getattr(console, "setup", None)
    if setup is None:
        logger.warning("bot.console has no setup(app); the console is not mounted")
        return
    setup(app)


async def _pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    pipeline = app[PIPELINE]
    await pipeline.start()
    # Everything loaded at start-up (libraries, the language model, the app) lives
    # as long as the process: keep it out of the collector's full passes, which
    # otherwise stalled the event loop for up to 55 ms under load (bench/gateway.py).
    gc.freeze()
    yield
    await pipeline.stop()
    pipeline.store.close()
