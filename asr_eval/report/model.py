"""Turn a loaded run into one JSON-ready report model.

Every writer (CSV, Markdown, JSON, HTML) renders this one model, so they carry
the same numbers. Statistics come from asr_eval.stats; this module decides
what to compare, in which order, and what to say about it in plain words.
Redaction happens here, once, on every excerpt that leaves this module.
"""

from __future__ import annotations

import math
import shlex
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import stats as st
from ..redact import Redactor
from ..runfolder import RunData

ALL = "ALL"
ALPHA = 0.05
SCHEMA = "asr-eval-report/1"
SUMMARY_METRICS = (
    "wer", "sub_rate", "del_rate", "ins_rate", "cer", "term_recall", "term_partial_rate", "term_precision",
    "term_f1", "false_ins_per_100", "bwer", "uwer", "display_accuracy",
)
MAX_UTTERANCE_VIEWS = 1500
N_WORST = 8
N_TERMS = 10
MAX_EXPLANATIONS = 2000
CONTEXT_WORDS = 3


# --------------------------------------------------------------------------- small helpers


def _f(x: float | None) -> float | None:
    """JSON-safe float: NaN/inf become None (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _est(e: st.Estimate) -> dict[str, float | None]:
    return e.as_dict()


def fmt_value(metric: str, x: float | None, signed: bool = False) -> str:
    """How every writer prints a metric value: percentages with one decimal."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    m = st.METRICS[metric]
    if x == 0:
        x = 0.0  # never print "-0.0%"
    sign = "+" if signed and x > 0 else ""
    if m.percent:
        # A difference of two rates is in percentage points, not percent.
        return f"{sign}{100 * x:.1f} pp" if signed else f"{100 * x:.1f}%"
    return f"{sign}{x:.1f}"


def fmt_ci(metric: str, lo: float | None, hi: float | None, signed: bool = False) -> str:
    if lo is None or hi is None:
        return "n/a"
    return f"[{fmt_value(metric, lo, signed)}, {fmt_value(metric, hi, signed)}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _group_order(utterances: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(u["accent_group"]) for u in utterances})


# --------------------------------------------------------------------------- sections


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


def _summary(run: RunData, groups: list[str], n_boot: int, seed: int) -> list[dict[str, Any]]:
    by = defaultdict(list)
    for u in run.utterances:
        by[(u["accent_group"], u["condition"])].append(u)
        by[(ALL, u["condition"])].append(u)
    rows = []
    for cond in run.conditions:
        for g in [*groups, ALL]:
            recs = by.get((g, cond), [])
            if not recs:
                continue
            strata = _strata(recs) if g == ALL else None
            gs = st.summarize(recs, n_boot=n_boot, seed=st.stable_seed(seed, "summary", g), metrics=SUMMARY_METRICS,
                              strata=strata)
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
                    "stratified": strata is not None,
                    "counts": gs.counts.as_dict(),
                    "metrics": {k: _est(v) for k, v in gs.metrics.items()},
                }
            )
    return rows


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


def _significance(row: Mapping[str, Any]) -> str:
    hw, hm = row.get("holm_wilcoxon"), row.get("holm_mapsswe")
    if hw is not None and hw < ALPHA:
        return "significant"
    if hm is not None and hm < ALPHA:
        return "segment-level only"
    return "not significant"


def _comparisons(run: RunData, groups: list[str], n_boot: int, seed: int) -> list[dict[str, Any]]:
    base = run.baseline
    if base not in run.conditions:
        return []
    by = defaultdict(list)
    for u in run.utterances:
        by[(u["accent_group"], u["condition"])].append(u)
        by[(ALL, u["condition"])].append(u)
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
                rows.append(
                    {
                        "accent_group": g,
                        "condition": cond,
                        "baseline": base,
                        "metric": name,
                        "base": _f(r.base),
                        "cond": _f(r.cond),
                        "diff": _f(r.diff),
                        "low": _f(r.low),
                        "high": _f(r.high),
                        "ci_excludes_zero": bool(
                            _f(r.low) is not None and _f(r.high) is not None and (r.low > 0 or r.high < 0)
                        ),
                        "improved": improved,
                        "n_speakers": r.n_speakers,
                        "stratified": strata is not None,
                        "n_segments": r.n_segments,
                        "n_clips": r.n_clips,
                        "mapsswe_unit": r.mapsswe_unit,
                        "wilcoxon_p": _f(r.wilcoxon_p),
                        "sign_p": _f(r.sign_p),
                        "mapsswe_w": _f(r.mapsswe_w),
                        "mapsswe_p": _f(r.mapsswe_p),
                        "min_wilcoxon_p": _f(r.min_wilcoxon_p),
                        "n_differ": r.n_differ,
                    }
                )
    # Holm within two families: the overall (ALL) comparisons, which the verdicts
    # rest on, and the per-group comparisons, which are exploratory.
    for family in (lambda r: r["accent_group"] == ALL, lambda r: r["accent_group"] != ALL):
        fam = [r for r in rows if family(r)]
        for test in ("wilcoxon", "sign", "mapsswe"):
            adj = st.holm([math.nan if r[f"{test}_p"] is None else r[f"{test}_p"] for r in fam])
            for r, a in zip(fam, adj):
                r[f"holm_{test}"] = _f(a)
        for r in fam:
            r["significance"] = _significance(r)
    return rows


