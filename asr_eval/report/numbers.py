"""The report's numbers: summary, paired comparisons, fairness and per-term tables, from counts.

Statistics come from ``asr_eval.stats``; this module decides what to compare
and in which order. Every value is JSON-ready (NaN becomes None).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import stats as st
from ..counts import Counts
from ..grouping import ALL, DEFAULT, DEFAULT_GROUPINGS, Grouping, sort_labels
from .collect import Collected
from .format import json_float

ALPHA = 0.05
SUMMARY_METRICS = (
    "wer", "sub_rate", "del_rate", "ins_rate", "cer", "fwer", "term_recall", "term_partial_rate", "term_precision",
    "term_f1", "false_ins_per_100", "bwer", "uwer", "display_accuracy",
)
N_TERMS = 10


def too_few_speakers(n_speakers: int) -> bool:
    """No interval and no verdict for a group with fewer speakers than this (any grouping, any label).

    A bootstrap over two speakers can only land between their two values, so
    its "interval" reads as precise and means nothing; the tests cannot work
    with it either (``stats.deciding_test``).
    """
    return n_speakers < st.MIN_SPEAKERS


def _no_interval(e: dict[str, Any]) -> dict[str, Any]:
    return {**e, "low": None, "high": None}


def group_order(utterances: Sequence[Mapping[str, Any]]) -> list[str]:
    return sort_labels({str(u["accent_group"]) for u in utterances})


def seed_tag(grouping: Grouping, g: str) -> str:
    """The bootstrap seed's name for a group: its label for the accent group (as always), grouping=label otherwise.

    A group's numbers then depend only on its grouping and label, not on which
    other groupings the report shows or in which order.
    """
    return g if g == ALL or grouping.name == DEFAULT else f"{grouping.name}={g}"


def _strata(speaker_group: Mapping[str, str]) -> dict[str, str] | None:
    """speaker -> accent group for the pooled (ALL) rows, or None to resample speakers unstratified.

    Stratifying keeps each group's share of speakers fixed, as the test set's
    design fixed it. It needs two or more speakers in every group: a group with
    one speaker could not vary at all and would make the interval too narrow.
    """
    strata = dict(speaker_group)
    per_group: dict[str, int] = defaultdict(int)
    for g in strata.values():
        per_group[g] += 1
    if len(per_group) < 2 or min(per_group.values()) < 2:
        return None
    return strata


# --------------------------------------------------------------------------- summary


def summary(col: Collected, groups: list[str], n_boot: int, seed: int,
            grouping: Grouping = DEFAULT_GROUPINGS[0], include_all: bool = True) -> list[dict[str, Any]]:
    """One row per condition x group (and ALL): counts and every metric with its interval.

    ``col`` is seen through ``grouping`` (``Collected.view``); the group label is
    the row's ``grouping.key``. ``include_all=False`` leaves the ALL rows out
    (another grouping's table holds them: they do not depend on the grouping).
    """
    key = grouping.key
    rows = []
    for cond in col.conditions:
        for g in [*groups, ALL] if include_all else groups:
            if not col.has_cell(g, cond):
                continue
            strata = _strata(col.strata[cond]) if g == ALL else None
            speakers, mat = col.cell(g, cond)
            gs = st.summarize_matrix(speakers, mat, n_boot=n_boot,
                                     seed=st.stable_seed(seed, "summary", seed_tag(grouping, g)),
                                     metrics=SUMMARY_METRICS, strata=strata)
            few = too_few_speakers(gs.speakers)
            metrics = {k: v.as_dict() for k, v in gs.metrics.items()}
            rows.append(
                {
                    key: g,
                    "condition": cond,
                    "clips": gs.clips,
                    "speakers": gs.speakers,
                    "words": gs.words,
                    "term_occurrences": gs.counts.term_refs,
                    "small": gs.small,
                    "small_reason": gs.small_reason,
                    # The values stay; the intervals go (null), and this says why.
                    "too_few_speakers": few,
                    "stratified": strata is not None,
                    "counts": gs.counts.as_dict(),
                    "metrics": {k: _no_interval(v) for k, v in metrics.items()} if few else metrics,
                }
            )
    return rows


# --------------------------------------------------------------------------- paired comparisons


def _paired(col: Collected, g: str, cond: str) -> st.PairedCounts:
    return col.paired(g, cond) or st.PairedCounts([], np.zeros((0, len(st.COUNT_FIELDS))),
                                                  np.zeros((0, len(st.COUNT_FIELDS))), {}, 0)


def comparisons(col: Collected, groups: list[str], n_boot: int, seed: int,
                grouping: Grouping = DEFAULT_GROUPINGS[0], include_all: bool = True) -> list[dict[str, Any]]:
    """Each condition minus the baseline per group (ALL first) and paired metric, with Holm-adjusted tests.

    WER's segment-level test runs over sc_stats' MAPSSWE segments of the two
    alignments, or over whole utterances when an alignment is missing. Each
    grouping's per-group rows are a Holm family of their own.
    """
    key = grouping.key
    base = col.baseline
    if base not in col.conditions:
        return []
    rows = []
    for cond in col.conditions:
        if cond == base:
            continue
        for g in [ALL, *groups] if include_all else groups:
            if not col.has_cell(g, base) or not col.has_cell(g, cond):
                continue
            # Same seed for every condition of a group: the same speaker resamples
            # serve every comparison in that group.
            strata = _strata(col.strata[base]) if g == ALL else None
            segs = col.segments(g, cond)
            res = st.paired_compare_counts(_paired(col, g, cond), n_boot=n_boot,
                                           seed=st.stable_seed(seed, "paired", seed_tag(grouping, g)),
                                           strata=strata, segments={"wer": segs} if segs is not None else None)
            for name, r in res.items():
                if name in st.SEPARATE_FAMILY and math.isnan(r.base) and math.isnan(r.cond):
                    continue  # a run folder from before this metric: no counts for it
                m = st.METRICS[name]
                improved = None if r.diff == 0 or math.isnan(r.diff) else ((r.diff < 0) == m.lower_is_better)
                few = too_few_speakers(r.n_speakers)
                lo, hi = (None, None) if few else (json_float(r.low), json_float(r.high))
                rows.append(
                    {
                        key: g,
                        "condition": cond,
                        "baseline": base,
                        "metric": name,
                        "base": json_float(r.base),
                        "cond": json_float(r.cond),
                        "diff": json_float(r.diff),
                        "low": lo,
                        "high": hi,
                        "ci_excludes_zero": bool(lo is not None and hi is not None and (lo > 0 or hi < 0)),
                        "improved": improved,
                        "n_speakers": r.n_speakers,
                        "too_few_speakers": few,
                        "stratified": strata is not None,
                        "n_segments": r.n_segments,
                        "n_clips": r.n_clips,
                        "mapsswe_unit": r.mapsswe_unit,
                        "wilcoxon_p": json_float(r.wilcoxon_p),
                        "sign_p": json_float(r.sign_p),
                        "mapsswe_w": json_float(r.mapsswe_w),
                        "mapsswe_p": json_float(r.mapsswe_p),
                        "min_wilcoxon_p": json_float(r.min_wilcoxon_p),
                        "n_differ": r.n_differ,
                        "speaker_t_p": json_float(r.speaker_t_p),
                        "speaker_t_df": r.speaker_t_df,
                    }
                )
    holm_families(rows, key)
    return rows


def holm_families(rows: list[dict[str, Any]], key: str = "accent_group") -> None:
    """Holm-adjust and decide comparison rows in place (``compare`` calls it again over every pair it makes).

    Holm within two families: the overall (ALL) comparisons, which the verdicts
    rest on, and the per-group comparisons, which are exploratory. A row with
    too few speakers gets no test, so it takes no part in either correction.
    Metrics in st.SEPARATE_FAMILY (formatted WER) make families of their own.
    ``key`` is the grouping's column in the rows.
    """
    for overall in (True, False):
        for separate in (False, True):
            fam = [r for r in rows if (r[key] == ALL) == overall and (r["metric"] in st.SEPARATE_FAMILY) == separate]
            _holm_family(fam)


def _holm_family(fam: list[dict[str, Any]]) -> None:
    """Holm-adjusted p-values and the decision of each row of one family, written into the rows."""
    if not fam:
        return
    tested = [r for r in fam if not r["too_few_speakers"]]
    for test in ("wilcoxon", "sign", "mapsswe", "speaker_t"):
        adj = st.holm([math.nan if r[f"{test}_p"] is None else r[f"{test}_p"] for r in tested])
        for r in fam:
            r[f"holm_{test}"] = None
        for r, a in zip(tested, adj):
            r[f"holm_{test}"] = json_float(a)
    decisions = st.decide([(r["n_speakers"], r["n_differ"], r["wilcoxon_p"], r["speaker_t_p"]) for r in fam],
                          alpha=ALPHA,
                          interval_excludes_zero=[r["ci_excludes_zero"] if r["low"] is not None else None
                                                  for r in fam])
    for r, d in zip(fam, decisions):
        r["significance"] = d.verdict
        r["decided_by"] = d.test
        r["decision_p"] = json_float(d.p)
        r["holm_decision"] = json_float(d.p_holm)
        r["holm_family"] = d.family
        r["wilcoxon_needs"] = d.wilcoxon_needs
        r["vetoed_by_interval"] = d.vetoed_by_interval


# --------------------------------------------------------------------------- fairness


def fairness(col: Collected, groups: list[str], comparison_rows: list[dict[str, Any]], n_boot: int,
             seed: int, grouping: Grouping = DEFAULT_GROUPINGS[0]) -> dict[str, Any]:
    """Best-worst gaps per condition, the biasing gain per group, and the correlation of gain with baseline."""
    key = grouping.key
    tag = "" if grouping.name == DEFAULT else f"{grouping.name}:"
    gaps = []
    for cond in col.conditions:
        for metric in ("wer", "term_recall"):
            mats = {g: col.cell(g, cond)[1] for g in groups if col.has_cell(g, cond)}
            gap = st.group_gap_matrices(mats, metric=metric, n_boot=n_boot, seed=st.stable_seed(seed, "gap", tag + cond))
            if gap is None:
                continue
            n_spk = {g: len(col.cell(g, cond)[0]) for g in (gap.worst, gap.best)}
            few = [g for g in (gap.worst, gap.best) if too_few_speakers(n_spk[g])]
            diff, ratio = gap.diff.as_dict(), gap.ratio.as_dict()
            if few:
                diff, ratio = _no_interval(diff), _no_interval(ratio)
            gaps.append(
                {
                    "condition": cond,
                    "metric": metric,
                    "best": gap.best,
                    "worst": gap.worst,
                    "best_value": json_float(gap.best_value),
                    "worst_value": json_float(gap.worst_value),
                    "diff": diff,
                    "ratio": ratio,
                    "differ": bool(diff["low"] is not None and diff["low"] > 0),
                    "best_speakers": n_spk[gap.best],
                    "worst_speakers": n_spk[gap.worst],
                    # Groups (worst first) with too few speakers for the gap to get an interval or a verdict.
                    "too_few_speakers": few,
                }
            )
    gains = []
    for r in comparison_rows:
        if r[key] == ALL or r["metric"] != "wer":
            continue
        gains.append(
            {
                key: r[key],
                "condition": r["condition"],
                "base": r["base"],
                "cond": r["cond"],
                # Gain = baseline WER minus biased WER: positive means biasing helped.
                "gain": None if r["diff"] is None else -r["diff"],
                "low": None if r["high"] is None else -r["high"],
                "high": None if r["low"] is None else -r["low"],
                "relative_gain": None if not r["base"] or r["diff"] is None else -r["diff"] / r["base"],
                "n_speakers": r["n_speakers"],
                "too_few_speakers": r["too_few_speakers"],
                "significance": r["significance"],
                "decided_by": r["decided_by"],
                "holm_decision": r["holm_decision"],
                "holm_family": r["holm_family"],
            }
        )
    correlations = []
    base = col.baseline
    for cond in col.conditions:
        if cond == base:
            continue
        pairs = {}
        for g in groups:
            if col.has_cell(g, base) and col.has_cell(g, cond):
                p = _paired(col, g, cond)
                pairs[g] = (p.base, p.cond)
        for relative in (False, True):
            c = st.gain_correlation_matrices(pairs, relative=relative, n_boot=n_boot,
                                             seed=st.stable_seed(seed, "corr", tag + cond))
            if c is None:
                continue
            correlations.append(
                {"condition": cond, "relative": relative, "r": json_float(c.r), "low": json_float(c.low),
                 "high": json_float(c.high), "n_groups": c.n_groups}
            )
    differ = any(g["differ"] for g in gaps if g["metric"] == "wer")
    return {"groups_differ": differ, "gaps": gaps, "gains": gains, "gain_correlation": correlations}


# --------------------------------------------------------------------------- terms


def _recall(a: Mapping[str, Any]) -> float | None:
    return Counts(term_refs=a["refs"], term_hits=a["hits"]).rate("term_recall")


def term_tables(col: Collected, display: Callable[[str, str], str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per (term, condition): occurrences by outcome and recall against the baseline; the terms that changed most.

    ``display(term, source)`` is the name a row shows (a pseudonym when names are redacted).
    The tallies were summed by ``collect`` as the terms streamed past.
    """
    agg = {k: dict(a) for k, a in col.term_agg.items()}
    rows = []
    for (term, cond), a in agg.items():
        a["recall"] = _recall(a)
        base = agg.get((term, col.baseline))
        a["base_recall"] = _recall(base) if base else None
        a["recall_change"] = (a["recall"] - a["base_recall"]) if a["recall"] is not None and a["base_recall"] is not None else None
        a["false_ins_change"] = a["false_ins"] - (base["false_ins"] if base else 0)
        a["display"] = display(term, a["source"])
        a["term"] = a["display"]  # the raw term may be a person's name: never let it out unredacted
        rows.append(a)
    cond_order = {c: i for i, c in enumerate(col.conditions)}
    rows.sort(key=lambda r: (cond_order.get(r["condition"], 99), r["display"]))
    changes = {}
    for cond in col.conditions:
        if cond == col.baseline:
            continue
        rs = [r for r in rows if r["condition"] == cond]
        scored = [r for r in rs if r["recall_change"] is not None]
        gained = sorted([r for r in scored if r["recall_change"] > 0], key=lambda r: (-r["recall_change"], r["display"]))
        lost = sorted([r for r in scored if r["recall_change"] < 0], key=lambda r: (r["recall_change"], r["display"]))
        fi = sorted([r for r in rs if r["false_ins"] > 0], key=lambda r: (-r["false_ins"], r["display"]))
        changes[cond] = {"gained": gained[:N_TERMS], "lost": lost[:N_TERMS], "false_insertions": fi[:N_TERMS]}
    return rows, changes
