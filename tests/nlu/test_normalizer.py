"""The chat normaliser: numbers, abbreviations, stretched letters and offsets."""

import pytest

from nlu.normalizer import Normalizer, canonical_numbers, load_abbreviations


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer.from_resources()


@pytest.mark.parametrize(
    "written",
    [
        "dkp 2026 001234",
        "DKP2026001234",
        "dkp-2026-001234",
        "dkp/2026/001234",
        "Dkp.2026.001234",
        "DKP 2026-001234",
        "DKP-2026-001234",
    ],
)
def test_registration_number_in_any_style_becomes_canonical(normalizer, written):
    result = normalizer.normalize(f"cek status {written} ya")

    assert result.text == "cek status DKP-2026-001234 ya"


@pytest.mark.parametrize(
    "written",
    ["adu 2026 000958", "ADU2026000958", "adu-2026-000958", "adu/2026/000958"],
)
def test_ticket_number_in_any_style_becomes_canonical(normalizer, written):
    assert normalizer.normalize(f"tiket {written}").text == "tiket ADU-2026-000958"


@pytest.mark.parametrize(
    "written",
    [
        "1371 0112 0590 0001",
        "1371.0112.0590.0001",
        "1371-0112-0590-0001",
        "137101 120590 0001",
        "1371011205900001",
    ],
)
def test_nik_in_groups_becomes_sixteen_digits(normalizer, written):
    assert normalizer.normalize(f"nik {written}, tolong").text == (
        "nik 1371011205900001, tolong"
    )


@pytest.mark.parametrize(
    "text",
    [
        "hubungi 0812 3456 7890",  # a phone number: 12 digits
        "+62 812 3456 7890 1234",  # 16 digits, but an international phone number
        "dkp 2026 0012",  # too short to be a registration number
        "rt 02 rw 05",
        "jam 08.00 - 16.00",
    ],
)
def test_other_numbers_stay_as_written(normalizer, text):
    assert normalizer.normalize(text).text == text


def test_chat_abbreviations_are_written_out(normalizer):
    result = normalizer.normalize("sy mau tanya gmn caranya, brp biayanya? udh tdk bs")

    assert result.text == (
        "saya mau tanya bagaimana caranya, berapa biayanya? sudah tidak bisa"
    )


def test_abbreviation_keeps_the_case_of_what_was_typed(normalizer):
    assert normalizer.normalize("Sy tlg, YG").text == "Saya tolong, YANG"


def test_minang_abbreviation_becomes_minang(normalizer):
    assert normalizer.normalize("ndak do, ambo alun nio").text == (
        "indak do, ambo alun nio"
    )


@pytest.mark.parametrize("word", ["kk", "KK", "da", "ko", "no", "ambo", "Jl", "P"])
def test_words_that_mean_something_here_are_not_rewritten(normalizer, word):
    assert normalizer.normalize(f"{word} baru").text == f"{word} baru"


def test_abbreviation_table_has_no_domain_words():
    table = load_abbreviations()

    assert {"kk", "ktp", "no", "da", "ko", "ambo"}.isdisjoint(table)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("tolooong", "tolong"),
        ("haloooo", "halo"),
        ("maaaaaf", "maaf"),
        ("Tolooong", "Tolong"),
        ("makasiiiih", "makasih"),
        ("bgttt", "banget"),
    ],
)
def test_stretched_letters_are_shortened_by_the_vocabulary(normalizer, typed, expected):
    assert normalizer.normalize(typed).text == expected


@pytest.mark.parametrize("word", ["saat", "maaf", "taat", "saudara", "tiket", "kk"])
def test_real_double_letters_stay(normalizer, word):
    assert normalizer.normalize(word).text == word


def test_reduplication_with_two_is_written_out(normalizer):
    assert normalizer.normalize("malam2 gelap, blm jadi2").text == (
        "malam-malam gelap, belum jadi-jadi"
    )


def test_emoji_and_punctuation_are_untouched(normalizer):
    text = "sy kecewa 😡😡 tlg!! 🙏🏽 #padang @admin"

    assert (
        normalizer.normalize(text).text
        == "saya kecewa 😡😡 tolong!! 🙏🏽 #padang @admin"
    )


def test_empty_and_blank_text(normalizer):
    assert normalizer.normalize("").text == ""
    assert normalizer.normalize("   ").text == "   "
    assert not normalizer.normalize("").changed


def test_unchanged_text_has_no_edits(normalizer):
    result = normalizer.normalize("Selamat pagi, saya ingin bertanya.")

    assert not result.changed
    assert result.to_new(0, 7) == (0, 7)


def test_entity_offsets_after_several_edits_point_at_the_same_words(normalizer):
    text = "sy udh lapor tlg cek tiket adu 2026 000412 di jln Khatib Sulaiman yg rusak"
    entities = {
        "ticket_number": (27, 42),
        "location": (46, 65),
        "word_rusak": (69, 74),
    }
    result = normalizer.normalize(text)

    spans = {name: result.to_new(*span) for name, span in entities.items()}

    assert result.text[slice(*spans["ticket_number"])] == "ADU-2026-000412"
    assert result.text[slice(*spans["location"])] == "jalan Khatib Sulaiman"
    assert result.text[slice(*spans["word_rusak"])] == "rusak"


def test_offsets_map_back_to_the_original_words(normalizer):
    text = "nik sy 1371 0112 0590 0001, no dkp2026001234 tolooong"
    result = normalizer.normalize(text)

    for value, original in [
        ("1371011205900001", "1371 0112 0590 0001"),
        ("DKP-2026-001234", "dkp2026001234"),
        ("tolong", "tolooong"),
    ]:
        start = result.text.index(value)
        back = result.to_original(start, start + len(value))
        assert text[slice(*back)] == original


def test_span_ending_inside_an_edit_covers_the_whole_edit(normalizer):
    text = "nomor dkp 2026 001234"
    result = normalizer.normalize(text)

    # An annotation that only covered "dkp 2026" grows to the whole number.
    assert result.text[slice(*result.to_new(6, 14))] == "DKP-2026-001234"


def test_span_before_and_after_edits_moves_by_the_length_change(normalizer):
    text = "halo, sy di Padang dan yg lain di Bukittinggi"
    result = normalizer.normalize(text)

    assert result.text[slice(*result.to_new(0, 4))] == "halo"
    assert result.text[slice(*result.to_new(12, 18))] == "Padang"
    assert result.text[slice(*result.to_new(34, 45))] == "Bukittinggi"


def test_canonical_numbers_finds_each_kind():
    text = "DKP-2026-000123 ADU-2025-019874 1371011205900001 99991371011205900001"

    found = canonical_numbers(text)

    assert [(entity, value) for entity, value, _, _ in found] == [
        ("registration_number", "DKP-2026-000123"),
        ("ticket_number", "ADU-2025-019874"),
        ("nik", "1371011205900001"),
    ]
