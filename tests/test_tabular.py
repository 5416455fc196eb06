"""The one reader for CSV/TSV, JSONL and JSON arrays: encoding, line numbers, one error shape, limits."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr_eval.tabular import Limits, json_array_rows, jsonl_rows, read_csv, read_text, split_lines
from asr_eval.types import InputError


def _raises(fn, path, line, message):
    with pytest.raises(InputError) as e:
        fn()
    assert e.value.path == str(path) and e.value.line == line and message in e.value.problem
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(e.value) == f"{where}: {e.value.problem}"  # one shape: file:line: problem


def test_text_is_utf8_with_or_without_bom(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("\ufeffid,text\r\nu1,Siobhán\r\n".encode("utf-8"))
    assert read_text(p) == "id,text\r\nu1,Siobhán\r\n"
    p.write_bytes(b"id,text\nu1,ok\nu2,\xff\xfe\n")
    _raises(lambda: read_text(p), p, 3, "not UTF-8 text (byte 17)")
    _raises(lambda: read_text(tmp_path / "nope.csv", "manifest"), tmp_path / "nope.csv", None, "manifest not found")
    _raises(lambda: read_text(tmp_path), tmp_path, None, "is a folder")
    _raises(lambda: read_text(p, limits=Limits(max_bytes=4)), p, None, "larger than 4 bytes")


def test_lines_end_at_newlines_only():
    assert split_lines("a\r\nb\rc\nd\u2028e\x85f\n") == ["a", "b", "c", "d\u2028e\x85f"]
    assert split_lines("") == [] and split_lines("\n\n") == ["", ""]


def test_csv_header_cells_and_line_numbers(tmp_path):
    text = ' ID , Text ,condition\n\nu1,"two\nlines"\nu2,x,base,extra\nu3,"a, b",c\n'
    header, rows = read_csv("f.csv", text, lower_header=True)
    assert header == ["id", "text", "condition"]
    rows = list(rows)
    assert [(r.line, r.fields, r.problem) for r in rows] == [
        (4, {"id": "u1", "text": "two\nlines", "condition": ""}, None),  # a record is numbered by its last line
        (5, {"id": "u2", "text": "x", "condition": "base"},
         "more fields than the header: this row has 4 fields, header has 3"),
        (6, {"id": "u3", "text": "a, b", "condition": "c"}, None),
    ]
    assert str(rows[1].error("f.csv")) == "f.csv:5: more fields than the header: this row has 4 fields, header has 3"
    assert read_csv("f.csv", " ID ,x\n")[0] == ["ID", "x"]  # case kept unless asked
    header, rows = read_csv("f.tsv", "id\ttext\nu1\thello, world\n", delimiter="\t")
    assert [r.fields for r in rows] == [{"id": "u1", "text": "hello, world"}]


def test_csv_errors(tmp_path):
    _raises(lambda: read_csv("e.csv", ""), "e.csv", 1, "empty file: no header row")
    _raises(lambda: read_csv("e.csv", "\n,,\n"), "e.csv", 1, "empty file: no header row")
    big = "id,text\nu1," + "x" * (csv.field_size_limit() + 1) + "\n"
    _raises(lambda: list(read_csv("e.csv", big)[1]), "e.csv", 2, "field larger than field limit")
    many = "id\n" + "x\n" * 5
    _raises(lambda: list(read_csv("e.csv", many, limits=Limits(max_rows=3))[1]), "e.csv", 5, "more than 3 rows")


def test_jsonl_rows(tmp_path):
    text = '{"id": "u1", "text": "a\u2028b"}\r\n\n  \n{"id": "u2"}\n'
    assert [(r.line, r.fields) for r in jsonl_rows("h.jsonl", text)] == [
        (1, {"id": "u1", "text": "a\u2028b"}), (4, {"id": "u2"})]
    _raises(lambda: list(jsonl_rows("h.jsonl", '{"a": 1}\n{oops\n')), "h.jsonl", 2,
            "not a JSON object (Expecting property name enclosed in double quotes at column 2)")
    _raises(lambda: list(jsonl_rows("h.jsonl", "\n[1, 2]\n")), "h.jsonl", 2, "each line must be a JSON object, got array")
    _raises(lambda: list(jsonl_rows("h.jsonl", '{"a": "xxxxxxxx"}\n', Limits(max_line_chars=10))), "h.jsonl", 1,
            "longer than 10")
    _raises(lambda: list(jsonl_rows("h.jsonl", "{}\n{}\n{}\n", Limits(max_rows=2))), "h.jsonl", 3, "more than 2 rows")


def test_json_array_rows_know_their_lines():
    text = '[\n  {"id": "u1"},\n  {"id": "u2",\n   "text": "x"}\n]\n'
    assert [(r.line, r.fields) for r in json_array_rows("h.json", text)] == [
        (2, {"id": "u1"}), (3, {"id": "u2", "text": "x"})]
    assert list(json_array_rows("h.json", " [ ] ")) == []
    _raises(lambda: list(json_array_rows("h.json", '[\n{"a": 1},\n2]')), "h.json", 3, "each entry must be a JSON object, got number")
    _raises(lambda: list(json_array_rows("h.json", '[{"a": 1}\n{"b": 2}]')), "h.json", 2, "expected ',' or ']'")
    _raises(lambda: list(json_array_rows("h.json", '[{"a": 1}] x')), "h.json", 1, "text after the end")
    _raises(lambda: list(json_array_rows("h.json", '[{"a": 1},\n]')), "h.json", 2, "not valid JSON")


cell = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), max_size=6))
def test_csv_written_by_the_csv_module_reads_back(rows):
    buf = io.StringIO()
    w = csv.writer(buf)  # "\r\n" ends records, so cells holding "\r" or "\n" are quoted
    w.writerow(["a", "b", "c"])
    w.writerows(rows)
    header, got = read_csv("p.csv", buf.getvalue())
    # a record of three empty cells is written as ",," and read back as such, never skipped
    assert [r.fields for r in got] == [dict(zip(header, r)) for r in rows]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(cell, cell | st.integers() | st.none(), max_size=3), max_size=6), st.booleans())
def test_jsonl_written_by_json_dumps_reads_back(objs, ascii_only):
    text = "".join(json.dumps(o, ensure_ascii=ascii_only) + "\n" for o in objs)
    assert [r.fields for r in jsonl_rows("p.jsonl", text)] == objs
    assert [r.fields for r in json_array_rows("p.json", json.dumps(objs, ensure_ascii=ascii_only, indent=1))] == objs
