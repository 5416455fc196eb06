"""Vendor transcripts for ``asr-eval score --hyp``: JSONL, CSV/TSV, trn; errors name file and line."""

from __future__ import annotations

import pytest

from asr_eval.hypotheses import check_ids, load_hypotheses, merge
from asr_eval.trn import write_trn
from asr_eval.types import InputError


def test_jsonl_with_and_without_condition(tmp_path):
    p = tmp_path / "vendor.jsonl"
    p.write_text('{"id": "u1", "text": "hello"}\n\n{"utt_id": "u2", "hypothesis": "bye", "condition": "vocab"}\n', encoding="utf-8")
    assert load_hypotheses(p) == {"vendor": {"u1": "hello"}, "vocab": {"u2": "bye"}}
    assert load_hypotheses(p, condition="base") == {"base": {"u1": "hello"}, "vocab": {"u2": "bye"}}


def test_csv_and_tsv(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text('id,text,condition\nu1,"hello, world",base\nu2,,vocab\n', encoding="utf-8")
    assert load_hypotheses(p) == {"base": {"u1": "hello, world"}, "vocab": {"u2": ""}}
    t = tmp_path / "v.tsv"
    t.write_text("utt_id\thypothesis\nu1\thi there\n", encoding="utf-8")
    assert load_hypotheses(t) == {"v": {"u1": "hi there"}}


def test_trn_maps_exported_ids_back(tmp_path):
    p = tmp_path / "sys.trn"
    write_trn(p, [("spk1", "u1", "hello world"), ("spk2", "u-2", "")])
    assert load_hypotheses(p, known_ids=["u1", "u-2"]) == {"sys": {"u1": "hello world", "u-2": ""}}
    assert load_hypotheses(p) == {"sys": {"spk1-u1": "hello world", "spk2-u-2": ""}}


@pytest.mark.parametrize("name,content,line,message", [
    ("a.jsonl", '{"id": "u1", "text": "x"}\n{"id": "u2", "text": \n', 2, "not a JSON object"),
    ("a.jsonl", '{"text": "x"}\n', 1, "missing utterance id"),
    ("a.jsonl", '{"id": "u1"}\n', 1, "missing transcript"),
    ("a.jsonl", '{"id": "u1", "text": 5}\n', 1, "must be a string"),
    ("a.jsonl", '{"id": "u1", "text": "a"}\n{"id": "u1", "text": "b"}\n', 2, "appears twice"),
    ("a.csv", "name,text\nu1,x\n", 1, "header must name an id column"),
    ("a.csv", "id,text\nu1,x,extra\n", 2, "more fields"),
    ("a.trn", "hello world\n", 1, "must end with the utterance id"),
])
def test_errors_name_file_and_line(tmp_path, name, content, line, message):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_hypotheses(p)
    assert err.value.line == line and message in err.value.problem and err.value.path == str(p)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown transcript format"):
        load_hypotheses(tmp_path / "x.docx")
    with pytest.raises(InputError, match="file not found"):
        load_hypotheses(tmp_path / "x.jsonl")


def test_check_ids_and_merge():
    hyps = {"vendor": {"u1": "a", "zz": "b"}}
    problems = check_ids(hyps, ["u1", "u2", "u3"], "v.jsonl")
    assert [(p.severity, p.problem) for p in problems] == [
        ("error", "condition 'vendor': 1 id(s) not in the manifest: zz"),
        ("warning", "condition 'vendor': 2 manifest utterance(s) have no transcript: u2, u3"),
    ]
    assert merge([("a", {"c": {"u1": "x"}}), ("b", {"c": {"u2": "y"}})]) == {"c": {"u1": "x", "u2": "y"}}
    with pytest.raises(InputError, match="already given in a"):
        merge([("a", {"c": {"u1": "x"}}), ("b", {"c": {"u1": "y"}})])


def test_json_array_file(tmp_path):
    p = tmp_path / "vendor.json"
    p.write_text('[{"id": "u1", "text": "hello"}, {"utt_id": "u2", "hypothesis": "bye"}]', encoding="utf-8")
    assert load_hypotheses(p) == {"vendor": {"u1": "hello", "u2": "bye"}}


def test_trn_files_round_trip(tmp_path):
    from asr_eval.trn import format_trn_line, read_trn, trn_id

    rows = [("spk-a b", "u 1", "hello (world)"), ("s2", "u2", ""), ("s3", "x_y-z", "unicode café don't x-ray")]
    write_trn(tmp_path / "r.trn", rows)
    assert read_trn(tmp_path / "r.trn") == [
        (1, "spk_a_b-u_1", "hello world"), (2, "s2-u2", ""), (3, "s3-x_y-z", "unicode café don't x-ray")]
    assert trn_id("a-b", "c d") == "a_b-c_d"
    assert format_trn_line("", "s", "u") == "(s-u)"


def test_json_array_errors_name_the_entrys_line(tmp_path):
    p = tmp_path / "vendor.json"
    p.write_text('[\n  {"id": "u1", "text": "hello"},\n  {"id": "u2"}\n]\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_hypotheses(p)
    assert err.value.line == 3 and "missing transcript" in err.value.problem


def test_line_separators_inside_a_transcript_do_not_end_its_line(tmp_path):
    import json

    p = tmp_path / "v.jsonl"
    rows = [{"id": "u1", "text": "one\u2028two"}, {"id": "u2", "text": "three\x85four"}]
    p.write_text("\ufeff" + "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert load_hypotheses(p) == {"v": {"u1": "one\u2028two", "u2": "three\x85four"}}
