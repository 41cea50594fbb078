"""Seed an empty database with the city's facts and made-up demo records.

Facts come from data/seed/ (offices.yml, padang_admin.tsv, agencies.yml, services.yml),
each with its sources. Demo applications and complaints are generated from a fixed
random seed, so every database seeded with the same files holds the same records.
Seeding is one transaction and runs only on a database without offices.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import random
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db.engine import session_scope
from db.records import (
    Agency,
    Application,
    Complaint,
    ComplaintCategory,
    ComplaintPhoto,
    Office,
    Service,
    format_number,
    set_application_status,
    set_complaint_status,
    sync_counters,
)

logger = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "seed"
DEMO_RANDOM_SEED = 3_71_2026
DEMO_APPLICATIONS = 300
DEMO_COMPLAINTS = 300
# Demo records are dated before this moment (fixed, so that seeding is reproducible).
DEMO_EPOCH = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)

KECAMATAN_NOTE_ID = (
    "Perekaman KTP-el dapat dilakukan di kantor kecamatan yang punya alat perekaman "
    "(2020); aktivasi IKD dapat di kantor camat (2024)."
)
KECAMATAN_NOTE_SOURCES = [
    "https://www.lintassumbar.co.id/2020/12/hindari-kerumunan-layanan-kependudukan-di-padang-dilakukan-daring.html",
    "https://harianhaluan.id/sumatera-barat/padang/hh-96508/aktivasi-ikd-di-kota-padang-capai-25-persen",
]


def _load_yaml(name: str) -> Any:
    with (SEED_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def is_seeded(session: Session) -> bool:
    """Return whether the database already holds the city's records."""
    return bool(session.execute(select(func.count(Office.code))).scalar_one())


def seed(engine: Engine, *, demo: bool = True) -> bool:
    """Seed the database if it holds no records yet; return whether it seeded.

    Args:
        engine: Engine of a migrated database.
        demo: Also add the made-up applications and complaints.
    """
    with session_scope(engine) as session:
        if is_seeded(session):
            logger.info("Database already holds records: not seeding")
            return False

        seed_facts(session)
        session.flush()
        if demo:
            seed_demo(session, random.Random(DEMO_RANDOM_SEED))
            session.flush()
        sync_counters(session)
    logger.info("Database seeded")
    return True


# --- facts ---------------------------------------------------------------------------


def seed_facts(session: Session) -> None:
    """Add offices, agencies, complaint categories and services from data/seed/."""
    _seed_offices(session)
    routing = _load_yaml("agencies.yml")
    for item in routing["agencies"]:
        session.add(
            Agency(
                code=item["code"],
                name=item["name"],
                contacts=item.get("contacts") or [],
                note=item.get("note"),
                sources=item.get("sources") or [],
            )
        )
    session.flush()
    for item in routing["categories"]:
        session.add(
            ComplaintCategory(
                code=item["code"],
                label_id=item["label_id"],
                label_min=item["label_min"],
                agency_code=item["agency"],
                emergency_note=item.get("emergency_note"),
                channels=item.get("channels") or [],
                note=item.get("note"),
                sources=item.get("sources") or [],
            )
        )
    _seed_services(session)


