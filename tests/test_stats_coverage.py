"""Does the 95% speaker-bootstrap interval cover the true WER in about 95% of evaluations?

Synthetic evaluations with a known truth: each speaker has their own error
probability (a speaker-level random effect, logit-normal around the mean), so
clips of one speaker are correlated exactly as in real data. The true
corpus WER of the population is E[p_speaker] (words per clip are independent
of the speaker), computed by Gauss-Hermite quadrature. Each draw is one
evaluation; we count how often its interval contains the truth.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from asr_eval import stats as st

N_DRAWS = 1000
N_BOOT = 1000


def true_mean_rate(mu: float, sd: float) -> float:
    x, w = np.polynomial.hermite_e.hermegauss(80)  # weights for exp(-x^2 / 2)
    return float(np.sum(w * special.expit(mu + sd * x)) / np.sum(w))


def draw_eval(rng: np.random.Generator, n_spk: int, mu: float, sd: float, shift: float = 0.0):
    """One evaluation: per speaker 4-11 clips of 2 + Poisson(10) words; optionally a second,
    paired condition whose logit is shifted by ``shift`` for every speaker."""
    base, cond = [], []
    for s in range(n_spk):
        z = rng.standard_normal()
        p_b, p_c = special.expit(mu + sd * z), special.expit(mu + sd * z + shift)
        for u in range(int(rng.integers(4, 12))):
            n = int(rng.poisson(10)) + 2
            base.append({"speaker": f"s{s}", "utt_id": f"{s}-{u}", "ref_words": n, "subs": int(rng.binomial(n, p_b))})
            cond.append({"speaker": f"s{s}", "utt_id": f"{s}-{u}", "ref_words": n, "subs": int(rng.binomial(n, p_c))})
    return base, cond


def coverage(n_spk: int, mu: float, sd: float, seed: int) -> float:
    truth = true_mean_rate(mu, sd)
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(N_DRAWS):
        recs, _ = draw_eval(rng, n_spk, mu, sd)
        e = st.summarize(recs, n_boot=N_BOOT, seed=i, metrics=("wer",)).metrics["wer"]
        hits += e.low <= truth <= e.high
    return hits / N_DRAWS


def paired_coverage(n_spk: int, mu: float, sd: float, shift: float, seed: int) -> float:
    x, w = np.polynomial.hermite_e.hermegauss(80)
    truth = float(np.sum(w * (special.expit(mu + sd * x + shift) - special.expit(mu + sd * x))) / np.sum(w))
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(N_DRAWS):
        b, c = draw_eval(rng, n_spk, mu, sd, shift)
        r = st.paired_compare(b, c, metrics=("wer",), n_boot=N_BOOT, seed=i)["wer"]
        hits += r.low <= truth <= r.high
    return hits / N_DRAWS


def test_wer_interval_covers_truth_95_percent() -> None:
    # 24 speakers, mean error probability 0.2, speaker sd 0.5 on the logit scale.
    cov = coverage(n_spk=24, mu=math.log(0.2 / 0.8), sd=0.5, seed=20261129)
    print(f"\nWER interval coverage: {cov:.3f} over {N_DRAWS} evaluations (24 speakers)")
    assert 0.93 <= cov <= 0.97


def test_paired_difference_interval_covers_truth_95_percent() -> None:
    cov = paired_coverage(n_spk=24, mu=math.log(0.25 / 0.75), sd=0.5, shift=-0.4, seed=7)
    print(f"\nPaired WER-difference interval coverage: {cov:.3f} over {N_DRAWS} evaluations (24 speakers)")
    assert 0.93 <= cov <= 0.97
