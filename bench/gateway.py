"""Throughput and latency of the gateway, next to Rasa alone, with the trained model.

One run, everything on 127.0.0.1:

1. the real Rasa server and action server (``tests.support.servers``) on a seeded
   scratch database;
2. Rasa alone: N residents, each sending one message from the evaluation set to Rasa's
   REST channel, C at a time; latency is request to answer. It runs again, with new
   residents, after the gateway has stopped (4): the machine's speed drifts within a
   run, so Rasa alone is the rate over both runs;
3. the gateway (``python -m bot gateway``, a child process, so that its memory is its
   own) in front of the same Rasa (RASA_CONCURRENCY=C, so Rasa never has more than C
   messages at once, as in 2), with the fake Telegram and Twilio servers receiving
   its replies: the same N messages, half as Telegram webhooks and half as signed
   Twilio webhooks, from new residents, twice:
   a. latency: C residents at a time, each waiting for its answer; latency is the
      webhook post to the first reply arriving at the fake platform;
   b. throughput: C senders post webhooks back to back (a platform does not wait for
      the bot's answer); messages per second is N over the time until the last
      answer arrived; the webhook acknowledgement time is measured here, under the
      full load;
4. Rasa alone again (see 2).

Every request (and Twilio's signature) is built before its phase's clock starts, and
sent as bytes on a kept-alive connection (``Poster``), for Rasa alone as for the
gateway: the platforms build and send theirs on their own machines, and this one has
2 cores to share.

Targets: gateway throughput (3b) >= 0.9 x Rasa alone (2 and 4); acknowledgement p99
<= 25 ms.
Run: ``.venv/bin/python -m bench.gateway [--messages N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import aiohttp

from bench.common import REPO, dev_rows, percentile, summary_ms
from tests.fakes.telegram import Call, FakeTelegram, text_update
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    WHATSAPP_NUMBER,
    FakeTwilio,
    inbound_form,
    signature,
)
from tests.support.servers import MODEL, free_port, make_rasa_stack, prepare_database

WARMUP = 10
MAX_MESSAGES = 2000  # a bound on one run
ACK_TARGET_MS = 25.0
THROUGHPUT_TARGET = 0.9
REPLY_TIMEOUT_S = 120.0
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Result:
    """What one load run measured."""

    name: str
    seconds: float
    latencies: list[float]
    acks: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def rate(self) -> float:
        """Messages per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """Human-readable lines."""
        out = [
            (
                f"{self.name}: {self.rate:6.1f} msg/s over {self.seconds:5.1f} s, "
                f"{self.failures} failed"
            ),
            f"  reply latency   {summary_ms(self.latencies)}",
        ]
        if self.acks:
            out.append(f"  webhook ack     {summary_ms(self.acks)}")
        return out


def phrases(count: int) -> list[str]:
    """``count`` resident messages from the evaluation set, repeated as needed."""
    texts = [row["text"] for row in dev_rows()]
    return [texts[i % len(texts)] for i in range(count)]


async def rasa_alone(
    url: str, texts: list[str], *, concurrency: int, tag: str = "before"
) -> Result:
    """Each text from a new sender straight to Rasa's REST channel."""
    latencies: list[float] = []
    failures = 0
    # Built before the clock starts, as for the webhooks (see ``Webhook``).
    endpoint = f"{url}/webhooks/rest/webhook"
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for index, text in enumerate(texts):
        body = {
            "sender": f"bench-rasa-{tag}-{index}",
            "message": text,
            "metadata": {"channel": "bench"},
        }
        encoded = json.dumps(body).encode()
        queue.put_nowait(http_request(endpoint, encoded, JSON_HEADERS))

    async def worker(poster: Poster) -> None:
        nonlocal failures
        while not queue.empty():
            request = queue.get_nowait()
            started = time.perf_counter()
            try:
                ok = await poster.post(request) == 200
            except ConnectionError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failures += 1

    posters = await open_posters(url, concurrency)
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(poster) for poster in posters))
    finally:
        for poster in posters:
            poster.close()
    return Result(
        f"Rasa alone (REST channel), {tag} the gateway",
        time.perf_counter() - started,
        latencies,
        failures=failures,
    )