def _fairness(run: RunData, groups: list[str], summary: list[dict[str, Any]], comparisons: list[dict[str, Any]],
              n_boot: int, seed: int) -> dict[str, Any]:
    by = defaultdict(list)
    for u in run.utterances:
        by[(u["accent_group"], u["condition"])].append(u)
    gaps = []
    for cond in run.conditions:
        for metric in ("wer", "term_recall"):
            recs = {g: by[(g, cond)] for g in groups if by.get((g, cond))}
            gap = st.group_gap(recs, metric=metric, n_boot=n_boot, seed=st.stable_seed(seed, "gap", cond))
            if gap is None:
                continue
            gaps.append(
                {
                    "condition": cond,
                    "metric": metric,
                    "best": gap.best,
                    "worst": gap.worst,
                    "best_value": _f(gap.best_value),
                    "worst_value": _f(gap.worst_value),
                    "diff": _est(gap.diff),
                    "ratio": _est(gap.ratio),
                    "differ": bool(gap.diff.low is not None and not math.isnan(gap.diff.low) and gap.diff.low > 0),
                }
            )
    gains = []
    for r in comparisons:
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
                "significance": r["significance"],
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
                {"condition": cond, "relative": relative, "r": _f(c.r), "low": _f(c.low), "high": _f(c.high),
                 "n_groups": c.n_groups}
            )
    differ = any(g["differ"] for g in gaps if g["metric"] == "wer")
    gap_verdicts, gain_verdicts = _fairness_verdicts(run, gaps, gains, correlations)
    return {"groups_differ": differ, "gaps": gaps, "gains": gains, "gain_correlation": correlations,
            "verdicts": gap_verdicts + gain_verdicts, "gap_verdicts": gap_verdicts, "gain_verdicts": gain_verdicts}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _fairness_verdicts(run: RunData, gaps: list[dict[str, Any]], gains: list[dict[str, Any]],
                       correlations: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines about the best-worst gap, lines about who gains from biasing)."""
    gap_lines: list[str] = []
    out = gap_lines
    for g in gaps:
        if g["metric"] != "wer":
            continue
        d = g["diff"]
        ratio = g["ratio"]["value"]
        verdict = "a real gap (the interval excludes zero)" if g["differ"] else "not clearly different (the interval includes zero)"
        out.append(
            f"{g['condition']}: worst group {g['worst']} ({_pct(g['worst_value'])} WER) vs best {g['best']} "
            f"({_pct(g['best_value'])}): gap {fmt_value('wer', d['value'], True)} {fmt_ci('wer', d['low'], d['high'], True)}"
            + (f", {ratio:.2f}x" if ratio is not None else "") + f" - {verdict}."
        )
    out = []
    by_cond = defaultdict(list)
    for g in gains:
        by_cond[g["condition"]].append(g)
    for cond, rows in by_cond.items():
        helped = [r["accent_group"] for r in rows if r["low"] is not None and r["low"] > 0]
        hurt = [r["accent_group"] for r in rows if r["high"] is not None and r["high"] < 0]
        unclear = [r["accent_group"] for r in rows if r["accent_group"] not in helped + hurt]
        parts = []
        if helped:
            parts.append(f"lowers WER for {', '.join(helped)}")
        if hurt:
            parts.append(f"raises WER for {', '.join(hurt)}")
        if unclear:
            parts.append(f"no clear effect for {', '.join(unclear)}")
        parts[-1] += " (95% intervals per group, not corrected for the number of groups)"
        text = f"{cond} vs {run.baseline}: " + "; ".join(parts) + "."
        corr = next((c for c in correlations if c["condition"] == cond and not c["relative"]), None)
        rel = next((c for c in correlations if c["condition"] == cond and c["relative"]), None)
        text += _correlation_sentence(corr, rel)
        out.append(text)
    return gap_lines, out


def _ci_sign(c: Mapping[str, Any] | None) -> int:
    """+1 / -1 when the correlation's interval lies above / below zero, else 0."""
    if not c or c["low"] is None or c["high"] is None:
        return 0
    return 1 if c["low"] > 0 else -1 if c["high"] < 0 else 0


