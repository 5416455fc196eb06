"""Scoring throughput: asr-eval's full scoring vs jiwer.process_words vs NIST sclite.

Generates N reference/hypothesis pairs (default 100,000) seeded for repeatability:
references mix common words with vocabulary terms (the demo dictionaries when
present, else synthetic names); hypotheses carry substitutions, deletions,
insertions, sounds-like misspellings and case changes. Then, in one run:

* asr-eval: ``score_many`` (and, on a tenth of the data, ``score_utterance``
  with a prebuilt term index) with the term-protecting normaliser, word and
  character alignment with sclite costs, B-WER/U-WER and every term event, with
  the garbage collector on as callers run it, and once more with it paused;
  plus plain WER on the raw text;
* jiwer: ``jiwer.process_words`` (plain WER, no normalisation) on the same raw text;
* sclite: one ``sctk sclite`` invocation on trn files of the normalised text
  (skipped when ``sctk`` is not on PATH); the word totals are compared.

Usage: python benchmarks/bench_scoring.py [-n 100000] [--seed 0]

Memory and time of whole commands at test-set sizes (each in its own process,
peak RSS from ``wait4``'s rusage, so the figure is that command's alone):

* ``--score-cli N [N ...]``: a manifest of N utterances (JSONL) and two
  hypothesis files (baseline and a vocabulary condition) generated as above,
  scored by ``python -m asr_eval.cli score`` with the demo dictionaries; prints
  peak RSS, wall time and both per utterance, side by side for every N. Memory
  should be flat in N and time linear.
* ``--run-plumbing N [N ...]``: ``evaluate`` with a fake transcriber (plumbing
  only: nothing is decoded, every clip points at one short WAV) over N clips and
  two conditions, twice (decoding into the cache, then all served from it): what
  the manifest, cache index, job lists and scoring hold per clip.

    nice python benchmarks/bench_scoring.py --score-cli 100000 1000000 --speakers 1000
    python benchmarks/bench_scoring.py --run-plumbing 20000 100000
"""

from __future__ import annotations

import argparse
import gc
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

from asr_eval.align import ErrorCounts, backend, counts_from_ops, ops_many  # noqa: E402
from asr_eval.normalize import _chunk_words, make_normalizer  # noqa: E402
from asr_eval.scoring import build_term_index, score_many, score_utterance  # noqa: E402
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


class Clock:
    """Wall and CPU seconds of one block; CPU time is steadier on a shared machine."""

    def __enter__(self) -> "Clock":
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def write_score_inputs(folder: Path, n: int, terms: tuple[Term, ...], seed: int, speakers: int,
                       groups: int = 7, chunk: int = 50_000) -> tuple[Path, list[Path]]:
    """A manifest of ``n`` utterances and two hypothesis files, written in chunks so the generator stays small."""
    import json

    manifest, base, vocab = folder / "manifest.jsonl", folder / "baseline.jsonl", folder / "vocab.jsonl"
    with open(manifest, "w", encoding="utf-8") as fm, open(base, "w", encoding="utf-8") as fb, \
            open(vocab, "w", encoding="utf-8") as fv:
        for lo in range(0, n, chunk):
            refs, hyps = generate(min(chunk, n - lo), terms, seed + lo)
            fixed, _ = generate(min(chunk, n - lo), terms, seed + lo + 1)  # another error pattern for the vocab condition
            for k, (ref, hyp) in enumerate(zip(refs, hyps)):
                i = lo + k
                uid = f"u{i:07d}"
                spk = i % speakers
                fm.write(json.dumps({"id": uid, "audio": f"clips/{uid}.wav", "text": ref, "speaker": f"s{spk:05d}",
                                     "accent_group": f"g{spk % groups}"}) + "\n")
                fb.write(json.dumps({"id": uid, "text": hyp}) + "\n")
                fv.write(json.dumps({"id": uid, "text": hyp if k % 3 else ref.lower()}) + "\n")
    return manifest, [base, vocab]


