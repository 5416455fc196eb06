"""Scoring throughput: asr-eval's full scoring vs jiwer.process_words vs NIST sclite.

Generates N reference/hypothesis pairs (default 100,000) seeded for repeatability:
references mix common words with vocabulary terms (the demo dictionaries when
present, else synthetic names); hypotheses carry substitutions, deletions,
insertions, sounds-like misspellings and case changes. Then, in one run:

* asr-eval: ``score_utterance`` with the term-protecting normaliser, word and
  character alignment with sclite costs, B-WER/U-WER and every term event;
* jiwer: ``jiwer.process_words`` (plain WER, no normalisation) on the same raw text;
* sclite: one ``sctk sclite`` invocation on trn files of the normalised text
  (skipped when ``sctk`` is not on PATH); the word totals are compared.

Usage: python benchmarks/bench_scoring.py [-n 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr_eval.align import BACKEND, ErrorCounts, align  # noqa: E402
from asr_eval.normalize import make_normalizer  # noqa: E402
from asr_eval.scoring import build_term_index, score_utterance, term_tally  # noqa: E402
from asr_eval.trn import write_trn  # noqa: E402
from asr_eval.types import Term  # noqa: E402

COMMON = (
    "the a to and of in is it you that for on with this we can please your my be have not are "
    "account call back today tomorrow meeting team ticket password reset update customer support "
    "order number delivery invoice question issue help thanks thank okay right yes no just need "
    "check email phone send when where what how about could would should will from at by an as "
    "twenty three five hundred first second colour organise mr dr st don't it's we'll"
).split()


def load_terms() -> tuple[Term, ...]:
    try:
        from asr_eval.vocab import load_dictionary, load_directory

        terms = load_dictionary(ROOT / "dictionaries/demo-company.csv").terms
        terms += load_directory(ROOT / "dictionaries/demo-directory.csv").terms
        if terms:
            return terms
    except Exception:  # the demo vocabularies are optional for a benchmark
        pass
    rnd = random.Random(1)
    return tuple(
        Term(f"{rnd.choice(['Zen', 'Kla', 'Pay', 'Vor'])}{rnd.choice(['trix', 'rvo', 'nimbus', 'tex'])} {i}", "product", "dictionary")
        for i in range(40)
    )


def generate(n: int, terms: tuple[Term, ...], seed: int) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    refs, hyps = [], []
    for _ in range(n):
        ref: list[str] = []
        for _ in range(rnd.randint(4, 18)):
            if rnd.random() < 0.06:
                ref.append(rnd.choice(terms).display)
            else:
                ref.append(rnd.choice(COMMON))
        hyp: list[str] = []
        for w in ref:
            x = rnd.random()
            if x < 0.05:
                continue  # deletion
            if x < 0.13:
                term = next((t for t in terms if t.display == w and t.sounds_like), None)
                hyp.append(rnd.choice(term.sounds_like) if term else rnd.choice(COMMON))
            elif x < 0.16:
                hyp.append(w.lower())
            else:
                hyp.append(w)
            if rnd.random() < 0.03:
                hyp.append(rnd.choice(COMMON) if rnd.random() < 0.8 else rnd.choice(terms).display)
        refs.append(" ".join(ref).capitalize() + ".")
        hyps.append(" ".join(hyp) + ("." if rnd.random() < 0.5 else ""))
    return refs, hyps


def time_jiwer(refs: list[str], hyps: list[str]) -> tuple[float, float] | None:
    try:
        import jiwer
    except ImportError:
        return None
    t = time.perf_counter()
    out = jiwer.process_words(refs, hyps)
    return time.perf_counter() - t, out.wer


def time_sclite(ref_norm: list[str], hyp_norm: list[str]) -> tuple[float, ErrorCounts] | None:
    if shutil.which("sctk") is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        write_trn(os.path.join(d, "ref.trn"), (("s", f"u{i}", t) for i, t in enumerate(ref_norm)))
        write_trn(os.path.join(d, "hyp.trn"), (("s", f"u{i}", t) for i, t in enumerate(hyp_norm)))
        t = time.perf_counter()
        out = subprocess.run(
            ["sctk", "sclite", "-r", os.path.join(d, "ref.trn"), "trn", "-h", os.path.join(d, "hyp.trn"), "trn",
             "-i", "spu_id", "-o", "rsum", "stdout"],
            capture_output=True, text=True, check=True,
        ).stdout
        elapsed = time.perf_counter() - t
    # rsum prints counts: | Sum | #Snt #Wrd | Corr Sub Del Ins Err S.Err |
    m = re.search(r"\|\s*Sum\s*\|\s*(\d+)\s+(\d+)\s*\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out)
    if not m:
        raise RuntimeError("could not read sclite's rsum output:\n" + out[-2000:])
    _, _, c, s, dl, i = map(int, m.groups())
    return elapsed, ErrorCounts(c, s, dl, i)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    terms = load_terms()
    refs, hyps = generate(args.n, terms, args.seed)
    normalizer = make_normalizer(terms)
    index = build_term_index(terms, normalizer)
    # warm-up: compile the alignment kernel and fill per-word caches outside the timing
    for r, h in zip(refs[:200], hyps[:200]):
        score_utterance(r, h, index, normalizer)

    jw = time_jiwer(refs, hyps)

    t = time.perf_counter()
    scores = [score_utterance(r, h, index, normalizer) for r, h in zip(refs, hyps)]
    ours = time.perf_counter() - t

    words = sum(s.words for s in scores)
    tally = term_tally(e for s in scores for e in s.terms)
    ref_norm = [s.ref_norm for s in scores]
    hyp_norm = [s.hyp_norm for s in scores]

    t = time.perf_counter()
    aligned = sum(align(r.split(), h.split()).counts for r, h in zip(ref_norm, hyp_norm))
    align_only = time.perf_counter() - t

    sc = time_sclite(ref_norm, hyp_norm)

    print(f"utterances: {args.n:,}  terms: {len(terms)}  alignment backend: {BACKEND}")
    print(f"asr-eval full scoring (normalise + words + chars + B/U-WER + terms): {ours:.2f} s "
          f"({ours / args.n * 1e6:.1f} us/utt)  WER {words.rate():.4f}  "
          f"term recall {tally.recall():.3f}  false insertions {tally.false_ins}")
    print(f"asr-eval word alignment only (pre-normalised): {align_only:.2f} s")
    if jw:
        print(f"jiwer.process_words (plain WER, raw text): {jw[0]:.2f} s  WER {jw[1]:.4f}")
        print(f"ratio asr-eval full / jiwer: {ours / jw[0]:.2f}   alignment only / jiwer: {align_only / jw[0]:.2f}")
    else:
        print("jiwer not installed: no jiwer ratio")
    if sc:
        print(f"sclite (one invocation, normalised trn): {sc[0]:.2f} s  counts {sc[1]}  "
              f"agree with asr-eval: {sc[1] == words == aligned}")
        print(f"ratio asr-eval full / sclite: {ours / sc[0]:.2f}")
    else:
        print("sctk not on PATH: no sclite ratio")


if __name__ == "__main__":
    main()