def _r(c: Mapping[str, Any]) -> str:
    ci = f" [{c['low']:.2f}, {c['high']:.2f}]" if c["low"] is not None and c["high"] is not None else ""
    return f"r = {c['r']:.2f}{ci}"


def _correlation_sentence(corr: Mapping[str, Any] | None, rel: Mapping[str, Any] | None) -> str:
    """Plain words for: does biasing help every group, or mostly those already doing well?

    Absolute gain tends to grow with baseline WER simply because there are more
    errors to fix, so the relative gain (share of baseline errors removed) is
    read alongside it.
    """
    if not corr or corr["r"] is None:
        return ""
    a, r = _ci_sign(corr), _ci_sign(rel)
    if a < 0:
        return (f" The gain shrinks as baseline WER grows ({_r(corr)}): biasing helps mostly the groups that"
                " already did well, widening the gap.")
    if a > 0:
        text = f" The gain grows with baseline WER ({_r(corr)}): more errors removed where there were more."
        if rel and rel["r"] is not None:
            if r > 0:
                text += f" As a share of baseline errors too ({_r(rel)}): biasing narrows the gap."
            elif r < 0:
                text += (f" As a share of baseline errors, though, it helps the better groups more ({_r(rel)}).")
            else:
                text += f" As a share of baseline errors the gain is similar across groups ({_r(rel)})."
        return text
    return f" No clear relation between the gain and baseline WER ({_r(corr)})."


