"""Throughput and latency of the gateway, next to Rasa alone, with the trained model.

One run, everything on 127.0.0.1:

1. the real Rasa server and action server (``tests.support.servers``) on a seeded
   scratch database, and the gateway (``python -m bot gateway``, a child process, so
   that its memory is its own) in front of that Rasa (RASA_CONCURRENCY=C, so Rasa
   never has more than C messages at once, as in 3), with the fake Telegram and
   Twilio servers receiving its replies;
2. latency through the gateway: N messages, half as Telegram webhooks and half as
   signed Twilio webhooks, each from a new resident, C residents at a time, each
   waiting for its answer; latency is the webhook post to the first reply arriving
   at the fake platform;
3. rounds of throughput, Rasa alone and the gateway in turn (A G A G ... A), each
   phase N messages from new residents, C at a time:
   - Rasa alone: each message straight to Rasa's REST channel, the next one posted
     as soon as the answer came; latency is request to answer;
   - the gateway: C senders post webhooks back to back (a platform does not wait for
     the bot's answer); messages per second is N over the time until the last answer
     arrived; the webhook acknowledgement time is measured here, under the full load.
     The next Rasa-alone phase starts once the gateway's queues are empty.
   The machine's speed drifts within a run (Rasa alone has measured 35 and 63 msg/s a
   minute apart here), so every gateway phase lies between two of Rasa alone, and the
   ratio is taken over all phases of each kind; each round's ratio, against the two
   phases around it, is printed too.

Every request (and Twilio's signature) is built before its phase's clock starts, and
sent as bytes on a kept-alive connection (``Poster``), for Rasa alone as for the
gateway: the platforms build and send theirs on their own machines, and this one has
2 cores to share.

Targets: gateway throughput (3) >= 0.9 x Rasa alone (3); acknowledgement p99 <= 25 ms
over all rounds.
Run: ``.venv/bin/python -m bench.gateway [--messages N] [--concurrency C]
[--rounds R]``.
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
from collections.abc import Iterator
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
    url: str, texts: list[str], *, concurrency: int, tag: str
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
        f"Rasa alone (REST channel), {tag}",
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


# Each phase through the gateway has its own residents: phase k's are numbered from
# k million (WhatsApp numbers have 7 digits after +62812).
WARMUP_PHASE, LATENCY_PHASE, FIRST_THROUGHPUT_PHASE = 1, 2, 3
MAX_ROUNDS = 7


def resident(index: int, phase: int) -> str:
    """The chat of message ``index`` of ``phase``: even ones on Telegram, odd ones on
    WhatsApp."""
    offset = phase * 1_000_000
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
    phase: int,
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
        queue.put_nowait(webhook(gateway_url, resident(index, phase), text))

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


async def throughput_phase(
    gateway_url: str,
    texts: list[str],
    *,
    concurrency: int,
    replies: Replies,
    index: int,
) -> Result:
    """Throughput round ``index``: webhooks back to back, then wait for the gateway's
    queues to empty.

    The phase's clock stops at the last first reply; the rest of its work (later
    replies, the outbox's bookkeeping) is the gateway's too, and must not fall into
    whatever is measured next.
    """
    result = await through_gateway(
        gateway_url,
        texts,
        concurrency=concurrency,
        replies=replies,
        phase=FIRST_THROUGHPUT_PHASE + index,
        wait_for_reply=False,
    )
    await settle(gateway_url)
    return result


async def settle(gateway_url: str, *, timeout_s: float = 60.0) -> None:
    """Wait until the gateway's inbox and outbox hold nothing pending (/healthz)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{gateway_url}/healthz") as response:
                queues = (await response.json()).get("queues", {})
            if queues.get("inbox") == 0 and queues.get("outbox") == 0:
                return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"The gateway still had work after {timeout_s:.0f} s.")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time of each process, summed over the phases of one kind."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.spent: dict[str, float] = defaultdict(float)
        self.messages = 0

    @contextlib.contextmanager
    def phase(self, messages: int) -> Iterator[None]:
        """Count the CPU time spent inside the block, for ``messages`` messages."""
        before = cpu_snapshot(self.pids)
        yield
        after = cpu_snapshot(self.pids)
        for name, seconds in before.items():
            self.spent[name] += after[name] - seconds
        self.messages += messages

    def per_message(self) -> str:
        """CPU milliseconds per message of each process, as text."""
        return "  ".join(
            f"{name} {seconds / self.messages * 1000:.1f}"
            for name, seconds in self.spent.items()
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


@dataclass
class Rounds:
    """The throughput phases: Rasa alone before each gateway phase and after the
    last."""

    alone: list[Result] = field(default_factory=list)
    gateway: list[Result] = field(default_factory=list)

    def ratio(self) -> float:
        """Gateway throughput over Rasa alone's, over all phases."""
        alone = pooled("Rasa alone", self.alone).rate
        return pooled("gateway", self.gateway).rate / alone if alone else 0.0

    def lines(self) -> list[str]:
        """One line a round: the gateway against the two Rasa-alone phases around it."""
        out = []
        for index, gateway in enumerate(self.gateway):
            around = self.alone[index : index + 2]
            alone = pooled("Rasa alone", around).rate
            acks = [ack * 1000 for ack in gateway.acks]
            out.append(
                f"  round {index + 1}: Rasa alone "
                f"{' / '.join(f'{r.rate:.1f}' for r in around)} msg/s, gateway "
                f"{gateway.rate:.1f} msg/s, ratio "
                f"{gateway.rate / alone if alone else 0.0:.2f}, ack p99 "
                f"{percentile(acks, 0.99) if acks else 0.0:.1f} ms"
            )
        return out


def pooled(name: str, results: list[Result]) -> Result:
    """One result for several phases of the same kind."""
    return Result(
        name,
        sum(result.seconds for result in results),
        [latency for result in results for latency in result.latencies],
        acks=[ack for result in results for ack in result.acks],
        failures=sum(result.failures for result in results),
    )


async def run(
    messages: int, concurrency: int, rounds: int, *, model: Path = MODEL
) -> int:
    """Run the loads and print the figures; return 1 when a target is missed."""
    messages = min(messages, MAX_MESSAGES)
    rounds = max(1, min(rounds, MAX_ROUNDS))
    texts = phrases(messages)
    measured = Rounds()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        folder = Path(tmp)
        database_url = f"sqlite:///{folder / 'records.db'}"
        prepare_database(database_url)
        stack = make_rasa_stack(database_url=database_url, log_dir=folder, model=model)
        print("Starting the Rasa server and the action server ...", flush=True)
        await asyncio.to_thread(stack.start)
        try:
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
                pids = {
                    "rasa": stack.rasa.pid,
                    "actions": stack.actions.pid,
                    "gateway": process.pid,
                }
                alone_cpu, gateway_cpu = CpuMeter(pids), CpuMeter(pids)
                try:
                    await rasa_alone(
                        stack.rasa_url,
                        phrases(WARMUP),
                        concurrency=concurrency,
                        tag="warm-up",
                    )
                    await through_gateway(
                        url,
                        phrases(WARMUP),
                        concurrency=concurrency,
                        replies=replies,
                        phase=WARMUP_PHASE,
                    )
                    latency = await through_gateway(
                        url,
                        texts,
                        concurrency=concurrency,
                        replies=replies,
                        phase=LATENCY_PHASE,
                    )
                    for index in range(rounds + 1):
                        with alone_cpu.phase(messages):
                            measured.alone.append(
                                await rasa_alone(
                                    stack.rasa_url,
                                    texts,
                                    concurrency=concurrency,
                                    tag=f"phase {index + 1}",
                                )
                            )
                        if index == rounds:
                            break
                        with gateway_cpu.phase(messages):
                            measured.gateway.append(
                                await throughput_phase(
                                    url,
                                    texts,
                                    concurrency=concurrency,
                                    replies=replies,
                                    index=index,
                                )
                            )
                    rss, peak = memory_kib(process.pid)
                    cpu = cpu_seconds(process.pid)
                finally:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
        finally:
            await asyncio.to_thread(stack.stop)

    alone = pooled("Rasa alone (REST channel), all phases", measured.alone)
    gateway = pooled("Gateway, webhooks back to back, all rounds", measured.gateway)
    ratio = measured.ratio()
    ack_p99 = percentile([a * 1000 for a in gateway.acks], 0.99) if gateway.acks else 0
    print(
        f"\n{messages} messages a phase, {concurrency} at a time, one resident each; "
        f"{rounds} rounds of Rasa alone and the gateway in turn\n"
    )
    for line in [*latency.lines(), *alone.lines(), *gateway.lines()]:
        print(line)
    print(f"  gateway memory  RSS {rss / 1024:.0f} MiB (peak {peak / 1024:.0f} MiB)")
    print("\nEach round, the gateway against the Rasa-alone phases before and after it")
    for line in measured.lines():
        print(line)
    print("\nCPU ms a message, by process (the bench process runs the fake platforms)")
    print(f"  Rasa alone                {alone_cpu.per_message()}")
    print(f"  gateway, back to back     {gateway_cpu.per_message()}")
    handled = WARMUP + (1 + rounds) * messages
    print(
        f"  gateway CPU     {cpu:.1f} s for {handled} messages "
        f"({cpu / handled * 1000:.1f} ms a message, start-up included)"
    )
    print(
        f"\nthroughput ratio {ratio:.2f}: gateway {gateway.rate:.1f} "
        f"msg/s against Rasa alone {alone.rate:.1f} msg/s, over all "
        f"phases (target >= {THROUGHPUT_TARGET}): "
        f"{'met' if ratio >= THROUGHPUT_TARGET else 'MISSED'}"
    )
    print(
        f"webhook ack p99 {ack_p99:.1f} ms over all rounds (target <= "
        f"{ACK_TARGET_MS:.0f} ms): {'met' if ack_p99 <= ACK_TARGET_MS else 'MISSED'}"
    )
    met = ratio >= THROUGHPUT_TARGET and ack_p99 <= ACK_TARGET_MS
    return 0 if met and not gateway.failures else 1


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help=f"1 to {MAX_ROUNDS} (see the docstring)"
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args()
    if not args.model.exists():
        sys.exit(f"{args.model} is missing: train it first (make model).")
    sys.exit(
        asyncio.run(run(args.messages, args.concurrency, args.rounds, model=args.model))
    )


if __name__ == "__main__":
    main()
