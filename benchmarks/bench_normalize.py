"""Normaliser throughput: asr-eval's default and its Whisper reproduction vs openai-whisper's own and jiwer's.

Normalises the references and hypotheses of ``bench_scoring.generate`` (plain
contact-centre talk with vocabulary terms and number words) plus the generated
number-heavy corpus of tests/test_normalize_whisper.py, each text once, with
each normaliser, and prints CPU microseconds per text side by side with the
ratio to openai-whisper's ``EnglishTextNormalizer`` (when installed) or jiwer's
``wer_standardize`` (otherwise). Run it in two checkouts to compare versions.

Usage: python benchmarks/bench_normalize.py [-n 30000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

from bench_scoring import generate, load_terms  # noqa: E402

from asr_eval.normalize import NORMALIZER_VERSION, make_normalizer  # noqa: E402


def cpu_us(fn, texts: list[str], repeat: int = 3) -> float:
    """Best of ``repeat`` passes, CPU microseconds per text (each pass starts with cold asr-eval caches)."""
    best = float("inf")
    for _ in range(repeat):
        try:
            from asr_eval.normalize import _chunk_words

            _chunk_words.cache_clear()
        except ImportError:
            pass
        t = time.process_time()
        for s in texts:
            fn(s)
        best = min(best, time.process_time() - t)
    return best / len(texts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    terms = load_terms()
    refs, hyps = generate(args.n, terms, args.seed)
    talk = refs + hyps
    try:
        from test_normalize_whisper import corpus

        numbers = [s for _, s in corpus(max(1500, args.n // 10), seed=args.seed + 13)]
    except ImportError:
        numbers = []
    sets = {"contact-centre talk": talk, "number-heavy corpus": numbers}

    contenders: dict[str, object] = {f"asr-eval default ({NORMALIZER_VERSION}), terms protected": make_normalizer(terms)}
    try:
        from asr_eval.whisper_spellings import normalizer_for

        contenders["asr-eval --normalizer whisper"] = normalizer_for("whisper", terms)
    except ImportError:
        pass
    reference = None
    try:
        from whisper.normalizers import EnglishTextNormalizer

        reference = "openai-whisper EnglishTextNormalizer"
        contenders[reference] = EnglishTextNormalizer()
    except ImportError:
        pass
    try:
        import jiwer

        contenders["jiwer wer_standardize"] = lambda s, t=jiwer.wer_standardize: t(s)
        reference = reference or "jiwer wer_standardize"
    except ImportError:
        pass

    print(f"texts: {len(talk):,} contact-centre, {len(numbers):,} number-heavy; vocabulary terms: {len(terms)}")
    names = [k for k, v in sets.items() if v]
    print(f"{'us/text (CPU, best of 3)':<62}" + "".join(f"{n:>22}" for n in names))
    results = {c: [cpu_us(fn, sets[n]) for n in names] for c, fn in contenders.items()}
    for c, us in results.items():
        print(f"{c:<62}" + "".join(f"{u:>22.1f}" for u in us))
    if reference:
        print(f"ratios to {reference}:")
        for c, us in results.items():
            print(f"  {c:<60}" + "".join(f"{u / r:>22.2f}" for u, r in zip(us, results[reference])))


if __name__ == "__main__":
    main()
