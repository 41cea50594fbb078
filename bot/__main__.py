"""Command line of the gateway.

``python -m bot serve``    migrate and seed the database, start the action server, the
                           Rasa server and the gateway; Ctrl-C stops them all.
``python -m bot gateway``  the gateway alone (Rasa and the actions run elsewhere).
``python -m bot chat``     talk to the bot in this terminal, through the same pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import uuid

from bot import logs
from bot.config import Settings
from bot.errors import ConfigError

logger = logging.getLogger("bot")

REPLY_WAIT_S = 60.0  # how long the terminal chat waits for the bot's answer
GIL_SWITCH_INTERVAL_S = 0.001


def _migrate_and_seed(settings: Settings) -> None:
    from db.engine import make_engine
    from db.migrate import upgrade
    from db.seed import seed

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        seed(engine)
    finally:
        engine.dispose()


def run_gateway(settings: Settings, *, migrate: bool) -> int:
    """Serve the gateway app until SIGINT/SIGTERM."""
    from aiohttp import web

    from bot.app import create_app

    # The database and Twilio threads wait for the GIL at most this long (seconds):
    # shorter than the default 5 ms keeps webhook acknowledgements quick under load.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    if migrate:
        from db.migrate import upgrade

        upgrade(settings.database_url)
    logger.info(
        "Gateway on http://%s:%s (web chat /chat, console /console/)",
        settings.host,
        settings.port,
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
        shutdown_timeout=10.0,
    )
    return 0


async def chat(settings: Settings) -> int:
    """Read lines from stdin and print the bot's replies."""
    from bot.channels.terminal import TerminalChannel, message
    from bot.pipeline.service import Pipeline

    terminal = TerminalChannel()
    pipeline = Pipeline(settings)
    pipeline.add_channel(terminal)
    session = uuid.uuid4().hex[:12]
    await pipeline.start()
    sys.stdout.write("Tulis pesan (Ctrl-D untuk keluar).\n")
    loop = asyncio.get_running_loop()
    try:
        while True:
            sys.stdout.write("anda> ")
            sys.stdout.flush()
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            terminal.replied.clear()
            await pipeline.ingest(message(line.rstrip("\n"), session=session))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(terminal.replied.wait(), REPLY_WAIT_S)
            await asyncio.sleep(0.3)  # let the rest of a multi-message answer print
    finally:
        await pipeline.stop()
        pipeline.store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv``; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="Rasa server + action server + gateway")
    gateway = commands.add_parser("gateway", help="the gateway alone")
    gateway.add_argument("--no-migrate", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("chat", help="chat with the bot in this terminal")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"Configuration error: {exc}\n")
        return 2
    logs.setup(
        level=settings.log_level,
        library_level=settings.log_level_libraries,
        secrets=settings.secrets,
        prefix="serve" if args.command == "serve" else "",
    )
    if args.command == "serve":
        from bot.serve import model_exists, serve

        if not model_exists(settings.rasa_model):
            logger.error("%s is missing: run `make model` first", settings.rasa_model)
            return 1
        _migrate_and_seed(settings)
        return asyncio.run(serve(settings))
    if args.command == "gateway":
        return run_gateway(settings, migrate=not args.no_migrate)
    if args.command == "chat":
        logging.getLogger().setLevel(logging.WARNING)
        _migrate_and_seed(settings)
        return asyncio.run(chat(settings))
    return 2


if __name__ == "__main__":
    sys.exit(main())