def measure(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, float, int]:
    """(exit code, wall seconds, peak RSS bytes) of one child process, from its own rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode not in (0, 5):
        print(err[-3000:], file=sys.stderr)
    return proc.returncode, time.perf_counter() - t, usage.ru_maxrss * 1024


def score_cli(sizes: list[int], seed: int, speakers: int, keep: Path | None) -> None:
    terms = load_terms()
    print(f"asr-eval score, two conditions, {speakers} speakers (python -m asr_eval.cli, one process per size)")
    print(f"{'utterances':>12s} {'rc':>3s} {'wall s':>9s} {'us/utt':>8s} {'peak RSS MB':>12s} {'RSS B/utt':>10s}")
    first: tuple[int, float, int] | None = None
    with tempfile.TemporaryDirectory(dir=keep) as d:
        for n in sizes:
            folder = Path(d) / f"n{n}"
            folder.mkdir()
            manifest, hyps = write_score_inputs(folder, n, terms, seed, speakers)
            cmd = [sys.executable, "-m", "asr_eval.cli", "score", str(manifest), *(a for h in hyps for a in ("--hyp", str(h))),
                   "--dictionary", str(ROOT / "dictionaries/demo-company.csv"),
                   "--directory", str(ROOT / "dictionaries/demo-directory.csv"), "--out", str(folder / "out")]
            rc, wall, rss = measure(cmd, ROOT)
            print(f"{n:12,d} {rc:3d} {wall:9.1f} {wall / n * 1e6:8.0f} {rss / 2**20:12.0f} {rss / n:10.0f}", flush=True)
            if first is None:
                first = (n, wall, rss)
            else:
                print(f"{'':12s}     x{n / first[0]:.0f} size: time x{wall / first[1]:.2f}, peak RSS x{rss / first[2]:.2f}")
            shutil.rmtree(folder)


def run_plumbing(sizes: list[int], seed: int, speakers: int) -> None:
    code = ROOT / "benchmarks" / "_plumbing_run.py"
    print(f"evaluate with a fake transcriber, two conditions, {speakers} speakers (one process per size and pass)")
    print(f"{'clips':>10s} {'pass':>6s} {'wall s':>9s} {'us/clip':>8s} {'peak RSS MB':>12s} {'RSS B/clip':>10s}")
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            folder = Path(d) / f"n{n}"
            subprocess.run([sys.executable, str(code), "make", str(folder), str(n), str(speakers), str(seed)], check=True)
            for what in ("decode", "cached"):
                rc, wall, rss = measure([sys.executable, str(code), "run", str(folder)], ROOT)
                print(f"{n:10,d} {what:>6s} {wall:9.1f} {wall / n * 1e6:8.0f} {rss / 2**20:12.0f} {rss / n:10.0f}"
                      + ("" if rc == 0 else f"  (exit {rc})"), flush=True)
            shutil.rmtree(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--score-cli", type=int, nargs="+", metavar="N", help="peak RSS and time of `asr-eval score` at these sizes")
    ap.add_argument("--run-plumbing", type=int, nargs="+", metavar="N", help="peak RSS and time of `evaluate` (fake transcriber)")
    ap.add_argument("--speakers", type=int, default=1000, help="speakers in the generated sets (--score-cli, --run-plumbing)")
    ap.add_argument("--tmp", type=Path, default=None, help="where the generated sets go (default: the system's temp folder)")
    args = ap.parse_args()
    if args.score_cli or args.run_plumbing:
        if args.score_cli:
            score_cli(args.score_cli, args.seed, args.speakers, args.tmp)
        if args.run_plumbing:
            run_plumbing(args.run_plumbing, args.seed, args.speakers)
        return

    terms = load_terms()
    refs, hyps = generate(args.n, terms, args.seed)
    pairs = list(zip(refs, hyps))
    normalizer = make_normalizer(terms)
    index = build_term_index(terms, normalizer)
    # warm-up outside the timing: compile the alignment kernels (numba caches them on disk)
    score_many(pairs[:200], index, normalizer)
    score_utterance(refs[0], hyps[0], index, normalizer)

    import jiwer

    with Clock() as jw:
        jw_out = jiwer.process_words(refs, hyps)
    gc.disable()  # for comparison: the cyclic collector's passes over many live objects cost jiwer most
    with Clock() as jw_nogc:
        jiwer.process_words(refs, hyps)
    gc.enable()
    with Clock() as plain:  # like for like with jiwer: raw text split on spaces, word counts only
        plain_counts = sum((counts_from_ops(o) for o in ops_many([(r.split(), h.split()) for r, h in pairs])), ErrorCounts())
    # each timed block starts with cold per-word caches, as a first run over new text would
    _chunk_words.cache_clear()
    with Clock() as full:
        scores = score_many(pairs, index, normalizer)
    _chunk_words.cache_clear()
    gc.disable()  # score_many leaves the collector alone; this row pauses it, as score_many itself once did
    with Clock() as full_nogc:
        score_many(pairs, index, normalizer)
    gc.enable()
    _chunk_words.cache_clear()
    with Clock() as single:
        for r, h in pairs[: args.n // 10]:
            score_utterance(r, h, index, normalizer)

    words = sum((s.words for s in scores), ErrorCounts())
    tally = sum(s.counts for s in scores)
    sc = time_sclite([s.ref_norm for s in scores], [s.hyp_norm for s in scores])

    n = args.n
    print(f"utterances: {n:,}  vocabulary terms: {len(terms)}  alignment backend: {backend()}  normaliser: {normalizer.version}")
    print(f"{'':44s} {'wall s':>8s} {'cpu s':>8s} {'us/utt':>8s} {'x jiwer':>8s}")

    def row(label: str, c: Clock, count: int = n) -> None:
        scale = n / count
        print(f"{label:44s} {c.wall * scale:8.2f} {c.cpu * scale:8.2f} {c.cpu * scale / n * 1e6:8.1f} {c.cpu * scale / jw.cpu:8.2f}")

    row("jiwer.process_words (plain WER, raw text)", jw)
    row("  the same with the garbage collector off", jw_nogc)
    row("asr-eval plain WER (raw text, sclite costs)", plain)
    row("asr-eval full scoring, score_many", full)
    row("  the same with the garbage collector off", full_nogc)
    row("asr-eval full scoring, score_utterance loop", single, n // 10)
    print("(full scoring = normalise both sides + word and character alignment + B/U-WER + every term event;"
          " score_utterance row extrapolated from a tenth of the data; ratios use CPU time)")
    print(f"jiwer WER {jw_out.wer:.4f}; asr-eval plain WER {plain_counts.rate():.4f} "
          f"(jiwer minimises edits, sclite costs may count a few more); normalised WER {words.rate():.4f}; "
          f"term recall {tally.rate('term_recall'):.3f}, precision {tally.rate('term_precision'):.3f}, "
          f"false insertions {tally.term_false_ins}")
    if sc:
        print(f"sclite, one invocation on the normalised trn files: {sc[0]:.2f} s wall; "
              f"asr-eval full scoring / sclite (wall): {full.wall / sc[0]:.2f}")
        print(f"sclite counts {sc[1]}  agree with asr-eval exactly: {sc[1] == words}")
    else:
        print("sctk not on PATH: no sclite comparison")


if __name__ == "__main__":
    main()
