"""Coverage of the speaker-bootstrap intervals, and the cost of writing reports.

    python benchmarks/bench_stats.py            # coverage grid + report timing
    python benchmarks/bench_stats.py --quick    # fewer draws

Coverage: synthetic evaluations with a known true WER (speaker-level random
effects, as in tests/test_stats_coverage.py), for several numbers of speakers
and speaker spreads; for each, the share of evaluations whose 95% interval
holds the truth, for the studentized interval the reports use and for the
plain percentile interval over the same draws.

Timing: write_reports on a synthetic run folder of growing size.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_stats_coverage import draw_eval, true_mean_rate

from asr_eval import stats as st


def coverage(n_spk: int, mean: float, sd: float, draws: int, n_boot: int) -> tuple[float, float]:
    mu = math.log(mean / (1 - mean))
    truth = true_mean_rate(mu, sd)
    rng = np.random.default_rng(n_spk * 1000 + int(sd * 100))
    stud = pct = 0
    m = st.METRICS["wer"]
    for i in range(draws):
        recs, _ = draw_eval(rng, n_spk, mu, sd)
        e = st.summarize(recs, n_boot=n_boot, seed=i, metrics=("wer",)).metrics["wer"]
        stud += e.low <= truth <= e.high
        # The percentile interval from the same resamples (same seed, same weights).
        _, mat = st.speaker_matrix(recs)
        w = st.bootstrap_weights(mat.shape[0], n_boot, np.random.default_rng(i))
        boot = (w @ (mat @ m.num_vec)) / (w @ (mat @ m.den_vec))
        lo, hi = np.nanquantile(boot, [0.025, 0.975])
        pct += lo <= truth <= hi
    return stud / draws, pct / draws


def report_timing(sizes: list[tuple[int, int, int]]) -> None:
    from test_report import make_run

    from asr_eval.report import write_reports

    for groups, spk, utts in sizes:
        with tempfile.TemporaryDirectory() as d:
            names = tuple(f"g{i}" for i in range(groups))
            run = make_run(Path(d) / "run", groups=names, speakers_per_group=spk, utts_per_speaker=utts)
            t0 = time.perf_counter()
            paths = write_reports(run, n_boot=2000)
            dt = time.perf_counter() - t0
            size = paths["report.html"].stat().st_size / 1e6
            print(f"  {groups:3d} groups x {spk:2d} speakers x {utts:2d} clips x 2 conditions "
                  f"({groups * spk * utts * 2:6d} rows): {dt:6.1f} s, report.html {size:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    draws, n_boot = (300, 500) if args.quick else (1000, 1000)
    print(f"Coverage of nominal 95% WER intervals ({draws} evaluations each, {n_boot} bootstrap draws)")
    print("  speakers  speaker-sd  studentized  percentile")
    for n_spk in (5, 12, 24, 48):
        for sd in (0.3, 0.7):
            t0 = time.perf_counter()
            s, p = coverage(n_spk, 0.2, sd, draws, n_boot)
            print(f"  {n_spk:8d}  {sd:10.1f}  {s:11.3f}  {p:10.3f}   ({time.perf_counter() - t0:.1f} s)")
    print("write_reports timing (n_boot 2000)")
    report_timing([(3, 4, 3), (12, 6, 5), (20, 10, 10)] if not args.quick else [(3, 4, 3), (12, 6, 5)])


if __name__ == "__main__":
    main()
