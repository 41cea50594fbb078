"""The Minangkabau / Indonesian identifier, measured on held-out data."""

import csv
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from nlu.langid import LanguageIdentifier, default_identifier, identify

REPO = Path(__file__).resolve().parents[2]


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _accuracy(pairs: list[tuple[str, str]]) -> dict[str, float]:
    identifier = default_identifier()
    right, total = Counter[str](), Counter[str]()
    for language, text in pairs:
        total[language] += 1
        right[language] += identifier.predict(text).language == language
    return {language: right[language] / total[language] for language in total}


def test_nusax_test_split_is_right_for_each_language(shared_dir):
    rows = [
        row
        for row in _read_tsv(shared_dir / "eval" / "minang_id_parallel.tsv")
        if row["source"] == "nusax" and row["split"] == "test"
    ]
    pairs = [("min", row["min"]) for row in rows] + [("id", row["id"]) for row in rows]
    assert len(pairs) == 800

    accuracy = _accuracy(pairs)

    assert accuracy["min"] >= 0.99, accuracy
    assert accuracy["id"] >= 0.99, accuracy


def test_dev_chat_messages_are_right_for_each_language(shared_dir):
    rows = _read_tsv(shared_dir / "eval" / "dev.tsv")

    accuracy = _accuracy([(row["lang"], row["text"]) for row in rows])

    assert accuracy["min"] >= 0.97, accuracy
    assert accuracy["id"] >= 0.97, accuracy


@pytest.mark.parametrize(
    "text",
    [
        "ambo nio batanyo",
        "baa caro mambuek kk",
        "dima kantua camat",
        "KTP ambo alun juo jadi",
        "tarimo kasih banyak da",
        "lampu jalan di simpang haru padam lah saminggu",
    ],
)
def test_short_minang_chat_is_minang(text):
    assert identify(text) == "min"


@pytest.mark.parametrize(
    "text",
    [
        "sy mau nanya",
        "gmn cara bikin kk",
        "kantor camat dimana ya min",
        "ktp saya belum jadi",
        "makasih banyak kak",
        "lampu jalan di simpang haru mati seminggu",
    ],
)
def test_short_indonesian_chat_is_indonesian(text):
    assert identify(text) == "id"


@pytest.mark.parametrize("text", ["", "🙏", "P", "assalamualaikum", "ok min", "12345"])
def test_text_without_minang_evidence_is_indonesian(text):
    prediction = default_identifier().predict(text)

    assert prediction.language == "id"
    assert 0.5 <= prediction.confidence <= 1.0


def test_confidence_grows_with_evidence():
    identifier = default_identifier()

    short = identifier.predict("ambo").confidence
    long = identifier.predict(
        "ambo nio batanyo baa caro mauruih KTP nan ilang"
    ).confidence

    assert 0.5 < short < long <= 1.0


def test_loading_and_classifying_are_fast():
    started = time.perf_counter()
    identifier = LanguageIdentifier.load()
    loading = time.perf_counter() - started
    texts = [f"ambo nio batanyo soal KTP nomor {n} di kantua camat" for n in range(500)]
    texts += [f"sy mau tanya syarat bikin akta kelahiran ke-{n}" for n in range(500)]

    started = time.perf_counter()
    for text in texts:
        identifier.predict(text)
    per_message = (time.perf_counter() - started) / len(texts)

    assert loading < 1.0
    assert per_message < 0.001


def test_importing_langid_imports_neither_rasa_nor_tensorflow():
    code = (
        "import sys, nlu.langid as l; l.identify('ambo nio'); "
        "bad = [m for m in ('rasa', 'tensorflow') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_resources_are_small():
    resources = REPO / "nlu" / "resources"

    sizes = {path.name: path.stat().st_size for path in resources.iterdir()}

    assert all(size < 1_000_000 for size in sizes.values()), sizes


def test_model_is_not_trained_on_the_nusax_test_split(shared_dir, tmp_path):
    """Rebuilding the model from the corpora gives the shipped files, test split out."""
    from nlu.build_resources import build, training_texts

    texts = training_texts(shared_dir / "eval")
    test_rows = [
        row
        for row in _read_tsv(shared_dir / "eval" / "minang_id_parallel.tsv")
        if row["source"] == "nusax" and row["split"] == "test"
    ]
    assert not {row["min"] for row in test_rows} & set(texts["min"])

    for name in ("langid_lexicon.tsv",):
        (tmp_path / name).write_bytes((REPO / "nlu" / "resources" / name).read_bytes())
    build(shared_dir / "eval", tmp_path)
    for name in ("langid_model.tsv", "vocabulary.tsv"):
        shipped = (REPO / "nlu" / "resources" / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == shipped, name
