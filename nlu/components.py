"""The project's Rasa 3.6 graph components (registered by name in config.yml).

Pipeline order:

1. `ChatNormalizer`, before the tokenizer: rewrites the text of training examples and of
   live messages (see `nlu.normalizer`), moving entity offsets with it.
2. the tokenizer, featurizers, DIET, `EntitySynonymMapper`;
3. `NumberEntityExtractor`: registration numbers, ticket numbers and NIKs by pattern, in
   their canonical form, replacing whatever DIET found for those three entities;
   `EntityValueFilter`: drops `document`, `request_type` and `complaint_category`
   values that are not in the taxonomy (a word no synonym mapped), and entities the
   predicted intent does not take (a `document` in a status question);
4. `OriginalTextRestorer`: puts the text the user typed back into the message and maps
   entity offsets (and the values of free-text entities such as `location`) onto it;
5. `LanguageIdentifier`: `language` in the parse output and a `language` entity.

Components 3–5 have no training step: Rasa runs them only on live messages, so DIET
never sees a `language` entity.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_TYPE
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu import langid, normalizer

logger = logging.getLogger(__name__)

NORMALIZATION = "chat_normalization"
"""Message key (not in the parse output) holding the original text and the edits."""

LANGUAGE = "language"
NUMBER_ENTITIES = ("registration_number", "ticket_number", "nik")
MERGED = ("location",)
"""Free-text entities whose pieces, split by DIET at punctuation, are joined again."""
_SPLIT_GAP_RE = re.compile(r"[ .,]{1,3}")

_NLU_FILES = (
    Path(normalizer.__file__),
    Path(langid.__file__),
    *sorted(normalizer.RESOURCES.glob("*.tsv")),
)


def _resources_fingerprint() -> str:
    """Hash of the code and data the components read, so Rasa's cache notices edits."""
    digest = hashlib.sha256()
    for path in _NLU_FILES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _normalization_of(message: Message) -> normalizer.Normalized | None:
    stored = message.get(NORMALIZATION)
    if not stored:
        return None
    edits = tuple(normalizer.Edit(*edit) for edit in stored["edits"])
    return normalizer.Normalized(stored["original"], stored["text"], edits)


def original_text(message: Message) -> str:
    """The text as the user typed it, before `ChatNormalizer` rewrote it."""
    stored = message.get(NORMALIZATION)
    if stored:
        return str(stored["original"])
    return str(message.get(TEXT) or "")


class _ProjectComponent(GraphComponent):  # type: ignore[misc]
    """Shared creation and cache fingerprint of the components below."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        """Create the component (none of them has trained state)."""
        return cls()

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Make Rasa's training cache depend on nlu/ code and resources too."""
        return _resources_fingerprint()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class ChatNormalizer(_ProjectComponent):
    """Rewrite chat text into canonical text before tokenisation."""

    def __init__(self) -> None:
        """Load the abbreviation table and the vocabulary."""
        self._normalizer = normalizer.Normalizer.from_resources()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Normalise every training example, moving its entity offsets along."""
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if not text or text.startswith("/"):
                continue
            result = self._normalizer.normalize(text)
            if not result.changed:
                continue
            example.set(TEXT, result.text)
            example.set(ENTITIES, _moved_entities(example.get(ENTITIES) or [], result))
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Normalise live messages and remember the original for the restorer."""
        for message in messages:
            text = message.get(TEXT)
            # `/intent{...}` payloads are parsed by Rasa itself: leave them alone.
            if not text or text.startswith("/"):
                continue
            result = self._normalizer.normalize(text)
            if not result.changed:
                continue
            message.set(TEXT, result.text)
            message.set(
                NORMALIZATION,
                {
                    "original": result.original,
                    "text": result.text,
                    "edits": [
                        [e.start, e.end, e.new_start, e.new_end] for e in result.edits
                    ],
                },
            )
        return messages


