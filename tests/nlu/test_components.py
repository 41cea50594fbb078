"""The Rasa components, on Rasa's own messages and inside a trained pipeline."""

import asyncio
from pathlib import Path

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message

from nlu.components import (
    ChatNormalizer,
    EntityValueFilter,
    LanguageIdentifier,
    NumberEntityExtractor,
    OriginalTextRestorer,
)
from nlu.langid import MIN_EVIDENCE_CONFIDENCE

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TRAINING_DATA = (FIXTURES / "tiny_nlu.yml").read_text(encoding="utf-8")

CONFIG = """\
recipe: default.v1
language: id
pipeline:
  - name: nlu.components.ChatNormalizer
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
  - name: DIETClassifier
    epochs: 40
    number_of_transformer_layers: 0
  - name: EntitySynonymMapper
  - name: nlu.components.NumberEntityExtractor
  - name: nlu.components.OriginalTextRestorer
  - name: nlu.components.LanguageIdentifier
"""


def _entity(message_text: str, value: str, name: str) -> dict:
    start = message_text.index(value)
    return {"entity": name, "value": value, "start": start, "end": start + len(value)}


def test_training_examples_are_normalised_with_their_entities_moved():
    data = RasaYAMLReader().reads(TRAINING_DATA)

    ChatNormalizer().process_training_data(data)

    by_text = {example.get(TEXT): example for example in data.intent_examples}
    example = by_text["saya mau cek berkas no DKP-2026-000999"]
    (entity,) = example.get(ENTITIES)
    assert example.get(TEXT)[entity["start"] : entity["end"]] == "DKP-2026-000999"
    assert entity["value"] == "DKP-2026-000999"

    example = by_text["nik saya 1371051203950001 sudah jadi belum"]
    (entity,) = example.get(ENTITIES)
    assert example.get(TEXT)[entity["start"] : entity["end"]] == "1371051203950001"

    # A value written as in the text follows the rewritten text ...
    example = by_text["lampu jalan mati di jalan khatib sulaiman"]
    (entity,) = example.get(ENTITIES)
    assert entity["value"] == "jalan khatib sulaiman"
    assert example.get(TEXT)[entity["start"] : entity["end"]] == entity["value"]
    # ... and entities after an edit move with it.
    example = by_text["sampah numpuk di pasar alai tolong diangkut"]
    (entity,) = example.get(ENTITIES)
    assert example.get(TEXT)[entity["start"] : entity["end"]] == "pasar alai"


def test_live_message_keeps_its_text_and_entities_point_into_it():
    text = "tlg cek dkp 2026 004517 nik 1371.0418.1190.0003, lampu mati di jln Sudirman"
    message = Message({TEXT: text})

    (message,) = ChatNormalizer().process([message])
    normalised = message.get(TEXT)
    assert normalised == (
        "tolong cek DKP-2026-004517 nik 1371041811900003, lampu mati di jalan Sudirman"
    )
    # What DIET would add: a location in the normalised text.
    message.set(ENTITIES, [_entity(normalised, "jalan Sudirman", "location")])
    for component in (NumberEntityExtractor(), OriginalTextRestorer()):
        (message,) = component.process([message])

    assert message.get(TEXT) == text
    found = {e["entity"]: e for e in message.get(ENTITIES)}
    assert found["registration_number"]["value"] == "DKP-2026-004517"
    assert found["nik"]["value"] == "1371041811900003"
    assert found["location"]["value"] == "jln Sudirman"
    for entity, written in [
        ("registration_number", "dkp 2026 004517"),
        ("nik", "1371.0418.1190.0003"),
        ("location", "jln Sudirman"),
    ]:
        assert text[found[entity]["start"] : found[entity]["end"]] == written


def test_number_extractor_replaces_diet_numbers_with_one_canonical_entity():
    text = "cek DKP-2026-000123 ya"
    diet = [
        {**_entity(text, "DKP-2026", "registration_number"), "extractor": "DIET"},
        {**_entity(text, "DKP-2026-000123", "location"), "extractor": "DIET"},
    ]
    message = Message({TEXT: text, ENTITIES: diet})

    (message,) = NumberEntityExtractor().process([message])

    assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [
        ("registration_number", "DKP-2026-000123")
    ]


