"""The records schema, its migrations and seed, and the record helpers, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from db.base import metadata
from db.engine import make_engine, session_scope
from db.migrate import downgrade, upgrade
from db.records import (
    Agency,
    Application,
    Complaint,
    ComplaintCategory,
    Office,
    RecordError,
    Service,
    mask_nik,
    next_number,
    normalise_number,
    set_application_status,
)
from db.seed import DEMO_APPLICATIONS, DEMO_COMPLAINTS, seed
from tests.db.fixtures import create_scratch_postgres, drop_scratch_postgres

RECORD_TABLES = {
    "agencies", "complaint_categories", "offices", "services", "applications",
    "application_status_history", "complaints", "complaint_photos",
    "complaint_status_history", "lookup_attempts", "number_counters",
}  # fmt: skip
SHARED_FACTS = Path(__file__).resolve().parents[3] / "shared" / "facts"


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path):
    """An empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    url = create_scratch_postgres(server)
    yield url
    drop_scratch_postgres(server, url)


def test_migrations_go_up_and_down_and_match_the_models(empty_url):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) >= RECORD_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        ours = [d for d in diff if _table_of(d) in RECORD_TABLES]
        assert ours == []

        downgrade(empty_url, "base")
        assert not RECORD_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _table_of(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name and name in RECORD_TABLES:
            return name
    return None


def test_seed_fills_an_empty_database_once(empty_url):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        assert seed(engine) is True
        assert seed(engine) is False
        with session_scope(engine) as session:
            kinds = dict(
                session.execute(
                    select(Office.kind, func.count()).group_by(Office.kind)
                ).all()
            )
            assert kinds == {
                "disdukcapil": 1, "mpp": 1, "balai_kota": 1, "kecamatan": 11,
                "kelurahan": 104,
            }  # fmt: skip
            count = session.execute(select(func.count(Application.id))).scalar_one()
            assert count == DEMO_APPLICATIONS
            count = session.execute(select(func.count(Complaint.id))).scalar_one()
            assert count == DEMO_COMPLAINTS
    finally:
        engine.dispose()


def test_demo_records_are_the_same_on_every_seed(records_engine, tmp_path):
    other = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    upgrade(str(other.url))
    seed(other)
    try:
        rows = []
        for engine in (records_engine, other):
            with session_scope(engine) as session:
                rows.append(
                    session.execute(
                        select(Application.registration_number, Application.nik)
                        .where(Application.registration_number.like("DKP-2026-%"))
                        .order_by(Application.registration_number)
                        .limit(20)
                    ).all()
                )
        assert rows[0] == rows[1]
    finally:
        other.dispose()


def test_every_fact_has_a_source_and_unknowns_stay_empty(records_engine):
    with session_scope(records_engine) as session:
        offices = session.execute(select(Office)).scalars().all()
        assert all(office.sources for office in offices)
        disdukcapil = session.get(Office, "disdukcapil")
        assert disdukcapil.phone == "0751-28814"
        assert disdukcapil.hours is None
        assert all(o.latitude is None for o in offices)
        assert session.get(Office, "mpp").phone is None

        services = session.execute(select(Service)).scalars().all()
        pairs = {(s.document, s.request_type) for s in services}
        assert len(pairs) == 36
        for service in services:
            assert all(s.service_time_id is None for s in services)
            if service.requirements_id is not None:
                assert service.sources
                assert service.scope in ("padang", "nasional", "daerah_lain")
                assert len(service.requirements_min) == len(service.requirements_id)
        assert (
            session.execute(
                select(Service.scope).where(
                    Service.document == "akta_kelahiran", Service.request_type == "baru"
                )
            ).scalar_one()
            == "padang"
        )

        agencies = session.execute(select(Agency)).scalars().all()
        assert all(agency.sources for agency in agencies)


ROUTING_KEYWORDS = {
    "dinas_pupr": "PUPR", "dlh": "DLH", "bpbd": "BPBD", "dishub_pju": "PJU",
    "dishub_parkir": "Perparkiran", "perumda_air_minum": "(Perumda) Air Minum",
    "satpol_pp": "Satpol PP", "diskominfo": "SP4N-LAPOR!",
}  # fmt: skip


def test_complaint_routing_follows_the_shared_facts(records_engine):
    routing = yaml.safe_load((SHARED_FACTS / "complaint_routing.yml").read_text())
    with session_scope(records_engine) as session:
        categories = {
            c.code: c.agency_code
            for c in session.execute(select(ComplaintCategory)).scalars()
        }
    assert set(categories) == set(routing["categories"]) - {"darurat"}
    for code, agency_code in categories.items():
        stated = str(routing["categories"][code]["agency"])
        assert ROUTING_KEYWORDS[agency_code] in stated, code


def test_numbers_are_unique_under_concurrent_transactions(records_engine):
    taken: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(10):
            with session_scope(records_engine) as session:
                number = next_number(session, "ADU", 2040)
            with lock:
                taken.append(number)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(taken) == len(set(taken)) == 60


def test_a_rolled_back_number_is_given_again(records_engine):
    session_cm = session_scope(records_engine)
    session = session_cm.__enter__()
    lost = next_number(session, "DKP", 2041)
    session_cm.__exit__(RuntimeError, RuntimeError("rolled back"), None)
    with session_scope(records_engine) as session:
        assert next_number(session, "DKP", 2041) == lost


def test_a_rejection_needs_a_reason(records_engine):
    with session_scope(records_engine) as session:
        app = session.execute(select(Application).limit(1)).scalar_one()
        with pytest.raises(RecordError):
            set_application_status(session, app, "ditolak")
        with pytest.raises(RecordError):
            set_application_status(session, app, "hilang")
        session.rollback()


def test_timestamps_come_back_aware_in_utc(records_engine):
    with session_scope(records_engine) as session:
        app = session.execute(select(Application).limit(1)).scalar_one()
        assert app.submitted_at.tzinfo == dt.timezone.utc


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("dkp-2026-000123", "DKP-2026-000123"),
        ("DKP 2026 123", "DKP-2026-000123"),
        ("DKP2026000123", "DKP-2026-000123"),
        ("DKP-26-000123", None),
        ("ADU-2026-000123", None),
        ("DKP-2026-0001234", None),
        ("", None),
    ],
)
def test_registration_numbers_are_normalised(typed, expected):
    assert normalise_number(typed, "DKP") == expected


def test_a_nik_is_masked_to_its_last_four_digits():
    assert mask_nik("1371095208950003") == "************0003"
    assert mask_nik(None) == "****"
