"""The evaluation command's file reading and scoring (the model part runs in CI)."""

import pytest

from nlu.evaluate import (
    EvaluationError,
    Parsed,
    Row,
    format_report,
    macro_f1,
    read_rows,
    score_out_of_scope,
    score_taxonomy,
    to_parsed,
)

TAXONOMY_FILE = (
    "lang\tintent\ttext\tentities\n"
    "id\tcheck_complaint_status\tcek adu 2026 000412\t"
    '{"ticket_number": "ADU-2026-000412"}\n'
    "min\tgreet\tsalamaik pagi\t{}\n"
    "min\tgreet\tassalamualaikum da\t{}\n"
    "id\t-\tP\t{}\n"
)


def test_taxonomy_file_is_read_with_its_entities(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text(TAXONOMY_FILE, encoding="utf-8")

    rows, taxonomy = read_rows(path)

    assert taxonomy
    assert rows[0].entities == {"ticket_number": "ADU-2026-000412"}
    assert [row.lang for row in rows] == ["id", "min", "min", "id"]


def test_out_of_scope_file_is_recognised_by_its_header(tmp_path):
    path = tmp_path / "xsid.tsv"
    path.write_text(
        "text\tintent\txsid_intent\nsetel alarm jam 5\tout_of_scope\talarm/set\n",
        encoding="utf-8",
    )

    rows, taxonomy = read_rows(path)

    assert not taxonomy
    assert rows[0].intent == "out_of_scope"


def test_file_without_text_column_is_refused(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tb\n1\t2\n", encoding="utf-8")

    with pytest.raises(EvaluationError):
        read_rows(path)


def test_parse_output_is_reduced_without_the_language_entity():
    parsed = to_parsed(
        {
            "intent": {"name": "greet", "confidence": 0.9},
            "entities": [
                {"entity": "language", "value": "min"},
                {"entity": "document", "value": "kk"},
            ],
            "language": {"name": "min", "confidence": 0.8},
        }
    )

    assert parsed == Parsed("greet", {("document", "kk")}, "min")


def test_taxonomy_scores(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text(TAXONOMY_FILE, encoding="utf-8")
    rows, _ = read_rows(path)
    parsed = [
        Parsed("check_complaint_status", {("ticket_number", "ADU-2026-000412")}, "id"),
        Parsed("greet", set(), "min"),
        Parsed("goodbye", {("document", "kk")}, "id"),
        Parsed("greet", set(), "min"),  # the `-` row: language only
    ]

    figures = score_taxonomy(rows, parsed)

    assert figures["intent_accuracy"] == {"id": 1.0, "min": 0.5, "all": 2 / 3}
    assert figures["entity_f1"] == {"document": 0.0, "ticket_number": 1.0}
    assert figures["language_accuracy"] == {"id": 0.5, "min": 0.5}
    assert figures["confusions"] == [
        {"intent": "greet", "predicted": "goodbye", "count": 1}
    ]
    assert "min" in format_report(figures)


def test_macro_f1_averages_over_the_expected_intents():
    assert macro_f1(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(
        (2 / 3 + 2 / 3) / 2
    )


def test_out_of_scope_share_counts_fallback_too():
    parsed = [Parsed("out_of_scope", set(), "id")] * 2 + [
        Parsed("nlu_fallback", set(), "id"),
        Parsed("greet", set(), "id"),
    ]
    rows = [Row(text=str(n), intent="out_of_scope") for n in range(4)]

    figures = score_out_of_scope(rows, parsed)

    assert figures["out_of_scope_share"] == 0.75
    assert figures["missed"] == [{"text": "3", "predicted": "greet"}]