def test_entity_value_filter_drops_values_outside_the_taxonomy():
    text = "urus surat pindah, surat apa aja"
    entities = [
        {**_entity(text, "surat pindah", "document"), "value": "surat_pindah"},
        {**_entity(text, "surat apa", "document"), "value": "surat"},
        _entity(text, "aja", "location"),
    ]
    message = Message({TEXT: text, ENTITIES: entities})
    component = EntityValueFilter({"document": ["surat_pindah", "kk"]})

    (message,) = component.process([message])

    assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [
        ("document", "surat_pindah"),
        ("location", "aja"),
    ]


def test_entity_value_filter_keeps_only_the_entities_of_the_predicted_intent():
    text = "status pengajuan KTP sy DKP-2026-000123"
    entities = [
        {**_entity(text, "KTP", "document"), "value": "ktp_el"},
        _entity(text, "DKP-2026-000123", "registration_number"),
    ]
    component = EntityValueFilter(
        {"document": ["ktp_el"]},
        by_intent={"check_application_status": [], "ask_fee": ["document"]},
        scoped=["document", "location"],
    )

    def kept(intent: str) -> list[str]:
        message = Message({TEXT: text, ENTITIES: entities, "intent": {"name": intent}})
        (message,) = component.process([message])
        return [e["entity"] for e in message.get(ENTITIES)]

    assert kept("check_application_status") == ["registration_number"]
    assert kept("ask_fee") == ["document", "registration_number"]
    # An intent without a list (an answer inside a form, a fallback) keeps everything.
    assert kept("nlu_fallback") == ["document", "registration_number"]


def test_location_split_at_punctuation_is_joined_again():
    text = "pohon tumbang di Jl. Sudirman dan di Kalumbuk, Kuranji"
    entities = [
        _entity(text, "Jl", "location"),
        _entity(text, "Sudirman", "location"),
        {**_entity(text, "pohon tumbang", "complaint_category"), "value": "x"},
        _entity(text, "Kalumbuk", "location"),
        _entity(text, "Kuranji", "location"),
    ]
    message = Message({TEXT: text, ENTITIES: entities})

    (message,) = OriginalTextRestorer().process([message])

    assert [e["value"] for e in message.get(ENTITIES) if e["entity"] == "location"] == [
        "Jl. Sudirman",
        "Kalumbuk, Kuranji",
    ]


def test_locations_apart_in_the_sentence_stay_apart():
    text = "dari Pauh ke Kuranji"
    entities = [_entity(text, "Pauh", "location"), _entity(text, "Kuranji", "location")]
    message = Message({TEXT: text, ENTITIES: entities})

    (message,) = OriginalTextRestorer().process([message])

    assert [e["value"] for e in message.get(ENTITIES)] == ["Pauh", "Kuranji"]


def test_intent_payloads_are_left_to_rasa():
    message = Message({TEXT: "/share_location"})

    (message,) = ChatNormalizer().process([message])
    (message,) = LanguageIdentifier().process([message])

    assert message.get(TEXT) == "/share_location"
    assert message.get("language") is None


