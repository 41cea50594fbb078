"""Chat Indonesian and Minangkabau text to canonical text, with an offset map.

Pure Python (no Rasa import): the Rasa wrapper is `nlu.components.ChatNormalizer`.

Three kinds of edit, each recorded so that any span of the original text can be mapped
to the rewritten text and back:

- registration and ticket numbers (`dkp 2026 001234`, `ADU2026000087`,
  `adu/2026/000412`) become `DKP-2026-001234` / `ADU-2026-000087`; a NIK written in
  groups (`1371 0112 0590 0001`, `1371.0112.0590.0001`) becomes its 16 digits;
- letters stretched three times or more (`tolooong`, `haloooo`) are shortened to one or
  two, whichever the vocabulary knows (`maaaaf` → `maaf`);
- chat abbreviations of one small table (`nlu/resources/abbreviations.tsv`) are written
  out (`sy` → `saya`, `gmn` → `bagaimana`, `ndak` → `indak`), as are reduplications
  with a `2` (`malam2` → `malam-malam`).

Everything else (punctuation, emoji, case of untouched words) is copied unchanged.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent / "resources"
ABBREVIATIONS_FILE = RESOURCES / "abbreviations.tsv"
VOCABULARY_FILE = RESOURCES / "vocabulary.tsv"

_SEPARATOR = r"[ \t\-/._:]{0,3}"
DOCUMENT_NUMBER_RE = re.compile(
    rf"(?<![^\W_])(dkp|adu){_SEPARATOR}(\d{{4}}){_SEPARATOR}(\d{{6}})(?!\d)",
    re.IGNORECASE,
)
"""A registration (DKP) or ticket (ADU) number in any of the ways people type it."""

CANONICAL_NUMBER_RE = re.compile(r"\b(DKP|ADU)-(\d{4})-(\d{6})\b")
"""The canonical form the normaliser writes."""

NIK_GROUPS_RE = re.compile(r"(?<![\w+])[1-9]\d{1,7}(?:[ .\-]\d{2,8})+(?!\w)")
"""Digit groups separated by one space, dot or dash: a NIK candidate."""

NIK_RE = re.compile(r"(?<![\w+])[1-9]\d{15}(?!\w)")
"""A NIK in its canonical form: 16 digits, not part of a longer number."""

_WORD_RE = re.compile(r"[^\W\d_]+(2(?![\w]))?")
_STRETCH_MAX_RUNS = 4


class NormalizerError(Exception):
    """Root of the errors of this module (a resource file that cannot be read)."""


@dataclass(frozen=True)
class Edit:
    """One replacement: `original[start:end]` became `new[new_start:new_end]`."""

    start: int
    end: int
    new_start: int
    new_end: int


def _map_position(
    position: int, edits: list[tuple[int, int, int, int]], *, is_end: bool
) -> int:
    """Map a position through sorted, non-overlapping `(src_s, src_e, dst_s, dst_e)`.

    A position inside an edited span snaps outwards: a start to the edit's new start, an
    end to the edit's new end, so a mapped span always covers whole edits.
    """
    shift = 0
    for src_start, src_end, dst_start, dst_end in edits:
        if is_end:
            if position <= src_start:
                break
            if position <= src_end:
                return dst_end
        else:
            if position < src_start:
                break
            if position < src_end:
                return dst_start
        shift = dst_end - src_end
    return position + shift


@dataclass(frozen=True)
class Normalized:
    """The result of normalising one text: both texts and the edits between them."""

    original: str
    text: str
    edits: tuple[Edit, ...]

    @property
    def changed(self) -> bool:
        """Whether the normaliser rewrote anything."""
        return bool(self.edits)

    def to_new(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the original text to the span of the same words in `text`."""
        edits = [(e.start, e.end, e.new_start, e.new_end) for e in self.edits]
        return (
            _map_position(start, edits, is_end=False),
            _map_position(end, edits, is_end=True),
        )

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of `text` back to the span of the same words in the original."""
        edits = [(e.new_start, e.new_end, e.start, e.end) for e in self.edits]
        return (
            _map_position(start, edits, is_end=False),
            _map_position(end, edits, is_end=True),
        )


def _read_table(path: Path) -> list[list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise NormalizerError(f"Cannot read {path}: {error}.") from error
    return [
        line.split("\t") for line in lines if line.strip() and not line.startswith("#")
    ]


def load_abbreviations(path: Path = ABBREVIATIONS_FILE) -> dict[str, str]:
    """Read the abbreviation table: short form (lower case) → full form."""
    table: dict[str, str] = {}
    for row in _read_table(path):
        if len(row) < 2:
            raise NormalizerError(f"{path}: a row needs two columns: {row!r}.")
        table[row[0].strip().lower()] = row[1].strip()
    return table


def load_vocabulary(path: Path = VOCABULARY_FILE) -> dict[str, int]:
    """Read the vocabulary (word → frequency) used to undo stretched letters."""
    vocabulary: dict[str, int] = {}
    for row in _read_table(path):
        vocabulary[row[0]] = int(row[1]) if len(row) > 1 else 1
    return vocabulary


def canonical_document_number(prefix: str, year: str, serial: str) -> str:
    """Write a registration or ticket number in its canonical form."""
    return f"{prefix.upper()}-{year}-{serial}"


def _nik_from_groups(candidate: str) -> tuple[int, str] | None:
    """Length of the leading groups that make up exactly 16 digits, and those digits."""
    digits = ""
    for match in re.finditer(r"\d+", candidate):
        digits += match.group()
        if len(digits) == 16 and match.start() > 0:
            return match.end(), digits
        if len(digits) > 16:
            return None
    return None


def _case_like(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class Normalizer:
    """Rewrite chat text into the canonical text the NLU pipeline is trained on."""

    def __init__(
        self,
        abbreviations: Mapping[str, str],
        vocabulary: Mapping[str, int],
    ) -> None:
        """Create a normaliser.

        Args:
            abbreviations: short form in lower case → full form.
            vocabulary: known words in lower case → frequency, for stretched letters.
        """
        self._abbreviations = dict(abbreviations)
        self._vocabulary = dict(vocabulary)

    @classmethod
    def from_resources(cls, folder: Path = RESOURCES) -> Normalizer:
        """Create the normaliser from the shipped tables."""
        return cls(
            load_abbreviations(folder / ABBREVIATIONS_FILE.name),
            load_vocabulary(folder / VOCABULARY_FILE.name),
        )

    def normalize(self, text: str) -> Normalized:
        """Normalise `text`; the result maps spans between the two texts."""
        replacements = self._number_replacements(text)
        taken = [(start, end) for start, end, _ in replacements]
        for match in _WORD_RE.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            if start > 0 and (text[start - 1].isdigit() or text[start - 1] in "@#"):
                continue
            if end < len(text) and text[end].isdigit():
                continue
            new_word = self._rewrite_word(match.group(), reduplicated=bool(match[1]))
            if new_word != match.group():
                replacements.append((start, end, new_word))
        replacements.sort()

        parts: list[str] = []
        edits: list[Edit] = []
        position = 0
        new_length = 0
        for start, end, new in replacements:
            parts.append(text[position:start])
            new_length += start - position
            edits.append(Edit(start, end, new_length, new_length + len(new)))
            parts.append(new)
            new_length += len(new)
            position = end
        parts.append(text[position:])
        return Normalized(text, "".join(parts), tuple(edits))

    def _number_replacements(self, text: str) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        for match in DOCUMENT_NUMBER_RE.finditer(text):
            new = canonical_document_number(*match.groups())
            if new != match.group():
                found.append((match.start(), match.end(), new))
        for match in NIK_GROUPS_RE.finditer(text):
            if any(s < match.end() and match.start() < e for s, e, _ in found):
                continue
            nik = _nik_from_groups(match.group())
            if nik is not None:
                length, digits = nik
                found.append((match.start(), match.start() + length, digits))
        return found

    def _rewrite_word(self, word: str, *, reduplicated: bool) -> str:
        if reduplicated:
            base = self._rewrite_word(word[:-1], reduplicated=False)
            return f"{base}-{base.lower()}" if len(base) >= 3 else word
        shortened = self._destretch(word)
        full = self._abbreviations.get(shortened.lower())
        if full is None:
            return shortened
        return _case_like(shortened, full)

    def _destretch(self, word: str) -> str:
        runs = [(char, len(list(group))) for char, group in _groupby_lower(word)]
        stretched = [i for i, (_, count) in enumerate(runs) if count >= 3]
        if not stretched:
            return word
        best: tuple[int, list[int]] | None = None
        options = itertools.product(
            (1, 2), repeat=min(len(stretched), _STRETCH_MAX_RUNS)
        )
        for choice in options:
            keep = [count for _, count in runs]
            for index, length in zip(stretched, choice, strict=False):
                keep[index] = length
            for index in stretched[_STRETCH_MAX_RUNS:]:
                keep[index] = 1
            candidate = "".join(c * n for (c, _), n in zip(runs, keep, strict=True))
            score = self._vocabulary.get(candidate, 0)
            if candidate in self._abbreviations:
                score = max(score, 1)
            if score and (best is None or score > best[0]):
                best = (score, keep)
        keep = best[1] if best else [1 if n >= 3 else n for _, n in runs]
        # Rebuild from the original characters so that their case stays as typed.
        out: list[str] = []
        position = 0
        for (_, count), length in zip(runs, keep, strict=True):
            out.append(word[position : position + length])
            position += count
        return "".join(out)


def _groupby_lower(word: str) -> itertools.groupby[str, str]:
    return itertools.groupby(word, key=str.lower)


def canonical_numbers(text: str) -> list[tuple[str, str, int, int]]:
    """Find registration numbers, ticket numbers and NIKs in normalised text.

    Returns:
        `(entity, value, start, end)` for each, with `entity` one of
        `registration_number`, `ticket_number`, `nik`.
    """
    found: list[tuple[str, str, int, int]] = []
    for match in CANONICAL_NUMBER_RE.finditer(text):
        entity = "registration_number" if match[1] == "DKP" else "ticket_number"
        found.append((entity, match.group(), match.start(), match.end()))
    for match in NIK_RE.finditer(text):
        found.append(("nik", match.group(), match.start(), match.end()))
    return sorted(found, key=lambda item: item[2])