def _moved_entities(
    entities: list[dict[str, Any]], result: normalizer.Normalized
) -> list[dict[str, Any]]:
    """Entities of the original text, re-pointed at the same words of the new text."""
    moved = []
    for entity in entities:
        start, end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
        new_start, new_end = result.to_new(start, end)
        updated = {
            **entity,
            ENTITY_ATTRIBUTE_START: new_start,
            ENTITY_ATTRIBUTE_END: new_end,
        }
        # A value written as in the text follows the text; an explicit synonym stays.
        if entity.get(ENTITY_ATTRIBUTE_VALUE) == result.original[start:end]:
            updated[ENTITY_ATTRIBUTE_VALUE] = result.text[new_start:new_end]
        moved.append(updated)
    return moved


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class NumberEntityExtractor(_ProjectComponent):
    """Registration numbers, ticket numbers and NIKs, canonical, found by pattern."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Replace other extractors' number entities by the canonical ones."""
        for message in messages:
            text = message.get(TEXT) or ""
            kept = [
                entity
                for entity in message.get(ENTITIES) or []
                if entity.get(ENTITY_ATTRIBUTE_TYPE) not in NUMBER_ENTITIES
            ]
            found = [
                {
                    ENTITY_ATTRIBUTE_TYPE: entity,
                    ENTITY_ATTRIBUTE_VALUE: value,
                    ENTITY_ATTRIBUTE_START: start,
                    ENTITY_ATTRIBUTE_END: end,
                    ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: 1.0,
                    EXTRACTOR: type(self).__name__,
                }
                for entity, value, start, end in normalizer.canonical_numbers(text)
            ]
            # A DIET span overlapping a number (e.g. a `location` eating the digits).
            kept = [
                entity
                for entity in kept
                if not any(
                    entity[ENTITY_ATTRIBUTE_START] < number[ENTITY_ATTRIBUTE_END]
                    and number[ENTITY_ATTRIBUTE_START] < entity[ENTITY_ATTRIBUTE_END]
                    for number in found
                )
            ]
            message.set(ENTITIES, kept + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class EntityValueFilter(GraphComponent):  # type: ignore[misc]
    """Keep the entities the taxonomy allows: known values, and the intent's entities.

    DIET sometimes tags a word such as `surat` as a `document` that no synonym maps to a
    value of the taxonomy, or finds a `document` in a status question whose answer does
    not depend on it; such entities would only fill slots with values no action uses.

    Config:
        allowed: `{entity: [value, ...]}`: other values of these entities are dropped.
        by_intent: `{intent: [entity, ...]}`: when one of these intents is predicted,
            the entities named in `scoped` but not in its list are dropped. Other
            intents (greet, affirm, a fallback, an answer inside a form) keep every
            entity, and entities outside `scoped` (the exact numbers) are never dropped.
        scoped: the entities `by_intent` applies to.
    """

    def __init__(
        self,
        allowed: dict[str, list[str]],
        by_intent: dict[str, list[str]] | None = None,
        scoped: list[str] | None = None,
    ) -> None:
        """Create the filter (see the class docstring for the arguments)."""
        self._allowed = {
            entity: frozenset(values) for entity, values in allowed.items()
        }
        self._by_intent = {
            intent: frozenset(entities)
            for intent, entities in (by_intent or {}).items()
        }
        self._scoped = frozenset(scoped or ())

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Nothing is filtered unless the config says so."""
        return {"allowed": {}, "by_intent": {}, "scoped": []}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityValueFilter:
        """Create the filter from its config."""
        return cls(
            dict(config["allowed"]),
            dict(config["by_intent"]),
            list(config["scoped"]),
        )

    def _keeps(self, entity: dict[str, Any], intent: str | None) -> bool:
        name = entity.get(ENTITY_ATTRIBUTE_TYPE)
        if name in self._allowed and (
            entity.get(ENTITY_ATTRIBUTE_VALUE) not in self._allowed[name]
        ):
            return False
        if name in self._scoped and intent in self._by_intent:
            return name in self._by_intent[intent]
        return True

    def process(self, messages: list[Message]) -> list[Message]:
        """Remove the entities the taxonomy does not allow here."""
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            entities = message.get(ENTITIES) or []
            kept = [entity for entity in entities if self._keeps(entity, intent)]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class OriginalTextRestorer(_ProjectComponent):
    """Give the message back the text the user typed, with entities pointing into it.

    It also joins the pieces of one free-text entity that DIET split at punctuation:
    `Jl` + `Sudirman` in "di Jl. Sudirman" become one `location` "Jl. Sudirman".
    """

    def process(self, messages: list[Message]) -> list[Message]:
        """Map entity offsets and free-text values back onto the original text."""
        for message in messages:
            result = _normalization_of(message)
            entities = message.get(ENTITIES) or []
            if result is not None:
                entities = [_restored(entity, result) for entity in entities]
                message.set(TEXT, result.original)
            merged = _merge_split_entities(entities, str(message.get(TEXT) or ""))
            if result is not None or len(merged) != len(entities):
                message.set(ENTITIES, merged, add_to_output=True)
        return messages


def _restored(entity: dict[str, Any], result: normalizer.Normalized) -> dict[str, Any]:
    start = entity.get(ENTITY_ATTRIBUTE_START)
    end = entity.get(ENTITY_ATTRIBUTE_END)
    if start is None or end is None:
        return entity
    old_start, old_end = result.to_original(start, end)
    updated = {
        **entity,
        ENTITY_ATTRIBUTE_START: old_start,
        ENTITY_ATTRIBUTE_END: old_end,
    }
    if (
        entity.get(ENTITY_ATTRIBUTE_TYPE) not in NUMBER_ENTITIES
        and entity.get(ENTITY_ATTRIBUTE_VALUE) == result.text[start:end]
    ):
        updated[ENTITY_ATTRIBUTE_VALUE] = result.original[old_start:old_end]
    return updated


def _merge_split_entities(
    entities: list[dict[str, Any]], text: str
) -> list[dict[str, Any]]:
    """Join neighbouring free-text entities separated only by `.`, `,` or spaces."""
    merged: list[dict[str, Any]] = []
    ordered = sorted(
        entities,
        key=lambda e: (
            e.get(ENTITY_ATTRIBUTE_START) is None,
            e.get(ENTITY_ATTRIBUTE_START) or 0,
        ),
    )
    for entity in ordered:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and entity.get(ENTITY_ATTRIBUTE_TYPE) in MERGED
            and entity.get(ENTITY_ATTRIBUTE_TYPE) == previous.get(ENTITY_ATTRIBUTE_TYPE)
            and previous[ENTITY_ATTRIBUTE_VALUE]
            == text[previous[ENTITY_ATTRIBUTE_START] : previous[ENTITY_ATTRIBUTE_END]]
            and entity.get(ENTITY_ATTRIBUTE_VALUE)
            == text[entity[ENTITY_ATTRIBUTE_START] : entity[ENTITY_ATTRIBUTE_END]]
            and _SPLIT_GAP_RE.fullmatch(
                text[previous[ENTITY_ATTRIBUTE_END] : entity[ENTITY_ATTRIBUTE_START]]
            )
        ):
            previous[ENTITY_ATTRIBUTE_END] = entity[ENTITY_ATTRIBUTE_END]
            previous[ENTITY_ATTRIBUTE_VALUE] = text[
                previous[ENTITY_ATTRIBUTE_START] : previous[ENTITY_ATTRIBUTE_END]
            ]
            confidences = [
                c
                for c in (
                    previous.get(ENTITY_ATTRIBUTE_CONFIDENCE_TYPE),
                    entity.get(ENTITY_ATTRIBUTE_CONFIDENCE_TYPE),
                )
                if c is not None
            ]
            if confidences:
                previous[ENTITY_ATTRIBUTE_CONFIDENCE_TYPE] = min(confidences)
            continue
        merged.append(dict(entity))
    return merged


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class LanguageIdentifier(_ProjectComponent):
    """Tell Minangkabau from Indonesian; the `language` slot reads the entity.

    The parse output always names the language; the entity (and so a change of the
    slot) comes only with a message whose words are evidence for one language.
    """

    def __init__(self) -> None:
        """Load the language model (shared with the gateway through nlu.langid)."""
        self._identifier = langid.default_identifier()

    def process(self, messages: list[Message]) -> list[Message]:
        """Add `language` to the parse output and a `language` entity."""
        for message in messages:
            text = original_text(message)
            if text.startswith("/"):
                continue
            prediction = self._identifier.predict(text)
            message.set(
                LANGUAGE,
                {"name": prediction.language, "confidence": prediction.confidence},
                add_to_output=True,
            )
            if not prediction.decisive:
                # A bare number, "ok" or an emoji says nothing about the language: no
                # entity, so the `language` slot keeps what the resident wrote before.
                continue
            entities = [
                entity
                for entity in message.get(ENTITIES) or []
                if entity.get(ENTITY_ATTRIBUTE_TYPE) != LANGUAGE
            ]
            entities.append(
                {
                    ENTITY_ATTRIBUTE_TYPE: LANGUAGE,
                    ENTITY_ATTRIBUTE_VALUE: prediction.language,
                    ENTITY_ATTRIBUTE_START: 0,
                    ENTITY_ATTRIBUTE_END: 0,
                    EXTRACTOR: type(self).__name__,
                    ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: prediction.confidence,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
