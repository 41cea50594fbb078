"""Train, parse and converse: the Rasa core's figures next to Rasa's default config.

Prints, in one run on the same data:
- training time from scratch (empty cache) of config.yml and of the default config
  that `rasa init` writes (bench/default_config.yml);
- model sizes;
- parse latency p50/p95 through Rasa's HTTP API (POST /model/parse);
- intent accuracy on ../shared/eval/dev.tsv for both models;
- full turns per second through Rasa's REST channel at 10 concurrent conversations,
  each model behind its own action server on the same seeded database (a conversation
  handed to staff ends there, see ``converse``).

Run: `.venv/bin/python -m bench.nlu_core [--skip-default] [--turns N]`; add
``--keep-models DIR`` to keep the trained models, and repeat the measurements without
training with ``--models DIR/config.tar.gz DIR/default_config.tar.gz``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import REPO, dev_rows, summary_ms
from tests.support.servers import RasaStack, make_rasa_stack, prepare_database

CONCURRENT_CONVERSATIONS = 10
TURNS_PER_CONVERSATION = 20


def train(config: Path, out: Path, cache: Path) -> tuple[float, Path]:
    """Train from scratch with an empty cache; return seconds and the model path."""
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(cache)}
    # Rasa writes the defaults it chose back into a config that has none: train a copy.
    config = Path(shutil.copy(config, out.parent / config.name))
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "train",
            "--force",
            "--config",
            str(config),
            "--out",
            str(out),
            "--fixed-model-name",
            config.stem,
            "--num-threads",
            "2",
        ],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, out / f"{config.stem}.tar.gz"


async def parse_all(url: str, texts: list[str]) -> tuple[list[float], list[str]]:
    """Parse every text one after the other; return latencies and intents."""
    latencies, intents = [], []
    async with aiohttp.ClientSession() as session:
        for text in texts:
            started = time.perf_counter()
            async with session.post(f"{url}/model/parse", json={"text": text}) as resp:
                body = await resp.json()
            latencies.append(time.perf_counter() - started)
            intents.append(body["intent"]["name"])
    return latencies, intents


def hands_off(replies: list[dict[str, Any]]) -> bool:
    """Tell whether Rasa handed the conversation to staff (the handoff payload)."""
    return any(
        isinstance(reply.get("custom"), dict) and "handoff" in reply["custom"]
        for reply in replies
    )


async def converse(url: str, texts: list[str], turns: int) -> tuple[float, list[float]]:
    """Run 10 conversations at once via the REST channel; return turns/s, latencies.

    Each of the 10 residents sends ``turns`` random messages from the evaluation set.
    When Rasa hands a conversation to staff (it pauses the tracker), the resident's
    next message starts a new conversation: the gateway forwards nothing to Rasa while
    staff have it, so a turn of a paused conversation (a parse and nothing else) is
    not a turn real traffic makes. Without this, most turns of a run went to paused
    conversations (123 of 200 measured), and both models did NLU alone there.
    """
    latencies: list[float] = []

    async def one(session: aiohttp.ClientSession, number: int) -> None:
        rng = random.Random(number)
        conversations = itertools.count()

        def new_sender() -> str:
            return f"bench-{number}-{next(conversations)}-{time.monotonic_ns()}"

        sender = new_sender()
        for _ in range(turns):
            started = time.perf_counter()
            body = {"sender": sender, "message": rng.choice(texts)}
            async with session.post(f"{url}/webhooks/rest/webhook", json=body) as resp:
                replies = await resp.json()
            latencies.append(time.perf_counter() - started)
            if hands_off(replies):
                sender = new_sender()

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(one(session, n) for n in range(CONCURRENT_CONVERSATIONS))
        )
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def accuracy(rows: list[dict[str, str]], predicted: list[str]) -> str:
    """Intent accuracy per language, as text."""
    parts = []
    for lang in ("id", "min"):
        pairs = [
            (row["intent"], guess)
            for row, guess in zip(rows, predicted, strict=True)
            if row["lang"] == lang
        ]
        right = sum(gold == guess for gold, guess in pairs)
        parts.append(f"{lang} {right / len(pairs):.1%}")
    return "  ".join(parts)


def start_stack(model: Path, folder: Path) -> RasaStack:
    """Start a Rasa server with ``model`` and its own action server on a seeded DB."""
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'bench.db'}"
    prepare_database(database_url)
    stack = make_rasa_stack(database_url=database_url, log_dir=folder, model=model)
    stack.start()
    return stack


def main() -> None:
    """Run the whole benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--turns", type=int, default=TURNS_PER_CONVERSATION)
    parser.add_argument("--keep-models", type=Path, metavar="DIR")
    parser.add_argument(
        "--models", type=Path, nargs="+", metavar="MODEL", help="skip training"
    )
    args = parser.parse_args()

    rows = dev_rows()
    texts = [row["text"] for row in rows]
    configs = [REPO / "config.yml"]
    if not args.skip_default:
        configs.append(REPO / "bench" / "default_config.yml")

    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        work = Path(tmp)
        models = {model.name.split(".")[0]: model for model in args.models or []}
        for config in configs if not models else []:
            seconds, model = train(
                config, work / "models", work / f"cache-{config.stem}"
            )
            models[config.stem] = model
            size = model.stat().st_size / 1e6
            print(
                f"{config.stem:15s} training from scratch {seconds:6.1f} s, "
                f"model {size:.1f} MB",
                flush=True,
            )
            if args.keep_models:
                args.keep_models.mkdir(parents=True, exist_ok=True)
                shutil.copy(model, args.keep_models / model.name)

        results = {}
        for name, model in models.items():
            stack = start_stack(model, work / f"run-{name}")
            try:
                asyncio.run(parse_all(stack.rasa_url, texts[:20]))  # warm-up
                latencies, predicted = asyncio.run(parse_all(stack.rasa_url, texts))
                rate, turn_latencies = asyncio.run(
                    converse(stack.rasa_url, texts, args.turns)
                )
            finally:
                stack.stop()
            results[name] = rate
            print(f"{name:15s} parse {summary_ms(latencies)}")
            print(f"{name:15s} intent accuracy on dev.tsv: {accuracy(rows, predicted)}")
            print(
                f"{name:15s} {rate:6.1f} turns/s at {CONCURRENT_CONVERSATIONS} "
                f"conversations; turn {summary_ms(turn_latencies)}",
                flush=True,
            )

        if "default_config" in results:
            ratio = results["config"] / results["default_config"]
            print(f"turns/s, config.yml / default config: {ratio:.2f} x")


if __name__ == "__main__":
    main()
