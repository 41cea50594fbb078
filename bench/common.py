"""What the benchmarks share: timing summaries and the evaluation rows."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_EVAL = REPO.parent / "shared" / "eval"


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def summary_ms(seconds: list[float]) -> str:
    """Format latencies as p50 / p95 / p99 in milliseconds."""
    ms = [value * 1000 for value in seconds]
    return (
        f"p50 {statistics.median(ms):7.1f} ms  p95 {percentile(ms, 0.95):7.1f} ms  "
        f"p99 {percentile(ms, 0.99):7.1f} ms  (n={len(ms)})"
    )


def dev_rows(path: Path = SHARED_EVAL / "dev.tsv") -> list[dict[str, str]]:
    """Return the rows of a TAXONOMY-format file (lang, intent, text, entities)."""
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
