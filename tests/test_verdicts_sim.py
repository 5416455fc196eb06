"""Verdicts never overstate: simulated runs with no true difference claim one at most at the nominal rate.

Each simulated run is one group of speakers scored under a baseline and a
condition. The model is a realistic one for ASR error counts: every speaker has
their own error rate (logit-normal around 15 %), every clip its own difficulty
shared by both conditions, clips of 4 to 20 words, 4 to 20 clips a speaker, and
half the clips transcribed identically under both conditions (biasing leaves
most clips alone). Under the null, each speaker also responds to each condition
in their own way (a speaker x condition effect drawn the same way for both
conditions), so conditions are exchangeable for every speaker: there is no
true difference, yet speakers differ in how they react, as they do to a prompt.

The verdicts come from the report's own code: ``stats.speaker_tests`` (the
per-speaker tests ``paired_compare`` runs) and ``stats.decide`` (the rule
``report.numbers.comparisons`` applies), on arrays of thousands of runs at once.
The report also hands ``decide`` whether the bootstrap interval of the pooled
difference excludes zero, which can only take a claim back: the false-claim
rates here are upper bounds for the report's, and the power check runs the
whole path (``paired_compare`` with its interval) to show the veto costs little.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from asr_eval import stats as st

ALPHA = 0.05
SIZES = (2, 3, 6, 12, 40)
NULL_RUNS = 1000
POWER_RUNS = 200
MAX_CLIPS = 20


def simulate(rng: np.random.Generator, runs: int, speakers: int, shift: float = 0.0, spread: float = 0.3):
    """Per-clip error counts (runs, speakers, clips) of baseline and condition, words, and the clip mask.

    ``shift`` moves every speaker's log-odds of an error under the condition
    (negative: the condition helps); ``spread`` is the sd of each speaker's
    own response to each condition.
    """
    n_clips = rng.integers(4, MAX_CLIPS + 1, size=(runs, speakers))
    mask = np.arange(MAX_CLIPS)[None, None, :] < n_clips[..., None]
    words = (4 + rng.poisson(8, size=mask.shape)).clip(max=20) * mask
    speaker = rng.normal(math.log(0.15 / 0.85), 0.7, size=(runs, speakers, 1))
    clip = rng.normal(0.0, 0.6, size=mask.shape)
    resp_b = rng.normal(0.0, spread, size=(runs, speakers, 1))
    resp_c = rng.normal(0.0, spread, size=(runs, speakers, 1))
    err_b = rng.binomial(words, 1 / (1 + np.exp(-(speaker + clip + resp_b))))
    err_c = rng.binomial(words, 1 / (1 + np.exp(-(speaker + clip + resp_c + shift))))
    if shift == 0.0:
        # Half the clips come out the same under both conditions: which condition's
        # transcript both get is a coin flip, so the conditions stay exchangeable.
        same = rng.random(mask.shape) < 0.5
        both = np.where(rng.random(mask.shape) < 0.5, err_b, err_c)
        err_b, err_c = np.where(same, both, err_b), np.where(same, both, err_c)
    return err_b * mask, err_c * mask, words, mask


def verdicts(err_b, err_c, words):
    """(verdict, deciding test, pooled difference) per run, by the report's own functions."""
    tests = st.speaker_tests(err_b.sum(-1), err_c.sum(-1), words.sum(-1), words.sum(-1))
    out = []
    for n, k, wp, tp in zip(tests.n_speakers, tests.n_differ, tests.wilcoxon_p, tests.t_p):
        (d,) = st.decide([(int(n), int(k), float(wp), float(tp))], alpha=ALPHA)
        out.append((d.verdict, d.test))
    return out, tests.diff


