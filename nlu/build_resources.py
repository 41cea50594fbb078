"""Build `nlu/resources/langid_model.tsv` and `vocabulary.tsv` from the shared corpora.

Usage: `python -m nlu.build_resources [--source ../shared/eval]`.

Training material (see nlu/resources/README.md for the attribution):
- `minang_id_parallel.tsv`: every row except the NusaX test split, which is kept for
  measuring (`tests/nlu/test_langid.py`);
- `minang_dictionary.tsv`: the word pairs whose two sides differ.
`dev.tsv` and the xSID file are never read here.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from nlu.langid import LEXICON_FILE, MODEL_FILE, ngrams, words
from nlu.normalizer import VOCABULARY_FILE

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "eval"
MAX_N = 5
SMOOTHING = 0.5
MIN_NGRAM_COUNT = 3
# A word used in both languages within this factor carries no evidence.
SHARED_WORD_RATIO = 4.0
BIAS = 2.0
MIN_VOCABULARY_COUNT = 2


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def training_texts(source: Path) -> dict[str, list[str]]:
    """The sentences and dictionary words of each language, NusaX test excluded."""
    texts: dict[str, list[str]] = {"min": [], "id": []}
    for row in _rows(source / "minang_id_parallel.tsv"):
        if row["source"] == "nusax" and row["split"] == "test":
            continue
        texts["min"].append(row["min"])
        texts["id"].append(row["id"])
    return texts


def dictionary_pairs(source: Path) -> list[tuple[str, str]]:
    """Minang–Indonesian word pairs whose two sides differ."""
    return [
        (row["min"], row["id"])
        for row in _rows(source / "minang_dictionary.tsv")
        if row["min"].lower() != row["id"].lower()
    ]


def build(source: Path, resources: Path) -> None:
    """Count n-grams and words, then write the model and the vocabulary."""
    texts = training_texts(source)
    pairs = dictionary_pairs(source)
    grams = {"min": Counter[str](), "id": Counter[str]()}
    word_counts = {"min": Counter[str](), "id": Counter[str]()}
    for language, sentences in texts.items():
        for sentence in sentences:
            for word in words(sentence):
                word_counts[language][word] += 1
                grams[language].update(ngrams(word, max_n=MAX_N))
    for min_word, id_word in pairs:
        for language, entry in (("min", min_word), ("id", id_word)):
            for word in words(entry):
                grams[language].update(ngrams(word, max_n=MAX_N))

    vocabulary_size = len(grams["min"].keys() | grams["id"].keys())
    totals = {lang: sum(counter.values()) for lang, counter in grams.items()}

    def log_p(language: str, count: int) -> float:
        denominator = totals[language] + SMOOTHING * vocabulary_size
        return math.log((count + SMOOTHING) / denominator)

    unseen = log_p("min", 0) - log_p("id", 0)
    lines = [
        f"h\tmax_n\t{MAX_N}",
        f"h\tunseen_ratio\t{unseen:.4f}",
        f"h\tbias\t{BIAS}",
    ]
    for gram in sorted(grams["min"].keys() | grams["id"].keys()):
        n_min, n_id = grams["min"][gram], grams["id"][gram]
        if n_min + n_id >= MIN_NGRAM_COUNT:
            lines.append(f"g\t{gram}\t{log_p('min', n_min) - log_p('id', n_id):.3f}")
    for word in sorted(word_counts["min"].keys() & word_counts["id"].keys()):
        ratio = (word_counts["min"][word] + 1) / (word_counts["id"][word] + 1)
        if 1 / SHARED_WORD_RATIO <= ratio <= SHARED_WORD_RATIO:
            lines.append(f"w\t{word}\t1")
    (resources / MODEL_FILE.name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    vocabulary = word_counts["min"] + word_counts["id"]
    for min_word, id_word in pairs:
        for word in words(f"{min_word} {id_word}"):
            vocabulary[word] += 1
    for line in (
        (resources / LEXICON_FILE.name).read_text(encoding="utf-8").splitlines()
    ):
        if line.strip() and not line.startswith("#"):
            vocabulary[line.split("\t")[0]] += MIN_VOCABULARY_COUNT
    kept = sorted(
        (word, count)
        for word, count in vocabulary.items()
        if count >= MIN_VOCABULARY_COUNT and len(word) > 1
    )
    (resources / VOCABULARY_FILE.name).write_text(
        "# word<TAB>count, from the corpora named in README.md (see build_resources).\n"
        + "".join(f"{word}\t{count}\n" for word, count in kept),
        encoding="utf-8",
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=MODEL_FILE.parent)
    arguments = parser.parse_args()
    build(arguments.source, arguments.out)


if __name__ == "__main__":
    main()
