"""Counters, gauges and latency histograms, written in the Prometheus text format.

prometheus-client is not in the environment; the text format is small enough to write
by hand (https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

Labels = tuple[tuple[str, str], ...]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """The gateway's metrics; every name gets the ``padang_gateway_`` prefix."""

    prefix = "padang_gateway_"

    def __init__(self) -> None:
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._histograms: dict[str, dict[Labels, list[float]]] = defaultdict(dict)
        self._gauges: dict[str, Callable[[], dict[Labels, float]]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        """Register the HELP text and TYPE of ``name``."""
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to counter ``name``."""
        key = tuple(sorted(labels.items()))
        series = self._counters[name]
        series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Record one latency in histogram ``name``."""
        key = tuple(sorted(labels.items()))
        # buckets..., +Inf count, sum
        series = self._histograms[name].setdefault(
            key, [0.0] * (len(LATENCY_BUCKETS_S) + 2)
        )
        index = bisect.bisect_left(LATENCY_BUCKETS_S, seconds)
        for i in range(index, len(LATENCY_BUCKETS_S)):
            series[i] += 1
        series[-2] += 1
        series[-1] += seconds

    def gauge(self, name: str, read: Callable[[], dict[Labels, float]]) -> None:
        """Register gauge ``name``, read when /metrics is scraped."""
        self._gauges[name] = read

    def value(self, name: str, **labels: str) -> float:
        """Return a counter's value (tests, the bench)."""
        return self._counters[name].get(tuple(sorted(labels.items())), 0.0)

    def render(self, gauge_values: dict[str, dict[Labels, float]] | None = None) -> str:
        """Return every metric in the Prometheus text format."""
        lines: list[str] = []
        gauge_values = dict(gauge_values or {})
        for name, read in self._gauges.items():
            gauge_values.setdefault(name, read())
        for name, series in sorted(self._counters.items()):
            self._head(lines, name, "counter")
            for labels, value in sorted(series.items()):
                lines.append(f"{self.prefix}{name}{_labels(labels)} {value:g}")
        for name, series in sorted(gauge_values.items()):
            self._head(lines, name, "gauge")
            for labels, value in sorted(series.items()):
                lines.append(f"{self.prefix}{name}{_labels(labels)} {value:g}")
        for name, hist in sorted(self._histograms.items()):
            self._head(lines, name, "histogram")
            full = f"{self.prefix}{name}"
            for labels, counts in sorted(hist.items()):
                for bound, count in zip(LATENCY_BUCKETS_S, counts, strict=False):
                    le = _labels(labels, f'le="{bound:g}"')
                    lines.append(f"{full}_bucket{le} {count:g}")
                inf = _labels(labels, 'le="+Inf"')
                lines.append(f"{full}_bucket{inf} {counts[-2]:g}")
                lines.append(f"{full}_count{_labels(labels)} {counts[-2]:g}")
                lines.append(f"{full}_sum{_labels(labels)} {counts[-1]:.6f}")
        return "\n".join(lines) + "\n"

    def _head(self, lines: list[str], name: str, kind: str) -> None:
        kind, text = self._help.get(name, (kind, name.replace("_", " ")))
        lines.append(f"# HELP {self.prefix}{name} {text}")
        lines.append(f"# TYPE {self.prefix}{name} {kind}")


def gateway_metrics() -> Metrics:
    """Return a :class:`Metrics` with the gateway's metrics described."""
    metrics = Metrics()
    for name, kind, text in [
        ("messages_in_total", "counter", "Resident messages stored, by channel."),
        ("duplicates_total", "counter", "Inbound updates dropped as duplicates."),
        (
            "inbox_failures_total",
            "counter",
            "Inbound updates not stored (webhook answered 500), by channel.",
        ),
        ("messages_out_total", "counter", "Platform sends that succeeded, by channel."),
        (
            "send_failures_total",
            "counter",
            "Failed platform sends, by channel and kind.",
        ),
        ("rasa_failures_total", "counter", "Rasa calls that failed, by cause."),
        (
            "webhook_rejected_total",
            "counter",
            "Webhooks refused, by channel and status.",
        ),
        ("rasa_latency_seconds", "histogram", "Time Rasa took to answer a message."),
        ("webhook_latency_seconds", "histogram", "Time to store and acknowledge."),
        ("inbox_store_seconds", "histogram", "Time to commit an inbound message."),
        ("send_latency_seconds", "histogram", "Time of one platform send."),
        ("reply_latency_seconds", "histogram", "From receipt to the first reply sent."),
        ("queue_depth", "gauge", "Pending inbox and outbox rows."),
    ]:
        metrics.describe(name, kind, text)
    return metrics
