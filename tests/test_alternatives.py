"""sclite alternations ``{ a / b / @ }`` in references: parsed, aligned as sclite aligns them, read and written.

The golden comparison runs NIST sclite (Debian ``sctk``) on thousands of
generated references with groups (multi-word alternatives, ``@``, several
groups in a row, unrelated hypotheses with many equal-cost paths): every
utterance's alignment (ops and the reference words sclite chose) must equal ours.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

import asr_eval.align as align_mod
from asr_eval.align import LEVENSHTEIN_COSTS, align, align_lattice
from asr_eval.alternatives import first_alternatives, lattice, parse, problem, render
from asr_eval.manifest import load_manifest
from asr_eval.normalize import make_normalizer
from asr_eval.scoring import score_many, score_utterance
from asr_eval.trn import read_trn, trn_id, write_trn
from asr_eval.types import Term

from conftest import tone

needs_sclite = pytest.mark.skipif(shutil.which("sctk") is None, reason="sctk (NIST SCTK sclite) is not on PATH; apt-get install sctk")

VOCAB = "a b c d e".split()


def _net(ref: str):
    return lattice(parse(ref), str.split)


# --------------------------------------------------------------------------- parsing


def test_parse_pieces_and_render():
    assert parse("i am { gonna / going to } pay { uh / @ } now") == (
        "i am", ("gonna", "going to"), "pay", ("uh", ""), "now")
    assert parse("{a / b}c") == (("a", "b"), "c")  # braces need no spaces; '/' is a word of its own
    assert render(parse("x {a/ b / @} y")) == "x { a/ b / @ } y"
    assert render(parse("x { a / b / @ } y")) == "x { a / b / @ } y"
    assert first_alternatives("i { gonna / going to } go { @ / uh }") == "i gonna go"
    assert first_alternatives("broken { brace") == "broken brace"
    assert parse("and/or @ home") == ("and/or @ home",)  # outside a group '/' and '@' are text


@pytest.mark.parametrize("text, words", [
    ("a { b / c", "without a closing"),
    ("a } b", "without an opening"),
    ("{ a / { b / c } }", "do not nest"),
    ("{ a / / b }", "empty alternative"),
    ("{ }", "empty alternative"),
    ("{ a @ / b }", "must stand alone"),
])
def test_malformed_groups_are_named(text, words):
    assert words in problem(text)
    assert parse(text) is None


def test_group_count_is_bounded():
    assert "more than" in problem(" ".join(["{ a / b }"] * 1001))
    assert "more than" in problem("{ " + " / ".join(["a"] * 65) + " }")


# --------------------------------------------------------------------------- the network DP


def test_network_without_groups_aligns_like_the_plain_dp():
    rnd = random.Random(3)
    for _ in range(400):
        ref = [rnd.choice(VOCAB) for _ in range(rnd.randint(0, 10))]
        hyp = [rnd.choice(VOCAB) for _ in range(rnd.randint(0, 10))]
        got = align_lattice(lattice((" ".join(ref),), str.split), hyp)
        want = align(ref, hyp)
        assert (got.ops, got.ref) == (want.ops, want.ref)
        lev = align_lattice(lattice((" ".join(ref),), str.split), hyp, LEVENSHTEIN_COSTS)
        assert lev.ops == align(ref, hyp, LEVENSHTEIN_COSTS).ops


def test_optional_word_left_out_is_not_a_deletion():
    a = align_lattice(_net("a { b / @ } c"), "a c".split())
    assert (a.ops, a.ref, a.counts.ref_len) == ("CC", ("a", "c"), 2)
    # a wrong word where the optional one stood: sclite takes '@' and an insertion (3.001) over a substitution (4)
    a = align_lattice(_net("a { b / @ } c"), "a x c".split())
    assert (a.ops, a.ref) == ("CIC", ("a", "c"))
    a = align_lattice(_net("a { going to / gonna } c"), "a gonna c".split())
    assert (a.ops, a.ref) == ("CCC", ("a", "gonna", "c"))


def test_uncompiled_kernel_gives_the_same_alignments(monkeypatch):
    pairs = _generated(150, seed=11)
    compiled = [align_lattice(_net(r), h.split()) for r, h in pairs]
    monkeypatch.setattr(align_mod, "_lattice_kernel", align_mod._lattice_src)
    for (r, h), c in zip(pairs, compiled):
        p = align_lattice(_net(r), h.split())
        assert (p.ops, p.ref) == (c.ops, c.ref)


# --------------------------------------------------------------------------- against sclite


def _generated(n: int, seed: int) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[str] = []
        spoken: list[str] = []
        for _ in range(rnd.randint(0, 7)):
            if rnd.random() < 0.3:
                alts = ["@" if rnd.random() < 0.25 else " ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(1, 3)))
                        for _ in range(rnd.randint(1, 4))]
                parts.append("{ " + " / ".join(alts) + " }")
                pick = rnd.choice(alts)
                spoken += [] if pick == "@" else pick.split()
            else:
                w = rnd.choice(VOCAB)
                parts.append(w)
                spoken.append(w)
        if rnd.random() < 0.5:  # a noisy copy of one reading
            hyp = []
            for w in spoken:
                x = rnd.random()
                if x < 0.1:
                    continue
                hyp.append(rnd.choice(VOCAB) if x < 0.25 else w)
                if rnd.random() < 0.08:
                    hyp.append(rnd.choice(VOCAB))
        else:  # unrelated: many paths of equal cost
            hyp = [rnd.choice(VOCAB) for _ in range(rnd.randint(0, 8))]
        out.append((" ".join(parts), " ".join(hyp)))
    return out


def _sclite(tmp: Path, pairs: list[tuple[str, str]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """utterance id -> (sclite's ops, the reference words of its C/S/D columns)."""
    write_trn(tmp / "ref.trn", (("spk", f"u{k}", r) for k, (r, _) in enumerate(pairs)), alternations=True)
    write_trn(tmp / "hyp.trn", (("spk", f"u{k}", h) for k, (_, h) in enumerate(pairs)))
    out = subprocess.run(
        ["sctk", "sclite", "-r", str(tmp / "ref.trn"), "trn", "-h", str(tmp / "hyp.trn"), "trn",
         "-i", "spu_id", "-e", "utf-8", "-o", "sgml", "stdout"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    got = {}
    for m in re.finditer(r'<PATH id="\(([^)]*)\)"[^>]*>\n(.*?)</PATH>', out, re.S):
        cols = re.findall(r'(?:^|:)([CSDI]),(?:"([^"]*)")?,', m.group(2).strip())
        got[m.group(1)] = ("".join(op for op, _ in cols), tuple(w for op, w in cols if op != "I"))
    return got


@needs_sclite
def test_alternation_alignments_equal_sclite(tmp_path):
    pairs = [("a { b / @ } c", "a c"), ("a { b / @ } c", "a x c"), ("{ x / y }", ""), ("{ x / y }", "z"),
             ("{ @ }", "a"), ("{ @ / @ }", ""), ("a { b c / d } e", "a d e")] + _generated(4000, seed=5)
    theirs = _sclite(tmp_path, pairs)
    assert len(theirs) == len(pairs)
    mismatched = []
    for k, (r, h) in enumerate(pairs):
        ours = align_lattice(_net(r), h.split())
        if (ours.ops, ours.ref) != theirs[f"spk-u{k}"]:
            mismatched.append((r, h, ours.ops, ours.ref, theirs[f"spk-u{k}"]))
    assert not mismatched, f"{len(mismatched)} of {len(pairs)} differ, e.g. {mismatched[:3]}"


@needs_sclite
def test_scored_references_with_alternations_equal_sclite_counts(tmp_path):
    """Raw references through the scorer (normalised per alternative) count as sclite counts their normalised trn."""
    norm = make_normalizer()
    raw = [("I'm { gonna / going to } call { uh / @ } Dr. Smith", "im going to call doctor smith"),
           ("It's { 25 / twenty five } dollars, { OK / okay }?", "its $25 okay"),
           ("{ Um / @ } the { colour / color } is red", "the colour is red"),
           ("Call me { tomorrow / @ } at { 3:30 / half three }", "call me at half past three")]
    scores = score_many(raw, [], norm)
    normalised = [(render([tuple(norm(a) for a in p) if isinstance(p, tuple) else norm(p) for p in parse(r)]), norm(h))
                  for r, h in raw]
    theirs = _sclite(tmp_path, normalised)
    for k, s in enumerate(scores):
        ops, ref = theirs[f"spk-u{k}"]
        assert s.alignment.ops == ops and tuple(s.ref_norm.split()) == ref


def test_trn_keeps_alternations_in_references(tmp_path):
    write_trn(tmp_path / "r.trn", [("s", "u1", "a { b / c d / @ } (e)"), ("s", "u2", "broken { brace")], alternations=True)
    assert [t for _, _, t in read_trn(tmp_path / "r.trn")] == ["a { b / c d / @ } e", "broken brace"]
    write_trn(tmp_path / "h.trn", [("s", "u1", "a { b / c }")])
    assert read_trn(tmp_path / "h.trn")[0][2] == "a b / c"  # a hypothesis has no alternations


# --------------------------------------------------------------------------- scoring


def test_scoring_takes_the_alternative_the_alignment_chose():
    norm = make_normalizer()
    s = score_utterance("I'm { gonna / going to } pay { uh / @ } now", "I'm going to pay now", [], norm)
    assert (s.words.errors, s.words.ref_len, s.ref_norm) == (0, 6, "i am going to pay now")
    assert s.formatted.errors == 0 and s.formatted.ref_len == 5  # I'm going to pay now
    # the same reference and hypothesis through the batch path
    b = score_many([("I'm { gonna / going to } pay { uh / @ } now", "I'm going to pay now"),
                    ("plain text here", "plain text")], [], norm)
    assert b[0].count_values == s.count_values and b[1].words.dels == 1


def test_terms_are_found_in_the_chosen_alternative():
    norm = make_normalizer()
    terms = [Term("PayNimbus", category="product", source="dictionary")]
    said = score_utterance("pay with { PayNimbus / @ } today", "pay with PayNimbus today", terms, norm)
    assert [(e.term, e.outcome) for e in said.terms] == [("PayNimbus", "hit")]
    # an optional term the speaker may not have said is no miss when the hypothesis leaves it out
    left_out = score_utterance("pay with { PayNimbus / @ } today", "pay with today", terms, norm)
    assert left_out.terms == () and left_out.words.errors == 0


def test_malformed_group_in_a_manifest_is_a_rejected_row(tmp_path):
    for i in range(2):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    (tmp_path / "m.csv").write_text("audio,text,speaker,accent_group\n"
                                    "c0.wav,i { gonna / going to } go,s1,us\n"
                                    "c1.wav,i { gonna / going to go,s2,us\n")
    man = load_manifest(tmp_path / "m.csv")
    assert [u.text for u in man.utterances] == ["i { gonna / going to } go"]
    (p,) = man.problems
    assert p.line == 3 and "without a closing '}'" in p.problem


def test_score_cli_honours_alternations_and_exports_them(tmp_path):
    from asr_eval.cli import app

    for i in range(2):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    (tmp_path / "m.csv").write_text("id,audio,text,speaker,accent_group\n"
                                    "u0,c0.wav,i { gonna / going to } call { uh / @ } you,s1,us\n"
                                    "u1,c1.wav,the bill is late,s2,us\n")
    with open(tmp_path / "h.jsonl", "w") as f:
        for uid, text in (("u0", "I'm going to call you"), ("u1", "the bill is late")):
            f.write(json.dumps({"id": uid, "text": text, "condition": "baseline"}) + "\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "h.jsonl"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = {x["utt_id"]: x for x in csv.DictReader(open(out / "utterances.csv", encoding="utf-8"))}
    u0 = rows["u0"]
    # "i" vs "i'm" (i am) is the only error: the chosen "going to" and the left-out "uh" cost nothing
    assert (u0["ref_norm"], u0["ref_words"], u0["subs"], u0["dels"], u0["ins"]) == ("i going to call you", "5", "0", "0", "1")
