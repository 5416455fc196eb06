"""The `vocab` sub-app through typer's CliRunner: tables, --json, --csv, exit codes, --help."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from conftest import ROOT
from typer.testing import CliRunner

from asr_eval.cli.vocab import app as vocab_app

COMMANDS = ("check", "budget", "coverage", "confusable", "history", "probe", "export")
TERMS_CSV = """utt_id,condition,speaker,accent_group,term,category,source,outcome,ref_text,hyp_text,display_exact,in_force,dropped
u1,baseline,s1,us,Klarvo,product,dictionary,miss,call Klarvo,call clever,False,False,False
u1,dictionary,s1,us,Klarvo,product,dictionary,hit,call Klarvo,call Klarvo,True,True,False
u2,baseline,s2,uk,Klarvo,product,dictionary,miss,Klarvo now,clever now,False,False,False
u2,dictionary,s2,uk,Klarvo,product,dictionary,partial,Klarvo now,Klarvoe now,False,True,False
u3,baseline,s3,uk,Tallyra,product,dictionary,hit,Tallyra,Tallyra,True,False,False
u3,dictionary,s3,uk,Tallyra,product,dictionary,hit,Tallyra,Tallyra,True,True,False
u4,dictionary,s4,uk,Tallyra,product,dictionary,false_insertion,tell you,Tallyra,False,True,False
"""


@pytest.fixture(scope="module")
def cli():
    root = typer.Typer()
    root.add_typer(vocab_app, name="vocab")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(root, ["vocab", *map(str, args)])

    return invoke


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli, command):
    r = cli(command, "--help")
    assert r.exit_code == 0 and "--json" in r.output


def test_check_gates_ci_with_its_exit_code(cli, tmp_path):
    bad = write(tmp_path / "bad.csv", "term\nKlarvo\nklarvo\nQuorvi™\n")
    good = write(tmp_path / "good.csv", "term\nKlarvo\nQuorvi\n")
    r = cli("check", bad, "--engine", "aws")
    assert r.exit_code == 1, r.output
    assert "duplicate" in r.output and "unspeakable" in r.output and "FAIL" in r.output
    r = cli("check", good, "--engine", "aws", "--engine", "azure")
    assert r.exit_code == 0, r.output


def test_check_json_and_csv(cli, tmp_path):
    bad = write(tmp_path / "bad.csv", "term\nPay Nimbus\nPayNimbus\n")
    out = tmp_path / "findings.csv"
    r = cli("check", bad, "--engine", "azure", "--json", "--csv", out)
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["errors"] == 1 and data["findings"][0]["code"] == "near-duplicate" and data["findings"][0]["line"] == 3
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert rows[0]["code"] == "near-duplicate"


def test_check_rejects_unknown_engine(cli, tmp_path):
    r = cli("check", write(tmp_path / "d.csv", "term\nKlarvo\n"), "--engine", "nuance")
    assert r.exit_code == 2


def test_unreadable_input_is_exit_code_2(cli, tmp_path):
    r = cli("budget", tmp_path / "missing.csv")
    assert r.exit_code == 2


def test_budget_json(cli):
    r = cli("budget", ROOT / "dictionaries/demo-company.csv", "--directory", ROOT / "dictionaries/demo-directory.csv", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    plans = {p["condition"]: p for p in data["plans"]}
    combined = plans["dictionary+directory/prompt"]
    assert combined["tokens"] <= data["budget"]
    assert combined["dropped"] == sum(1 for t in data["terms"] if not t["kept"])


def test_coverage_table_and_csv(cli, tmp_path):
    d = write(tmp_path / "d.csv", "term\nKlarvo\nTallyra\n")
    m = write(tmp_path / "m.csv", "audio,text,speaker,accent_group\na.wav,Please open Klarvo for Stella.,s1,us\nb.wav,Klarvo again for Stella.,s2,uk\n")
    out = tmp_path / "cov.csv"
    r = cli("coverage", d, m, "--csv", out)
    assert r.exit_code == 0, r.output
    assert "Tallyra" in r.output and "1 of 2 terms have no test audio" in r.output and "Stella" in r.output
    rows = {row["display"]: row for row in csv.DictReader(out.read_text(encoding="utf-8").splitlines())}
    assert rows["Klarvo"]["occurrences"] == "2" and rows["Klarvo"]["accent:uk"] == "1"


def test_confusable_json(cli, tmp_path):
    d = write(tmp_path / "d.csv", "term\nKlarvo\nClarvo\n")
    r = cli("confusable", d, "--json", "--words", "5000")
    assert r.exit_code == 0, r.output
    pairs = json.loads(r.output)["pairs"]
    assert {(p["a"], p["b"]) for p in pairs if p["kind"] == "term-term"} == {("Klarvo", "Clarvo")}


def test_history_from_terms_csv(cli, tmp_path):
    write(tmp_path / "terms.csv", TERMS_CSV)
    r = cli("history", tmp_path, "--json")
    assert r.exit_code == 0, r.output
    rows = {(x["term"], x["condition"], x["accent_group"]): x for x in json.loads(r.output)["rows"]}
    assert rows[("Klarvo", "dictionary", "(all)")]["recall"] == 0.5
    assert rows[("Klarvo", "dictionary", "(all)")]["display_exact"] == 1
    assert rows[("Klarvo", "baseline", "(all)")]["display_exact"] == 0
    assert rows[("Tallyra", "dictionary", "(all)")]["verdict"] == "hurts"
    table = cli("history", tmp_path / "terms.csv", "--no-by-accent")
    assert table.exit_code == 0 and "hurts" in table.output


def test_history_needs_a_run_folder(cli, tmp_path):
    assert cli("history", tmp_path).exit_code == 2


@pytest.mark.parametrize("fmt", ["aws", "google", "azure", "deepgram", "assemblyai", "whisper"])
def test_export_each_format(cli, tmp_path, fmt):
    out = tmp_path / f"vocab.{fmt}"
    r = cli("export", ROOT / "dictionaries/demo-company.csv", "--directory", ROOT / "dictionaries/demo-directory.csv", "--format", fmt, "--out", out)
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    if fmt in ("google", "deepgram", "assemblyai"):
        json.loads(text)
    if fmt == "aws":
        assert text.startswith("Phrase\tSoundsLike\tIPA\tDisplayAs\n")
    if fmt == "whisper":
        assert "Zentrix Cloud" in text and "dropped" in r.output


def test_export_refuses_over_limit(cli, tmp_path):
    d = write(tmp_path / "d.csv", "term\n" + "".join(f"Zorb{chr(97 + i // 26)}{chr(97 + i % 26)}\n" for i in range(120)))
    out = tmp_path / "dg.json"
    r = cli("export", d, "--format", "deepgram", "--out", out)
    assert r.exit_code == 1 and not out.exists() and "too-many" in r.output
    assert cli("export", d, "--format", "deepgram", "--out", out, "--force").exit_code == 0 and out.exists()


def test_check_reports_every_malformed_row_among_the_findings(cli, tmp_path):
    """A linter lists every problem in one pass: a malformed row is one finding, not the end of the check."""
    bad = write(tmp_path / "bad.csv", "term,category,priority\nKlarvo,product,\n,product,\nQuorvi,product,high\nklarvo,product,\nTallyra™,product,\n")
    r = cli("check", bad, "--engine", "aws", "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    found = {(f["code"], f["line"]) for f in doc["findings"] if f["engine"] is None}
    assert {("malformed", 3), ("malformed", 4), ("duplicate", 5), ("unspeakable", 6)} <= found
    malformed = {f["line"]: f["message"] for f in doc["findings"] if f["code"] == "malformed"}
    assert "empty term" in malformed[3] and "priority must be an integer" in malformed[4]
    assert doc["terms"] == 3 and doc["errors"] >= 4  # Klarvo, klarvo, Tallyra™ loaded; two rows could not be
    table = cli("check", bad, "--engine", "aws")
    assert table.exit_code == 1 and "malformed" in table.output and "Traceback" not in table.output


def test_check_json_is_printed_for_an_unreadable_file(cli, tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes(b"term\nKlarvo\nCaf\xe9\n")
    r = cli("check", p, "--engine", "aws", "--json")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert [(f["code"], f["severity"], f["line"]) for f in doc["findings"]] == [("unreadable", "error", 3)]
    assert "not UTF-8" in doc["findings"][0]["message"] and doc["errors"] == 1
    assert " ".join(r.stderr.split()).startswith(f"error: {p}:3: not UTF-8")  # one message (the console wraps it)
    missing = cli("check", tmp_path / "nope.csv", "--json")
    assert missing.exit_code == 2 and json.loads(missing.stdout)["findings"][0]["code"] == "unreadable"


def test_duplicate_names_the_first_spelling_and_its_line(cli, tmp_path):
    d = write(tmp_path / "d.csv", "term\nKlarvo\nklarvo\n")
    r = cli("check", d, "--engine", "aws", "--json")
    (dup,) = [f for f in json.loads(r.stdout)["findings"] if f["code"] == "duplicate"]
    assert (dup["line"], dup["term"]) == (3, "klarvo")
    assert dup["message"] == f"duplicate of 'Klarvo' ({d}:2)"


def test_check_counts_are_pluralised(cli, tmp_path):
    two = write(tmp_path / "two.csv", "term\nKlarvo\nklarvo\n")
    r = cli("check", two, "--engine", "aws")
    assert "(2 terms; engines: aws)" in r.output and "FAIL: 1 error, 0 warnings in 2 terms" in r.output
    one = write(tmp_path / "one.csv", "term\nKlarvo\n")
    r = cli("check", one, "--engine", "aws")
    assert r.exit_code == 0 and "(1 term; engines: aws)" in r.output and "OK: 0 errors, 0 warnings in 1 term" in r.output


def test_check_still_reports_invisible_characters_that_a_run_removes(cli, tmp_path):
    d = write(tmp_path / "d.csv", "term,aliases\nKlar\u200bvo,Klarvo App\nPay\u202eNimbus,\n")
    r = cli("check", d, "--engine", "aws", "--json")
    assert r.exit_code == 1
    found = [f for f in json.loads(r.stdout)["findings"] if f["code"] == "unspeakable"]
    assert [f["line"] for f in found] == [2, 3]
    assert "ZERO WIDTH SPACE" in found[0]["message"] and "RIGHT-TO-LEFT OVERRIDE" in found[1]["message"]
    assert [f["term"] for f in found] == ["Klarvo", "PayNimbus"]  # the terms as a run uses them