def _overall_verdicts(run: RunData, summary: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> list[str]:
    out = []
    allrows = {r["condition"]: r for r in summary if r["accent_group"] == ALL}
    for r in comparisons:
        if r["accent_group"] != ALL or r["metric"] not in ("wer", "term_recall", "false_ins_per_100"):
            continue
        m = st.METRICS[r["metric"]]
        if r["diff"] is None:
            continue
        direction = "no change"
        if r["improved"] is True:
            direction = "better"
        elif r["improved"] is False:
            direction = "worse"
        sig = r["significance"]
        line = (f"{r['condition']}: {m.label} {fmt_value(r['metric'], r['base'])} → {fmt_value(r['metric'], r['cond'])}"
                f" ({fmt_value(r['metric'], r['diff'], signed=True)}, 95% CI {fmt_ci(r['metric'], r['low'], r['high'], True)})"
                f" - {direction}, {sig}")
        if sig != "significant" and r["diff"] and r["min_wilcoxon_p"] is not None and r["min_wilcoxon_p"] > ALPHA:
            line += (f" (only {r['n_differ']} of {r['n_speakers']} speakers differ between the conditions, too few"
                     f" for the speaker-level test to reach p below {ALPHA})")
        out.append(line + ".")
    small = [f"{r['accent_group']}/{r['condition']}" for r in summary if r["small"] and r["accent_group"] != ALL]
    if small:
        groups = sorted({s.split("/")[0] for s in small})
        out.append(f"Too small for a meaningful interval: {', '.join(groups)} (fewer than {st.MIN_SPEAKERS} speakers "
                   f"or {st.MIN_WORDS} words); their numbers are shown but flagged.")
    if not allrows:
        out.append("No utterances were scored.")
    return out


def _term_tables(run: RunData, red: Redactor, name_index: Mapping[str, int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
        a["recall"] = a["hits"] / a["refs"] if a["refs"] else None
        base = agg.get((term, run.baseline))
        a["base_recall"] = base["hits"] / base["refs"] if base and base["refs"] else None
        a["recall_change"] = (a["recall"] - a["base_recall"]) if a["recall"] is not None and a["base_recall"] is not None else None
        a["false_ins_change"] = a["false_ins"] - (base["false_ins"] if base else 0)
        a["display"] = red.term(term, a["source"], name_index.get(term))
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


def _ref_index_map(pairs: Sequence[Sequence[Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """Word index in the reference (and hypothesis) -> index in the alignment pairs."""
    ref_at, hyp_at = {}, {}
    ri = hi = 0
    for k, (op, r, h) in enumerate(pairs):
        if r is not None:
            ref_at[ri] = k
            ri += 1
        if h is not None:
            hyp_at[hi] = k
            hi += 1
    return ref_at, hyp_at


def _redact_pairs(pairs: Sequence[Sequence[Any]], red: Redactor) -> list[list[Any]]:
    refs = red.tokens([p[1] for p in pairs])
    hyps = red.tokens([p[2] for p in pairs])
    return [[p[0], r, h] for p, r, h in zip(pairs, refs, hyps)]


def _reason(t: Mapping[str, Any], cond_method: str | None) -> str:
    biased = cond_method not in (None, "none")
    if t.get("dropped"):
        why = "dropped from the prompt/hotwords by the token budget"
    elif t.get("in_force"):
        why = "was in the prompt/hotwords" + (" but still not recognised" if t["outcome"] != "false_insertion"
                                                 else " and was inserted where it was not said")
    elif biased:
        why = "not part of this condition's biasing list"
    else:
        why = "no biasing in this condition"
    return why


def _cause(t: Mapping[str, Any], cond_method: str | None) -> str:
    """Short form of ``_reason`` for counting: what the biasing did with this term in this clip."""
    if t.get("dropped"):
        return "dropped by the token budget"
    if t.get("in_force"):
        return "in the prompt/hotwords"
    return "not offered" if cond_method not in (None, "none") else "no biasing"


def _explanations(
    run: RunData, red: Redactor, name_index: Mapping[str, int]
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    methods = {str(c.get("name")): str(c.get("method")) for c in run.run.get("conditions") or [] if isinstance(c, Mapping)}
    meta = {(u["utt_id"], u["condition"]): u for u in run.utterances}
    out = []
    bad = [t for t in run.terms if t["outcome"] in ("miss", "partial", "false_insertion")]
    for t in bad:
        pairs = run.alignments.get((t["utt_id"], t["condition"]), [])
        ref_at, hyp_at = _ref_index_map(pairs)
        if t["outcome"] == "false_insertion" or t.get("ref_start") is None:
            center = hyp_at.get(t["hyp_start"]) if t.get("hyp_start") is not None else None
            n_words = max(1, len(str(t.get("hyp_text") or "").split()))
        else:
            center = ref_at.get(t["ref_start"])
            n_words = max(1, len(str(t.get("ref_text") or "").split()))
        context: list[list[Any]] = []
        marks: list[int] = []
        if center is not None:
            lo = max(0, center - CONTEXT_WORDS)
            hi = min(len(pairs), center + n_words + CONTEXT_WORDS)
            context = _redact_pairs(pairs[lo:hi], red)
            # Columns of the term itself: its words on the side it was expected (or inserted) on.
            side = 2 if t["outcome"] == "false_insertion" or t.get("ref_start") is None else 1
            k, seen = center, 0
            while k < len(pairs) and seen < n_words:
                if pairs[k][side] is not None:
                    seen += 1
                marks.append(k - lo)
                k += 1
            marks = [i for i in marks if 0 <= i < len(context)]
        u = meta.get((t["utt_id"], t["condition"]), {})
        out.append(
            {
                "utt_id": t["utt_id"],
                "condition": t["condition"],
                "accent_group": t.get("accent_group") or u.get("accent_group", ""),
                "term": red.term(t["term"], t.get("source", ""), name_index.get(t["term"])),
                "category": t.get("category", ""),
                "source": t.get("source", ""),
                "outcome": t["outcome"],
                "ref_text": red.text(t.get("ref_text") or ""),
                "hyp_text": red.text(t.get("hyp_text") or ""),
                "in_force": t.get("in_force"),
                "dropped": t.get("dropped"),
                "reason": _reason(t, methods.get(t["condition"])),
                "cause": _cause(t, methods.get(t["condition"])),
                "context": context,
                "marks": marks,
            }
        )
    causes = defaultdict(lambda: defaultdict(int))
    for e in out:
        causes[(e["condition"], e["cause"])][e["outcome"]] += 1
    cond_index = {c: i for i, c in enumerate(run.conditions)}
    cause_rows = [
        {"condition": c, "cause": cause, "miss": n["miss"], "partial": n["partial"],
         "false_insertion": n["false_insertion"]}
        for (c, cause), n in sorted(causes.items(), key=lambda kv: (cond_index.get(kv[0][0], 99), kv[0][1]))
    ]
    # Biased conditions first (a term that was offered and still failed is the
    # question a vocabulary author asks), the baseline last; then by term.
    cond_order = {c: i for i, c in enumerate(run.conditions)}
    out.sort(key=lambda e: (e["condition"] == run.baseline, cond_order.get(e["condition"], 99), e["term"], e["utt_id"]))
    return out[:MAX_EXPLANATIONS], len(out), cause_rows


def _utterance_views(run: RunData, red: Redactor, name_index: Mapping[str, int]) -> tuple[list[dict[str, Any]], int]:
    by_utt: dict[str, dict[str, Any]] = {}
    for u in run.utterances:
        v = by_utt.setdefault(
            u["utt_id"],
            {"utt_id": u["utt_id"], "accent_group": u["accent_group"], "speaker": u["speaker"],
             "ref": red.text(u["ref"]), "conditions": {}, "terms": []},
        )
        pairs = run.alignments.get((u["utt_id"], u["condition"]), [])
        errors = u["subs"] + u["dels"] + u["ins"]
        v["conditions"][u["condition"]] = {
            "hyp": red.text(u["hyp"]),
            "errors": errors,
            "ref_words": u["ref_words"],
            "wer": errors / u["ref_words"] if u["ref_words"] else None,
            "pairs": _redact_pairs(pairs, red),
            "term_marks": [],
        }
    for t in run.terms:
        v = by_utt.get(t["utt_id"])
        if v is None or t["condition"] not in v["conditions"]:
            continue
        disp = red.term(t["term"], t.get("source", ""), name_index.get(t["term"]))
        if disp not in v["terms"]:
            v["terms"].append(disp)
        pairs = run.alignments.get((t["utt_id"], t["condition"]), [])
        ref_at, hyp_at = _ref_index_map(pairs)
        if t["outcome"] == "false_insertion":
            start, idx, n = t.get("hyp_start"), hyp_at, len(str(t.get("hyp_text") or "").split())
        else:
            start, idx, n = t.get("ref_start"), ref_at, len(str(t.get("ref_text") or "").split())
        cols = sorted({idx[i] for i in range((start or 0), (start or 0) + max(1, n)) if start is not None and i in idx})
        v["conditions"][t["condition"]]["term_marks"].append({"term": disp, "outcome": t["outcome"], "cols": cols})
    views = list(by_utt.values())
    views.sort(key=lambda v: (v["accent_group"], v["speaker"], v["utt_id"]))
    return views[:MAX_UTTERANCE_VIEWS], len(views)


def _worst(views: list[dict[str, Any]], conditions: Sequence[str]) -> list[dict[str, Any]]:
    def key(v: Mapping[str, Any]) -> tuple:
        errs = [c["errors"] for c in v["conditions"].values()]
        return (-max(errs, default=0), -sum(errs), v["utt_id"])
    out = []
    for v in sorted(views, key=key)[:N_WORST]:
        out.append(
            {"utt_id": v["utt_id"], "accent_group": v["accent_group"], "speaker": v["speaker"], "ref": v["ref"],
             "hyps": {c: {"hyp": v["conditions"][c]["hyp"], "errors": v["conditions"][c]["errors"],
                          "wer": v["conditions"][c]["wer"]} for c in conditions if c in v["conditions"]}}
        )
    return out


def _run_info(run: RunData, red: Redactor) -> dict[str, Any]:
    r = run.run
    conds = []
    for c in r.get("conditions") or []:
        if not isinstance(c, Mapping):
            continue
        plan = c.get("plan") or {}
        conds.append(
            {
                "name": c.get("name"),
                "method": c.get("method"),
                "strength": c.get("strength"),
                "correct": c.get("correct"),
                "prompt": red.text(plan.get("text")),
                "terms_in_force": len(plan.get("terms_in_force") or []),
                "terms_dropped": len(plan.get("terms_dropped") or []),
                "tokens": plan.get("tokens"),
                "budget": plan.get("budget"),
            }
        )
    def src(key: str) -> Any:
        v = r.get(key)
        return {k: v.get(k) for k in ("path", "sha256", "terms", "utterances", "skipped") if k in v} if isinstance(v, Mapping) else None
    command = r.get("command")
    if isinstance(command, (list, tuple)):
        command = shlex.join(str(c) for c in command)
    timing = r.get("timing") if isinstance(r.get("timing"), Mapping) else {}
    rtfx = timing.get("rtfx", timing.get("rtfx_this_run"))
    return {
        "tool": r.get("tool", "asr-eval"),
        "version": r.get("version"),
        "created": r.get("created"),
        "command": red.text(command) if isinstance(command, str) else None,
        "manifest": src("manifest"),
        "dictionary": src("dictionary"),
        "directory": src("directory"),
        "engine": r.get("engine"),
        "normalizer": r.get("normalizer"),
        "timing": dict(timing) or None,
        "timing_summary": {"wall_seconds": timing.get("wall_seconds"), "audio_seconds": timing.get("audio_seconds"),
                           "rtfx": rtfx} if timing else None,
        "shard": r.get("shard"),
        "packages": r.get("packages"),
        "conditions": conds,
    }


# --------------------------------------------------------------------------- entry point


def directory_names(run: RunData) -> tuple[list[str], str | None]:
    """Name phrases to mask: the directory file's people plus directory terms seen in terms.csv.

    Returns (names, problem); ``problem`` says why the directory file could not
    be read (then only names that occur as terms in this run are masked).
    """
    names = {t["term"] for t in run.terms if t.get("source") == "directory"}
    d = run.run.get("directory")
    path = d.get("path") if isinstance(d, Mapping) else None
    problem = None
    if path:
        from ..types import InputError
        from ..vocab import load_directory

        p = Path(path)
        if not p.is_absolute() and not p.exists():
            p = run.path / p
        try:
            for term in load_directory(p).terms:
                names.update(term.written_forms)
                for k in ("first", "last"):
                    if term.meta.get(k):
                        names.add(str(term.meta[k]))
        except (InputError, OSError) as e:
            problem = f"directory {path} could not be read ({e}); only names seen as terms in this run were masked"
    return sorted(names), problem


def build_report(
    run: RunData,
    *,
    redact: bool = False,
    redact_names: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The full report model (JSON-ready: only dicts, lists, str, int, float, bool, None)."""
    names, name_problem = directory_names(run) if redact_names else ([], None)
    red = Redactor.build(redact or redact_names, names) if (redact or redact_names) else Redactor(enabled=False)
    dir_terms = sorted({t["term"] for t in run.terms if t.get("source") == "directory"})
    name_index = {t: i + 1 for i, t in enumerate(dir_terms)}
    groups = _group_order(run.utterances)
    summary = _summary(run, groups, n_boot, seed)
    comparisons = _comparisons(run, groups, n_boot, seed)
    fairness = _fairness(run, groups, summary, comparisons, n_boot, seed)
    terms, term_changes = _term_tables(run, red, name_index)
    explanations, n_expl, causes = _explanations(run, red, name_index)
    views, n_views = _utterance_views(run, red, name_index)
    return {
        "schema": SCHEMA,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": _run_info(run, red),
        "redaction": {"enabled": red.enabled, "pii": bool(redact or redact_names), "names": bool(redact_names),
                      "note": ("Excerpts are redacted (emails, phone numbers, long digit strings"
                               + (", directory names" if redact_names else "") + "); metrics use the full text.")
                      if red.enabled else "Redaction was off: excerpts are shown as transcribed.",
                      "problem": name_problem},
        "settings": {"n_boot": n_boot, "seed": seed, "alpha": ALPHA,
                     "interval": "95% studentized bootstrap, speakers resampled within each group "
                                 "(for ALL: within each accent group when every group has 2+ speakers)",
                     "min_speakers": st.MIN_SPEAKERS, "min_words": st.MIN_WORDS},
        "baseline": run.baseline,
        "conditions": list(run.conditions),
        "groups": groups,
        "metrics": {k: {"label": st.METRICS[k].label, "percent": st.METRICS[k].percent,
                        "lower_is_better": st.METRICS[k].lower_is_better} for k in SUMMARY_METRICS},
        # When accent groups differ, that leads: the gap lines come before the condition verdicts.
        "verdicts": (fairness["gap_verdicts"] if fairness["groups_differ"] else [])
        + _overall_verdicts(run, summary, comparisons),
        "fairness": fairness,
        "summary": summary,
        "comparisons": comparisons,
        "terms": terms,
        "term_changes": term_changes,
        "explanations": explanations,
        "explanations_total": n_expl,
        "failure_causes": causes,
        "worst": _worst(views, run.conditions),
        "utterances": views,
        "utterances_total": n_views,
        "skipped": [{k: (red.text(v) if k == "problem" else v) for k, v in s.items()} for s in run.skipped],
    }


