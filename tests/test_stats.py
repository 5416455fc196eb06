"""asr_eval.stats on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats as sps

from asr_eval import stats as st


def rec(spk: str, utt: str, words: int, subs: int = 0, dels: int = 0, ins: int = 0, **kw) -> dict:
    return {"speaker": spk, "utt_id": utt, "ref_words": words, "subs": subs, "dels": dels, "ins": ins,
            "hits": words - subs - dels, **kw}


# Three speakers, hand-summed: errors 2+1 | 0+3 | 4 = 10, words 10+10 | 20+10 | 50 = 100.
TABLE = [
    rec("a", "a1", 10, subs=1, dels=1), rec("a", "a2", 10, ins=1),
    rec("b", "b1", 20), rec("b", "b2", 10, subs=3),
    rec("c", "c1", 50, subs=2, dels=1, ins=1, term_refs=4, term_hits=3, term_false_ins=1, term_display_exact=2),
]


def test_summary_is_ratio_of_sums_with_counts() -> None:
    g = st.summarize(TABLE, n_boot=500, seed=1)
    assert (g.clips, g.speakers, g.words) == (5, 3, 100)
    assert g.metrics["wer"].value == pytest.approx(10 / 100)
    assert (g.metrics["wer"].num, g.metrics["wer"].den) == (10, 100)
    assert g.metrics["sub_rate"].value == pytest.approx(6 / 100)
    assert g.metrics["del_rate"].value == pytest.approx(2 / 100)
    assert g.metrics["ins_rate"].value == pytest.approx(2 / 100)
    assert g.metrics["term_recall"].value == pytest.approx(3 / 4)
    assert g.metrics["term_precision"].value == pytest.approx(3 / 4)
    # F1 = 2PR/(P+R) with P = R = 3/4.
    assert g.metrics["term_f1"].value == pytest.approx(0.75)
    assert g.metrics["false_ins_per_100"].value == pytest.approx(100 * 1 / 5)
    assert g.metrics["display_accuracy"].value == pytest.approx(2 / 4)
    e = g.metrics["wer"]
    assert e.low <= e.value <= e.high
    assert not g.small or "words" in g.small_reason


def test_interval_never_leaves_the_bootstrap_range() -> None:
    g = st.summarize(TABLE, n_boot=500, seed=1)
    per_speaker = [3 / 20, 3 / 30, 4 / 50]
    e = g.metrics["wer"]
    # A resample of speakers can never give a WER outside the speakers' own range.
    assert min(per_speaker) - 1e-12 <= e.low and e.high <= max(per_speaker) + 1e-12


def test_single_speaker_has_no_interval_and_is_flagged() -> None:
    g = st.summarize([rec("a", "1", 200, subs=20)], n_boot=100)
    assert g.metrics["wer"].value == pytest.approx(0.1)
    assert math.isnan(g.metrics["wer"].low) and math.isnan(g.metrics["wer"].high)
    assert g.small and "1 speaker" in g.small_reason


def test_small_flags() -> None:
    assert st.summarize(TABLE[:2], n_boot=50).small  # one speaker, 20 words
    big = [rec(s, f"{s}{i}", 40, subs=i % 3) for s in "abc" for i in range(3)]
    assert not st.summarize(big, n_boot=50).small


def test_holm_hand_computed() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04)
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adj = st.holm([0.5, math.nan, 0.01])
    assert adj[0] == pytest.approx(0.5) and math.isnan(adj[1]) and adj[2] == pytest.approx(0.02)


def test_mapsswe_hand_computed() -> None:
    # z = [1, 0, 2, 0]: mean 0.75, sd sqrt(2.75 / 3), W = 0.75 / (sd / 2)
    w, p = st.mapsswe([2, 1, 3, 0], [1, 1, 1, 0])
    sd = math.sqrt(2.75 / 3)
    assert w == pytest.approx(0.75 / (sd / 2))
    assert p == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(w / math.sqrt(2)))))
    assert st.mapsswe([1, 2], [1, 2]) == (0.0, 1.0)


def test_sign_and_wilcoxon_hand_computed() -> None:
    # 5 positive, 1 negative, 1 tie (dropped): two-sided binomial p = 2 * (1 + 6) / 64
    assert st.sign_test([1, 1, 1, 1, 1, -1, 0]) == pytest.approx(14 / 64)
    # All five differences positive: exact two-sided Wilcoxon p = 2 / 2**5
    assert st.wilcoxon_test([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    assert st.min_wilcoxon_p(5) == pytest.approx(2 / 32)
    assert st.wilcoxon_test([0, 0]) == 1.0


def _two_conditions(seed: int = 0, n_spk: int = 12, better: float = 0.5):
    rng = np.random.default_rng(seed)
    base, cond = [], []
    for s in range(n_spk):
        p = rng.uniform(0.1, 0.4)
        for u in range(5):
            n = int(rng.integers(8, 15))
            e_b = int(rng.binomial(n, p))
            e_c = int(rng.binomial(e_b, better))  # biased fixes about half the errors
            base.append(rec(f"s{s}", f"s{s}-{u}", n, subs=e_b, term_refs=1, term_hits=int(e_b == 0)))
            cond.append(rec(f"s{s}", f"s{s}-{u}", n, subs=e_c, term_refs=1, term_hits=int(e_c == 0)))
    return base, cond


def test_paired_difference_and_tests() -> None:
    base, cond = _two_conditions()
    res = st.paired_compare(base, cond, n_boot=500, seed=2)
    wer = res["wer"]
    b = sum(r["subs"] for r in base) / sum(r["ref_words"] for r in base)
    c = sum(r["subs"] for r in cond) / sum(r["ref_words"] for r in cond)
    assert (wer.base, wer.cond, wer.diff) == pytest.approx((b, c, c - b))
    assert wer.low <= wer.diff <= wer.high < 0
    assert (wer.n_speakers, wer.n_segments) == (12, 60)
    assert wer.wilcoxon_p < 0.01 and wer.sign_p < 0.01 and wer.mapsswe_p < 0.001
    # The speaker test equals scipy's on per-speaker WER differences.
    spk = sorted({r["speaker"] for r in base})
    d = []
    for s in spk:
        bw = sum(r["subs"] for r in base if r["speaker"] == s) / sum(r["ref_words"] for r in base if r["speaker"] == s)
        cw = sum(r["subs"] for r in cond if r["speaker"] == s) / sum(r["ref_words"] for r in cond if r["speaker"] == s)
        d.append(cw - bw)
    assert wer.wilcoxon_p == pytest.approx(sps.wilcoxon(d).pvalue)


def test_pairing_uses_only_shared_clips_and_identical_conditions_give_zero() -> None:
    base, _ = _two_conditions()
    res = st.paired_compare(base, base[:-5], n_boot=200)
    w = res["wer"]
    assert w.diff == 0 and w.low == 0 and w.high == 0 and w.wilcoxon_p == 1.0 and w.mapsswe_p == 1.0
    assert w.n_segments == len(base) - 5


def test_paired_interval_is_narrower_than_unpaired() -> None:
    base, cond = _two_conditions(seed=5, better=0.8)
    paired = st.paired_compare(base, cond, n_boot=1000, seed=0)["wer"]
    gb = st.summarize(base, n_boot=1000, seed=0).metrics["wer"]
    gc = st.summarize(cond, n_boot=1000, seed=1).metrics["wer"]
    unpaired_half = math.hypot(gb.high - gb.low, gc.high - gc.low) / 2
    assert (paired.high - paired.low) / 2 < unpaired_half


def test_gap_holds_best_and_worst_fixed() -> None:
    groups = {
        "easy": [rec(f"e{s}", f"e{s}{u}", 20, subs=1 + (s + u) % 2) for s in range(5) for u in range(3)],
        "hard": [rec(f"h{s}", f"h{s}{u}", 20, subs=6 + (s + u) % 3) for s in range(5) for u in range(3)],
        "mid": [rec(f"m{s}", f"m{s}{u}", 20, subs=3 + (s * u) % 2) for s in range(5) for u in range(3)],
    }
    gap = st.group_gap(groups, n_boot=500)
    wer = {g: sum(r["subs"] for r in rs) / sum(r["ref_words"] for r in rs) for g, rs in groups.items()}
    assert (gap.best, gap.worst) == ("easy", "hard")
    assert gap.diff.value == pytest.approx(wer["hard"] - wer["easy"])
    assert gap.ratio.value == pytest.approx(wer["hard"] / wer["easy"])
    assert 0 < gap.diff.low <= gap.diff.value <= gap.diff.high
    assert st.group_gap({"only": groups["easy"]}) is None


def test_gain_correlation_sign() -> None:
    # Groups that start worse gain more: correlation of gain with baseline WER is positive.
    pairs = {}
    for gi, p in enumerate([5, 8, 11, 14]):
        b = [rec(f"g{gi}s{s}", f"g{gi}s{s}u{u}", 40, subs=p + (s + u) % 3) for s in range(6) for u in range(2)]
        c = [rec(f"g{gi}s{s}", f"g{gi}s{s}u{u}", 40, subs=max(0, 3 + (s + u) % 3)) for s in range(6) for u in range(2)]
        pairs[f"g{gi}"] = (b, c)
    corr = st.gain_correlation(pairs, n_boot=300)
    assert corr.n_groups == 4 and corr.r > 0.9 and corr.low > 0


def test_same_seed_same_interval_and_order_does_not_matter() -> None:
    a = st.summarize(TABLE, n_boot=300, seed=7).metrics["wer"]
    b = st.summarize(TABLE, n_boot=300, seed=7).metrics["wer"]
    assert a == b
    assert st.stable_seed(0, "x", "y") == st.stable_seed(0, "x", "y") != st.stable_seed(0, "y", "x")


@settings(max_examples=40, deadline=None)
@given(hs.lists(hs.tuples(hs.sampled_from("abcd"), hs.integers(1, 30), hs.integers(0, 10), hs.integers(0, 5)),
                min_size=1, max_size=20), hs.randoms(use_true_random=False))
def test_point_estimate_is_order_free_ratio_of_sums(rows, rnd) -> None:
    recs = [rec(s, str(i), w, subs=min(e, w), ins=k) for i, (s, w, e, k) in enumerate(rows)]
    shuffled = list(recs)
    rnd.shuffle(shuffled)
    v1 = st.summarize(recs, n_boot=20).metrics["wer"].value
    v2 = st.summarize(shuffled, n_boot=20).metrics["wer"].value
    expect = sum(r["subs"] + r["ins"] for r in recs) / sum(r["ref_words"] for r in recs)
    assert v1 == pytest.approx(expect) and v2 == pytest.approx(expect)


def test_stratified_resampling_keeps_group_sizes_and_narrows_pooled_interval() -> None:
    rng = np.random.default_rng(0)
    w = st.bootstrap_weights(5, 200, rng, [np.array([0, 1]), np.array([2, 3, 4])])
    assert np.all(w[:, :2].sum(axis=1) == 2) and np.all(w[:, 2:].sum(axis=1) == 3)
    # Two groups far apart: pooling them unstratified lets a draw take more speakers of one
    # group, which the design never allows; stratified intervals are narrower.
    recs = [rec(f"{g}{s}", f"{g}{s}{u}", 30, subs=(2 if g == "a" else 12) + (s + u) % 3)
            for g in "ab" for s in range(6) for u in range(2)]
    strata = {r["speaker"]: r["speaker"][0] for r in recs}
    plain = st.summarize(recs, n_boot=1000, seed=1, metrics=("wer",)).metrics["wer"]
    strat = st.summarize(recs, n_boot=1000, seed=1, metrics=("wer",), strata=strata).metrics["wer"]
    assert plain.value == strat.value
    assert strat.high - strat.low < 0.6 * (plain.high - plain.low)


def test_exact_wilcoxon_with_ties_matches_scipy() -> None:
    untied = np.array([0.3, -0.1, 0.25, 0.4, 0.05, -0.2, 0.35])
    assert st._wilcoxon_sign_flips(untied) == pytest.approx(sps.wilcoxon(untied, method="exact").pvalue)
    tied = np.array([0.1, 0.1, -0.1, 0.2, 0.2, 0.3, 0.05, 0.1])
    # scipy's permutation test enumerates every sign pattern when there are fewer than 9999.
    assert st.wilcoxon_test(tied) == pytest.approx(sps.wilcoxon(tied, method="auto").pvalue)


def test_mapsswe_segments_hand_traced() -> None:
    # Two runs of errors in a, separated by two words both got right: two segments.
    a = ["C", "C", "S", "C", "C", "C", "D", "C"]
    b = ["C"] * 8
    assert st.mapsswe_segments(a, b) == [(1, 0), (1, 0)]
    # Errors separated by a single shared correct word stay in one segment.
    assert st.mapsswe_segments(["S", "C", "S"], ["C", "C", "C"]) == [(2, 0)]
    # An insertion opens a segment too; segments where neither erred are dropped.
    assert st.mapsswe_segments(["C", "I", "C", "C", "C"], ["C", "C", "C", "C"]) == [(1, 0)]
    assert st.mapsswe_segments(["C", "C"], ["C", "C"]) == []
    assert st.mapsswe_segments([], ["I", "I"]) == [(0, 2)]


def test_speaker_t_with_equal_speakers_is_the_one_sample_t_test() -> None:
    """Equal words per speaker: the CR2 speaker-level t-test is scipy's t-test on per-speaker differences."""
    rng = np.random.default_rng(4)
    words = np.full(7, 50.0)
    base, cond = rng.integers(3, 15, 7).astype(float), rng.integers(3, 15, 7).astype(float)
    t = st.speaker_tests(base, cond, words, words)
    ref = sps.ttest_1samp((cond - base) / words, 0.0)
    assert float(t.t_p) == pytest.approx(ref.pvalue) and int(t.t_df) == 6
    assert float(t.diff) == pytest.approx((cond.sum() - base.sum()) / words.sum())
    assert float(t.wilcoxon_p) == pytest.approx(st.wilcoxon_test((cond - base) / words))
    same = st.speaker_tests(base, base, words, words)
    assert float(same.t_p) == 1.0 and float(same.wilcoxon_p) == 1.0 and int(same.n_differ) == 0


