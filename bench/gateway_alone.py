"""The gateway's own cost, without Rasa's: its CPU time a message and its webhook
acknowledgement, with a stand-in for Rasa.

``bench/gateway.py`` measures the gateway beside the real Rasa, which takes about
three quarters of the CPU of a message; on 2 cores the two compete, and the machine's
speed drifts. Here a stand-in (``tests.fakes.rasa.FakeRasa``, in this process) answers
every message after ``--delay`` seconds (a busy Rasa's latency), so that the gateway's
CPU time a message moves only with the gateway's own code. Use it to compare two
versions of the gateway, alternated: ``git worktree`` a copy of the old one and run
each from its own folder.

One run: the gateway (``python -m bot gateway``, a child process) in front of the
stand-in and the fake Telegram and Twilio servers; a warm-up; then rounds of N webhooks
from new residents, half Telegram and half signed Twilio, C senders back to back (as
in ``bench/gateway.py``'s throughput phases). Each round prints its messages per
second, the gateway's CPU milliseconds a message (until its queues are empty) and the
acknowledgement p50/p99; the last lines give the median over the rounds.

Run: ``.venv/bin/python -m bench.gateway_alone [--messages N] [--concurrency C]
[--rounds R] [--delay S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import percentile
from bench.gateway import (
    MAX_MESSAGES,
    MAX_ROUNDS,
    WARMUP,
    WARMUP_PHASE,
    Replies,
    cpu_seconds,
    memory_kib,
    phrases,
    start_gateway,
    through_gateway,
    throughput_phase,
)
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

REPLY = (
    "Syarat membuat KTP elektronik: fotokopi Kartu Keluarga dan surat pengantar "
    "RT/RW. Datang ke kantor Disdukcapil Kota Padang pada jam kerja."
)


async def answer(
    sender: str, message: str, metadata: dict[str, Any]
) -> list[dict[str, Any]]:
    """One text reply, the length of a typical one."""
    return [{"recipient_id": sender, "text": REPLY}]


async def run(messages: int, concurrency: int, rounds: int, delay: float) -> None:
    """Run the rounds and print the figures."""
    messages = min(messages, MAX_MESSAGES)
    rounds = max(1, min(rounds, MAX_ROUNDS))
    texts = phrases(messages)
    cpu_ms: list[float] = []
    acks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-gateway-alone-") as tmp:
        async with (
            FakeRasa(respond=answer) as rasa,
            FakeTelegram() as telegram,
            FakeTwilio() as twilio,
        ):
            rasa.delay_s = delay
            replies = Replies()
            telegram.listeners.append(replies.on_telegram)
            twilio.listeners.append(replies.on_twilio)
            process, url = await start_gateway(
                Path(tmp),
                concurrency=concurrency,
                rasa_url=rasa.url,
                action_url=rasa.action_url.removesuffix("/webhook"),
                telegram=telegram,
                twilio=twilio,
            )
            try:
                await through_gateway(
                    url,
                    phrases(WARMUP),
                    concurrency=concurrency,
                    replies=replies,
                    phase=WARMUP_PHASE,
                )
                print(
                    f"{messages} webhooks a round, {concurrency} senders back to back, "
                    f"the stand-in answering after {delay * 1000:.0f} ms\n"
                )
                for index in range(rounds):
                    before = cpu_seconds(process.pid)
                    result = await throughput_phase(
                        url,
                        texts,
                        concurrency=concurrency,
                        replies=replies,
                        index=index,
                    )
                    spent = (cpu_seconds(process.pid) - before) / messages * 1000
                    cpu_ms.append(spent)
                    round_acks = [ack * 1000 for ack in result.acks]
                    acks.extend(round_acks)
                    print(
                        f"  round {index + 1}: {result.rate:5.1f} msg/s, gateway CPU "
                        f"{spent:.2f} ms a message, ack p50 "
                        f"{percentile(round_acks, 0.5):.1f} ms p99 "
                        f"{percentile(round_acks, 0.99):.1f} ms, "
                        f"{result.failures} failed"
                    )
                rss, peak = memory_kib(process.pid)
            finally:
                process.terminate()
                await process.wait()

    print(
        f"\ngateway CPU a message, median of {rounds} rounds: "
        f"{statistics.median(cpu_ms):.2f} ms (from {min(cpu_ms):.2f} to "
        f"{max(cpu_ms):.2f})"
    )
    print(
        f"webhook ack over all rounds: p50 {percentile(acks, 0.5):.1f} ms, "
        f"p99 {percentile(acks, 0.99):.1f} ms"
    )
    print(f"gateway memory: RSS {rss / 1024:.0f} MiB (peak {peak / 1024:.0f} MiB)")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_alone")
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--delay", type=float, default=0.1, help="the stand-in's answer time, s"
    )
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.concurrency, args.rounds, args.delay))


if __name__ == "__main__":
    main()
