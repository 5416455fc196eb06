"""A whole recording's ctm cut into stm segments scores as NIST sclite scores it (Debian package ``sctk``).

sclite chops a ctm to the segments of an stm by word midpoint, words between
segments going to the next one; asr-eval's ``load_for_manifest`` (with
``wordtimes``) must cut the same way, so that each segment's counts equal
sclite's. Generated recordings with gaps, leading and trailing words.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from asr_eval.align import counts_only
from asr_eval.hypotheses import load_for_manifest
from asr_eval.types import Utterance

pytestmark = pytest.mark.skipif(shutil.which("sctk") is None, reason="sctk (NIST SCTK sclite) is not on PATH")

VOCAB = "a b c d e f g".split()


def _generate(rng: random.Random, recordings: int = 6):
    stm, ctm, utts, refs = [], [], [], {}
    k = 0
    for r in range(recordings):
        rec, t = f"rec{r}", 0.0
        spans = []
        for _ in range(rng.randint(1, 4)):
            t += rng.choice([0.0, 0.3, 1.0])
            start = round(t, 1) + 0.005  # boundaries at x.xx5 s: no word midpoint (a multiple of 0.01 s) ties one
            t = start + rng.uniform(0.5, 3.0)
            end = round(t, 1) + 0.005
            spans.append((start, end))
            t = end
        for start, end in spans:
            words = [rng.choice(VOCAB) for _ in range(rng.randint(1, 6))]
            sid = f"k{k}"
            k += 1
            stm.append(f"{rec} A {sid} {start:.3f} {end:.3f} {' '.join(words)}")
            utts.append(Utterance(sid, f"/d/{rec}.wav", " ".join(words), sid, "g", start=start, end=end))
            refs[sid] = words
        t = 0.0
        while t < spans[-1][1] + 1.5:  # words everywhere, after the last segment too
            t = round(t + rng.choice([0.02, 0.1, 0.4]), 2)
            dur = rng.choice([0.1, 0.2, 0.3])
            ctm.append(f"{rec} A {t:.2f} {dur:.2f} {rng.choice(VOCAB)}")
            t = round(t + dur, 2)
    return stm, ctm, utts, refs


def _sclite_by_speaker(tmp: Path) -> dict[str, tuple[int, int, int, int]]:
    out = subprocess.run(["sctk", "sclite", "-r", str(tmp / "ref.stm"), "stm", "-h", str(tmp / "hyp.ctm"), "ctm",
                          "-o", "rsum", "stdout"], capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {}
    for m in re.finditer(r"^\s*\|\s*(k\d+)\s*\|\s*\d+\s+\d+\s*\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", out, re.M):
        rows[m.group(1)] = tuple(int(x) for x in m.group(2, 3, 4, 5))
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_segment_counts_equal_sclite_stm_ctm(tmp_path, seed):
    stm, ctm, utts, refs = _generate(random.Random(seed))
    (tmp_path / "ref.stm").write_text("\n".join(sorted(stm, key=lambda s: (s.split()[0], float(s.split()[3])))) + "\n")
    (tmp_path / "hyp.ctm").write_text("\n".join(ctm) + "\n")
    theirs = _sclite_by_speaker(tmp_path)
    assert set(theirs) == set(refs)
    hyps = load_for_manifest([tmp_path / "hyp.ctm"], utts).hyps["hyp"]
    for sid, ref in refs.items():
        c = counts_only(ref, hyps[sid].split())
        assert (c.hits, c.subs, c.dels, c.ins) == theirs[sid], (sid, ref, hyps[sid])
