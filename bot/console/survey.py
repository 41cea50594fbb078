"""The one-question satisfaction survey after an agent closes a conversation.

Closing with the survey sends the question in the resident's language; the resident's
next message, while the conversation is still ``closed``, is taken as the answer when
it is a score 1-5: stored in ``console_surveys`` and thanked for, never sent to Rasa.
Anything else goes to the bot as usual.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from bot.channels.base import Reply
from bot.console.context import Console
from bot.console.texts import say
from db import console as cdb
from db.gateway import Conversation

logger = logging.getLogger(__name__)


async def ask(console: Console, conversation_id: str, *, agent_id: int) -> None:
    """Open a survey for ``conversation_id`` and send the question."""

    def work(session: Session) -> str:
        row = session.get(Conversation, conversation_id)
        language = (row.language if row else None) or "id"
        cdb.open_survey(session, conversation_id, language=language, agent_id=agent_id)
        return language

    language = await console.store.run(work)
    await console.outbox.enqueue(
        conversation_id, Reply(say("survey_question", language)), author="system"
    )


async def take_answer(console: Console, conversation_id: str, text: str) -> bool:
    """Store ``text`` as the survey answer of ``conversation_id`` if it is one.

    Returns:
        True when the message was the answer (the resident is thanked); False when it
        should go on to Rasa.
    """

    def work(session: Session) -> tuple[int, str] | None:
        survey = cdb.answer_survey(session, conversation_id, text)
        if survey is None:
            return None
        return int(survey.score), str(survey.language)

    answered = await console.store.run(work)
    if answered is None:
        return False

    score, language = answered
    logger.info("Survey of %s answered", conversation_id)
    await console.outbox.enqueue(
        conversation_id,
        Reply(say("survey_thanks", language, score=score)),
        author="system",
    )
    await console.events.publish({"type": "survey", "conversation_id": conversation_id})
    return True


def intercept_router(console: Console, router: Any) -> None:
    """Have ``router`` hand survey answers to :func:`take_answer` instead of Rasa.

    Only a message to a ``closed`` conversation can be an answer (the router marks the
    inbox row done when the hook takes it).
    """

    async def hook(turn: Any) -> bool:
        if turn.mode != "closed" or not turn.message.text:
            return False
        return await take_answer(console, turn.conversation_id, turn.message.text)

    router.add_interceptor(hook)
