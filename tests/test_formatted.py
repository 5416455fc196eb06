"""Formatted WER (fstalign's ``--use-case --use-punctuation``): tokens, counts, and every report beside WER."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess

import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_eval.align import ErrorCounts
from asr_eval.counts import COUNT_COLUMNS, Counts
from asr_eval.formatted import formatted_tokens, is_punctuation
from asr_eval.normalize import make_normalizer
from asr_eval.scoring import score_harms, score_many, score_utterance
from asr_eval.trn import write_trn

from conftest import tone


@pytest.mark.parametrize("text, tokens", [
    ("Hello, World!", ["Hello", ",", "World", "!"]),
    ("good morning. welcome!", ["good", "morning", ".", "welcome", "!"]),  # fstalign's own example
    ('"Hi," she said...', ['"', "Hi", ",", '"', "she", "said", "..."]),
    ("It’s the U.S. e-mail", ["It's", "the", "U.S", ".", "e-mail"]),
    ("(555) 123-4567 costs $25.50, 50%", ["(", "555", ")", "123-4567", "costs", "$25.50", ",", "50", "%"]),
    ("[inaudible] okay <unk> wait?!", ["okay", "wait", "?", "!"]),
    ("Wait… what", ["Wait", "...", "what"]),
    ("cafe\u0301 “quoted”", ["café", '"', "quoted", '"']),
    ("", []),
])
def test_formatted_tokens(text, tokens):
    assert formatted_tokens(text) == tokens


def test_punctuation_tokens_are_recognised():
    assert is_punctuation("...") and is_punctuation("?") and not is_punctuation("U.S") and not is_punctuation("$")


def test_case_and_punctuation_count_only_in_formatted_wer():
    norm = make_normalizer()
    s = score_utterance("Please pay PayNimbus, today.", "please pay paynimbus today", [], norm)
    assert s.words.errors == 0
    # Please/please and PayNimbus/paynimbus substituted, the comma and the full stop deleted
    assert s.formatted == ErrorCounts(hits=2, subs=2, dels=2, ins=0)
    assert s.counts.rate("fwer") == pytest.approx(4 / 6)
    perfect = score_utterance("Please pay PayNimbus, today.", "Please pay PayNimbus, today.", [], norm)
    assert perfect.formatted.errors == 0 and perfect.counts.rate("fwer") == 0.0


def test_batch_and_single_scoring_agree_and_rates_come_from_sums():
    norm = make_normalizer()
    pairs = [("Hello, world.", "hello world"), ("It's fine!", "It's fine!"), ("Call O'Brien.", "call obrien"),
             ("", "Extra words."), ("Ok.", "")]
    batch = score_many(pairs, [], norm)
    single = [score_utterance(r, h, [], norm) for r, h in pairs]
    assert [b.count_values for b in batch] == [s.count_values for s in single]
    total = sum((b.counts for b in batch), Counts())
    assert total.fmt_ref == sum(b.formatted.ref_len for b in batch)
    assert total.rate("fwer") == pytest.approx(total.fmt_errors / total.fmt_ref)
    assert COUNT_COLUMNS[-5:] == ("fmt_ref", "fmt_hits", "fmt_subs", "fmt_dels", "fmt_ins")


def test_non_speech_clip_adds_no_formatted_counts():
    norm = make_normalizer()
    s = score_many([("", "Thanks for watching!")], [], norm)[0]
    assert s.formatted.ins == 4
    cleared, _ = score_harms(s, "Thanks for watching!", None, nonspeech=True)
    assert cleared.formatted == ErrorCounts() and cleared.counts.ns_words == 3


@pytest.mark.skipif(shutil.which("sctk") is None, reason="sctk (NIST SCTK sclite) is not on PATH")
def test_formatted_counts_equal_sclite_on_the_formatted_tokens(tmp_path):
    """sclite, given the formatted tokens as words (case-sensitive with -s), counts what we count."""
    pairs = [("Hello, World! How are you?", "hello world how are you"),
             ('She said, "Call me at 9:30."', "She said call me at 9:30."),
             ("PayNimbus (the app) works... mostly.", "Pay Nimbus, the app, works mostly!"),
             ("U.S. e-mail, U.K. post.", "US email UK post"),
             ("Dr. O'Brien's café—closed?", "Dr O'Brien's cafe closed")]
    norm = make_normalizer()
    ours = [s.formatted for s in score_many(pairs, [], norm)]
    def trn_text(text: str) -> str:  # a trn line cannot hold parentheses: Penn Treebank's names for them
        return " ".join({"(": "-LRB-", ")": "-RRB-"}.get(t, t) for t in formatted_tokens(text))

    write_trn(tmp_path / "r.trn", (("s", f"u{k}", trn_text(r)) for k, (r, _) in enumerate(pairs)))
    write_trn(tmp_path / "h.trn", (("s", f"u{k}", trn_text(h)) for k, (_, h) in enumerate(pairs)))
    out = subprocess.run(["sctk", "sclite", "-r", str(tmp_path / "r.trn"), "trn", "-h", str(tmp_path / "h.trn"), "trn",
                          "-i", "spu_id", "-e", "utf-8", "-s", "-o", "sgml", "stdout"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    for k, m in enumerate(re.finditer(r'<PATH id="\(([^)]*)\)"[^>]*>\n(.*?)</PATH>', out, re.S)):
        ops = "".join(re.findall(r'(?:^|:)([CSDI]),', m.group(2).strip()))
        assert ours[k] == ErrorCounts(ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I")), pairs[k]


def test_formatted_wer_in_every_report(tmp_path):
    """utterances.csv columns, summary.csv, report.json (summary and paired comparisons) and report.md carry it."""
    from asr_eval.cli import app

    for i in range(6):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    refs = ["Please pay with PayNimbus, today.", "My e-mail is late.", "Hello! How are you?",
            "The invoice, sadly, is overdue.", "Call O'Brien at noon.", "Thanks, bye."]
    with open(tmp_path / "m.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "audio", "text", "speaker", "accent_group"])
        for i, r in enumerate(refs):
            w.writerow([f"u{i}", f"c{i}.wav", r, f"s{i}", "us" if i % 2 else "ie"])
    with open(tmp_path / "h.jsonl", "w", encoding="utf-8") as f:
        for i, r in enumerate(refs):
            f.write(json.dumps({"id": f"u{i}", "text": r.lower().replace(",", "").replace(".", ""), "condition": "baseline"}) + "\n")
            f.write(json.dumps({"id": f"u{i}", "text": r, "condition": "formatted"}) + "\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "h.jsonl"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    utts = list(csv.DictReader(open(out / "utterances.csv", encoding="utf-8")))
    assert {"fmt_ref", "fmt_hits", "fmt_subs", "fmt_dels", "fmt_ins"} <= set(utts[0])
    base = [u for u in utts if u["condition"] == "baseline"]
    assert all(u["subs"] == u["dels"] == u["ins"] == "0" for u in base)  # normalised: perfect
    assert sum(int(u["fmt_subs"]) + int(u["fmt_dels"]) for u in base) > 0  # formatted: case and punctuation lost
    summary = {(x["accent_group"], x["condition"]): x for x in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    assert float(summary[("ALL", "formatted")]["fwer"]) == 0.0
    assert float(summary[("ALL", "baseline")]["fwer"]) > 0.2 and float(summary[("ALL", "baseline")]["wer"]) == 0.0
    assert summary[("ALL", "baseline")]["fwer_low"] != ""  # a bootstrap interval like WER's
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rows = [c for c in report["comparisons"] if c["metric"] == "fwer" and c["accent_group"] == "ALL"]
    assert len(rows) == 1 and rows[0]["diff"] < 0 and rows[0]["holm_family"] is not None
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Formatted WER" in md
