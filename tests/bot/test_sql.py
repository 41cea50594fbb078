"""The statements prepared for SQLite's driver (``bot.pipeline.sql``) store and read
exactly what SQLAlchemy's own execution stores and reads."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, literal, select, text, union
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

import bot.pipeline
from bot.channels.base import InboundMessage
from bot.pipeline import conversations
from bot.pipeline.sql import Prepared
from db.engine import make_engine
from db.gateway import Conversation, InboxMessage, OutboxMessage, TranscriptMessage

CHAT = "telegram:1001"
WHEN = datetime(2026, 12, 5, 7, 30, 15, 123456, tzinfo=timezone.utc)
OPTIONS = [{"title": "KTP hilang", "payload": '/ask_requirements{"document":"ktp"}'}]
MESSAGE = InboundMessage(
    channel="telegram",
    chat_id="1001",
    platform_id="501",
    text="ktp ambo hilang, baa caronyo?",
    sender_name="Rina",
    location={"latitude": -0.9471, "longitude": 100.4172},
)

# Values for each statement that writes, by its name in its module.
WRITES: dict[str, dict[str, Any]] = {
    "inbox._INSERT": {
        "channel": "telegram",
        "platform_id": "502",
        "conversation_id": CHAT,
        "message": MESSAGE.to_json(),
        "received_at": WHEN,
    },
    "inbox._ADMITTED": {"row_id": 1, "transcript_id": 1},
    "inbox._LEASE": {"row_id": 1, "owner": "gw-1", "until": WHEN},
    "conversations._RECORD_INBOUND": {
        "id": "whatsapp:+6281234567890",
        "channel": "whatsapp",
        "chat_id": "+6281234567890",
        "display_name": None,
        "no": False,
        "received_at": WHEN,
        "now": WHEN,
    },
    "conversations._SET_LANGUAGE": {
        "conversation_id": CHAT,
        "language": "min",
        "now": WHEN,
    },
    "conversations._END_TURN": {
        "conversation_id": CHAT,
        "options": OPTIONS,
        "now": WHEN,
    },
    "conversations._INSERT_TRANSCRIPT": {
        "conversation_id": CHAT,
        "direction": "out",
        "author": "bot",
        "agent_id": None,
        "kind": "text",
        "text": "Syarat KTP: ...",
        "data": {"buttons": OPTIONS},
        "created_at": WHEN,
    },
    "router._DONE": {"row_id": 1, "now": WHEN},
    "outbox._INSERT": {
        "conversation_id": CHAT,
        "channel": "telegram",
        "chat_id": "1001",
        "transcript_id": 1,
        "payload": {"text": "Syarat KTP: ...", "buttons": OPTIONS},
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": WHEN,
        "created_at": WHEN,
    },
    "outbox._LEASE": {"row_id": 1, "owner": "gw-1", "until": WHEN},
    "outbox._FINISH": {
        "row_id": 1,
        "state": "sent",
        "error": None,
        "sent_at": WHEN,
        "platform_message_id": "9001",
    },
}
READS = {"conversation_id": CHAT}


def prepared_statements() -> dict[str, Prepared]:
    """Every statement the gateway's pipeline prepares, by module and name."""
    found = {}
    for info in pkgutil.iter_modules(bot.pipeline.__path__):
        module = importlib.import_module(f"bot.pipeline.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Prepared):
                found[f"{info.name}.{name}"] = value
    return found


def is_select(statement: Prepared) -> bool:
    return isinstance(statement.statement, Select)


@pytest.fixture
def populated(database_url: str, tmp_path: Path) -> Path:
    """A database with one conversation, its message, a reply and its outbox row,
    written by SQLAlchemy."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            insert(Conversation.__table__),
            {
                "id": CHAT,
                "channel": "telegram",
                "chat_id": "1001",
                "display_name": "Rina",
                "language": "id",
                "mode": "closed",
                "last_inbound_at": WHEN,
                "last_options": OPTIONS,
                "unreachable": False,
                "outage_notified": True,
            },
        )
        connection.execute(
            insert(InboxMessage.__table__),
            {
                "channel": "telegram",
                "platform_id": "501",
                "conversation_id": CHAT,
                "message": MESSAGE.to_json(),
                "lease_owner": "gw-0",
                "lease_until": WHEN - timedelta(minutes=1),
                "received_at": WHEN - timedelta(seconds=2),
            },
        )
        connection.execute(
            insert(TranscriptMessage.__table__),
            {"conversation_id": CHAT, "direction": "in", "author": "resident"},
        )
        connection.execute(
            insert(OutboxMessage.__table__),
            {
                "conversation_id": CHAT,
                "channel": "telegram",
                "chat_id": "1001",
                "transcript_id": 1,
                "payload": {"text": "Halo"},
                "next_attempt_at": WHEN,
            },
        )
    engine.dispose()
    return Path(database_url.removeprefix("sqlite:///"))


def open_copy(source: Path, folder: Path, name: str) -> Connection:
    """A connection, in a transaction, to a copy of the database ``source``."""
    path = folder / name
    shutil.copy(source, path)
    connection = make_engine(f"sqlite:///{path}").connect()
    connection.begin()
    return connection


def stored(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the gateway's tables as SQLite holds it (text, numbers)."""
    connection.commit()
    path = connection.engine.url.database
    with sqlite3.connect(path) as raw:
        return {
            table: raw.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("conversations", "messages", "inbox", "outbox")
        }


def test_every_writing_statement_has_values_here() -> None:
    writing = {n for n, s in prepared_statements().items() if not is_select(s)}
    assert writing == set(WRITES)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_stores_what_sqlalchemy_stores(
    name: str, populated: Path, tmp_path: Path
) -> None:
    statement = prepared_statements()[name]
    values = WRITES[name]
    ours = open_copy(populated, tmp_path, "ours.db")
    theirs = open_copy(populated, tmp_path, "theirs.db")

    changed = statement.run(ours, dict(values))
    expected = theirs.execute(statement.statement, dict(values)).rowcount

    assert changed == expected == 1
    assert stored(ours) == stored(theirs)


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_an_insert_returns_the_new_row_id(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(
        "database_url" if kind == "sqlite" else "postgres_database_url"
    )
    statement = prepared_statements()["outbox._INSERT"]
    engine = make_engine(url)
    with engine.begin() as connection:
        conversations._RECORD_INBOUND.run(
            connection, {**WRITES["conversations._RECORD_INBOUND"], "id": CHAT}
        )
        values = {**WRITES["outbox._INSERT"], "transcript_id": None}
        ids = [statement.insert(connection, dict(values)) for _ in range(3)]
        stored_ids = connection.execute(
            select(OutboxMessage.id).order_by(OutboxMessage.id)
        ).scalars()
        assert ids == list(stored_ids)
    engine.dispose()


def test_each_set_of_values_is_compiled_for_itself(
    populated: Path, tmp_path: Path
) -> None:
    # An INSERT's columns are the values given: one without agent_id and data must
    # not reuse the form compiled for all of them.
    statement = prepared_statements()["conversations._INSERT_TRANSCRIPT"]
    values = WRITES["conversations._INSERT_TRANSCRIPT"]
    fewer = {k: v for k, v in values.items() if k not in ("agent_id", "data")}
    ours = open_copy(populated, tmp_path, "ours.db")
    theirs = open_copy(populated, tmp_path, "theirs.db")

    for each in (values, fewer, values):
        statement.insert(ours, dict(each))
        theirs.execute(statement.statement, dict(each))

    assert stored(ours) == stored(theirs)


def test_a_value_the_statement_carries_is_converted_too(
    populated: Path, tmp_path: Path
) -> None:
    # An aware datetime in the statement itself is stored naive in UTC: compared
    # unconverted, it would match nothing.
    statement = Prepared(
        select(OutboxMessage.id).where(OutboxMessage.next_attempt_at == WHEN)
    )
    connection = open_copy(populated, tmp_path, "ours.db")

    assert [row.id for row in statement.rows(connection, {})] == [1]


def test_a_statement_outside_a_transaction_begins_one(database_url: str) -> None:
    engine = make_engine(database_url)
    connection = engine.connect()
    values = {**WRITES["conversations._RECORD_INBOUND"], "id": CHAT}

    conversations._RECORD_INBOUND.run(connection, values)
    connection.rollback()

    assert conversations._FIND.first(connection, READS) is None
    connection.close()
    engine.dispose()


@pytest.mark.parametrize(
    "name", sorted(n for n, s in prepared_statements().items() if is_select(s))
)
def test_a_read_returns_what_sqlalchemy_returns(
    name: str, populated: Path, tmp_path: Path
) -> None:
    statement = prepared_statements()[name]
    connection = open_copy(populated, tmp_path, "ours.db")

    ours = statement.rows(connection, dict(READS))
    theirs = list(connection.execute(statement.statement, dict(READS)))

    assert len(ours) == len(theirs) == 1
    for field in theirs[0]._fields:
        mine, expected = getattr(ours[0], field), getattr(theirs[0], field)
        assert (field, mine, type(mine)) == (field, expected, type(expected))


def test_what_the_driver_path_cannot_do_is_refused(database_url: str) -> None:
    connection = make_engine(database_url).connect()
    ids = select(InboxMessage.id)
    refused: list[tuple[Prepared, dict[str, Any], str]] = [
        # Without created_at, SQLAlchemy would compute its default at execution.
        (
            Prepared(insert(TranscriptMessage.__table__)),
            {"conversation_id": CHAT, "direction": "in", "author": "resident"},
            "created_at",
        ),
        (
            Prepared(ids.where(InboxMessage.id.in_(bindparam("ids", expanding=True)))),
            {"ids": [1, 2]},
            "IN",
        ),
        (Prepared(ids.where(InboxMessage.id.in_([1, 2]))), {}, "IN"),
        (prepared_statements()["router._ANY_PENDING"], {}, "conversation_id"),
        (Prepared(union(ids, ids)), {}, "select"),
        (Prepared(select(InboxMessage.id, OutboxMessage.id)), {}, "Name each column"),
        (Prepared(select(literal(1))), {}, "Name each column"),
    ]
    with connection.begin():
        for statement, values, message in refused:
            is_read = isinstance(statement.statement, Select)
            execute = statement.rows if is_read else statement.run
            with pytest.raises(ValueError, match=message):
                execute(connection, values)
        # Rows of a select() only, changes of others, ids of an insert() only.
        changes = prepared_statements()["router._DONE"]
        with pytest.raises(TypeError):
            Prepared(text("SELECT id FROM inbox")).rows(connection, {})
        with pytest.raises(TypeError):
            changes.rows(connection, WRITES["router._DONE"])
        with pytest.raises(TypeError):
            changes.insert(connection, WRITES["router._DONE"])
        with pytest.raises(TypeError):
            prepared_statements()["router._ANY_PENDING"].run(connection, READS)

        # An insert that inserted nothing has no id of its own.
        created = {**WRITES["conversations._RECORD_INBOUND"], "id": CHAT}
        conversations._RECORD_INBOUND.run(connection, created)
        again = Prepared(sqlite_insert(Conversation.__table__).on_conflict_do_nothing())
        row = {"id": CHAT, "channel": "telegram", "chat_id": "1001", "mode": "bot"}
        row |= {"unreachable": False, "outage_notified": False}
        row |= {"created_at": WHEN, "updated_at": WHEN}
        with pytest.raises(RuntimeError, match="0 rows"):
            again.insert(connection, row)
    connection.close()
