"""Evaluate a trained model on a TSV file: `python -m nlu.evaluate FILE.tsv`.

Two file shapes are understood, told apart by the header:

- the project's TAXONOMY format, `lang<TAB>intent<TAB>text<TAB>entities` (dev.tsv):
  intent accuracy and macro-F1 per language, entity precision/recall/F1 per entity type
  (per row, as sets of (entity, value); the `language` entity is ignored), the most
  frequent confusions, and language-identification accuracy per language. Rows whose
  intent is `-` count for the language accuracy only.
- a file with `text` and `intent` columns and no `lang` column, every intent being
  `out_of_scope` (the xSID file): the share predicted `out_of_scope` or `nlu_fallback`.

Options: `--model PATH` (default models/padang.tar.gz), `--json OUT` to write the
figures, `--errors` to list every misclassified row.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MODEL = Path("models/padang.tar.gz")
FALLBACK_INTENTS = frozenset({"out_of_scope", "nlu_fallback"})
IGNORED_ENTITIES = frozenset({"language"})
LANGUAGES = ("id", "min")


class EvaluationError(Exception):
    """Root of this module's errors (an unreadable file, a model that will not load)."""


@dataclass
class Row:
    """One evaluation example."""

    text: str
    intent: str
    lang: str | None = None
    entities: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    """What the model said about one row."""

    intent: str
    entities: set[tuple[str, str]]
    language: str | None


def read_rows(path: Path) -> tuple[list[Row], bool]:
    """Read an evaluation file; the flag says whether it is in TAXONOMY format."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = set(reader.fieldnames or ())
            if not {"text", "intent"} <= header:
                raise EvaluationError(f"{path}: needs `text` and `intent` columns.")
            taxonomy = "lang" in header
            rows = []
            for record in reader:
                entities = {}
                if taxonomy and record.get("entities", "").strip():
                    entities = json.loads(record["entities"])
                rows.append(
                    Row(
                        text=record["text"],
                        intent=record["intent"],
                        lang=record.get("lang") if taxonomy else None,
                        entities={k: str(v) for k, v in entities.items()},
                    )
                )
    except (OSError, json.JSONDecodeError) as error:
        raise EvaluationError(f"Cannot read {path}: {error}.") from error
    return rows, taxonomy


def to_parsed(parse: dict[str, Any]) -> Parsed:
    """Reduce Rasa's parse output to what is scored."""
    entities = {
        (str(entity["entity"]), str(entity["value"]))
        for entity in parse.get("entities", [])
        if entity.get("entity") not in IGNORED_ENTITIES
    }
    language = (parse.get("language") or {}).get("name")
    return Parsed(str((parse.get("intent") or {}).get("name")), entities, language)