def _seed_offices(session: Session) -> None:
    data = _load_yaml("offices.yml")
    for item in data["offices"]:
        session.add(Office(**{"aliases": [], "sources": [], **item}))

    kecamatan_seen: set[str] = set()
    notes = data.get("kecamatan_notes") or {}
    with (SEED_DIR / "padang_admin.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    for row in rows:
        kec_code, kec = row["kecamatan_code"], row["kecamatan"]
        if kec_code not in kecamatan_seen:
            kecamatan_seen.add(kec_code)
            extra = notes.get(kec_code, {})
            note = " ".join(filter(None, [extra.get("note"), KECAMATAN_NOTE_ID]))
            session.add(
                Office(
                    code=f"kecamatan_{kec_code.replace('.', '_')}",
                    kind="kecamatan",
                    name=f"Kantor Camat {kec}",
                    kecamatan=kec,
                    kecamatan_code=kec_code,
                    aliases=[f"kecamatan {kec}".lower(), f"camat {kec}".lower()],
                    note=note,
                    sources=[
                        data["kecamatan_source"].strip(),
                        *([extra["source"]] if extra.get("source") else []),
                        *KECAMATAN_NOTE_SOURCES,
                    ],
                )
            )
        variants = [
            v.split("(")[0].strip()
            for v in (row["kelurahan_name_variants"] or "").split(";")
            if v.strip()
        ]
        session.add(
            Office(
                code=f"kelurahan_{row['kelurahan_code'].replace('.', '_')}",
                kind="kelurahan",
                name=f"Kantor Lurah {row['kelurahan']}",
                kecamatan=kec,
                kecamatan_code=kec_code,
                kelurahan=row["kelurahan"],
                kelurahan_code=row["kelurahan_code"],
                aliases=sorted({v.lower() for v in variants}),
                postal_code=row["kode_pos"] or None,
                sources=[row["source"]],
            )
        )


def _seed_services(session: Session) -> None:
    for item in _load_yaml("services.yml")["services"]:
        requirements = item.get("requirements") or {}
        procedure = item.get("procedure") or {}
        notes = item.get("notes") or {}
        service_time = item.get("service_time") or {}
        session.add(
            Service(
                document=item["document"],
                request_type=item["request_type"],
                scope=item.get("scope"),
                requirements_id=requirements.get("id"),
                requirements_min=requirements.get("min"),
                procedure_id=procedure.get("id"),
                procedure_min=procedure.get("min"),
                notes_id=notes.get("id"),
                notes_min=notes.get("min"),
                free_of_charge=item.get("free_of_charge"),
                service_time_id=service_time.get("id"),
                service_time_min=service_time.get("min"),
                legal_basis=item.get("legal_basis") or [],
                sources=item.get("sources") or [],
            )
        )


# --- made-up demo records ------------------------------------------------------------

_GIVEN_MALE = [
    "Rahmat", "Fadli", "Ilham", "Yoga", "Rizki", "Andika", "Hendra", "Zulfikar",
    "Syahrul", "Fauzan", "Irfan", "Doni", "Arief", "Rido", "Taufik", "Agus",
]  # fmt: skip
_GIVEN_FEMALE = [
    "Siti", "Yuliani", "Rahmah", "Nurul", "Fitri", "Dewi", "Rini", "Mega",
    "Aisyah", "Putri", "Wulan", "Sri", "Indah", "Rosa", "Nadia", "Lestari",
]  # fmt: skip
_FAMILY = [
    "Hidayat", "Saputra", "Putra", "Yusuf", "Wahyuni", "Sari", "Amelia", "Koto",
    "Syafitri", "Marlina", "Zainal", "Chaniago", "Piliang", "Tanjung", "Sikumbang",
]  # fmt: skip
_DESCRIPTIONS = {
    "jalan_rusak": ["Jalan berlubang besar, sudah dua minggu", "Aspal amblas"],
    "sampah": ["Sampah menumpuk belum diangkut seminggu", "Sarok batumpuak"],
    "banjir": ["Drainase tersumbat, air naik ke jalan", "Banda tasumbaik"],
    "lampu_jalan": ["Lampu jalan mati sepanjang jalan", "Lampu jalan mati tigo titik"],
    "air_bersih": ["Air PDAM tidak mengalir sejak kemarin", "Aia PDAM indak mangalia"],
    "pohon_tumbang": ["Pohon besar miring hampir tumbang", "Dahan patah di atas jalan"],
    "parkir_liar": ["Parkir liar menutup badan jalan", "Jukir tanpa rompi minta uang"],
    "kebisingan": ["Musik keras dari kafe sampai jam 2 malam", "Baribuik tiok malam"],
    "pelayanan_publik": ["Diminta uang untuk urus KK oleh calo", "Antrian lama"],
}
_REJECT_REASONS = [
    "Berkas tidak lengkap: fotokopi KK tidak dilampirkan",
    "Data pada formulir tidak sesuai dengan KK",
    "Surat keterangan kehilangan dari kepolisian tidak dilampirkan",
]
_CHANNELS = ["telegram", "whatsapp", "web"]


def make_nik(rng: random.Random, *, female: bool, birth: dt.date) -> str:
    """Make a well-formed made-up Padang NIK (1371 + kecamatan + DDMMYY + serial)."""
    day = birth.day + (40 if female else 0)
    return (
        f"1371{rng.randint(1, 11):02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        f"{rng.randint(1, 9999):04d}"
    )


def _person(rng: random.Random) -> tuple[str, bool, dt.date]:
    female = rng.random() < 0.5
    given = rng.choice(_GIVEN_FEMALE if female else _GIVEN_MALE)
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 56))
    return f"{given} {rng.choice(_FAMILY)}", female, birth


