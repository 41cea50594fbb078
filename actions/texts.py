"""Every text the actions send, in Indonesian (``id``) and Minangkabau (``min``).

``text(key, language, **values)`` picks the variant for the resident's language slot
(Indonesian when the slot is empty or unknown) and fills in ``{values}``.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("id", "min")
DEFAULT_LANGUAGE = "id"

DOCUMENTS: dict[str, dict[str, str]] = {
    "ktp_el": {"id": "KTP-el", "min": "KTP-el"},
    "kk": {"id": "Kartu Keluarga (KK)", "min": "Kartu Kaluarga (KK)"},
    "akta_kelahiran": {"id": "Akta kelahiran", "min": "Akta kalahiran"},
    "akta_kematian": {"id": "Akta kematian", "min": "Akta kamatian"},
    "akta_perkawinan": {"id": "Akta perkawinan", "min": "Akta perkawinan"},
    "akta_perceraian": {"id": "Akta perceraian", "min": "Akta perceraian"},
    "kia": {"id": "Kartu Identitas Anak (KIA)", "min": "Kartu Identitas Anak (KIA)"},
    "surat_pindah": {"id": "Surat pindah", "min": "Surek pindah"},
    "ikd": {
        "id": "Identitas Kependudukan Digital (IKD)",
        "min": "Identitas Kependudukan Digital (IKD)",
    },
}

REQUEST_TYPES: dict[str, dict[str, str]] = {
    "baru": {"id": "baru", "min": "baru"},
    "hilang": {"id": "pengganti yang hilang", "min": "pangganti nan ilang"},
    "rusak": {"id": "pengganti yang rusak", "min": "pangganti nan rusak"},
    "perubahan_data": {"id": "perubahan data", "min": "parubahan data"},
}

COMPLAINT_CATEGORIES: dict[str, dict[str, str]] = {
    "jalan_rusak": {"id": "Jalan rusak", "min": "Jalan rusak"},
    "sampah": {"id": "Sampah", "min": "Sarok"},
    "banjir": {"id": "Banjir / drainase", "min": "Banjia / banda"},
    "lampu_jalan": {"id": "Lampu jalan mati", "min": "Lampu jalan mati"},
    "air_bersih": {"id": "Air bersih (PDAM)", "min": "Aia barasiah (PDAM)"},
    "pohon_tumbang": {"id": "Pohon tumbang", "min": "Batang kayu rabah"},
    "parkir_liar": {"id": "Parkir liar", "min": "Parkir liar"},
    "kebisingan": {"id": "Kebisingan", "min": "Baribuik"},
    "pelayanan_publik": {
        "id": "Pelayanan publik / pungli / calo",
        "min": "Palayanan publik / pungli / calo",
    },
}

APPLICATION_STATUSES: dict[str, dict[str, str]] = {
    "diajukan": {"id": "diajukan", "min": "diajuan"},
    "verifikasi": {"id": "verifikasi berkas", "min": "verifikasi berkas"},
    "diproses": {"id": "diproses", "min": "diproses"},
    "dicetak": {"id": "dicetak", "min": "dicetak"},
    "siap_diambil": {"id": "siap diambil", "min": "siap dijapuik"},
    "ditolak": {"id": "ditolak", "min": "ditolak"},
}

COMPLAINT_STATUSES: dict[str, dict[str, str]] = {
    "diterima": {"id": "diterima", "min": "ditarimo"},
    "diverifikasi": {"id": "diverifikasi", "min": "diverifikasi"},
    "diproses": {"id": "sedang ditangani", "min": "sadang ditangani"},
    "selesai": {"id": "selesai", "min": "salasai"},
    "ditolak": {"id": "ditolak", "min": "ditolak"},
}

TEXTS: dict[str, dict[str, str]] = {
    # --- shared
    "human_button": {"id": "Bicara dengan petugas", "min": "Bacakap jo patugas"},
    "unknown_value": {"id": "belum kami ketahui", "min": "alun kami katahui"},
    "service_down": {
        "id": "Maaf, layanan kami sedang terganggu. Silakan coba lagi beberapa saat "
        "lagi. (kode: {ref})",
        "min": "Mintak maaf, layanan kami sadang taganggu. Cubo baliak sabanta lai. "
        "(kode: {ref})",
    },
    "offer_human": {
        "id": "Kami tidak mau menebak; petugas kami dapat membantu memastikannya.",
        "min": "Kami indak ka manabak; patugas kami bisa mambantu mamastikannyo.",
    },
    # --- requirements, fee, processing time
    "ask_document": {
        "id": "Dokumen apa yang Anda maksud? Silakan pilih:",
        "min": "Dokumen apo nan Sanak mukasuik? Piliahlah:",
    },
    "req_header_padang": {
        "id": "Syarat {document} ({request_type}) menurut Disdukcapil Kota Padang:",
        "min": "Syarat {document} ({request_type}) manuruik Disdukcapil Kota Padang:",
    },
    "req_header_national": {
        "id": "Syarat {document} ({request_type}) menurut ketentuan nasional (daftar "
        "resmi Disdukcapil Kota Padang untuk layanan ini belum kami temukan):",
        "min": "Syarat {document} ({request_type}) manuruik katantuan nasional (daftar "
        "resmi Disdukcapil Kota Padang untuak layanan iko alun kami tamukan):",
    },
    "req_procedure": {"id": "Alurnya:", "min": "Alurnyo:"},
    "req_notes": {"id": "Catatan:", "min": "Catatan:"},
    "req_free": {
        "id": "Biaya: gratis (Rp0), tanpa calo.",
        "min": "Biayo: gratih (Rp0), indak pakai calo.",
    },
    "req_basis": {"id": "Dasar: {basis}", "min": "Dasar: {basis}"},
    "req_source": {"id": "Sumber: {source}", "min": "Sumber: {source}"},
    "req_unknown": {
        "id": "Maaf, kami belum punya sumber resmi tentang syarat {document} "
        "({request_type}).",
        "min": "Mintak maaf, kami alun punyo sumber resmi tantang syarat {document} "
        "({request_type}).",
    },
    "fee_free": {
        "id": "Pengurusan {document} GRATIS (Rp0). Menurut UU 24/2013 Pasal 79A, "
        "dokumen kependudukan tidak dipungut biaya: penerbitan baru, penggantian yang "
        "hilang atau rusak, pembetulan, dan perubahan data.",
        "min": "Pangurusan {document} GRATIH (Rp0). Manuruik UU 24/2013 Pasal 79A, "
        "dokumen kependudukan indak dipunguik biayo: panerbitan baru, pangganti nan "
        "ilang atau rusak, pambetulan, jo parubahan data.",
    },
    "fee_calo": {
        "id": "⚠️ Jangan membayar calo atau siapa pun yang meminta uang untuk "
        "dokumen kependudukan. Petugas yang memungut biaya dapat dipidana (UU 24/2013 "
        "Pasal 95B). Jika ada yang meminta uang, laporkan: ketik *lapor*.",
        "min": "⚠️ Jan mambayia calo atau sia sajo nan mamintak pitih untuak dokumen "
        "kependudukan. Patugas nan mamunguik biayo bisa dipidana (UU 24/2013 Pasal "
        "95B). Kalau ado nan mamintak pitih, laporkan: tulih *lapor*.",
    },
    "fee_late_fine": {
        "id": "Catatan: untuk kelahiran yang terlambat dilaporkan, denda administratif "
        "masih dimungkinkan dan dibayar di kasir Disdukcapil; besarnya di Padang belum "
        "kami ketahui.",
        "min": "Catatan: untuak kalahiran nan talambek dilaporkan, denda administratif "
        "masih mungkin dan dibayia di kasir Disdukcapil; bara gadangnyo di Padang alun "
        "kami katahui.",
    },
    "fee_unknown": {
        "id": "Belum ada sumber yang menyebut dengan tegas biaya layanan {document}.",
        "min": "Alun ado sumber nan manyabuik jaleh biayo layanan {document}.",
    },
    "time_unknown": {
        "id": "Lama pengurusan {document} di Disdukcapil Kota Padang belum kami "
        "ketahui: standar waktu layanan Padang tidak kami temukan, dan waktu di "
        "daerah lain tidak berlaku untuk Padang.",
        "min": "Lamo pangurusan {document} di Disdukcapil Kota Padang alun kami "
        "katahui: standar wakatu layanan Padang indak kami tamukan, dan wakatu di "
        "daerah lain indak balaku untuak Padang.",
    },
    "time_known": {
        "id": "Lama pengurusan {document}: {time}.",
        "min": "Lamo pangurusan {document}: {time}.",
    },
    "time_status_hint": {
        "id": "Jika sudah mengajukan, Anda dapat mengecek statusnya dengan nomor "
        "registrasi (contoh DKP-2026-000123).",
        "min": "Kalau alah mangajuan, Sanak bisa mancaliak statusnyo jo nomor "
        "registrasi (contoh DKP-2026-000123).",
    },
    # --- application status
    "registration_number_invalid": {
        "id": "Nomor registrasi itu tidak sesuai format. Bentuknya DKP-TAHUN-6 ANGKA, "
        "contoh DKP-2026-000123.",
        "min": "Nomor registrasi tu indak sasuai format. Bantuaknyo DKP-TAHUN-6 ANGKA, "
        "contoh DKP-2026-000123.",
    },
    "nik_invalid_length": {
        "id": "NIK harus 16 angka, tanpa huruf. Silakan periksa dan kirim ulang.",
        "min": "NIK harus 16 angka, indak pakai huruf. Pareso dan kirim baliak.",
    },
    "nik_invalid_date": {
        "id": "NIK itu sepertinya salah ketik: angka ke-7 sampai ke-12 adalah tanggal "
        "lahir (TTBBTT; perempuan tanggal +40) dan tidak membentuk tanggal yang ada. "
        "Silakan periksa dan kirim ulang.",
        "min": "NIK tu sarupo salah tulih: angka ka-7 sampai ka-12 adolah tanggal "
        "lahia (TTBBTT; padusi tanggal +40) dan indak mambantuak tanggal nan ado. "
        "Pareso dan kirim baliak.",
    },
    "status_not_found": {
        "id": "Maaf, kami tidak menemukan permohonan yang cocok dengan nomor "
        "registrasi dan NIK itu. Periksa kembali keduanya, lalu coba lagi.",
        "min": "Mintak maaf, kami indak basuo permohonan nan cocok jo nomor "
        "registrasi jo NIK tu. Pareso baliak kaduonyo, sudah tu cubo lai.",
    },
    "lookup_locked": {
        "id": "Demi keamanan data, pengecekan status dari percakapan ini kami hentikan "
        "sementara karena terlalu banyak percobaan yang tidak cocok. Percakapan ini "
        "kami teruskan ke petugas yang akan membantu Anda.",
        "min": "Untuak kaamanan data, pangecekan status dari caritoan iko kami "
        "hantikan sabanta dek talalu banyak cubo nan indak cocok. Caritoan iko kami "
        "taruihan ka patugas nan ka mambantu Sanak.",
    },
    "status_found": {
        "id": "Permohonan {number}: {document} ({request_type}) atas nama {name}, "
        "NIK {nik}.\nStatus: *{status}*.",
        "min": "Permohonan {number}: {document} ({request_type}) ateh namo {name}, "
        "NIK {nik}.\nStatus: *{status}*.",
    },
    "status_ready": {
        "id": "Dokumen siap diambil di {office}.",
        "min": "Dokumen siap dijapuik di {office}.",
    },
    "status_rejected": {"id": "Alasan: {reason}", "min": "Alasannyo: {reason}"},
    "history": {"id": "Riwayat:", "min": "Riwayaik:"},
    # --- complaints
    "location_shared": {
        "id": "lokasi dibagikan ({latitude:.5f}, {longitude:.5f})",
        "min": "lokasi dibagi ({latitude:.5f}, {longitude:.5f})",
    },
    "location_too_short": {
        "id": "Lokasinya kurang jelas. Tulis nama jalan, kelurahan atau kecamatan, "
        "atau bagikan lokasi.",
        "min": "Lokasinyo kurang jaleh. Tulih namo jalan, kelurahan atau kecamatan, "
        "atau bagi lokasi.",
    },
    "description_too_short": {
        "id": "Ceritakan masalahnya dalam beberapa kata, ya.",
        "min": "Caritokan masalahnyo jo babarapo kato, yo.",
    },
    "photo_received": {
        "id": "Foto diterima ({count} foto).",
        "min": "Foto alah ditarimo ({count} foto).",
    },
    "confirm_complaint": {
        "id": "Mohon periksa aduan Anda:\nKategori: {category}\nLokasi: {location}\n"
        "Keterangan: {description}\nFoto: {photos}\nKirim aduan ini?",
        "min": "Tolong pareso pangaduan Sanak:\nKategori: {category}\nLokasi: "
        "{location}\nKeterangan: {description}\nFoto: {photos}\nKirim pangaduan iko?",
    },
    "confirm_unclear": {
        "id": "Maaf, jawab *Ya* untuk mengirim aduan atau *Tidak* untuk membatalkan.",
        "min": "Maaf, jawek *Iyo* untuak mangirim pangaduan atau *Indak* untuak "
        "mambatalan.",
    },
    "no_photos": {"id": "tidak ada", "min": "indak ado"},
    "yes_send": {"id": "Ya, kirim", "min": "Iyo, kirim"},
    "no_cancel": {"id": "Tidak, batalkan", "min": "Indak, batalan"},
    "complaint_submitted": {
        "id": "Aduan Anda sudah kami terima dengan nomor tiket *{ticket}* dan "
        "diteruskan ke {agency}. Simpan nomor ini untuk mengecek statusnya (ketik: "
        "status aduan {ticket}).",
        "min": "Pangaduan Sanak alah kami tarimo jo nomor tiket *{ticket}* dan "
        "ditaruihan ka {agency}. Simpan nomor iko untuak mancaliak statusnyo (tulih: "
        "status pangaduan {ticket}).",
    },
    "complaint_danger_hint": {
        "id": "Jika ada orang dalam bahaya, segera telepon 112.",
        "min": "Kalau ado urang dalam bahayo, capek talepon 112.",
    },
    "complaint_cancelled": {
        "id": "Baik, aduan dibatalkan dan tidak dikirim.",
        "min": "Baiak, pangaduan dibatalan dan indak dikirim.",
    },
    "ask_ticket": {
        "id": "Sebutkan nomor tiket aduan Anda (contoh ADU-2026-000123).",
        "min": "Sabuikan nomor tiket pangaduan Sanak (contoh ADU-2026-000123).",
    },
    "ticket_invalid": {
        "id": "Nomor tiket itu tidak sesuai format. Bentuknya ADU-TAHUN-6 ANGKA, "
        "contoh ADU-2026-000123.",
        "min": "Nomor tiket tu indak sasuai format. Bantuaknyo ADU-TAHUN-6 ANGKA, "
        "contoh ADU-2026-000123.",
    },
    "ticket_not_found": {
        "id": "Tiket {ticket} tidak kami temukan. Periksa kembali nomornya.",
        "min": "Tiket {ticket} indak kami tamukan. Pareso baliak nomornyo.",
    },
    "complaint_status": {
        "id": "Aduan {ticket} ({category}) ditangani {agency}.\nStatus: *{status}*.",
        "min": "Pangaduan {ticket} ({category}) ditangani {agency}.\n"
        "Status: *{status}*.",
    },
    # --- offices
    "office_ask": {
        "id": "Kantor mana yang Anda maksud? Sebutkan nama kecamatan atau kelurahan, "
        "bagikan lokasi Anda, atau pilih:",
        "min": "Kantua nan ma nan Sanak mukasuik? Sabuikan namo kecamatan atau "
        "kelurahan, bagi lokasi Sanak, atau piliah:",
    },
    "office_info": {
        "id": "*{name}*\nAlamat: {address}\nHari dan jam layanan: {hours}\n"
        "Telepon: {phone}",
        "min": "*{name}*\nAlamaik: {address}\nHari jo jam layanan: {hours}\n"
        "Talepon: {phone}",
    },
    "office_area": {
        "id": "Wilayah: Kecamatan {kecamatan}{postal}.",
        "min": "Wilayah: Kecamatan {kecamatan}{postal}.",
    },
    "office_postal": {"id": ", kode pos {code}", "min": ", kode pos {code}"},
    "office_incomplete": {
        "id": "Sebagian informasi kantor ini belum kami ketahui dengan pasti.",
        "min": "Sabagian informasi kantua iko alun kami katahui jo pasti.",
    },
    "office_as_of": {
        "id": "(Informasi per {as_of}; bisa berubah.)",
        "min": "(Informasi per {as_of}; bisa barubah.)",
    },
    "office_not_found": {
        "id": 'Maaf, kantor "{name}" tidak kami kenali di Kota Padang.',
        "min": 'Mintak maaf, kantua "{name}" indak kami kenal di Kota Padang.',
    },
    "nearest_office": {
        "id": "Kantor terdekat dari lokasi Anda (sekitar {km} km):",
        "min": "Kantua nan paliang dakek dari lokasi Sanak (kiro-kiro {km} km):",
    },
    "nearest_unknown": {
        "id": "Terima kasih, lokasi Anda kami terima. Kami belum punya data koordinat "
        "kantor layanan, jadi belum bisa menentukan kantor terdekat.",
        "min": "Tarimo kasih, lokasi Sanak alah kami tarimo. Kami alun punyo data "
        "koordinat kantua layanan, jadi alun bisa manantuan kantua nan paliang dakek.",
    },
    # --- escalation
    "emergency": {
        "id": "🚨 Jika ini keadaan darurat, segera telepon *112* SEKARANG (gratis, "
        "bisa tanpa pulsa). Jangan menunggu balasan di chat ini. Petugas kami juga "
        "sudah diberi tahu.",
        "min": "🚨 Kalau iko kaadaan darurat, capek talepon *112* KINI (gratih, bisa "
        "indak pakai pulsa). Jan manunggu baleh di chat iko. Patugas kami alah dibari "
        "tahu pulo.",
    },
    "handoff": {
        "id": "Baik, percakapan ini kami teruskan ke petugas. Mohon tunggu, petugas "
        "akan membalas di sini.",
        "min": "Baiak, caritoan iko kami taruihan ka patugas. Tunggu sabanta, patugas "
        "ka mambalas di siko.",
    },
    "handoff_fallback": {
        "id": "Maaf, saya belum bisa memahami pesan Anda. Percakapan ini saya teruskan "
        "ke petugas; mohon tunggu, petugas akan membalas di sini.",
        "min": "Mintak maaf, ambo alun bisa mangarati pasan Sanak. Caritoan iko ambo "
        "taruihan ka patugas; tunggu sabanta, patugas ka mambalas di siko.",
    },
}


def normalise_language(value: Any) -> str:
    """Return ``"min"`` or ``"id"`` for a language slot value (default Indonesian)."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def text(key: str, language: str, **values: Any) -> str:
    """Return the text ``key`` in ``language``, with ``values`` filled in."""
    variants = TEXTS[key]
    template = variants.get(normalise_language(language), variants[DEFAULT_LANGUAGE])
    return template.format(**values) if values else template


def label(table: dict[str, dict[str, str]], code: str | None, language: str) -> str:
    """Return the label of ``code`` in one of the label tables (or the code itself)."""
    if code is None:
        return "-"
    variants = table.get(code)
    if variants is None:
        return code
    return variants[normalise_language(language)]
