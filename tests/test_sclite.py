"""Golden comparison with NIST sclite (Debian package ``sctk``).

One sclite invocation scores >5,000 generated pairs plus edge cases; its SGML
output gives every utterance's alignment, which must equal ours column for
column (so totals and the S/D/I split agree). Skipped when ``sctk`` is missing.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from asr_eval.align import ErrorCounts, align, char_counts
from asr_eval.normalize import make_normalizer
from asr_eval.trn import read_trn, trn_id, write_trn

pytestmark = pytest.mark.skipif(shutil.which("sctk") is None, reason="sctk (NIST SCTK sclite) is not on PATH; apt-get install sctk")

EDGE = [
    ("", ""),
    ("", "extra words only"),
    ("all words deleted", ""),
    ("a b c", "x y z w v u"),
    ("p q r a b", "a b x y z"),  # sclite takes more errors than the edit distance here
    ("don't stop o'brien's car", "dont stop o brien's car"),
    ("x-ray and e-mail", "x ray and email"),
    ("café naïve über 東京", "cafe naïve uber 東京"),
    ("$5 3.5 50% 1984", "5 dollars 3.5 50 1984"),
    ("a a a a", "a"),
    ("a", "a a a a"),
]

VOCABS = [
    "a b".split(),
    "a b c d e".split(),
    "the cat sat on mat a an of don't x-ray café naïve o'brien 東京 $5 3.5".split(),
    [f"w{i}" for i in range(40)],
]


def generated_pairs(n: int, seed: int = 20240501) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    pairs = []
    for k in range(n):
        vocab = VOCABS[k % len(VOCABS)]
        ref = [rnd.choice(vocab) for _ in range(rnd.randint(0, 14))]
        if rnd.random() < 0.5:  # a noisy copy, like a real hypothesis
            hyp = []
            for w in ref:
                x = rnd.random()
                if x < 0.1:
                    continue
                hyp.append(rnd.choice(vocab) if x < 0.25 else w)
                if rnd.random() < 0.08:
                    hyp.append(rnd.choice(vocab))
        else:  # unrelated text: many ties between paths of equal cost
            hyp = [rnd.choice(vocab) for _ in range(rnd.randint(0, 14))]
        pairs.append((" ".join(ref), " ".join(hyp)))
    return pairs


def run_sclite(tmp: Path, pairs: list[tuple[str, str]], extra: tuple[str, ...] = ()) -> dict[str, str]:
    """utterance id -> sclite's op string, from one sclite run."""
    write_trn(tmp / "ref.trn", (("spk", f"u{k}", r) for k, (r, _) in enumerate(pairs)))
    write_trn(tmp / "hyp.trn", (("spk", f"u{k}", h) for k, (_, h) in enumerate(pairs)))
    out = subprocess.run(
        ["sctk", "sclite", "-r", str(tmp / "ref.trn"), "trn", "-h", str(tmp / "hyp.trn"), "trn",
         "-i", "spu_id", "-e", "utf-8", *extra, "-o", "sgml", "stdout"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    ops: dict[str, str] = {}
    for m in re.finditer(r'<PATH id="\(([^)]*)\)"[^>]*>\n(.*?)</PATH>', out, re.S):
        body = m.group(2).strip()
        ops[m.group(1)] = "".join(re.findall(r'(?:^|:)([CSDI]),', body)) if body else ""
    return ops


def test_trn_round_trip(tmp_path):
    pairs = generated_pairs(50) + EDGE
    write_trn(tmp_path / "r.trn", (("spk-a b", f"u {k}", r) for k, (r, _) in enumerate(pairs)))
    rows = read_trn(tmp_path / "r.trn")
    assert [text for _, _, text in rows] == [" ".join(r.split()) for r, _ in pairs]
    assert rows[0][1] == trn_id("spk-a b", "u 0") == "spk_a_b-u_0"


def test_alignment_equals_sclite_on_thousands_of_pairs(tmp_path):
    pairs = EDGE + generated_pairs(5200)
    theirs = run_sclite(tmp_path, pairs)
    assert len(theirs) == len(pairs)
    mismatched = []
    total_ours, total_theirs = ErrorCounts(), ErrorCounts()
    for k, (r, h) in enumerate(pairs):
        ours = align(r.split(), h.split())
        ops = theirs[trn_id("spk", f"u{k}")]
        total_ours += ours.counts
        total_theirs += ErrorCounts(ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I"))
        if ours.ops != ops:
            mismatched.append((r, h, ours.ops, ops))
    assert not mismatched, f"{len(mismatched)} of {len(pairs)} differ, e.g. {mismatched[:3]}"
    assert total_ours == total_theirs


def test_normalised_text_scores_identically(tmp_path):
    """What asr-eval exports (normalised text) re-scores in sclite to the same counts."""
    norm = make_normalizer()
    raw = [("Dr. Smith's colour TV costs twenty five dollars.", "doctor smiths color tv costs $25"),
           ("Um, I can't find St. Clair Avenue!", "i cannot find saint clair avenue"),
           ("Siobhán O'Brien called at 3:30", "shivaun obrien called at three thirty")]
    pairs = [(norm(r), norm(h)) for r, h in raw]
    theirs = run_sclite(tmp_path, pairs)
    for k, (r, h) in enumerate(pairs):
        assert align(r.split(), h.split()).ops == theirs[trn_id("spk", f"u{k}")]


def test_character_alignment_equals_sclite(tmp_path):
    """CER: sclite -c aligns characters; it ignores spaces, so compare on text without them."""
    pairs = [(r.replace(" ", ""), h.replace(" ", "")) for r, h in generated_pairs(300, seed=7)[:300]]
    pairs = [(" ".join(r), " ".join(h)) for r, h in pairs]  # one character per trn word
    theirs = run_sclite(tmp_path, pairs)
    for k, (r, h) in enumerate(pairs):
        ops = theirs[trn_id("spk", f"u{k}")]
        expected = ErrorCounts(ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I"))
        assert char_counts(r.replace(" ", ""), h.replace(" ", "")) == expected
