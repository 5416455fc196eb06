"""The report's verdicts: what the numbers say, in plain English sentences.

Every sentence is built from the report's numbers (``numbers``), never from
the run folder, so the sentences and the tables cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from .. import stats as st
from .format import fmt_ci, fmt_pct, fmt_value
from .numbers import ALL, ALPHA


def fairness_verdicts(baseline: str, gaps: list[dict[str, Any]], gains: list[dict[str, Any]],
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
            f"{g['condition']}: worst group {g['worst']} ({fmt_pct(g['worst_value'])} WER) vs best {g['best']} "
            f"({fmt_pct(g['best_value'])}): gap {fmt_value('wer', d['value'], True)} {fmt_ci('wer', d['low'], d['high'], True)}"
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
        text = f"{cond} vs {baseline}: " + "; ".join(parts) + "."
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


def overall_verdicts(summary: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> list[str]:
    """Each biased condition against the baseline overall (WER, term recall, false insertions), and small groups."""
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


def reason(t: Mapping[str, Any], cond_method: str | None) -> str:
    """Why a term occurrence failed, as far as the biasing is concerned."""
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


def cause(t: Mapping[str, Any], cond_method: str | None) -> str:
    """Short form of ``reason`` for counting: what the biasing did with this term in this clip."""
    if t.get("dropped"):
        return "dropped by the token budget"
    if t.get("in_force"):
        return "in the prompt/hotwords"
    return "not offered" if cond_method not in (None, "none") else "no biasing"
