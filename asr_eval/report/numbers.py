"""The report's numbers: summary, paired comparisons, fairness and per-term tables, from counts.

Statistics come from ``asr_eval.stats``; this module decides what to compare
and in which order. Every value is JSON-ready (NaN becomes None).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import stats as st
from ..counts import Counts
from ..runfolder import RunData
from .format import json_float

ALL = "ALL"
ALPHA = 0.05
SUMMARY_METRICS = (
    "wer", "sub_rate", "del_rate", "ins_rate", "cer", "term_recall", "term_partial_rate", "term_precision",
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
    return sorted({str(u["accent_group"]) for u in utterances})


def _by_group(run: RunData, pooled: bool) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Records per (accent group, condition); with ``pooled`` also per (ALL, condition)."""
    by = defaultdict(list)
    for u in run.utterances:
        by[(u["accent_group"], u["condition"])].append(u)
        if pooled:
            by[(ALL, u["condition"])].append(u)
    return by


def _strata(records: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """speaker -> accent group for the pooled (ALL) rows, or None to resample speakers unstratified.

    Stratifying keeps each group's share of speakers fixed, as the test set's
    design fixed it. It needs two or more speakers in every group: a group with
    one speaker could not vary at all and would make the interval too narrow.
    """
    strata = {str(r["speaker"]): str(r["accent_group"]) for r in records}
    per_group: dict[str, int] = defaultdict(int)
    for g in strata.values():
        per_group[g] += 1
    if len(per_group) < 2 or min(per_group.values()) < 2:
        return None
    return strata


# --------------------------------------------------------------------------- summary


def summary(run: RunData, groups: list[str], n_boot: int, seed: int) -> list[dict[str, Any]]:
    """One row per condition x accent group (and ALL): counts and every metric with its interval."""
    by = _by_group(run, pooled=True)
    rows = []
    for cond in run.conditions:
        for g in [*groups, ALL]:
            recs = by.get((g, cond), [])
            if not recs:
                continue
            strata = _strata(recs) if g == ALL else None
            gs = st.summarize(recs, n_boot=n_boot, seed=st.stable_seed(seed, "summary", g), metrics=SUMMARY_METRICS,
                              strata=strata)
            few = too_few_speakers(gs.speakers)
            metrics = {k: v.as_dict() for k, v in gs.metrics.items()}
            rows.append(
                {
                    "accent_group": g,
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


def _wer_segments(run: RunData, base: Sequence[Mapping[str, Any]], cond: str) -> list[tuple[int, int]] | None:
    """sc_stats' MAPSSWE segments over these clips: (condition errors, baseline errors) per segment.

    None when an alignment is missing, so the test falls back to whole utterances.
    """
    out: list[tuple[int, int]] = []
    for r in base:
        a = run.alignments.get((r["utt_id"], cond))
        b = run.alignments.get((r["utt_id"], r["condition"]))
        if a is None or b is None:
            return None
        out += st.mapsswe_segments([p[0] for p in a], [p[0] for p in b])
    return out


def comparisons(run: RunData, groups: list[str], n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Each condition minus the baseline per group (ALL first) and paired metric, with Holm-adjusted tests."""
    base = run.baseline
    if base not in run.conditions:
        return []
    by = _by_group(run, pooled=True)
    rows = []
    for cond in run.conditions:
        if cond == base:
            continue
        for g in [ALL, *groups]:
            b, c = by.get((g, base), []), by.get((g, cond), [])
            if not b or not c:
                continue
            # Same seed for every condition of a group: the same speaker resamples
            # serve every comparison in that group.
            strata = _strata(b) if g == ALL else None
            segs = _wer_segments(run, b, cond)
            res = st.paired_compare(b, c, n_boot=n_boot, seed=st.stable_seed(seed, "paired", g), strata=strata,
                                    segments={"wer": segs} if segs is not None else None)
            for name, r in res.items():
                m = st.METRICS[name]
                improved = None if r.diff == 0 or math.isnan(r.diff) else ((r.diff < 0) == m.lower_is_better)
                few = too_few_speakers(r.n_speakers)
                lo, hi = (None, None) if few else (json_float(r.low), json_float(r.high))
                rows.append(
                    {
                        "accent_group": g,
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
    holm_families(rows)
    return rows


def holm_families(rows: list[dict[str, Any]]) -> None:
    """Holm-adjust and decide comparison rows in place (``compare`` calls it again over every pair it makes).

    Holm within two families: the overall (ALL) comparisons, which the verdicts
    rest on, and the per-group comparisons, which are exploratory. A row with
    too few speakers gets no test, so it takes no part in either correction.
    """
    for family in (lambda r: r["accent_group"] == ALL, lambda r: r["accent_group"] != ALL):
        fam = [r for r in rows if family(r)]
        tested = [r for r in fam if not r["too_few_speakers"]]
        for test in ("wilcoxon", "sign", "mapsswe", "speaker_t"):
            adj = st.holm([math.nan if r[f"{test}_p"] is None else r[f"{test}_p"] for r in tested])
            for r in fam:
                r[f"holm_{test}"] = None
            for r, a in zip(tested, adj):
                r[f"holm_{test}"] = json_float(a)
        decisions = st.decide([(r["n_speakers"], r["n_differ"], r["wilcoxon_p"], r["speaker_t_p"]) for r in fam],
                              alpha=ALPHA)
        for r, d in zip(fam, decisions):
            r["significance"] = d.verdict
            r["decided_by"] = d.test
            r["decision_p"] = json_float(d.p)
            r["holm_decision"] = json_float(d.p_holm)
            r["holm_family"] = d.family
            r["wilcoxon_needs"] = d.wilcoxon_needs


# --------------------------------------------------------------------------- fairness


def fairness(run: RunData, groups: list[str], comparison_rows: list[dict[str, Any]], n_boot: int,
             seed: int) -> dict[str, Any]:
    """Best-worst gaps per condition, the biasing gain per group, and the correlation of gain with baseline."""
    by = _by_group(run, pooled=False)
    gaps = []
    for cond in run.conditions:
        for metric in ("wer", "term_recall"):
            recs = {g: by[(g, cond)] for g in groups if by.get((g, cond))}
            gap = st.group_gap(recs, metric=metric, n_boot=n_boot, seed=st.stable_seed(seed, "gap", cond))
            if gap is None:
                continue
            n_spk = {g: len({str(r["speaker"]) for r in recs[g]}) for g in (gap.worst, gap.best)}
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
        if r["accent_group"] == ALL or r["metric"] != "wer":
            continue
        gains.append(
            {
                "accent_group": r["accent_group"],
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
    base = run.baseline
    for cond in run.conditions:
        if cond == base:
            continue
        pairs = {g: (by[(g, base)], by[(g, cond)]) for g in groups if by.get((g, base)) and by.get((g, cond))}
        for relative in (False, True):
            c = st.gain_correlation(pairs, relative=relative, n_boot=n_boot,
                                    seed=st.stable_seed(seed, "corr", cond))
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


def term_tables(run: RunData, display: Callable[[str, str], str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per (term, condition): occurrences by outcome and recall against the baseline; the terms that changed most.

    ``display(term, source)`` is the name a row shows (a pseudonym when names are redacted).
    """
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for t in run.terms:
        key = (t["term"], t["condition"])
        a = agg.setdefault(key, {"term": t["term"], "category": t.get("category", ""), "source": t.get("source", ""),
                                 "condition": t["condition"], "refs": 0, "hits": 0, "partial": 0, "misses": 0,
                                 "false_ins": 0, "in_force": 0, "dropped": 0})
        o = t["outcome"]
        if o != "false_insertion":
            # Of the clips where the term was said: how often the biasing offered it, or cut it.
            a["in_force"] += bool(t.get("in_force"))
            a["dropped"] += bool(t.get("dropped"))
        if o == "false_insertion":
            a["false_ins"] += 1
        else:
            a["refs"] += 1
            a[{"hit": "hits", "partial": "partial", "miss": "misses"}[o]] += 1
    rows = []
    for (term, cond), a in agg.items():
        a["recall"] = _recall(a)
        base = agg.get((term, run.baseline))
        a["base_recall"] = _recall(base) if base else None
        a["recall_change"] = (a["recall"] - a["base_recall"]) if a["recall"] is not None and a["base_recall"] is not None else None
        a["false_ins_change"] = a["false_ins"] - (base["false_ins"] if base else 0)
        a["display"] = display(term, a["source"])
        a["term"] = a["display"]  # the raw term may be a person's name: never let it out unredacted
        rows.append(a)
    cond_order = {c: i for i, c in enumerate(run.conditions)}
    rows.sort(key=lambda r: (cond_order.get(r["condition"], 99), r["display"]))
    changes = {}
    for cond in run.conditions:
        if cond == run.baseline:
            continue
        rs = [r for r in rows if r["condition"] == cond]
        scored = [r for r in rs if r["recall_change"] is not None]
        gained = sorted([r for r in scored if r["recall_change"] > 0], key=lambda r: (-r["recall_change"], r["display"]))
        lost = sorted([r for r in scored if r["recall_change"] < 0], key=lambda r: (r["recall_change"], r["display"]))
        fi = sorted([r for r in rs if r["false_ins"] > 0], key=lambda r: (-r["false_ins"], r["display"]))
        changes[cond] = {"gained": gained[:N_TERMS], "lost": lost[:N_TERMS], "false_insertions": fi[:N_TERMS]}
    return rows, changes
