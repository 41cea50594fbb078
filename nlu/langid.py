"""Tell Minangkabau (`min`) from Indonesian (`id`), for any message.

Pure Python, no Rasa or TensorFlow import: the gateway imports this module too.

The model (`nlu/resources/langid_model.tsv`, built by `python -m nlu.build_resources`)
is a character n-gram naive Bayes over words (n = 1..5, each word padded with spaces),
stored as one log-likelihood ratio per n-gram. Two word signals sit on top of it:

- words that the parallel training corpus uses about as often in both languages (place
  names, loan words, `assalamualaikum`) carry no evidence, so a message made only of
  them stays Indonesian, the bot's default;
- a short hand-written chat lexicon (`nlu/resources/langid_lexicon.tsv`) gives chat
  particles the weight the translated corpus cannot (`ambo`, `nio`, `dima` for Minang;
  `dong`, `sih`, `gimana` for Indonesian; `admin`, `pak` neutral).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RESOURCES = Path(__file__).resolve().parent / "resources"
MODEL_FILE = RESOURCES / "langid_model.tsv"
LEXICON_FILE = RESOURCES / "langid_lexicon.tsv"

Language = Literal["id", "min"]
DEFAULT_LANGUAGE: Language = "id"

_NOISE_RE = re.compile(r"@\w+|#\w+|https?://\S+|www\.\S+")
_WORD_RE = re.compile(r"[^\W\d_]+")
_STRETCH_RE = re.compile(r"(.)\1{2,}")
# Scale from the score (a sum of log ratios) to a confidence.
_CONFIDENCE_SCALE = 4.0
# Below this confidence a text says nothing about its language ("ndak" scores 0.73,
# "makasih ya" 0.96, a text without words 0.62).
MIN_EVIDENCE_CONFIDENCE = 0.7


class LangIdError(Exception):
    """Root of the errors of this module (a model file that cannot be read)."""


@dataclass(frozen=True)
class Prediction:
    """A language decision: the language and how sure the model is (0.5 to 1)."""

    language: Language
    confidence: float
    score: float

    @property
    def decisive(self) -> bool:
        """Whether the text's own words are evidence for the language.

        A bare number, "ok" or an emoji scores the model's prior (0.62): such a message
        should not change the language a conversation is held in.
        """
        return self.confidence >= MIN_EVIDENCE_CONFIDENCE


def words(text: str) -> list[str]:
    """The words the identifier looks at: lower case letters, no handles or links."""
    text = _NOISE_RE.sub(" ", text.lower())
    return [_STRETCH_RE.sub(r"\1", word) for word in _WORD_RE.findall(text)]


def ngrams(word: str, *, max_n: int) -> list[str]:
    """Character n-grams (1..max_n) of one word padded with a space on each side."""
    padded = f" {word} "
    return [
        padded[i : i + n]
        for n in range(1, max_n + 1)
        for i in range(len(padded) - n + 1)
    ]


class LanguageIdentifier:
    """Classify a message as Minangkabau or Indonesian."""

    def __init__(
        self,
        ngram_ratios: dict[str, float],
        *,
        unseen_ratio: float,
        max_n: int,
        shared_words: frozenset[str],
        lexicon: dict[str, float],
        bias: float,
    ) -> None:
        """Create an identifier from model parts (see `load`).

        Args:
            ngram_ratios: n-gram → log P(n-gram | min) - log P(n-gram | id).
            unseen_ratio: the ratio of an n-gram the training data never had.
            max_n: the longest n-gram.
            shared_words: words that carry no evidence.
            lexicon: word → fixed score (positive is Minang, 0 neutral).
            bias: score a message must exceed to be called Minang.
        """
        self._ratios = ngram_ratios
        self._unseen = unseen_ratio
        self._max_n = max_n
        self._shared = shared_words
        self._lexicon = lexicon
        self._bias = bias
        self.word_score = functools.lru_cache(maxsize=50_000)(self._word_score)

    @classmethod
    def load(
        cls, model_file: Path = MODEL_FILE, lexicon_file: Path = LEXICON_FILE
    ) -> LanguageIdentifier:
        """Load the shipped model and lexicon."""
        header: dict[str, str] = {}
        ratios: dict[str, float] = {}
        shared: set[str] = set()
        try:
            with model_file.open(encoding="utf-8") as lines:
                for line in lines:
                    kind, key, value = line.rstrip("\n").split("\t")
                    if kind == "g":
                        ratios[key] = float(value)
                    elif kind == "w":
                        shared.add(key)
                    elif kind == "h":
                        header[key] = value
            lexicon = {
                word: float(weight)
                for word, weight, *_ in (
                    line.split("\t")
                    for line in lexicon_file.read_text(encoding="utf-8").splitlines()
                    if line.strip() and not line.startswith("#")
                )
            }
            return cls(
                ratios,
                unseen_ratio=float(header["unseen_ratio"]),
                max_n=int(header["max_n"]),
                shared_words=frozenset(shared),
                lexicon=lexicon,
                bias=float(header["bias"]),
            )
        except (OSError, ValueError, KeyError) as error:
            raise LangIdError(f"Cannot load the language model: {error!r}.") from error

    def _word_score(self, word: str) -> float:
        if word in self._lexicon:
            return self._lexicon[word]
        if word in self._shared:
            return 0.0
        ratios, unseen = self._ratios, self._unseen
        return sum(ratios.get(g, unseen) for g in ngrams(word, max_n=self._max_n))

    def score(self, text: str) -> float:
        """Evidence for Minang minus the decision bias (> 0 means Minang)."""
        return sum(self.word_score(word) for word in words(text)) - self._bias

    def predict(self, text: str) -> Prediction:
        """Tell the language of `text`; text without words is Indonesian."""
        score = self.score(text)
        language: Language = "min" if score > 0 else DEFAULT_LANGUAGE
        confidence = 1.0 / (1.0 + math.exp(-abs(score) / _CONFIDENCE_SCALE))
        return Prediction(language, round(confidence, 4), score)


@functools.cache
def default_identifier() -> LanguageIdentifier:
    """The identifier from the shipped model, loaded once per process."""
    return LanguageIdentifier.load()


def identify(text: str) -> Language:
    """Return `min` or `id` for `text` with the shipped model."""
    return default_identifier().predict(text).language
