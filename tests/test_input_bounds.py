"""Every input parser is bounded: a hostile or mistaken file fails fast, with exit 2 and one line naming it.

A shared service reads files it did not write. Each test feeds one kind of
runaway input (a YAML alias bomb, a file with no end, JSON nested past the
recursion limit, a number of 5,000 digits, a line or cell or header too long)
and checks that the command stops quickly with ``file[:line]: problem``, never
a traceback, a hang or a memory spike.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import soundfile as sf
from conftest import tone
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.hypotheses import load_hypotheses
from asr_eval.tabular import VOCABULARY_LIMITS, Limits, jsonl_rows, read_csv, read_text
from asr_eval.trn import parse_trn_lines
from asr_eval.types import InputError
from asr_eval.vocab import load_dictionary


def yaml_bomb(levels: int = 9, width: int = 9) -> str:
    """Nested anchors, each list repeating the previous one ``width`` times: width**levels leaves in ~400 bytes."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines += ["terms:", "  - term: Klarvo", f"    aliases: *a{levels - 1}"]
    return "\n".join(lines) + "\n"


def invoke(*args) -> tuple:
    start = time.perf_counter()
    r = CliRunner().invoke(app, [str(a) for a in args])
    return r, time.perf_counter() - start


def assert_one_line_error(r, path: Path, line: int | None, words: str) -> None:
    """One message, ``error: file[:line]: problem``. (The console wraps it at its width; that is undone here.)"""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and (r.exception is None or isinstance(r.exception, SystemExit))
    assert r.stderr.count("error:") == 1, r.stderr
    message = " ".join(r.stderr.split())
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert message.startswith(f"error: {where}"), message
    assert words in message, message


@pytest.fixture
def bomb(tmp_path) -> Path:
    p = tmp_path / "bomb.yaml"
    p.write_text(yaml_bomb(), encoding="utf-8")
    return p


def test_yaml_bomb_is_rejected_fast_by_vocab_check(bomb):
    r, seconds = invoke("vocab", "check", bomb, "--engine", "aws")
    assert seconds < 1.0
    assert_one_line_error(r, bomb, 2, "alias")


def test_yaml_bomb_with_json_still_prints_a_json_document(bomb):
    r, seconds = invoke("vocab", "check", bomb, "--engine", "aws", "--json")
    assert seconds < 1.0 and r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["errors"] == 1 and doc["terms"] == 0 and doc["files"] == [str(bomb)]
    (finding,) = doc["findings"]
    assert finding["severity"] == "error" and finding["code"] == "unreadable"
    assert finding["path"] == str(bomb) and finding["line"] == 2 and "alias" in finding["message"]


def test_yaml_bomb_is_rejected_fast_by_run_and_score(bomb, tmp_path):
    sf.write(tmp_path / "c0.wav", tone(0.2), 16000)
    (tmp_path / "m.csv").write_text("id,audio,text,speaker,accent_group\nu0,c0.wav,Klarvo,s1,ie\n")
    (tmp_path / "h.jsonl").write_text('{"id": "u0", "text": "Klarvo"}\n')
    for warm_up in (["run", tmp_path / "m.csv"], ["score", tmp_path / "m.csv", "--hyp", tmp_path / "h.jsonl"]):
        invoke(*warm_up, "--out", tmp_path / "w", "--dictionary", tmp_path / "none.csv")  # the first call imports the engines
    r, seconds = invoke("run", tmp_path / "m.csv", "--out", tmp_path / "run", "--dictionary", bomb)
    assert seconds < 1.0
    assert_one_line_error(r, bomb, 2, "alias")
    r, seconds = invoke("score", tmp_path / "m.csv", "--hyp", tmp_path / "h.jsonl", "--dictionary", bomb, "--out", tmp_path / "s")
    assert seconds < 1.0
    assert_one_line_error(r, bomb, 2, "alias")


