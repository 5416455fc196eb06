import csv
import json

import pytest
import soundfile as sf

from asr_eval.manifest import load_manifest
from asr_eval.types import InputError

from conftest import tone


def _wav(path, seconds=0.5):
    sf.write(path, tone(seconds), 16000)
    return path


def test_csv_manifest_with_metadata_and_relative_paths(tmp_path):
    (tmp_path / "a").mkdir()
    _wav(tmp_path / "a" / "x.wav")
    m = tmp_path / "m.csv"
    m.write_text("audio,text,speaker,accent_group,gender\na/x.wav,Hello there,s1,us,f\n")
    man = load_manifest(m)
    (u,) = man.utterances
    assert u.id == "a/x"
    assert u.audio == str((tmp_path / "a" / "x.wav").resolve())
    assert u.meta == {"gender": "f"}
    assert u.line == 2
    assert man.problems == ()


def test_missing_column_names_file_and_line(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("audio,text,speaker\nx.wav,hi,s1\n")
    with pytest.raises(InputError) as e:
        load_manifest(m)
    assert str(e.value).startswith(f"{m}:1:")
    assert "accent_group" in str(e.value)


def test_bad_rows_are_reported_and_skipped_not_fatal(tmp_path):
    _wav(tmp_path / "ok.wav")
    _wav(tmp_path / "ok2.wav")
    m = tmp_path / "m.csv"
    m.write_text(
        "id,audio,text,speaker,accent_group\n"
        "u1,ok.wav,fine,s1,g\n"
        "u2,missing.wav,lost,s1,g\n"
        "u3,ok2.wav,,s1,g\n"
        "u1,ok2.wav,dup,s1,g\n"
        "u4,ok2.wav,also fine,,\n"
    )
    man = load_manifest(m)
    assert [u.id for u in man.utterances] == ["u1", "u4"]
    msgs = [str(p) for p in man.problems]
    assert any(f"{m}:3:" in s and "not found" in s for s in msgs)
    assert any(f"{m}:4:" in s and "empty reference" in s for s in msgs)
    assert any(f"{m}:5:" in s and "duplicate id 'u1'" in s for s in msgs)
    warn = [p for p in man.problems if p.severity == "warning"]
    assert {p.line for p in warn} == {6}
    assert man.utterances[1].accent_group == "unknown"


def test_jsonl_manifest_entities_and_markup(tmp_path):
    _wav(tmp_path / "x.wav")
    _wav(tmp_path / "y.wav")
    rows = [
        {"id": "a", "audio": "x.wav", "text": "Call [Siobhan Nguyen](person) now", "speaker": "s", "accent_group": "ie"},
        {"id": "b", "audio": "y.wav", "text": "Open Klarvo", "speaker": "s", "accent_group": "ie",
         "entities": [{"text": "Klarvo", "label": "product"}]},
    ]
    m = tmp_path / "m.jsonl"
    m.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    man = load_manifest(m)
    a, b = man.utterances
    assert a.text == "Call Siobhan Nguyen now"
    assert [(e.text, e.label) for e in a.entities] == [("Siobhan Nguyen", "person")]
    assert [(e.text, e.label) for e in b.entities] == [("Klarvo", "product")]


def test_invalid_json_line_is_located(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"audio": "x.wav", "text": "a", "speaker": "s", "accent_group": "g"}\n{oops\n')
    with pytest.raises(InputError) as e:
        load_manifest(m)
    assert f"{m}:2:" in str(e.value)


def test_all_rows_bad_is_an_error(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("audio,text,speaker,accent_group\nnope.wav,x,s,g\n")
    with pytest.raises(InputError, match="no usable utterances"):
        load_manifest(m)


def test_bom_crlf_tsv_and_long_rows(tmp_path):
    _wav(tmp_path / "x.wav")
    _wav(tmp_path / "y.wav")
    m = tmp_path / "m.tsv"
    m.write_bytes("\ufeffaudio\ttext\tspeaker\taccent_group\r\nx.wav\tHello, Siobhán\ts1\tie\r\ny.wav\thi\ts1\tie\textra\r\n".encode())
    man = load_manifest(m)
    (u,) = man.utterances
    assert (u.text, u.line) == ("Hello, Siobhán", 2)
    assert [str(p) for p in man.problems] == [
        f"{m}:3: error: more fields than the header: this row has 5 fields, header has 4"]


def test_unreadable_manifests_share_the_readers_messages(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"audio": "x.wav", "text": "a", "speaker": "s", "accent_group": "g"}\n[1]\n')
    with pytest.raises(InputError, match=r"m.jsonl:2: each line must be a JSON object, got array"):
        load_manifest(m)
    with pytest.raises(InputError, match=r"manifest not found"):
        load_manifest(tmp_path / "none.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputError, match=r"e.csv:1: empty file: no header row"):
        load_manifest(tmp_path / "e.csv")


@pytest.mark.parametrize("field, value, said", [
    ("text", 12345, "field 'text' must be a string, got number"),
    ("text", ["a", "b"], "field 'text' must be a string, got array"),
    ("speaker", 7, "field 'speaker' must be a string, got number"),
    ("accent_group", True, "field 'accent_group' must be a string, got boolean"),
    ("audio", {"path": "x.wav"}, "field 'audio' must be a string, got object"),
    ("id", 17, "field 'id' must be a string, got number"),
    ("entities", {"text": "Klarvo", "label": "product"}, "field 'entities' must be a list of objects, got object"),
    ("entities", 3, "field 'entities' must be a list of objects, got number"),
    ("entities", ["Klarvo"], "bad entity annotation in field 'entities': entity #1 must be an object"),
])
def test_jsonl_values_of_the_wrong_type_are_row_errors_naming_the_field(tmp_path, field, value, said):
    """JSONL can hold numbers and lists; 12345 must not become the reference "12345", nor a list its repr."""
    _wav(tmp_path / "x.wav")
    _wav(tmp_path / "y.wav")
    good = {"id": "a", "audio": "x.wav", "text": "hello there", "speaker": "s", "accent_group": "g"}
    bad = {"id": "b", "audio": "y.wav", "text": "hello again", "speaker": "s", "accent_group": "g", field: value}
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    man = load_manifest(m)
    assert [u.id for u in man.utterances] == ["a"]
    (p,) = man.problems
    assert (p.line, p.severity) == (2, "error")
    assert str(p).startswith(f"{m}:2: error: {said}")


def test_jsonl_null_is_an_absent_value_and_an_entities_string_is_parsed(tmp_path):
    _wav(tmp_path / "x.wav")
    row = {"id": "a", "audio": "x.wav", "text": "Open Klarvo", "speaker": None, "accent_group": "g",
           "entities": '[{"text": "Klarvo", "label": "product"}]'}
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps(row) + "\n")
    man = load_manifest(m)
    (u,) = man.utterances
    assert u.speaker == "a" and [(e.text, e.label) for e in u.entities] == [("Klarvo", "product")]
    assert [p.severity for p in man.problems] == ["warning"]


@pytest.mark.parametrize("text", ["...", "?!", "—", "Um.", "uh, hmm"])
def test_a_reference_with_no_words_after_normalisation_is_rejected(tmp_path, text):
    """Scoring would count every hypothesis word as an insertion against zero reference words."""
    _wav(tmp_path / "x.wav")
    _wav(tmp_path / "y.wav")
    m = tmp_path / "m.csv"
    with open(m, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerows([["id", "audio", "text", "speaker", "accent_group"], ["a", "x.wav", "fine", "s", "g"],
                     ["b", "y.wav", text, "s", "g"]])
    man = load_manifest(m)
    assert [u.id for u in man.utterances] == ["a"]
    assert [str(p) for p in man.problems] == [
        f"{m}:3: error: reference has no words after normalisation: {text!r}"]


def test_rejected_rows_keep_their_ids_so_other_files_can_name_the_real_problem(tmp_path):
    _wav(tmp_path / "ok.wav")
    m = tmp_path / "m.csv"
    m.write_text("id,audio,text,speaker,accent_group\n"
                 "u1,ok.wav,fine,s1,g\n"
                 "u2,ok.wav,,s1,g\n"
                 "u1,ok.wav,dup,s1,g\n"
                 ",gone.wav,lost,s1,g\n"
                 "u4,ok.wav,bad [markup](,s1,g\n")
    man = load_manifest(m)
    assert {k: (p.line, p.problem.split(":")[0]) for k, p in man.rejected.items()} == {
        "u2": (3, "empty reference text for ok.wav"), "gone": (5, "audio file not found"),
        "u4": (6, "bad entity annotation")}


def test_a_nul_in_an_audio_path_is_a_row_error_not_a_crash(tmp_path):
    _wav(tmp_path / "x.wav")
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio": "x.wav", "text": "hi", "speaker": "s", "accent_group": "g"}) + "\n"
                 + json.dumps({"audio": "y\u0000.wav", "text": "hi", "speaker": "s", "accent_group": "g"}) + "\n")
    for check in (True, False):
        (p,) = load_manifest(m, check_audio=check).problems
        assert str(p) == f"{m}:2: error: audio path contains a NUL character"


def test_an_audio_path_that_names_no_file_is_a_row_error(tmp_path):
    """Review finding: '/' or '.' as audio crashed the whole load (ValueError from with_suffix)."""
    from asr_eval.manifest import load_manifest

    m = tmp_path / "m.csv"
    m.write_text("audio,text,speaker,accent_group\n/,hello world,s,g\n.,hello world,s,g\nok.wav,hello world,s,g\n",
                 encoding="utf-8")
    man = load_manifest(m, check_audio=False)
    assert [u.id for u in man.utterances] == ["ok"]
    assert [p.line for p in man.problems] == [2, 3]
    assert all("names no file" in p.problem for p in man.problems)
