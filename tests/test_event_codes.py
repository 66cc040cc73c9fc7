"""data/event_codes.py: CAMEO and PLOVER codes to the four tags, and loading coded records."""
import re
from pathlib import Path

import pytest

from casus.data.event_codes import cameo_to_tag, load_event_records, plover_to_tag
from casus.data.loaders import DataError

FIXTURES = Path(__file__).parent / "fixtures"

CAMEO_ROOTS = {
    "01": "background", "02": "background", "03": "background", "04": "background", "05": "background",
    "06": "background", "07": "background", "08": "background", "09": "background", "10": "background",
    "11": "condemnation", "12": "background", "13": "threat", "14": "background", "15": "background",
    "16": "background", "17": "background", "18": "military_action", "19": "military_action",
    "20": "military_action",
}


@pytest.mark.parametrize("root, tag", CAMEO_ROOTS.items())
def test_every_cameo_root(root, tag):
    assert cameo_to_tag(root) == tag
    assert cameo_to_tag(root + "0") == tag  # 3-digit code
    assert cameo_to_tag(root + "12") == tag  # 4-digit code


@pytest.mark.parametrize("code, tag", [
    ("13", "threat"), ("131", "threat"), ("1312", "threat"), ("138", "threat"),
    ("111", "condemnation"), ("112", "condemnation"),
    ("190", "military_action"), ("1823", "military_action"), ("204", "military_action"),
    ("042", "background"), ("0131", "background"),  # root 01, not 13: leading zeros matter
    (" 190 ", "military_action"),
])
def test_cameo_codes(code, tag):
    assert cameo_to_tag(code) == tag


@pytest.mark.parametrize("code", ["", "  ", "1", "12345", "1a3", "13.0", "-13", "00", "001", "21", "210", "99"])
def test_malformed_cameo_codes(code):
    with pytest.raises(ValueError, match="CAMEO code"):
        cameo_to_tag(code)


@pytest.mark.parametrize("code", [190, 42, None, 13.0])
def test_cameo_code_must_be_a_string(code):
    with pytest.raises(ValueError, match="string"):
        cameo_to_tag(code)


@pytest.mark.parametrize("event_type, tag", [
    ("THREATEN", "threat"), ("threaten", "threat"),
    ("DISAPPROVE", "condemnation"), ("ACCUSE", "condemnation"), ("Accuse", "condemnation"),
    ("ASSAULT", "military_action"), ("FIGHT", "military_action"), (" assault ", "military_action"),
    ("AGREE", "background"), ("CONSULT", "background"), ("SUPPORT", "background"), ("COOPERATE", "background"),
    ("AID", "background"), ("CONCEDE", "background"), ("RETREAT", "background"), ("DEMAND", "background"),
    ("REJECT", "background"), ("PROTEST", "background"), ("MOBILIZE", "background"), ("COERCE", "background"),
    ("SANCTION", "background"), ("INVESTIGATE", "background"), ("REQUEST", "background"),
])
def test_plover_types(event_type, tag):
    assert plover_to_tag(event_type) == tag


@pytest.mark.parametrize("event_type", ["", "   ", None, 13])
def test_empty_plover_type(event_type):
    with pytest.raises(ValueError, match="non-empty string"):
        plover_to_tag(event_type)


def test_misspelt_plover_type_is_an_error_not_background():
    with pytest.raises(ValueError, match="unknown PLOVER event type 'THRAETEN'"):
        plover_to_tag("THRAETEN")


def test_load_cameo_jsonl():
    examples = load_event_records(FIXTURES / "cameo_events.jsonl", "cameo")
    assert [ex.label for ex in examples] == ["threat", "condemnation", "military_action", "background",
                                             "military_action"]
    assert examples[0].text.startswith("The militia warned")
    assert examples[0].doc_id == "ev-1"
    assert examples[2].where == f"{FIXTURES / 'cameo_events.jsonl'}:3"


def test_load_cameo_csv_with_gdelt_column_name():
    examples = load_event_records(FIXTURES / "gdelt_events.csv", "cameo")
    assert [ex.label for ex in examples] == ["background", "military_action"]  # "0231" is root 02


def test_load_plover_csv():
    examples = load_event_records(FIXTURES / "plover_events.csv", "plover")
    assert [ex.label for ex in examples] == ["threat", "condemnation", "military_action", "background",
                                             "military_action"]
    assert examples[1].text == "The council accused the army of shelling a hospital, calling it a war crime."


def test_explicit_columns(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"sentence": "They vowed revenge.", "code": "130"}\n', encoding="utf-8")
    examples = load_event_records(path, "cameo", text_column="sentence", code_column="code")
    assert [(ex.text, ex.label) for ex in examples] == [("They vowed revenge.", "threat")]


@pytest.mark.parametrize("name, content, scheme, message", [
    ("events.jsonl", '{"text": "Fine.", "cameo_code": "190"}\n\n{"text": "Bad.", "cameo_code": "2x0"}\n', "cameo",
     ":3: malformed CAMEO code '2x0'"),
    ("events.csv", "event_type,text\nAGREE,They agreed.\n,No type here.\n", "plover",
     ":3: PLOVER event type must be a non-empty string"),
    ("events.jsonl", '{"text": "No code.", "code": "13"}\n', "cameo",
     ":1: missing column 'cameo_code' or 'EventCode'"),
])
def test_bad_records_name_file_and_line(tmp_path, name, content, scheme, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path) + message)}"):
        load_event_records(path, scheme)


def test_row_problems_are_the_loaders(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"text": "  ", "cameo_code": "13"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:1: empty text"):
        load_event_records(path, "cameo")
    path.write_text('{"text": "Ok.", "cameo_code": "13"}\n{not json\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:2: invalid JSON"):
        load_event_records(path, "cameo")


def test_empty_file_and_unknown_scheme(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no rows"):
        load_event_records(path, "cameo")
    with pytest.raises(ValueError, match="unknown scheme 'icews'"):
        load_event_records(FIXTURES / "cameo_events.jsonl", "icews")