@pytest.fixture(scope="module")
def tiny_agent(tmp_path_factory):
    """A real Rasa NLU model trained on a few examples with the project's components."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    folder = tmp_path_factory.mktemp("tiny-nlu")
    (folder / "config.yml").write_text(CONFIG, encoding="utf-8")
    (folder / "nlu.yml").write_text(TRAINING_DATA, encoding="utf-8")
    model = train_nlu(
        str(folder / "config.yml"),
        str(folder / "nlu.yml"),
        str(folder / "models"),
        fixed_model_name="tiny",
    )
    assert model is not None
    return Agent.load(model)


def _parse(agent, text: str) -> dict:
    return asyncio.run(agent.parse_message(text))


@pytest.mark.timeout(600)
def test_trained_pipeline_reports_the_language(tiny_agent):
    minang = _parse(tiny_agent, "ambo nio batanyo, baa caro mambuek KTP")
    indonesian = _parse(tiny_agent, "sy mau tanya gmn cara bikin ktp")

    assert minang["language"]["name"] == "min"
    assert indonesian["language"]["name"] == "id"
    languages = [e for e in minang["entities"] if e["entity"] == "language"]
    assert languages == [
        {
            "entity": "language",
            "value": "min",
            "start": 0,
            "end": 0,
            "extractor": "LanguageIdentifier",
            "confidence_entity": minang["language"]["confidence"],
        }
    ]


@pytest.mark.timeout(600)
def test_trained_pipeline_extracts_canonical_numbers_from_messy_input(tiny_agent):
    text = "tolooong cek status dkp/2026/004517, nik sy 1371 0418 1190 0003 🙏"

    parse = _parse(tiny_agent, text)

    assert parse["text"] == text
    values = {(e["entity"], e["value"]) for e in parse["entities"]}
    assert ("registration_number", "DKP-2026-004517") in values
    assert ("nik", "1371041811900003") in values
    numbers = {
        e["entity"]: text[e["start"] : e["end"]]
        for e in parse["entities"]
        if e["entity"] in ("registration_number", "nik")
    }
    assert numbers == {
        "registration_number": "dkp/2026/004517",
        "nik": "1371 0418 1190 0003",
    }
    assert len(parse["entities"]) == len({e["entity"] for e in parse["entities"]})
    assert parse["intent"]["name"] == "check_application_status"


@pytest.mark.timeout(600)
def test_trained_pipeline_understands_minang_chat_numbers(tiny_agent):
    parse = _parse(tiny_agent, "Baa status pangajuan ambo da? nomornyo ADU 2026 000764")

    assert ("ticket_number", "ADU-2026-000764") in {
        (e["entity"], e["value"]) for e in parse["entities"]
    }
    assert parse["language"]["name"] == "min"


@pytest.mark.rasa
async def test_http_parse_output_has_the_language(rasa):
    parse = await rasa.parse("Assalamualaikum da, ambo nio batanyo soal KTP")

    assert parse["language"]["name"] == "min"
    assert {"entity": "language", "value": "min"}.items() <= next(
        e for e in parse["entities"] if e["entity"] == "language"
    ).items()


@pytest.mark.rasa
async def test_rest_webhook_fills_the_language_slot(rasa, sender):
    await rasa.say(sender, "Assalamualaikum, ambo nio batanyo syaraik mambuek KK")
    tracker = await rasa.tracker(sender)

    assert tracker["slots"]["language"] == "min"
    assert tracker["latest_message"]["language"]["name"] == "min"

    await rasa.say(sender, "sy mau tanya syarat bikin kk dong")
    tracker = await rasa.tracker(sender)

    assert tracker["slots"]["language"] == "id"


@pytest.mark.rasa
async def test_a_bare_number_keeps_the_residents_language(rasa, sender):
    await rasa.say(sender, "ambo nio mancaliak status permohonan ambo")
    await rasa.say(sender, "dkp 2026 000123")
    tracker = await rasa.tracker(sender)

    assert tracker["slots"]["language"] == "min"


@pytest.mark.timeout(600)
def test_a_message_without_language_evidence_adds_no_language_entity(tiny_agent):
    parsed = _parse(tiny_agent, "1371015505900002")

    assert parsed["language"]["confidence"] < MIN_EVIDENCE_CONFIDENCE
    assert [e for e in parsed["entities"] if e["entity"] == "language"] == []


@pytest.mark.rasa
async def test_http_parse_gives_canonical_numbers(rasa):
    parse = await rasa.parse("cek dong dkp 2026 004517 nik 1371 0418 1190 0003")

    values = {(e["entity"], e["value"]) for e in parse["entities"]}
    assert ("registration_number", "DKP-2026-004517") in values
    assert ("nik", "1371041811900003") in values
