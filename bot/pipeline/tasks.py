"""One task per conversation that drains its pending rows, in order.

The router (inbox rows) and the outbox (outbox rows) both subclass
:class:`ConversationTasks`: ``wake(conversation_id)`` starts the conversation's task
unless it runs already, and a wake that arrives while the task looks for its next row
makes it look again (``_dirty``), so a row is never left behind by a task that was
just ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from bot.pipeline.store import Store

logger = logging.getLogger(__name__)

STOP_GRACE_S = 5.0  # how long stop() lets a task finish the row it is on


class ConversationTasks:
    """Per-conversation drain tasks over the pending rows of ``model``."""

    name: ClassVar[str]
    model: ClassVar[Any]  # a table with conversation_id and state

    def __init__(self, store: Store) -> None:
        self.store = store
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._stopping = False
        self._stopped = asyncio.Event()

    def wake(self, conversation_id: str) -> None:
        """Make sure a task drains ``conversation_id``'s pending rows."""
        if self._stopping:
            return

        self._dirty.add(conversation_id)
        if conversation_id not in self._workers:
            self._workers[conversation_id] = asyncio.create_task(
                self._run(conversation_id), name=f"{self.name}:{conversation_id}"
            )

    def busy(self, conversation_id: str) -> bool:
        """Tell whether a task works on ``conversation_id`` now."""
        return conversation_id in self._workers

    async def resume(self) -> int:
        """Wake every conversation with pending rows (at start, and periodically)."""
        conversation_ids = await self.store.run(self._pending_conversations)
        for conversation_id in conversation_ids:
            # A running task finds the rows itself: waking it again would only cost
            # it one more empty look when it is done.
            if conversation_id not in self._workers:
                self.wake(conversation_id)
        return len(conversation_ids)

    def _pending_conversations(self, session: Session) -> list[str]:
        rows = (
            session.query(self.model.conversation_id)
            .filter(self.model.state == "pending")
            .distinct()
            .all()
        )
        return [row[0] for row in rows]

    async def stop(self) -> None:
        """Let each task finish its current row (a short grace), then cancel it.

        Pending rows stay stored for the next start.
        """
        self._stopping = True
        self._stopped.set()
        tasks = list(self._workers.values())
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds``; return False at once when the tasks are being stopped."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)
        return not self._stopping

    async def _run(self, conversation_id: str) -> None:
        try:
            await self._drain(conversation_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "%s task of %s stopped; the periodic sweep restarts it",
                self.name,
                conversation_id,
            )
        finally:
            self._workers.pop(conversation_id, None)

    async def _drain(self, conversation_id: str) -> None:
        raise NotImplementedError
