"""The console's tables through the real migrations: accounts, surveys, kecamatan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import inspect

from db import console
from db.engine import make_engine, session_scope
from db.migrate import downgrade, upgrade


@pytest.fixture
def engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_password_hash_is_salted_scrypt_with_its_parameters() -> None:
    first = console.hash_password("kunci-rahasia")
    second = console.hash_password("kunci-rahasia")

    assert first != second
    assert first.startswith(f"scrypt${console.SCRYPT_N}$8$1$")
    assert "kunci-rahasia" not in first
    assert console.verify_password("kunci-rahasia", first)
    assert not console.verify_password("kunci-rahasiA", first)
    assert not console.verify_password("kunci-rahasia", "md5$abc")


def test_agents_log_in_only_with_their_password(engine) -> None:
    with session_scope(engine) as session:
        console.create_agent(session, "rina", "sandi-rina-1", role="supervisor")
        with pytest.raises(console.ConsoleError, match="already taken"):
            console.create_agent(session, "rina", "lain")
        with pytest.raises(console.ConsoleError, match="Unknown role"):
            console.create_agent(session, "budi", "x", role="admin")

    with session_scope(engine) as session:
        assert (
            console.authenticate(session, "rina", "sandi-rina-1").role == "supervisor"
        )
        assert console.authenticate(session, "rina", "salah") is None
        assert console.authenticate(session, "tidakada", "sandi-rina-1") is None


def test_sessions_expire_and_close(engine) -> None:
    with session_scope(engine) as session:
        agent = console.create_agent(session, "dodi", "sandi-dodi-1")
        token, row = console.open_session(
            session, agent, lifetime=dt.timedelta(hours=1), ip="127.0.0.1"
        )
        old, _ = console.open_session(
            session, agent, lifetime=dt.timedelta(seconds=-1), ip=None
        )
        assert token not in row.token_hash

    with session_scope(engine) as session:
        assert console.find_session(session, token).agent.username == "dodi"
        assert console.find_session(session, old) is None
        console.close_session(session, token)
    with session_scope(engine) as session:
        assert console.find_session(session, token) is None


def test_survey_takes_one_score_once(engine) -> None:
    with session_scope(engine) as session:
        console.open_survey(session, "telegram:42", language="min", agent_id=None)

    with session_scope(engine) as session:
        assert (
            console.answer_survey(session, "telegram:42", "baa caro urus KTP?") is None
        )
        assert console.answer_survey(session, "telegram:42", "12") is None
        assert console.answer_survey(session, "telegram:42", "4!").score == 4
    with session_scope(engine) as session:
        assert console.answer_survey(session, "telegram:42", "5") is None
        assert console.survey_summary(session) == {"answers": 1, "mean": 4.0}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("Jl. Khatib Sulaiman, Padang Utara", "Padang Utara"),
        ("dekat pasar, kec. koto tangah", "Koto Tangah"),
        ("Lubuk Kilangan dekat semen", "Lubuk Kilangan"),
        ("di depan rumah ambo", None),
    ],
)
def test_kecamatan_is_found_in_the_location_text(location, expected) -> None:
    assert console.kecamatan_of(location) == expected


def test_migration_seeds_canned_replies_in_both_languages_and_downgrades(
    engine, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        languages = {reply.language for reply in console.canned_replies(session)}
    assert languages == {"id", "min"}

    url = str(engine.url)
    downgrade(url, "0002_gateway")
    assert not any(
        name.startswith("console_")
        for name in inspect(make_engine(url)).get_table_names()
    )
