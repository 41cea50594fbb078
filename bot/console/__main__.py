"""``python -m bot.console add-agent``: create a console account.

The password is asked twice on the terminal, or read from the first line of standard
input with ``--password-stdin`` (scripts); it never appears on the command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.config import Settings
from db import console as cdb
from db.engine import make_engine, session_scope

MIN_PASSWORD_LENGTH = 10


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise SystemExit("The two passwords differ.")
    return first


def add_agent(argv: list[str] | None = None) -> int:
    """Create an agent or supervisor account in DATABASE_URL; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bot.console add-agent")
    parser.add_argument("username", help="login name: a-z, 0-9, dot, dash, underscore")
    parser.add_argument("--name", help="name shown to colleagues (default: username)")
    parser.add_argument("--role", choices=cdb.ROLES, default="agent")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    parser.add_argument(
        "--database-url", help="default: DATABASE_URL or the SQLite file"
    )
    args = parser.parse_args(argv)

    password = _read_password(args.password_stdin)
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
        return 2
    url = args.database_url or Settings.from_env().database_url
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            agent = cdb.create_agent(
                session,
                args.username.lower(),
                password,
                display_name=args.name,
                role=args.role,
            )
            cdb.audit(
                session,
                "add_agent",
                subject=agent.username,
                detail={"role": agent.role},
            )
            print(f"Created {agent.role} {agent.username!r}.")
    except cdb.ConsoleError as exc:
        print(exc)
        return 2
    finally:
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch the console's commands."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "add-agent":
        print(
            "usage: python -m bot.console add-agent USERNAME [--role agent|supervisor]"
        )
        return 2
    return add_agent(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
