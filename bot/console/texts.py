"""What the console sends to residents, in Indonesian (``id``) and Minang (``min``)."""

from __future__ import annotations

DEFAULT_LANGUAGE = "id"

TEXTS: dict[str, dict[str, str]] = {
    "survey_question": {
        "id": "Seberapa puas Anda dengan layanan petugas kami? Balas dengan satu angka "
        "1 sampai 5 (1 = sangat tidak puas, 5 = sangat puas).",
        "min": "Sabara puaih Sanak jo layanan patugas kami? Baleh jo ciek angka 1 "
        "sampai 5 (1 = indak puaih bana, 5 = puaih bana).",
    },
    "survey_thanks": {
        "id": "Terima kasih atas penilaian Anda ({score}).",
        "min": "Tarimo kasih ateh panilaian Sanak ({score}).",
    },
    "complaint_status": {
        "id": "Status pengaduan {ticket} kini: {status}.",
        "min": "Status pangaduan {ticket} kini: {status}.",
    },
    "complaint_status_note": {
        "id": "Status pengaduan {ticket} kini: {status}. Keterangan petugas: {note}",
        "min": "Status pangaduan {ticket} kini: {status}. Katarangan patugas: {note}",
    },
}

COMPLAINT_STATUS_WORDS: dict[str, dict[str, str]] = {
    "diterima": {"id": "diterima", "min": "alah diterimo"},
    "diverifikasi": {"id": "sudah diverifikasi", "min": "alah diverifikasi"},
    "diproses": {"id": "sedang diproses", "min": "sadang diproses"},
    "selesai": {"id": "selesai ditangani", "min": "alah salasai ditangani"},
    "ditolak": {"id": "ditolak", "min": "ditolak"},
}


def say(key: str, language: str | None, **values: str | int) -> str:
    """Return text ``key`` in ``language`` (Indonesian when unknown), filled in."""
    variants = TEXTS[key]
    template = variants.get(language or DEFAULT_LANGUAGE, variants[DEFAULT_LANGUAGE])
    return template.format(**values)


def complaint_status_text(
    ticket: str, status: str, language: str | None, note: str | None = None
) -> str:
    """Tell a resident the new status of their complaint, in their language."""
    lang = language if language in ("id", "min") else DEFAULT_LANGUAGE
    word = COMPLAINT_STATUS_WORDS.get(status, {}).get(lang, status)
    if note:
        return say("complaint_status_note", lang, ticket=ticket, status=word, note=note)
    return say("complaint_status", lang, ticket=ticket, status=word)
