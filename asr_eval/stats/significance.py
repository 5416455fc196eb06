"""Paired comparisons of two conditions on the same clips, and sc_stats-style tests.

``paired_compare`` gives, per metric, condition minus baseline with a paired
speaker-bootstrap interval (studentized, as in ``bootstrap``), Wilcoxon
signed-rank and sign tests over speakers, and NIST sc_stats' matched-pairs
(MAPSSWE) test over segments; ``holm`` adjusts a family of p-values.

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


def mapsswe_z(z: np.ndarray) -> tuple[float, float]:
    """``mapsswe`` from the per-segment differences ``errors_a - errors_b`` (what a streaming caller keeps)."""
    z = np.asarray(z, dtype=float)
    n = z.size
    if n < 2 or not np.any(z):
        return (0.0, 1.0)
    sd = z.std(ddof=1)
    if sd == 0:
        return (math.copysign(math.inf, z.mean()), 0.0)
    w = z.mean() / (sd / math.sqrt(n))
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
    MAPSSWE over per-utterance error differences, or, for a metric in
    ``segments``, over the given per-segment differences (condition errors
    minus baseline errors): the report passes sclite-style segments
    (``mapsswe_segments``) for WER when alignments exist. ``strata`` as in
    ``summarize``.
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
        spk_diff = _ratio(c_mat @ nv, c_mat @ dv) - _ratio(b_mat @ nv, b_mat @ dv)
        spk_diff = spk_diff[~np.isnan(spk_diff)]
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
            wilcoxon_p=wilcoxon_test(spk_diff) if spk_diff.size else math.nan,
            sign_p=sign_test(spk_diff) if spk_diff.size else math.nan,
            mapsswe_p=mp,
            mapsswe_w=mw,
            min_wilcoxon_p=min_wilcoxon_p(int(np.sum(spk_diff != 0))),
            n_differ=int(np.sum(spk_diff != 0)),
        )
    return out
