"""Command line: ``python -m db migrate | seed | downgrade``.

``migrate`` brings the database at ``DATABASE_URL`` to the newest revision; ``seed``
fills an empty database with data/seed/ and does nothing on a database that already
holds records.
"""

from __future__ import annotations

import argparse
import logging
import sys

from db.engine import database_url_from_env


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m db")
    parser.add_argument(
        "--url", default=None, help="database URL (default: DATABASE_URL or SQLite)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the schema to the newest revision")
    down = commands.add_parser("downgrade", help="downgrade the schema")
    down.add_argument("revision", nargs="?", default="base")
    commands.add_parser("seed", help="seed an empty database with data/seed/")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    url = args.url or database_url_from_env()
    if args.command == "migrate":
        from db.migrate import upgrade

        upgrade(url)
    elif args.command == "downgrade":
        from db.migrate import downgrade

        downgrade(url, args.revision)
    else:
        from db.engine import make_engine
        from db.seed import seed

        engine = make_engine(url)
        try:
            seeded = seed(engine)
        finally:
            engine.dispose()
        print("seeded" if seeded else "already seeded: nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