def test_any_yaml_alias_is_rejected_at_its_line(tmp_path):
    p = tmp_path / "d.yaml"
    p.write_text("base: &b {category: product}\nterms:\n  - term: Klarvo\n    category: product\n  - <<: *b\n    term: Quorvi\n")
    with pytest.raises(InputError) as e:
        load_dictionary(p)
    assert e.value.line == 5 and "alias" in e.value.problem


def test_yaml_nested_too_deeply_is_an_input_error(tmp_path):
    p = tmp_path / "deep.yaml"
    p.write_text("terms: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError) as e:
        load_dictionary(p)
    assert e.value.line == 1 and "nested" in e.value.problem


def test_yaml_scalars_stay_text_as_written(tmp_path):
    """No implicit typing: 'No', '1.50' and '0x1F' are terms, not False, 1.5 and 31."""
    p = tmp_path / "d.yaml"
    p.write_text("- No\n- term: '1.50'\n  aliases: [1.50]\n- term: 0x1F\n  priority: 3\n- term: Okta\n  aliases: ~\n")
    terms = load_dictionary(p).terms
    assert [t.display for t in terms] == ["No", "1.50", "0x1F", "Okta"]
    assert terms[2].priority == 3 and terms[3].aliases == ()
    assert [t.line for t in terms] == [1, 2, 4, 6]  # YAML entries know their lines


def test_vocabulary_file_over_the_byte_limit_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.txt"
    with open(p, "wb") as f:
        f.truncate(VOCABULARY_LIMITS.max_bytes + 1)  # sparse: costs no disk
    r, seconds = invoke("vocab", "check", p, "--engine", "aws")
    assert seconds < 1.0
    assert_one_line_error(r, p, None, "larger than")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_file_with_no_end_is_read_only_up_to_the_limit():
    with pytest.raises(InputError) as e:
        read_text("/dev/zero", limits=Limits(max_bytes=1000))  # st_size is 0: only a bounded read stops this
    assert "larger than" in e.value.problem


def test_json_nested_past_the_recursion_limit_names_its_line(tmp_path):
    text = '{"id": "u1", "text": "a"}\n{"id": "u2", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    with pytest.raises(InputError) as e:
        list(jsonl_rows("h.jsonl", text))
    assert e.value.line == 2 and "nested" in e.value.problem


def test_json_number_of_5000_digits_names_its_line(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"id": "u1", "text": "a"}\n{"id": ' + "1" * 5000 + ', "text": "b"}\n')
    with pytest.raises(InputError) as e:
        load_hypotheses(p)
    assert e.value.line == 2 and "number" in e.value.problem


def test_score_with_a_hostile_hypothesis_file_is_exit_2(tmp_path):
    (tmp_path / "m.csv").write_text("id,audio,text,speaker,accent_group\nu0,c0.wav,hello,s1,ie\n")
    h = tmp_path / "h.jsonl"
    h.write_text('{"id": "u0", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    r, _ = invoke("score", tmp_path / "m.csv", "--hyp", h, "--out", tmp_path / "s")
    assert_one_line_error(r, h, 1, "nested")


def test_csv_cells_lines_and_headers_are_bounded():
    limits = Limits(max_field_chars=5, max_line_chars=12, max_columns=3)
    with pytest.raises(InputError) as e:
        list(read_csv("f.csv", "id,text\nu1,abcdef\n", limits=limits)[1])
    assert e.value.line == 2 and "longer than 5" in e.value.problem
    with pytest.raises(InputError) as e:
        list(read_csv("f.csv", "a,b,c\nxxxx,yyyy,zzzz\n", limits=limits)[1])
    assert e.value.line == 2 and "longer than 12" in e.value.problem
    with pytest.raises(InputError) as e:
        read_csv("f.csv", "a,b,c,d\n1,2,3,4\n", limits=limits)
    assert e.value.line == 1 and "more than 3 columns" in e.value.problem
    with pytest.raises(InputError) as e:
        list(read_csv("f.csv", "a,b\n1,2,3,4\n", limits=limits)[1])
    assert e.value.line == 2 and "more than 3 columns" in e.value.problem


def test_json_string_fields_are_bounded():
    with pytest.raises(InputError) as e:
        list(jsonl_rows("h.jsonl", '{"id": "u1", "text": "abcdef"}\n', Limits(max_field_chars=5)))
    assert e.value.line == 1 and "'text'" in e.value.problem and "longer than 5" in e.value.problem


def test_trn_lines_and_rows_are_bounded():
    with pytest.raises(InputError) as e:
        list(parse_trn_lines(["hi (s-u1)", "x" * 50 + " (s-u2)"], "h.trn", Limits(max_line_chars=20)))
    assert e.value.line == 2 and "longer than 20" in e.value.problem
    with pytest.raises(InputError) as e:
        list(parse_trn_lines(["a (s-u1)", "b (s-u2)", "c (s-u3)"], "h.trn", Limits(max_rows=2)))
    assert e.value.line == 3 and "more than 2 rows" in e.value.problem


def test_vocabulary_cells_are_bounded(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("term\nKlarvo\n" + "x" * (VOCABULARY_LIMITS.max_field_chars + 1) + "\n")
    with pytest.raises(InputError) as e:
        load_dictionary(p)
    assert e.value.line == 3 and "longer than" in e.value.problem
    y = tmp_path / "d.yaml"
    y.write_text("- Klarvo\n- term: Quorvi\n  aliases: [" + ", ".join(["abcdefgh"] * VOCABULARY_LIMITS.max_field_chars) + "]\n")
    with pytest.raises(InputError) as e:
        load_dictionary(y)
    assert e.value.line == 2 and "aliases" in e.value.problem and "longer than" in e.value.problem


def test_trn_line_of_spaces_is_parsed_in_linear_time():
    """The id is found from the end of the line: a long run of spaces costs one pass, not one per space."""
    start = time.perf_counter()
    with pytest.raises(InputError) as e:
        list(parse_trn_lines(["a" + " " * 200_000 + "x"], "h.trn"))
    assert time.perf_counter() - start < 0.5 and e.value.line == 1
    ((n, ident, text),) = parse_trn_lines(["  hello " + " " * 200_000 + "world  (spk-u1)  "], "h.trn")
    assert (n, ident, text) == (1, "spk-u1", "hello world")


def test_yaml_values_are_counted(tmp_path):
    p = tmp_path / "d.yaml"
    p.write_text("- term: Klarvo\n  notes: [" + ", ".join(["a"] * 50) + "]\n")
    with pytest.raises(InputError) as e:
        from asr_eval.vocab.load import read_dictionary

        read_dictionary(p, limits=Limits(max_nodes=40))
    assert e.value.line == 2 and "more than 40 YAML values" in e.value.problem


def test_more_entries_than_the_limit_is_an_input_error(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("term\n" + "".join(f"T{i}\n" for i in range(VOCABULARY_LIMITS.max_rows + 1)))
    with pytest.raises(InputError) as e:
        load_dictionary(p)
    assert e.value.line == VOCABULARY_LIMITS.max_rows + 2 and "more than" in e.value.problem


def test_run_folder_transcripts_are_split_at_line_ends_only(tmp_path):
    """A transcript may hold U+2028 (the writer keeps it raw): str.splitlines broke its row in two."""
    from asr_eval.runfolder import read_transcripts
    from asr_eval.types import BiasPlan, Transcript

    t = Transcript("u1", "base", "one\u2028two\x85three", BiasPlan("base", "none", None), 1.0, 0.5)
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "transcripts" / "base.jsonl").write_text(json.dumps(t.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_transcripts(tmp_path, ["base"])[("u1", "base")].text == "one\u2028two\x85three"


def test_run_folder_json_is_read_within_limits(tmp_path):
    from asr_eval.runfolder import read_run_info

    (tmp_path / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError) as e:
        read_run_info(tmp_path)
    assert e.value.path == str(tmp_path / "run.json") and "nested" in e.value.problem
