"""Paired comparisons of two conditions on the same clips, and sc_stats-style tests.

``paired_compare`` gives, per metric, condition minus baseline with a paired
speaker-bootstrap interval (studentized, as in ``bootstrap``), Wilcoxon
signed-rank, sign and paired t-tests over speakers, and NIST sc_stats'
matched-pairs (MAPSSWE) test over segments; ``holm`` adjusts a family of
p-values; ``decide`` turns a family of comparisons into verdicts.

Which test decides, and why (``decide``): the speaker is the independent unit,
so only a speaker-level test may decide. Fewer than ``MIN_SPEAKERS`` speakers:
no verdict at all. Otherwise the Wilcoxon signed-rank test over speakers, when
enough speakers differ for it to pass the Holm correction at all (its smallest
p is 2/2**n: 6 changed speakers for one comparison, 8 for five); with fewer,
the paired t-test over speakers (``speaker_t_test``), which can.
MAPSSWE is reported for sclite users but never decides: it treats segments of
one speaker as independent, and when speakers respond differently to a
condition it claims a difference where there is none (about 15 % of null runs
at alpha 0.05 in tests/test_verdicts_sim.py, with 3 to 40 speakers alike).

Pure: no files, no pandas. ``paired_compare_counts`` works on compact arrays
(``PairedCounts``: per-speaker sums of both conditions and, per metric, each
clip's error difference); ``paired_compare`` builds them from per-utterance
count records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _sps

from ..counts import FIELDS
from .bootstrap import (
    MIN_SPEAKERS,
    _clip,
    _pair_records,
    _ratio,
    _ratio_boot,
    _se,
    _strata_index,
    bootstrap_weights,
    record_vector,
    speaker_matrix,
    studentized_interval,
)
from .metrics import METRICS, PAIRED_METRICS


@dataclass(frozen=True)
class PairedResult:
    """Condition minus baseline for one metric on the same clips."""

    metric: str
    base: float
    cond: float
    diff: float
    low: float
    high: float
    n_speakers: int
    n_segments: int
    wilcoxon_p: float
    sign_p: float
    mapsswe_p: float
    mapsswe_w: float
    min_wilcoxon_p: float  # the smallest p the speaker test could give with this many speakers
    n_differ: int = 0  # speakers whose rate differs between the conditions (the rank tests use only these)
    n_clips: int = 0
    mapsswe_unit: str = "utterances"
    speaker_t_p: float = math.nan  # paired t-test over speakers (``speaker_t_test``)
    speaker_t_df: int = 0



# --------------------------------------------------------------------------- tests


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out.tolist()
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out.tolist()


def mapsswe(errors_a: Sequence[float], errors_b: Sequence[float]) -> tuple[float, float]:
    """NIST sc_stats' matched-pairs (MAPSSWE) test with utterances as the segments.

    Z_i = errors_a[i] - errors_b[i]; W = mean(Z) / (sd(Z) / sqrt(n)) is compared
    with a standard normal (two-sided). sclite cuts utterances further into
    segments bounded by words both systems got right; with short clips an
    utterance is already such a segment. Assumes segments are independent,
    which clips of one speaker are not: the speaker-level tests are the
    conservative companions. Returns (W, p); p is 1.0 when nothing differs.
    """
    return mapsswe_z(np.asarray(errors_a, dtype=float) - np.asarray(errors_b, dtype=float))


@dataclass(frozen=True)
class ZMoments:
    """Count, sum and sum of squares of per-segment differences: all MAPSSWE needs, in constant memory.

    A streaming report keeps one per group instead of one number per clip, so
    the test costs nothing per clip however big the set. Sums of integer
    differences are kept as Python integers, so they are exact.
    """

    n: int = 0
    total: int | float = 0
    total_sq: int | float = 0

    def __len__(self) -> int:
        return self.n

    def add(self, z: int | float) -> "ZMoments":
        return ZMoments(self.n + 1, self.total + z, self.total_sq + z * z)

    @staticmethod
    def of(z: Any) -> "ZMoments":
        """The moments of an array of differences (exact when its values are whole numbers)."""
        if isinstance(z, ZMoments):
            return z
        a = np.asarray(z, dtype=float).ravel()
        if a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            if np.abs(a).max() < 2**20 and a.size < 2**20:  # int64 sums cannot overflow
                ints = a.astype(np.int64)
                return ZMoments(int(a.size), int(ints.sum()), int(np.dot(ints, ints)))
            vals = [int(v) for v in a.tolist()]
            return ZMoments(len(vals), sum(vals), sum(v * v for v in vals))
        return ZMoments(int(a.size), float(a.sum()), float((a * a).sum()))


def mapsswe_z(z: Any) -> tuple[float, float]:
    """``mapsswe`` from the per-segment differences ``errors_a - errors_b`` (an array, or their ``ZMoments``)."""
    m = ZMoments.of(z)
    n = m.n
    if n < 2 or not m.total_sq:
        return (0.0, 1.0)
    var_num = n * m.total_sq - m.total * m.total  # n(n-1) x the sample variance; exact for whole differences
    if var_num <= 0:
        return (math.copysign(math.inf, m.total), 0.0)
    sd = math.sqrt(var_num / (n * (n - 1)))
    w = (m.total / n) / (sd / math.sqrt(n))
    return (float(w), float(2 * _sps.norm.sf(abs(w))))


def mapsswe_segments(ops_a: Sequence[str], ops_b: Sequence[str], min_good: int = 2) -> list[tuple[int, int]]:
    """Cut one utterance into sc_stats' MAPSSWE segments; (errors of a, errors of b) per segment.

    ``ops_a``/``ops_b``: the C/S/D/I operations of two systems' alignments
    against the same reference. A port of sc_stats' state machine (NIST SCTK's
    ``src/matched_pairs.c``, ``test_comp_sents``; not part of this repository,
    tests/test_stats_sclite.py compares with the installed sc_stats): a segment ends once ``min_good``
    consecutive reference words are correct in both systems; the boundary words
    belong to the segments on both sides; segments where neither system erred
    are dropped. sclite re-synchronises the two reference strings when
    alternations make them differ; here both align to one reference, so they
    are always in step once insertions are skipped.
    """
    n1, n2 = len(ops_a), len(ops_b)
    out: list[tuple[int, int]] = []

    def count(beg1: int, beg2: int, end1: int, end2: int) -> None:
        e1 = sum(op != "C" for op in ops_a[max(beg1, 0):end1 + 1])
        e2 = sum(op != "C" for op in ops_b[max(beg2, 0):end2 + 1])
        if e1 or e2:
            out.append((e1, e2))

    i1 = i2 = eog1 = eog2 = 0
    state, num_good = "b", 0
    while i1 < n1:
        while i1 < n1 and ops_a[i1] == "I":
            i1, state = i1 + 1, "e"
        while i2 < n2 and ops_b[i2] == "I":
            i2, state = i2 + 1, "e"
        both = i1 < n1 and ops_a[i1] == "C" and i2 < n2 and ops_b[i2] == "C"
        if state == "b":
            if both:
                eog1, eog2 = i1, i2
            else:
                state = "e"
        elif both:  # state 'e' or 'g': count correct words up to min_good
            num_good = 1 if state == "e" else num_good + 1
            if num_good == min_good:
                count(eog1 - (min_good - 1), eog2 - (min_good - 1), i1, i2)
                eog1, eog2, state = i1, i2, "b"
            else:
                state = "g"
        else:
            state = "e"
        if i1 < n1:
            i1 += 1
        if i2 < n2:
            i2 += 1
    if state != "b" or n2 > i2:
        count(eog1 - (min_good - 1), eog2 - (min_good - 1), n1 - 1, n2 - 1)
    return out


def sign_test(diffs: Sequence[float]) -> float:
    """Two-sided sign test over non-zero differences (scipy's exact binomial test)."""
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    pos, neg = int(np.sum(d > 0)), int(np.sum(d < 0))
    if pos + neg == 0:
        return 1.0
    return float(_sps.binomtest(pos, pos + neg, 0.5).pvalue)


def wilcoxon_test(diffs: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank over speakers; 1.0 when every difference is zero."""
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0 or not np.any(d):
        return 1.0
    nz = d[d != 0]
    ties = np.unique(np.abs(nz)).size < nz.size
    if not ties and nz.size <= 50:
        method = "exact"
    elif nz.size <= EXACT_SIGN_FLIPS_MAX_N:
        return _wilcoxon_sign_flips(nz)
    else:
        method = "approx"  # normal approximation with tie correction
    return float(_sps.wilcoxon(d, zero_method="wilcox", method=method).pvalue)


EXACT_SIGN_FLIPS_MAX_N = 14


def _wilcoxon_sign_flips(nz: np.ndarray) -> float:
    """Exact two-sided Wilcoxon p with tied |differences| (mid-ranks), by enumerating all 2**n signs.

    scipy answers ties with a randomised permutation test that costs ~0.3 s a
    call; with at most 2**14 sign patterns full enumeration is exact and fast.
    """
    ranks = _sps.rankdata(np.abs(nz))
    n = nz.size
    signs = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
    t_all = signs @ ranks  # sum of ranks given a '+' sign, for every pattern
    t_obs = float(ranks[nz > 0].sum())
    centre = ranks.sum() / 2
    return float(np.mean(np.abs(t_all - centre) >= abs(t_obs - centre) - 1e-9))


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided exact Wilcoxon p with ``n`` non-zero pairs: 2 / 2**n."""
    return min(1.0, 2.0 / (2**n)) if n > 0 else 1.0


def wilcoxon_rows(diffs: np.ndarray) -> np.ndarray:
    """``wilcoxon_test`` for each row of a 2-D array (NaN = no data), exact rows in one scipy call per size.

    The verdict simulation runs thousands of groups; rows without tied
    |differences| (the usual case for rates) share scipy's vectorised exact
    test, the rest go through ``wilcoxon_test`` one by one. Same p-values.
    """
    d = np.atleast_2d(np.asarray(diffs, dtype=float))
    out = np.ones(d.shape[0])
    nz = ~np.isnan(d) & (d != 0)
    k = nz.sum(axis=1)
    fast: dict[int, list[int]] = {}
    for i in range(d.shape[0]):
        if k[i] == 0:
            continue
        vals = d[i, nz[i]]
        if k[i] <= 50 and np.unique(np.abs(vals)).size == k[i]:
            fast.setdefault(int(k[i]), []).append(i)
        else:
            out[i] = wilcoxon_test(vals)
    for n, rows in fast.items():
        x = np.vstack([d[i, nz[i]] for i in rows])
        out[rows] = _sps.wilcoxon(x, axis=1, zero_method="wilcox", method="exact").pvalue
    return out


def speaker_t_test(diff: np.ndarray, infl: np.ndarray, leverage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p of a paired difference of pooled rates over its speaker-level standard error, t with G - 1 df.

    ``infl`` (..., speakers): each speaker's influence on the difference, the
    same linearisation the paired interval uses (it sums to zero);
    ``leverage``: each speaker's share of the denominator (words for WER).
    The variance is the cluster-robust one with the CR2 (Bell-McCaffrey)
    small-sample correction, sum infl**2 / (1 - leverage): with equal speakers
    it is exactly the one-sample t-test on per-speaker differences, and unlike
    MAPSSWE it stays at the nominal rate when speakers respond differently to
    a condition, because each speaker counts once. G counts the speakers with
    data; fewer than two give NaN. Returns (p, degrees of freedom).
    """
    diff = np.asarray(diff, dtype=float)
    infl = np.asarray(infl, dtype=float)
    lev = np.asarray(leverage, dtype=float)
    has = lev > 0
    g = has.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(has, np.nan_to_num(infl) ** 2 / np.where(lev < 1, 1 - lev, np.nan), 0.0).sum(axis=-1)
        t = np.abs(diff) / np.sqrt(var)
    df = g - 1
    p = np.where(df >= 1, 2 * _sps.t.sf(t, np.maximum(df, 1)), np.nan)
    p = np.where((df >= 1) & (var == 0) & (diff != 0), 0.0, p)  # every speaker moved by exactly the same rate
    p = np.where((df >= 1) & (diff == 0), 1.0, p)
    p = np.where(np.isnan(diff), np.nan, p)
    return p, df


@dataclass(frozen=True)
class SpeakerTests:
    """The speaker-level tests of ``cond`` minus ``base`` (arrays over any leading axes)."""

    diff: np.ndarray
    speaker_diffs: np.ndarray  # per-speaker rate differences, NaN where a speaker has no data
    wilcoxon_p: np.ndarray
    t_p: np.ndarray
    t_df: np.ndarray
    n_speakers: np.ndarray  # speakers with data for the metric
    n_differ: np.ndarray  # of those, speakers whose rate differs (the rank tests use only these)


def speaker_tests(base_num: np.ndarray, cond_num: np.ndarray, base_den: np.ndarray,
                  cond_den: np.ndarray) -> SpeakerTests:
    """Wilcoxon and paired t over speakers from per-speaker sums, shape (..., speakers).

    One function for the report (one comparison, 1-D) and the verdict
    simulation (thousands of groups, 2-D), so the simulation tests exactly
    what the report computes.
    """
    bn, cn, bd, cd = (np.asarray(x, dtype=float) for x in (base_num, cond_num, base_den, cond_den))
    sb, sc = bd.sum(axis=-1), cd.sum(axis=-1)
    rb, rc = _ratio(bn.sum(axis=-1), sb), _ratio(cn.sum(axis=-1), sc)
    diff = rc - rb
    with np.errstate(divide="ignore", invalid="ignore"):
        infl = ((cn - np.nan_to_num(rc)[..., None] * cd) / np.where(sc > 0, sc, np.nan)[..., None]
                - (bn - np.nan_to_num(rb)[..., None] * bd) / np.where(sb > 0, sb, np.nan)[..., None])
        lev = (bd + cd) / np.where(sb + sc > 0, sb + sc, np.nan)[..., None]
    lev = np.nan_to_num(lev)
    t_p, t_df = speaker_t_test(diff, infl, lev)
    spk = _ratio(cn, cd) - _ratio(bn, bd)
    if spk.ndim == 1:
        ok = spk[~np.isnan(spk)]
        w = np.asarray(wilcoxon_test(ok) if ok.size else math.nan)
    else:
        flat = spk.reshape(-1, spk.shape[-1])
        w = wilcoxon_rows(flat).reshape(spk.shape[:-1])
        w = np.where(np.all(np.isnan(spk), axis=-1), np.nan, w)
    has = (bd > 0) | (cd > 0)
    return SpeakerTests(diff, spk, w, t_p, t_df, has.sum(axis=-1), (~np.isnan(spk) & (spk != 0)).sum(axis=-1))


# --------------------------------------------------------------------------- verdicts

SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not significant"
TOO_FEW_SPEAKERS = "too few speakers"
WILCOXON = "wilcoxon"
SPEAKER_T = "speaker_t"


def wilcoxon_min_differ(level: float) -> int:
    """Changed speakers the exact Wilcoxon test needs before its smallest p (2/2**n) is below ``level``."""
    n = 1
    while min_wilcoxon_p(n) >= level:
        n += 1
    return n


#: ``wilcoxon_min_differ(0.05)``: with fewer changed speakers a single Wilcoxon test can never say yes.
WILCOXON_MIN_DIFFER = 6


@dataclass(frozen=True)
class Decision:
    """The verdict on one comparison: which test decided, its p before and after Holm, and the family size."""

    verdict: str  # SIGNIFICANT, NOT_SIGNIFICANT or TOO_FEW_SPEAKERS
    test: str | None  # WILCOXON, SPEAKER_T, or None when too few speakers
    p: float
    p_holm: float
    family: int  # comparisons in the Holm family that got a test
    wilcoxon_needs: int = WILCOXON_MIN_DIFFER  # changed speakers the Wilcoxon test needed to be chosen here
    vetoed_by_interval: bool = False  # the test said yes, the interval of the pooled difference includes zero


def deciding_test(n_speakers: int, n_differ: int, alpha: float = 0.05, family: int = 1) -> str | None:
    """The test that decides a comparison over ``n_speakers`` speakers, ``n_differ`` of whom changed.

    None below ``MIN_SPEAKERS``: a difference between two speakers has no
    usable spread, so neither an interval nor a verdict is given. The Wilcoxon
    test when its smallest possible p can pass the first step of a Holm
    correction over ``family`` comparisons (below alpha / family: 6 changed
    speakers for one comparison, 8 for five); the paired t-test over speakers
    otherwise (it can, with 3 or more). The choice depends only on counts,
    never on which test would say yes, so each test keeps its own level.
    """
    if n_speakers < MIN_SPEAKERS:
        return None
    return WILCOXON if min_wilcoxon_p(n_differ) < alpha / max(family, 1) else SPEAKER_T


def decide(cases: Sequence[tuple[int, int, float | None, float | None]], alpha: float = 0.05,
           interval_excludes_zero: Sequence[bool | None] | None = None) -> list[Decision]:
    """Verdicts for one family of comparisons, Holm-corrected over those that got a test.

    ``cases``: (speakers, speakers whose rate differs, Wilcoxon p, paired t p)
    per comparison. A comparison with too few speakers takes no part in the
    correction; a test whose p is undefined (nothing to compare) counts as a
    test that found nothing. ``interval_excludes_zero`` (per comparison; None:
    no interval) can only take a claim back: the verdict is about the pooled
    difference the report prints, and the Wilcoxon test can say yes because
    most speakers improved a little while a few got much worse and the pooled
    rate did not move (real accent data does this: hallucinating on a prompt).
    """
    m = sum(n >= MIN_SPEAKERS for n, _, _, _ in cases)
    tests = [deciding_test(n, k, alpha, m) for n, k, _, _ in cases]
    needs = wilcoxon_min_differ(alpha / max(m, 1))
    ps = []
    for t, (_, _, wp, tp) in zip(tests, cases):
        p = None if t is None else wp if t == WILCOXON else tp
        ps.append(math.nan if t is None else (1.0 if p is None or math.isnan(p) else float(p)))
    adj = holm(ps)
    k = sum(t is not None for t in tests)
    ci = list(interval_excludes_zero) if interval_excludes_zero is not None else [None] * len(cases)
    out = []
    for t, p, a, c in zip(tests, ps, adj, ci):
        if t is None:
            out.append(Decision(TOO_FEW_SPEAKERS, None, math.nan, math.nan, k, needs))
        else:
            veto = a < alpha and c is False
            out.append(Decision(SIGNIFICANT if a < alpha and not veto else NOT_SIGNIFICANT, t, p, a, k, needs, veto))
    return out


# --------------------------------------------------------------------------- paired comparison


@dataclass(frozen=True)
class PairedCounts:
    """Two conditions on the same clips, as compact arrays.

    ``base`` and ``cond``: per-speaker count sums (speakers x ``COUNT_FIELDS``,
    rows in ``speakers`` order; each clip counted under the baseline's
    speaker). ``utt_errors``: for each metric with an error count
    (``Metric.errors``), every clip's condition errors minus baseline errors,
    in clip order, for the utterance-level MAPSSWE test. ``n_clips``: clips
    paired.
    """

    speakers: Sequence[str]
    base: np.ndarray
    cond: np.ndarray
    utt_errors: Mapping[str, np.ndarray]
    n_clips: int


def paired_counts(base: Sequence[Mapping[str, Any]], cond: Sequence[Mapping[str, Any]],
                  metrics: Iterable[str] = PAIRED_METRICS) -> PairedCounts:
    """The ``PairedCounts`` of two lists of per-utterance records (paired by ``utt_id``)."""
    b_recs, c_recs = _pair_records(base, cond)
    speakers, b_mat = speaker_matrix(b_recs)
    _, c_mat = speaker_matrix([{**c, "speaker": b["speaker"]} for b, c in zip(b_recs, c_recs)])
    b_utt = np.vstack([record_vector(r) for r in b_recs]) if b_recs else np.zeros((0, len(FIELDS)))
    c_utt = np.vstack([record_vector(r) for r in c_recs]) if c_recs else np.zeros((0, len(FIELDS)))
    errs = {name: c_utt @ METRICS[name].err_vec - b_utt @ METRICS[name].err_vec
            for name in metrics if METRICS[name].err_vec is not None}
    return PairedCounts(speakers, b_mat, c_mat, errs, len(b_recs))


def paired_compare(
    base: Sequence[Mapping[str, Any]],
    cond: Sequence[Mapping[str, Any]],
    *,
    metrics: Iterable[str] = PAIRED_METRICS,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    strata: Mapping[str, str] | None = None,
    segments: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> dict[str, PairedResult]:
    """``cond`` minus ``base`` on the clips both hold, per metric (``paired_compare_counts`` of their records).

    ``segments``: for a metric, (condition errors, baseline errors) pairs to
    run MAPSSWE over instead of whole utterances (``mapsswe_segments``).
    """
    metrics = tuple(metrics)
    seg_z = {k: np.array([c - b for c, b in v], dtype=float) for k, v in segments.items()} if segments else None
    return paired_compare_counts(paired_counts(base, cond, metrics), metrics=metrics, n_boot=n_boot, seed=seed,
                                 alpha=alpha, strata=strata, segments=seg_z)


def paired_compare_counts(
    p: PairedCounts,
    *,
    metrics: Iterable[str] = PAIRED_METRICS,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    strata: Mapping[str, str] | None = None,
    segments: Mapping[str, np.ndarray] | None = None,
) -> dict[str, PairedResult]:
    """Condition minus baseline per metric, from compact arrays.

    One set of speaker resamples serves both conditions and every metric, so
    each bootstrap draw compares the two conditions on exactly the same clips.
    Tests: Wilcoxon signed-rank and sign test over per-speaker rate differences,
    the paired t-test over speakers (``speaker_tests``), MAPSSWE over per-utterance
    error differences, or, for a metric in ``segments``, over the given
    per-segment differences (condition errors minus baseline errors): the
    report passes sclite-style segments (``mapsswe_segments``) for WER when
    alignments exist. ``strata`` as in ``summarize``.
    """
    speakers = list(p.speakers)
    b_mat = np.asarray(p.base, dtype=float).reshape(-1, len(FIELDS))
    c_mat = np.asarray(p.cond, dtype=float).reshape(-1, len(FIELDS))
    n_spk = len(speakers)
    rng = np.random.default_rng(seed)
    sidx = _strata_index(speakers, strata)
    w = bootstrap_weights(n_spk, n_boot, rng, sidx) if n_spk >= 2 else np.zeros((0, n_spk))
    out: dict[str, PairedResult] = {}
    for name in metrics:
        m = METRICS[name]
        nv, dv = m.num_vec, m.den_vec
        bb, cb = _ratio_boot(b_mat, w, m), _ratio_boot(c_mat, w, m)
        diff = cb.est - bb.est
        if w.shape[0] and not math.isnan(diff):
            lo, hi = studentized_interval(
                diff, _se(cb.infl - bb.infl, None, sidx), cb.boot - bb.boot, _se(cb.infl_boot - bb.infl_boot, w, sidx),
                alpha,
            )
            lo, hi = _clip(m, lo, hi, diff=True)
        else:
            lo, hi = (math.nan, math.nan)
        sp = speaker_tests(b_mat @ nv, c_mat @ nv, b_mat @ dv, c_mat @ dv)
        spk_diff = sp.speaker_diffs[~np.isnan(sp.speaker_diffs)]
        seg = (segments or {}).get(name)
        utt = p.utt_errors.get(name)
        if seg is not None:
            mw, mp = mapsswe_z(seg) if len(seg) >= 2 else (math.nan, math.nan)
            n_seg = len(seg)
        elif utt is not None and p.n_clips >= 2:
            mw, mp = mapsswe_z(utt)
            n_seg = p.n_clips
        else:
            mw, mp, n_seg = math.nan, math.nan, p.n_clips
        out[name] = PairedResult(
            metric=name,
            base=bb.est,
            cond=cb.est,
            diff=diff,
            low=lo,
            high=hi,
            n_speakers=n_spk,
            n_segments=n_seg,
            n_clips=p.n_clips,
            mapsswe_unit="sclite segments" if seg is not None else "utterances",
            wilcoxon_p=float(sp.wilcoxon_p),
            sign_p=sign_test(spk_diff) if spk_diff.size else math.nan,
            mapsswe_p=mp,
            mapsswe_w=mw,
            min_wilcoxon_p=min_wilcoxon_p(int(np.sum(spk_diff != 0))),
            n_differ=int(np.sum(spk_diff != 0)),
            speaker_t_p=float(sp.t_p),
            speaker_t_df=int(sp.t_df),
        )
    return out