class Replies:
    """Wait for the first reply to each resident at the fake platforms."""

    def __init__(self) -> None:
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self.counts: dict[str, int] = defaultdict(int)

    def expect(self, chat: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[chat] = future
        return future

    def arrived(self, chat: str) -> None:
        self.counts[chat] += 1
        future = self._waiters.pop(chat, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def on_telegram(self, call: Call) -> None:
        if call.method == "sendMessage":
            self.arrived(f"tg:{call.params.get('chat_id')}")

    def on_twilio(self, form: dict[str, str]) -> None:
        self.arrived(f"wa:{form.get('To', '').removeprefix('whatsapp:')}")


RUN_OFFSETS = {"warmup": 1_000_000, "latency": 2_000_000, "throughput": 3_000_000}


def resident(index: int, tag: str) -> str:
    """The chat of message ``index``: even ones on Telegram, odd ones on WhatsApp."""
    offset = RUN_OFFSETS[tag]
    if index % 2 == 0:
        return f"tg:{700_000_000 + offset + index}"
    return f"wa:+62812{offset + index:07d}"


@dataclass(frozen=True)
class Webhook:
    """One platform delivery, built before the clock starts: Telegram's and Twilio's
    servers do not spend this machine's CPU on it (aiohttp's form encoding alone
    cost the bench process about 0.2 ms a WhatsApp webhook)."""

    chat: str  # whose reply to wait for
    request: bytes  # the whole HTTP/1.1 request


def webhook(gateway_url: str, chat: str, text: str) -> Webhook:
    """The Telegram update or the signed Twilio form for ``text`` from ``chat``."""
    kind, _, chat_id = chat.partition(":")
    if kind == "tg":
        update = text_update(int(chat_id), chat_id=int(chat_id), text=text)
        return Webhook(
            chat,
            http_request(
                f"{gateway_url}/webhooks/telegram",
                json.dumps(update).encode(),
                {**JSON_HEADERS, "X-Telegram-Bot-Api-Secret-Token": "bench-secret"},
            ),
        )
    form = inbound_form(phone=chat_id, body=text)
    url = f"{gateway_url}/webhooks/whatsapp"
    return Webhook(
        chat,
        http_request(
            url,
            urlencode(form).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature(url, form),
            },
        ),
    )


def http_request(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A POST of ``body`` to ``url`` as HTTP/1.1 bytes, on a kept-alive connection."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Poster:
    """One kept-alive connection that sends prebuilt requests and reads the answers.

    A platform's servers post webhooks from their own machines. aiohttp's client cost
    this process about 0.5 ms of CPU a request, on the cores the gateway and Rasa
    need; writing the bytes and reading the status line and the body costs a tenth.
    Only what the gateway answers is read: a status line, headers, and a body of
    ``Content-Length`` bytes.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the connection unless it is open; return its streams."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port
            )
        return self._reader, self._writer

    async def post(self, request: bytes) -> int:
        """Send ``request``; return the answer's status.

        Raises:
            ConnectionError: The connection broke or the answer was not HTTP/1.1.
        """
        reused = self._writer is not None
        try:
            return await self._exchange(request)
        except ConnectionError:
            if not reused:
                raise
            # The server may close a connection left idle (aiohttp after 75 s): once
            # more on a new one; the gateway drops a delivery it has stored already.
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> int:
        reader, writer = await self.connect()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            return int(status_line.split(" ", 2)[1])
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            self.close()
            raise ConnectionError(f"webhook post failed: {exc!r}") from exc

    def close(self) -> None:
        """Close the connection (the next post opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def open_posters(url: str, count: int) -> list[Poster]:
    """``count`` connections to ``url``, opened before a phase's clock starts."""
    posters = [Poster(url) for _ in range(count)]
    for poster in posters:
        await poster.connect()
    return posters


async def through_gateway(
    gateway_url: str,
    texts: list[str],
    *,
    concurrency: int,
    replies: Replies,
    tag: str,
    wait_for_reply: bool = True,
) -> Result:
    """Each text from a new resident, alternating Telegram and WhatsApp webhooks.

    ``wait_for_reply``: each of the ``concurrency`` senders waits for the answer
    before its next message (reply latency); otherwise it posts its next webhook as
    soon as the last one is acknowledged, as Telegram and Twilio do (throughput).
    """
    latencies: list[float] = []
    acks: list[float] = []
    failures = 0
    queue: asyncio.Queue[Webhook] = asyncio.Queue()
    for index, text in enumerate(texts):
        queue.put_nowait(webhook(gateway_url, resident(index, tag), text))

    async def post(poster: Poster, hook: Webhook) -> None:
        status = await poster.post(hook.request)
        if status != 200:
            raise ConnectionError(f"the gateway answered HTTP {status}")

    async def answered(waiter: asyncio.Future[float], started: float) -> None:
        nonlocal failures
        try:
            arrived = await asyncio.wait_for(waiter, REPLY_TIMEOUT_S)
        except asyncio.TimeoutError:
            failures += 1
            return
        latencies.append(arrived - started)

    pending: list[asyncio.Task[None]] = []

    async def worker(poster: Poster) -> None:
        nonlocal failures
        while not queue.empty():
            hook = queue.get_nowait()
            waiter = replies.expect(hook.chat)
            started = time.perf_counter()
            try:
                await post(poster, hook)
            except ConnectionError:
                failures += 1
                continue
            acks.append(time.perf_counter() - started)
            if wait_for_reply:
                await answered(waiter, started)
            else:
                pending.append(asyncio.create_task(answered(waiter, started)))

    posters = await open_posters(gateway_url, concurrency)
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(poster) for poster in posters))
        await asyncio.gather(*pending)
    finally:
        for poster in posters:
            poster.close()
    how = "each resident waits" if wait_for_reply else "webhooks back to back"
    return Result(
        f"Gateway, {how}",
        time.perf_counter() - started,
        latencies,
        acks=acks,
        failures=failures,
    )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_message(
    pids: dict[str, int], before: dict[str, float], messages: int
) -> str:
    """CPU milliseconds per message of each process since ``before``, as text."""
    now = cpu_snapshot(pids)
    return "  ".join(
        f"{name} {(now[name] - before[name]) / messages * 1000:.1f}" for name in before
    )


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process in ``pids`` and of this one ("bench")."""
    snapshot = {name: cpu_seconds(pid) for name, pid in pids.items()}
    snapshot["bench"] = time.process_time()
    return snapshot


def memory_kib(pid: int) -> tuple[int, int]:
    """Resident and peak resident memory of ``pid`` in KiB (Linux /proc)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


async def start_gateway(
    folder: Path,
    *,
    concurrency: int,
    rasa_url: str,
    action_url: str,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
) -> tuple[asyncio.subprocess.Process, str]:
    """Run ``python -m bot gateway`` against the fakes; return it and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TWILIO_", "REDIS_URL", "PUBLIC_URL"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        PORT=str(port),
        PUBLIC_URL=url,
        DATABASE_URL=f"sqlite:///{folder / 'gateway.db'}",
        RASA_URL=rasa_url,
        ACTION_SERVER_URL=f"{action_url}/webhook",
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.api_url,
        TELEGRAM_WEBHOOK_SECRET="bench-secret",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_WHATSAPP_NUMBER=WHATSAPP_NUMBER,
        TWILIO_API_URL=twilio.url,
        RASA_CONCURRENCY=str(concurrency),
        LOG_LEVEL="WARNING",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "gateway",
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(folder / "gateway.log").open("wb"),
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(240):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return process, url
            await asyncio.sleep(0.25)
    process.kill()
    raise RuntimeError(f"The gateway did not start; see {folder / 'gateway.log'}.")


async def run(messages: int, concurrency: int, *, model: Path = MODEL) -> int:
    """Run both loads and print the figures; return 1 when a target is missed."""
    messages = min(messages, MAX_MESSAGES)
    texts = phrases(messages)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        folder = Path(tmp)
        database_url = f"sqlite:///{folder / 'records.db'}"
        prepare_database(database_url)
        stack = make_rasa_stack(database_url=database_url, log_dir=folder, model=model)
        print("Starting the Rasa server and the action server ...", flush=True)
        await asyncio.to_thread(stack.start)
        try:
            await rasa_alone(
                stack.rasa_url, phrases(WARMUP), concurrency=concurrency, tag="warmup"
            )
            servers = {"rasa": stack.rasa.pid, "actions": stack.actions.pid}
            before = cpu_snapshot(servers)
            alone = await rasa_alone(stack.rasa_url, texts, concurrency=concurrency)
            alone_cpu = cpu_per_message(servers, before, messages)
            async with FakeTelegram() as telegram, FakeTwilio() as twilio:
                replies = Replies()
                telegram.listeners.append(replies.on_telegram)
                twilio.listeners.append(replies.on_twilio)
                process, url = await start_gateway(
                    folder,
                    concurrency=concurrency,
                    rasa_url=stack.rasa_url,
                    action_url=stack.action_url,
                    telegram=telegram,
                    twilio=twilio,
                )
                try:
                    await through_gateway(
                        url,
                        phrases(WARMUP),
                        concurrency=concurrency,
                        replies=replies,
                        tag="warmup",
                    )
                    latency = await through_gateway(
                        url,
                        texts,
                        concurrency=concurrency,
                        replies=replies,
                        tag="latency",
                    )
                    everything = {**servers, "gateway": process.pid}
                    before = cpu_snapshot(everything)
                    gateway = await through_gateway(
                        url,
                        texts,
                        concurrency=concurrency,
                        replies=replies,
                        tag="throughput",
                        wait_for_reply=False,
                    )
                    gateway_cpu = cpu_per_message(everything, before, messages)
                    rss, peak = memory_kib(process.pid)
                    cpu = cpu_seconds(process.pid)
                finally:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
            again = await rasa_alone(
                stack.rasa_url, texts, concurrency=concurrency, tag="after"
            )
        finally:
            await asyncio.to_thread(stack.stop)

    # Rasa alone over both of its runs: the machine's speed drifts during a run.
    answered = len(alone.latencies) + len(again.latencies)
    alone_rate = answered / (alone.seconds + again.seconds)
    ratio = gateway.rate / alone_rate if alone_rate else 0.0
    ack_p99 = percentile([a * 1000 for a in gateway.acks], 0.99) if gateway.acks else 0
    print(f"\n{messages} messages, {concurrency} at a time, one resident each\n")
    for line in [*alone.lines(), *latency.lines(), *gateway.lines()]:
        print(line)
    print(f"  gateway memory  RSS {rss / 1024:.0f} MiB (peak {peak / 1024:.0f} MiB)")
    for line in again.lines():
        print(line)
    print("\nCPU ms a message, by process (the bench process runs the fake platforms)")
    print(f"  Rasa alone                {alone_cpu}")
    print(f"  gateway, back to back     {gateway_cpu}")
    handled = WARMUP + 2 * messages
    print(
        f"  gateway CPU     {cpu:.1f} s for {handled} messages "
        f"({cpu / handled * 1000:.1f} ms a message, start-up included)"
    )
    print(
        f"\nthroughput ratio {ratio:.2f}: gateway {gateway.rate:.1f} msg/s against "
        f"Rasa alone {alone_rate:.1f} msg/s over its two runs "
        f"(target >= {THROUGHPUT_TARGET}): "
        f"{'met' if ratio >= THROUGHPUT_TARGET else 'MISSED'}"
    )
    print(
        f"webhook ack p99 {ack_p99:.1f} ms (target <= {ACK_TARGET_MS:.0f} ms): "
        f"{'met' if ack_p99 <= ACK_TARGET_MS else 'MISSED'}"
    )
    met = ratio >= THROUGHPUT_TARGET and ack_p99 <= ACK_TARGET_MS
    return 0 if met and not gateway.failures else 1


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args()
    if not args.model.exists():
        sys.exit(f"{args.model} is missing: train it first (make model).")
    sys.exit(asyncio.run(run(args.messages, args.concurrency, model=args.model)))


if __name__ == "__main__":
    main()