async def parse_all(model: Path, texts: Iterable[str]) -> list[Parsed]:
    """Load the model in-process with Rasa's Agent and parse every text."""
    from rasa.core.agent import Agent

    try:
        agent = Agent.load(str(model))
    except Exception as error:
        raise EvaluationError(f"Cannot load the model {model}: {error}.") from error
    return [to_parsed(await agent.parse_message(text)) for text in texts]


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Macro-averaged F1 over the gold labels (a wrong fallback counts as an error)."""
    labels = sorted(set(gold))
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def score_taxonomy(rows: list[Row], parsed: list[Parsed]) -> dict[str, Any]:
    """All figures of a TAXONOMY-format file."""
    pairs = [(r, p) for r, p in zip(rows, parsed, strict=True) if r.intent != "-"]
    accuracy: dict[str, float] = {}
    f1: dict[str, float] = {}
    for key in (*LANGUAGES, "all"):
        subset = [(r, p) for r, p in pairs if key in ("all", r.lang)]
        gold = [r.intent for r, _ in subset]
        predicted = [p.intent for _, p in subset]
        accuracy[key] = _ratio(
            sum(g == q for g, q in zip(gold, predicted, strict=True)), len(gold)
        )
        f1[key] = macro_f1(gold, predicted)

    counts: dict[str, Counter[str]] = {}
    for row, result in pairs:
        gold_set = set(row.entities.items())
        for entity, _ in gold_set | result.entities:
            counts.setdefault(entity, Counter())
        for entity, _ in gold_set & result.entities:
            counts[entity]["tp"] += 1
        for entity, _ in result.entities - gold_set:
            counts[entity]["fp"] += 1
        for entity, _ in gold_set - result.entities:
            counts[entity]["fn"] += 1
    entities = {}
    for entity, c in sorted(counts.items()):
        precision = _ratio(c["tp"], c["tp"] + c["fp"])
        recall = _ratio(c["tp"], c["tp"] + c["fn"])
        entities[entity] = {
            "precision": precision,
            "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall),
            "support": c["tp"] + c["fn"],
        }

    confusions = Counter(
        (r.intent, p.intent) for r, p in pairs if r.intent != p.intent
    ).most_common(10)
    language = {
        lang: _ratio(
            sum(
                p.language == lang
                for r, p in zip(rows, parsed, strict=True)
                if r.lang == lang
            ),
            sum(r.lang == lang for r in rows),
        )
        for lang in LANGUAGES
    }
    errors = [
        {"text": r.text, "lang": r.lang, "intent": r.intent, "predicted": p.intent}
        for r, p in pairs
        if r.intent != p.intent
    ]
    entity_errors = [
        {
            "text": r.text,
            "expected": dict(sorted(r.entities.items())),
            "predicted": sorted(p.entities),
        }
        for r, p in pairs
        if set(r.entities.items()) != p.entities
    ]
    return {
        "n": len(rows),
        "intent_accuracy": accuracy,
        "intent_macro_f1": f1,
        "entity_f1": {entity: figures["f1"] for entity, figures in entities.items()},
        "entities": entities,
        "confusions": [
            {"intent": g, "predicted": p, "count": n} for (g, p), n in confusions
        ],
        "language_accuracy": language,
        "errors": errors,
        "entity_errors": entity_errors,
    }


def score_out_of_scope(rows: list[Row], parsed: list[Parsed]) -> dict[str, Any]:
    """Figures of an out-of-scope-only file such as xSID."""
    predicted = Counter(p.intent for p in parsed)
    caught = sum(predicted[intent] for intent in FALLBACK_INTENTS)
    return {
        "n": len(rows),
        "out_of_scope_share": _ratio(caught, len(rows)),
        "predicted": dict(predicted.most_common()),
        "missed": [
            {"text": r.text, "predicted": p.intent}
            for r, p in zip(rows, parsed, strict=True)
            if p.intent not in FALLBACK_INTENTS
        ],
    }


def format_report(figures: dict[str, Any]) -> str:
    """Readable text of the figures."""
    lines = [f"rows: {figures['n']}"]
    if "out_of_scope_share" in figures:
        lines.append(
            "predicted out_of_scope or nlu_fallback: "
            f"{figures['out_of_scope_share']:.1%}"
        )
        lines.append("predicted intents:")
        lines += [f"  {name:28} {n}" for name, n in figures["predicted"].items()]
        return "\n".join(lines)
    lines.append("intent        accuracy  macro-F1")
    for key in (*LANGUAGES, "all"):
        lines.append(
            f"  {key:10} {figures['intent_accuracy'][key]:8.1%}"
            f"  {figures['intent_macro_f1'][key]:8.1%}"
        )
    lines.append("entity                 precision  recall      F1  support")
    for entity, f in figures["entities"].items():
        lines.append(
            f"  {entity:20} {f['precision']:9.1%} {f['recall']:7.1%} {f['f1']:7.1%}"
            f"  {f['support']:7}"
        )
    lines.append("most frequent confusions (expected -> predicted):")
    lines += [
        f"  {c['count']:3}  {c['intent']} -> {c['predicted']}"
        for c in figures["confusions"]
    ] or ["  none"]
    lines.append("language identification accuracy:")
    lines += [f"  {k:10} {v:8.1%}" for k, v in figures["language_accuracy"].items()]
    return "\n".join(lines)


def evaluate(path: Path, model: Path) -> dict[str, Any]:
    """Parse every row of `path` with `model` and compute the figures."""
    rows, taxonomy = read_rows(path)
    parsed = asyncio.run(parse_all(model, [row.text for row in rows]))
    if taxonomy:
        return score_taxonomy(rows, parsed)
    return score_out_of_scope(rows, parsed)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description="Evaluate the NLU model on a TSV file."
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--errors", action="store_true", help="also print every misclassified row"
    )
    arguments = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    try:
        figures = evaluate(arguments.file, arguments.model)
    except EvaluationError as error:
        print(error, file=sys.stderr)
        return 1
    print(format_report(figures))
    if arguments.errors:
        for key in ("errors", "entity_errors", "missed"):
            for row in figures.get(key, []):
                print(f"  {key}:", json.dumps(row, ensure_ascii=False))
    if arguments.json:
        arguments.json.write_text(
            json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
