"""Reading vendor hypothesis files: asr-eval's readers against the bare parse they cannot avoid.

A long recording's transcript (``--words`` words, default 100,000: about
ten hours of speech) is written as AWS Transcribe JSON, Deepgram JSON and a
NIST ctm from the fixtures' writers (tests/hypgen.py); each is read by
``read_hyp_file`` and, side by side, by the bare minimum (``json.loads`` of
the file; splitting the ctm's lines into fields). Then every word is cut into
``--segments`` reference segments (``load_for_manifest``, sclite's midpoint
rule). Reported: seconds for each, and the ratio reader / bare parse, the
cost of the checks (types, JSON paths, times) over parsing alone.

Usage:
    python benchmarks/bench_hypformats.py [--words 100000] [--segments 5000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import hypgen as g  # noqa: E402
from asr_eval.hypformats import read_hyp_file  # noqa: E402
from asr_eval.hypotheses import load_for_manifest  # noqa: E402
from asr_eval.types import Utterance  # noqa: E402


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", type=int, default=100_000)
    ap.add_argument("--segments", type=int, default=5000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    vocab = "please call stella ask her to bring these things with".split()
    words = [(vocab[i % len(vocab)] + ("." if i % 13 == 12 else ""), 0.35 * i, 0.35 * i + 0.3) for i in range(args.words)]
    report: dict = {"words": args.words, "python": platform.python_version(), "machine": platform.machine()}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = {"aws": g.write_json(d / "aws.json", g.aws(words)),
                 "deepgram": g.write_json(d / "dg.json", g.deepgram([words]))}
        ctm = d / "rec.ctm"
        ctm.write_text("\n".join(g.ctm_lines("rec", words)) + "\n")
        for name, path in files.items():
            bare = _best(lambda: json.loads(path.read_text()))
            ours = _best(lambda: read_hyp_file(path))
            report[name] = {"mb": round(path.stat().st_size / 1e6, 1), "bare_s": round(bare, 3), "reader_s": round(ours, 3),
                            "reader_vs_bare": round(ours / bare, 2)}
        bare = _best(lambda: [line.split() for line in ctm.read_text().splitlines()])
        ours = _best(lambda: read_hyp_file(ctm))
        report["ctm"] = {"mb": round(ctm.stat().st_size / 1e6, 1), "bare_s": round(bare, 3), "reader_s": round(ours, 3),
                         "reader_vs_bare": round(ours / bare, 2)}
        span = words[-1][2] / args.segments
        utts = [Utterance(f"s{k}", "/d/rec.wav", "x", "s", "g", start=k * span, end=k * span + span * 0.9)
                for k in range(args.segments)]
        cut = _best(lambda: load_for_manifest([ctm], utts), repeat=1)
        report["cut_into_segments"] = {"segments": args.segments, "seconds_incl_reading": round(cut, 3),
                                       "vs_reading_alone": round(cut / ours, 2)}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