def seed_demo(session: Session, rng: random.Random) -> None:
    """Add made-up applications and complaints (no real person's data)."""
    pickup = [
        code
        for code in session.execute(
            select(Office.code).where(Office.kind.in_(["disdukcapil", "kecamatan"]))
        ).scalars()
    ]
    kelurahan = list(
        session.execute(
            select(Office.kelurahan, Office.kecamatan).where(Office.kind == "kelurahan")
        )
    )
    pickup.sort()
    kelurahan.sort()
    _demo_applications(session, rng, pickup)
    _demo_complaints(session, rng, kelurahan)


def _demo_applications(session: Session, rng: random.Random, pickup: list[str]) -> None:
    flow = ["diajukan", "verifikasi", "diproses", "dicetak", "siap_diambil"]
    counters: dict[int, int] = {}
    for _ in range(DEMO_APPLICATIONS):
        name, female, birth = _person(rng)
        submitted = DEMO_EPOCH - dt.timedelta(minutes=rng.randint(60, 330 * 24 * 60))
        counters[submitted.year] = counters.get(submitted.year, 0) + 1
        document = rng.choice(
            ["ktp_el", "kk", "akta_kelahiran", "kia", "akta_kematian"]
        )
        app = Application(
            registration_number=format_number(
                "DKP", submitted.year, counters[submitted.year]
            ),
            nik=make_nik(rng, female=female, birth=birth),
            applicant_name=name,
            document=document,
            request_type=rng.choice(
                ["baru", "baru", "hilang", "rusak", "perubahan_data"]
            ),
            pickup_office_code=rng.choice(pickup),
            submitted_at=submitted,
        )
        session.add(app)
        steps = rng.randint(1, len(flow))
        at = submitted
        for status in flow[:steps]:
            set_application_status(session, app, status, at=at)
            at += dt.timedelta(hours=rng.randint(2, 72))
        if steps < len(flow) and rng.random() < 0.15:
            set_application_status(
                session, app, "ditolak", note=rng.choice(_REJECT_REASONS), at=at
            )


def _demo_complaints(
    session: Session, rng: random.Random, kelurahan: list[tuple[str, str]]
) -> None:
    categories = {
        c.code: c.agency_code
        for c in session.execute(select(ComplaintCategory)).scalars()
    }
    codes = sorted(categories)
    flow = ["diterima", "diverifikasi", "diproses", "selesai"]
    counters: dict[int, int] = {}
    for index in range(DEMO_COMPLAINTS):
        category = rng.choice(codes)
        kel, kec = rng.choice(kelurahan)
        created = DEMO_EPOCH - dt.timedelta(minutes=rng.randint(60, 200 * 24 * 60))
        counters[created.year] = counters.get(created.year, 0) + 1
        channel = rng.choice(_CHANNELS)
        chat = 100000 + index
        complaint = Complaint(
            ticket_number=format_number("ADU", created.year, counters[created.year]),
            category_code=category,
            agency_code=categories[category],
            description=rng.choice(_DESCRIPTIONS[category]),
            location_text=f"Kel. {kel}, Kec. {kec}",
            sender_id=f"{channel}:{chat}",
            channel=channel,
            contact=f"+62812000{chat}" if channel == "whatsapp" else None,
            language=rng.choice(["id", "id", "min"]),
            created_at=created,
        )
        if rng.random() < 0.3:
            complaint.latitude = round(-0.95 + rng.uniform(-0.08, 0.08), 5)
            complaint.longitude = round(100.38 + rng.uniform(-0.06, 0.06), 5)
        if rng.random() < 0.25:
            complaint.photos.append(
                ComplaintPhoto(
                    url=f"https://example.invalid/demo/photo-{index}.jpg",
                    content_type="image/jpeg",
                )
            )
        session.add(complaint)
        steps = rng.randint(1, len(flow))
        at = created
        for status in flow[:steps]:
            set_complaint_status(session, complaint, status, changed_by="seed", at=at)
            at += dt.timedelta(hours=rng.randint(1, 96))
        if steps == 1 and rng.random() < 0.1:
            set_complaint_status(
                session,
                complaint,
                "ditolak",
                note="Bukan kewenangan Pemerintah Kota Padang",
                changed_by="seed",
                at=at,
            )
