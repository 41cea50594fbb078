"""Database access for the actions: one engine per URL, work run off the event loop.

Actions are async (the action server is Sanic); SQLAlchemy 1.4 is sync, so each unit of
work runs in a worker thread as one transaction (:func:`in_transaction`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from actions.config import get_settings
from db.engine import make_engine, session_scope

T = TypeVar("T")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine() -> Engine:
    """Return the engine for the configured ``DATABASE_URL``, made on first use."""
    url = get_settings().database_url
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def dispose_all() -> None:
    """Close every engine's connections (tests, shutdown)."""
    with _lock:
        for item in _engines.values():
            item.dispose()
        _engines.clear()


def run_transaction(work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one transaction on the current thread."""
    with session_scope(engine()) as session:
        return work(session)


async def in_transaction(work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one transaction in a worker thread."""
    return await asyncio.to_thread(run_transaction, work)