def utterance_mapsswe_p(err_b, err_c, mask) -> np.ndarray:
    """MAPSSWE with clips as segments (``stats.mapsswe``'s formula), vectorised over runs."""
    z = (err_c - err_b).astype(float)
    n = mask.sum(axis=(-1, -2))
    mean = z.sum(axis=(-1, -2)) / n
    sd = np.sqrt((((z - mean[:, None, None]) ** 2) * mask).sum(axis=(-1, -2)) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        w = mean / (sd / np.sqrt(n))
    return np.where(mean == 0, 1.0, 2 * sps.norm.sf(np.abs(np.nan_to_num(w))))


def not_above_nominal(claims: int, runs: int) -> bool:
    """False only when ``claims`` of ``runs`` is significantly above ALPHA (one-sided binomial, p < 0.001)."""
    return sps.binom.sf(claims - 1, runs, ALPHA) > 1e-3


@pytest.mark.parametrize("speakers", SIZES)
def test_no_true_difference_is_claimed_at_most_at_the_nominal_rate(speakers: int) -> None:
    rng = np.random.default_rng(1000 + speakers)
    err_b, err_c, words, mask = simulate(rng, NULL_RUNS, speakers)
    out, _ = verdicts(err_b, err_c, words)
    claims = sum(v == st.SIGNIFICANT for v, _ in out)
    if speakers < st.MIN_SPEAKERS:
        assert all(v == st.TOO_FEW_SPEAKERS and t is None for v, t in out)
        return
    assert not any(v == st.TOO_FEW_SPEAKERS for v, _ in out)
    assert not_above_nominal(claims, NULL_RUNS), f"{speakers} speakers: {claims}/{NULL_RUNS} false claims"
    # Whichever test decided, it held the rate on its own runs too.
    for test in (st.WILCOXON, st.SPEAKER_T):
        mine = [v for v, t in out if t == test]
        if len(mine) >= 100:
            assert not_above_nominal(sum(v == st.SIGNIFICANT for v in mine), len(mine)), (speakers, test)
    if speakers <= 5:
        assert all(t == st.SPEAKER_T for _, t in out)  # the Wilcoxon test cannot reach 0.05 here
    if speakers >= 12:
        assert sum(t == st.WILCOXON for _, t in out) > 0.9 * NULL_RUNS


def test_a_family_of_groups_claims_any_difference_at_most_at_the_nominal_rate() -> None:
    """Per-group rows are one Holm family: 2, 3, 6, 12 and 40 speakers in one run, none truly different.

    In a family the Wilcoxon test needs more changed speakers to be chosen
    (its smallest p must pass alpha / 4), so the 6- and 12-speaker groups are
    often decided by the t-test here: the mixture must hold the rate too.
    """
    rng = np.random.default_rng(4000)
    tests = []
    for speakers in SIZES:
        err_b, err_c, words, _ = simulate(rng, NULL_RUNS, speakers)
        tests.append(st.speaker_tests(err_b.sum(-1), err_c.sum(-1), words.sum(-1), words.sum(-1)))
    any_claim, deciders = 0, set()
    for i in range(NULL_RUNS):
        ds = st.decide([(int(t.n_speakers[i]), int(t.n_differ[i]), float(t.wilcoxon_p[i]), float(t.t_p[i]))
                        for t in tests], alpha=ALPHA)
        assert ds[0].verdict == st.TOO_FEW_SPEAKERS and all(d.family == len(SIZES) - 1 for d in ds)
        any_claim += any(d.verdict == st.SIGNIFICANT for d in ds)
        deciders |= {(SIZES[j], d.test) for j, d in enumerate(ds)}
    assert not_above_nominal(any_claim, NULL_RUNS), f"{any_claim}/{NULL_RUNS} runs with a false claim"
    assert {(6, st.SPEAKER_T), (12, st.WILCOXON), (40, st.WILCOXON)} <= deciders


def test_clip_level_mapsswe_would_overstate_which_is_why_it_never_decides() -> None:
    """When speakers react differently, MAPSSWE over clips sees a difference that is not there.

    Its segments are independent only if speakers all react alike; the same
    null runs that the speaker-level tests keep at 5 % give MAPSSWE about three
    times that, with few speakers and many alike.
    """
    for speakers in (3, 12, 40):
        rng = np.random.default_rng(2000 + speakers)
        err_b, err_c, words, mask = simulate(rng, NULL_RUNS, speakers)
        rate = float(np.mean(utterance_mapsswe_p(err_b, err_c, mask) < ALPHA))
        assert rate > 0.08, (speakers, rate)
    # With no speaker-specific reaction its segments are exchangeable and it holds the rate.
    rng = np.random.default_rng(2100)
    err_b, err_c, words, mask = simulate(rng, NULL_RUNS, 12, spread=0.0)
    assert not_above_nominal(int(np.sum(utterance_mapsswe_p(err_b, err_c, mask) < ALPHA)), NULL_RUNS)


def test_mapsswe_rate_matches_the_report_function() -> None:
    """The vectorised MAPSSWE above is ``stats.mapsswe`` on the clips of one run."""
    rng = np.random.default_rng(7)
    err_b, err_c, words, mask = simulate(rng, 5, 6)
    vec = utterance_mapsswe_p(err_b, err_c, mask)
    for i in range(5):
        m = mask[i]
        _, p = st.mapsswe(err_c[i][m], err_b[i][m])
        assert p == pytest.approx(vec[i])


@pytest.mark.parametrize("speakers", (12, 40))
def test_a_large_true_difference_is_found(speakers: int) -> None:
    """Biasing that halves the odds of an error (15 % -> about 8 % WER) for every speaker, give or take."""
    rng = np.random.default_rng(3000 + speakers)
    err_b, err_c, words, _ = simulate(rng, POWER_RUNS, speakers, shift=-0.7)
    out, diff = verdicts(err_b, err_c, words)
    found = sum(v == st.SIGNIFICANT and d < 0 for (v, _), d in zip(out, diff))
    wrong_way = sum(v == st.SIGNIFICANT and d > 0 for (v, _), d in zip(out, diff))
    assert found >= 0.8 * POWER_RUNS, f"{speakers} speakers: found {found}/{POWER_RUNS}"
    assert wrong_way == 0


def test_speaker_tests_are_the_ones_paired_compare_reports() -> None:
    """One simulated run through ``paired_compare`` (the report's path) gives the same p-values."""
    rng = np.random.default_rng(11)
    err_b, err_c, words, mask = simulate(rng, 1, 5)
    r = st.paired_compare(*_records(err_b, err_c, words, mask, 0), n_boot=50, metrics=("wer",))["wer"]
    t = st.speaker_tests(err_b.sum(-1), err_c.sum(-1), words.sum(-1), words.sum(-1))
    assert r.wilcoxon_p == pytest.approx(float(t.wilcoxon_p[0]))
    assert r.speaker_t_p == pytest.approx(float(t.t_p[0]))
    assert (r.n_speakers, r.n_differ, r.speaker_t_df) == (5, int(t.n_differ[0]), 4)
    assert r.diff == pytest.approx(float(t.diff[0]))


def _records(err_b, err_c, words, mask, run: int) -> tuple[list[dict], list[dict]]:
    base, cond = [], []
    for s in range(err_b.shape[1]):
        for u in np.flatnonzero(mask[run, s]):
            for recs, err in ((base, err_b), (cond, err_c)):
                e, w = int(err[run, s, u]), int(words[run, s, u])
                recs.append({"speaker": f"s{s}", "utt_id": f"s{s}-{u}", "ref_words": w, "subs": e, "hits": w - e})
    return base, cond


@pytest.mark.slow  # a bootstrap per run: several seconds
@pytest.mark.parametrize("speakers", (12, 40))
def test_the_whole_report_path_finds_a_large_difference(speakers: int) -> None:
    """``paired_compare`` (interval and tests) then ``decide`` with the interval, as the report runs them."""
    rng = np.random.default_rng(5000 + speakers)
    runs = 60
    err_b, err_c, words, mask = simulate(rng, runs, speakers, shift=-0.7)
    found = 0
    for i in range(runs):
        r = st.paired_compare(*_records(err_b, err_c, words, mask, i), n_boot=300, seed=i, metrics=("wer",))["wer"]
        (d,) = st.decide([(r.n_speakers, r.n_differ, r.wilcoxon_p, r.speaker_t_p)],
                         interval_excludes_zero=[r.low > 0 or r.high < 0])
        found += d.verdict == st.SIGNIFICANT and r.diff < 0
    assert found >= 0.8 * runs, f"{speakers} speakers: found {found}/{runs}"
