"""What the gateway itself says to residents, in Indonesian (id) and Minang (min).

Everything else a resident reads comes from Rasa's responses and the actions.
"""

from __future__ import annotations

from datetime import datetime

DEFAULT_LANGUAGE = "id"

TEXTS: dict[str, dict[str, str]] = {
    "outage": {
        "id": "Maaf, sistem sedang ada gangguan. Pesan Anda sudah kami simpan dan akan "
        "kami jawab begitu sistem pulih.",
        "min": "Maaf, sistem sadang ado gangguan. Pasan Sanak alah kami simpan, beko "
        "kami jawab kalau sistem alah pulih baliak.",
    },
    "handoff_open": {
        "id": "Baik, percakapan ini kami teruskan ke petugas. Perkiraan waktu tunggu "
        "sekitar {minutes} menit.",
        "min": "Baiak, pambicaraan ko kami taruihan ka patugas. Kiro-kiro manunggu "
        "sakitar {minutes} minik.",
    },
    "handoff_closed": {
        "id": "Baik, percakapan ini kami teruskan ke petugas. Saat ini di luar jam "
        "layanan; petugas akan menjawab mulai {when}.",
        "min": "Baiak, pambicaraan ko kami taruihan ka patugas. Kini di lua jam "
        "layanan; patugas ka manjawab mulai {when}.",
    },
    # After Rasa's own "we pass you to staff" text: only what the gateway knows.
    "handoff_open_short": {
        "id": "Perkiraan waktu tunggu sekitar {minutes} menit.",
        "min": "Kiro-kiro manunggu sakitar {minutes} minik.",
    },
    "handoff_closed_short": {
        "id": "Saat ini di luar jam layanan; petugas akan menjawab mulai {when}.",
        "min": "Kini di lua jam layanan; patugas ka manjawab mulai {when}.",
    },
    "hand_back": {
        "id": "Percakapan dengan petugas selesai. Anda kembali dilayani asisten "
        "otomatis; silakan tulis pertanyaan Anda.",
        "min": "Pambicaraan jo patugas alah salasai. Sanak baliak dilayani dek asisten "
        "otomatis; silakan tulih pertanyaan Sanak.",
    },
    "closed": {
        "id": "Percakapan ini sudah ditutup. Terima kasih telah menghubungi Pemerintah "
        "Kota Padang.",
        "min": "Pambicaraan ko alah ditutuik. Tarimo kasih alah mahubungi Pamarintah "
        "Kota Padang.",
    },
    # To a resident waiting for staff who reports an emergency (actions' "emergency"
    # says the same in bot mode, before the handoff).
    "emergency_waiting": {
        "id": "🚨 Jika ini keadaan darurat, segera telepon *112* SEKARANG (gratis, "
        "bisa tanpa pulsa). Jangan menunggu balasan di chat ini. Petugas kami sudah "
        "diberi tahu dan akan segera membalas di sini.",
        "min": "🚨 Kalau iko kaadaan darurat, capek talepon *112* KINI (gratih, bisa "
        "indak pakai pulsa). Jan manunggu baleh di chat iko. Patugas kami alah dibari "
        "tahu dan ka capek mambalas di siko.",
    },
    "empty": {
        "id": "Maaf, pesan Anda kosong. Silakan tulis pertanyaan Anda.",
        "min": "Maaf, pasan Sanak kosong. Silakan tulih pertanyaan Sanak.",
    },
}

DAY_NAMES = {
    "id": ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"],
    "min": ["Sanayan", "Salasa", "Rabaa", "Kamih", "Jumaik", "Sabtu", "Akaik"],
}
AT = {"id": "pukul", "min": "pukua"}


def say(key: str, language: str | None, **values: str | int) -> str:
    """Return text ``key`` in ``language`` (Indonesian when unknown), filled in."""
    variants = TEXTS[key]
    template = variants.get(language or DEFAULT_LANGUAGE, variants[DEFAULT_LANGUAGE])
    return template.format(**values)


def when(moment: datetime, language: str | None) -> str:
    """Say a local opening time: ``Senin pukul 08.00 WIB``."""
    lang = language if language in DAY_NAMES else DEFAULT_LANGUAGE
    day = DAY_NAMES[lang][moment.weekday()]
    return f"{day} {AT[lang]} {moment:%H.%M} {moment.tzname() or ''}".rstrip()