def test_wilcoxon_rows_match_the_scalar_test() -> None:
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(200, 9)), 1)  # rounding makes ties; zeros and NaN (no data) too
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:5] = 0.0
    rows = st.wilcoxon_rows(x)
    for r, p in zip(x, rows):
        assert p == pytest.approx(st.wilcoxon_test(r[~np.isnan(r)]))


def test_decision_rule() -> None:
    assert st.deciding_test(2, 2) is None
    assert st.deciding_test(3, 3) == st.SPEAKER_T
    assert st.deciding_test(12, 5) == st.SPEAKER_T  # 5 changed speakers: Wilcoxon's p cannot go below 0.0625
    assert st.deciding_test(6, 6) == st.WILCOXON
    # In a Holm family of 5 the first step needs p < 0.01: 2/2**6 cannot, 2/2**8 can.
    assert st.deciding_test(6, 6, family=5) == st.SPEAKER_T and st.deciding_test(8, 8, family=5) == st.WILCOXON
    d = st.decide([(2, 2, 0.5, 0.001), (8, 8, 0.01, 0.9), (4, 4, 0.9, 0.02), (12, 12, math.nan, math.nan)])
    # Each row is decided by its own test's p, never by the other test's (0.9) or by a test it did not get (0.001).
    assert [x.verdict for x in d] == [st.TOO_FEW_SPEAKERS, st.SIGNIFICANT, st.SIGNIFICANT, st.NOT_SIGNIFICANT]
    assert [x.test for x in d] == [None, st.WILCOXON, st.SPEAKER_T, st.WILCOXON]
    # Holm over the three tested rows only: 0.01 * 3, 0.02 * 2, 1.0.
    assert [x.family for x in d] == [3, 3, 3, 3] and d[0].wilcoxon_needs == 7
    assert d[1].p_holm == pytest.approx(0.03) and d[2].p_holm == pytest.approx(0.04)
    assert math.isnan(d[0].p) and d[3].p == 1.0
    assert st.decide([(8, 8, 0.03, 0.01), (8, 8, 0.03, 0.01)])[0].verdict == st.NOT_SIGNIFICANT  # 0.06 after Holm
    # An interval of the pooled difference that includes zero takes a claim back; it never makes one.
    v = st.decide([(12, 12, 0.001, 0.5), (12, 12, 0.001, 0.5), (12, 12, 0.5, 0.001)],
                  interval_excludes_zero=[False, None, True])
    assert [(x.verdict, x.vetoed_by_interval) for x in v] == [
        (st.NOT_SIGNIFICANT, True), (st.SIGNIFICANT, False), (st.NOT_SIGNIFICANT, False)]


def test_mapsswe_from_moments_equals_the_array_form() -> None:
    """A streaming report keeps (count, sum, sum of squares) per group; the test it gives is the array's."""
    from asr_eval.stats import ZMoments, mapsswe_z

    rng = np.random.default_rng(3)
    for z in (rng.integers(-4, 3, 500), rng.integers(-1, 2, 7), np.array([0, 0, 1]), np.array([2, 2, 2]),
              np.zeros(5), rng.normal(size=50)):
        m = ZMoments()
        for v in z.tolist():
            m = m.add(v)
        assert len(m) == z.size and m == ZMoments.of(z) or not float(z[0]).is_integer()
        w, p = mapsswe_z(m)
        sd = z.std(ddof=1)
        if not np.any(z):
            assert (w, p) == (0.0, 1.0)
        elif sd == 0:
            assert w == math.inf and p == 0.0
        else:
            want = z.mean() / (sd / math.sqrt(z.size))
            assert w == pytest.approx(want, rel=1e-12) and mapsswe_z(z.astype(float)) == pytest.approx((w, p), rel=1e-12)
