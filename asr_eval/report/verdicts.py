"""The report's verdicts: what the numbers say, in plain English sentences.

Every sentence is built from the report's numbers (``numbers``), never from
the run folder, so the sentences and the tables cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from .. import stats as st
from .format import fmt_ci, fmt_pct, fmt_value, na_speakers
from .numbers import ALL, ALPHA


def _speakers(n: int) -> str:
    return f"{n} speaker{'' if n == 1 else 's'}"


def _p(x: float | None) -> str:
    return "p undefined" if x is None else "p < 0.001" if x < 0.001 else f"p = {x:.3f}"


TEST_NAMES = {st.WILCOXON: "Wilcoxon signed-rank test over speakers", st.SPEAKER_T: "paired t-test over speakers"}
SHORT_TEST_NAMES = {st.WILCOXON: "Wilcoxon", st.SPEAKER_T: "paired t over speakers"}


def decision_reason(r: Mapping[str, Any]) -> str:
    """Which test decided a comparison row, why that one, and why the interval beside it may seem to disagree.

    Plain words for a reader deciding whether to ship: the speaker is the
    independent unit, so a speaker-level test decides; the sentence names it,
    gives its p before and after the Holm correction, and explains an interval
    that excludes zero beside "not significant" (or includes it beside
    "significant") instead of leaving the two to contradict each other.
    """
    n = r["n_speakers"]
    if r["significance"] == st.TOO_FEW_SPEAKERS:
        return (f"{_speakers(n)}: at least {st.MIN_SPEAKERS} are needed for an interval or a verdict, so none is"
                " given")
    test = r["decided_by"]
    text = f"{TEST_NAMES[test]} ({_speakers(n)}), {_p(r['decision_p'])}"
    k = r.get("holm_family") or 1
    if k > 1:
        text += f", {_p(r['holm_decision']).removeprefix('p ').removeprefix('= ')} after Holm correction across {k} comparisons"
    if test == st.SPEAKER_T:
        needs = r.get("wilcoxon_needs") or st.WILCOXON_MIN_DIFFER
        text += (f"; the t-test decides because only {r['n_differ']} of the speakers changed, and the Wilcoxon test"
                 f" needs {needs} to reach p < {ALPHA}" + (f" after Holm across {k}" if k > 1 else ""))
    p, ph = r["decision_p"], r["holm_decision"]
    if r["significance"] == st.NOT_SIGNIFICANT and r["ci_excludes_zero"]:
        if p is not None and p < ALPHA <= (ph if ph is not None else 1.0):
            text += f"; the 95% interval excludes zero because it is not corrected for the {k} comparisons"
        elif test == st.SPEAKER_T:
            text += (f"; the 95% interval excludes zero, but a bootstrap over {_speakers(n)} is optimistic"
                     " (it covers less than 95% with few speakers), so the verdict follows the test")
        else:
            text += ("; the 95% interval (of the pooled difference) excludes zero, the rank test (of the speakers'"
                     " own differences) does not: they disagree near the boundary, and the verdict follows the test")
    elif r.get("vetoed_by_interval"):
        text += ("; that test finds a difference, but the 95% interval of the pooled difference includes zero: most"
                 " speakers changed one way while some moved far the other, so no change in the pooled rate is"
                 " claimed")
    hm = r.get("holm_mapsswe")
    if r["significance"] != st.SIGNIFICANT and hm is not None and hm < ALPHA:
        text += (f"; MAPSSWE over {r['n_segments']} segments does find a difference ({_p(hm)} after Holm), but it treats"
                 " the segments of one speaker as independent, which overstates the evidence, so it does not decide")
    return text


def comparison_note(r: Mapping[str, Any]) -> str:
    """The verdict cell of a comparison table: the verdict and, briefly, which test gave it."""
    if r["significance"] == st.TOO_FEW_SPEAKERS:
        return f"too few speakers ({r['n_speakers']})"
    text = f"{r['significance']} ({SHORT_TEST_NAMES[r['decided_by']]}"
    k = r.get("holm_family") or 1
    text += f", Holm over {k})" if k > 1 else ")"
    if r["significance"] == st.NOT_SIGNIFICANT and r["ci_excludes_zero"]:
        p = r["decision_p"]
        text += ("; interval not Holm-corrected" if p is not None and p < ALPHA
                 else "; interval optimistic, test decides")
    elif r.get("vetoed_by_interval"):
        text += "; test says yes, interval includes zero"
    return text


def fairness_verdicts(baseline: str, gaps: list[dict[str, Any]], gains: list[dict[str, Any]],
                      correlations: list[dict[str, Any]], key: str = "accent_group",
                      prefix: str = "") -> tuple[list[str], list[str]]:
    """(lines about the best-worst gap, lines about who gains from biasing).

    ``key`` is the group column of the gain rows; ``prefix`` opens every line
    (a grouping other than the report's first says which: "By gender: ").
    """
    gap_lines: list[str] = []
    out = gap_lines
    for g in gaps:
        if g["metric"] != "wer":
            continue
        d = g["diff"]
        ratio = g["ratio"]["value"]
        few = g.get("too_few_speakers") or []
        if few:
            n = {g["worst"]: g["worst_speakers"], g["best"]: g["best_speakers"]}
            ci = "(no interval: " + ", ".join(f"{_speakers(n[x])} in {x}" for x in few) + ")"
            verdict = f"too few speakers for a verdict on the gap (at least {st.MIN_SPEAKERS} per group)"
        else:
            ci = fmt_ci("wer", d["low"], d["high"], True)
            verdict = ("a real gap (the interval excludes zero)" if g["differ"]
                       else "not clearly different (the interval includes zero)")
        out.append(
            f"{prefix}{g['condition']}: worst group {g['worst']} ({fmt_pct(g['worst_value'])} WER) vs best {g['best']} "
            f"({fmt_pct(g['best_value'])}): gap {fmt_value('wer', d['value'], True)} {ci}"
            + (f", {ratio:.2f}x" if ratio is not None else "") + f" - {verdict}."
        )
    out = []
    by_cond = defaultdict(list)
    for g in gains:
        by_cond[g["condition"]].append(g)
    for cond, rows in by_cond.items():
        tested = [r for r in rows if r["significance"] != st.TOO_FEW_SPEAKERS]
        helped = [r[key] for r in tested
                  if r["significance"] == st.SIGNIFICANT and r["gain"] is not None and r["gain"] > 0]
        hurt = [r[key] for r in tested
                if r["significance"] == st.SIGNIFICANT and r["gain"] is not None and r["gain"] < 0]
        unclear = [r[key] for r in tested if r[key] not in helped + hurt]
        few = [f"{r[key]} ({_speakers(r['n_speakers'])})" for r in rows
               if r["significance"] == st.TOO_FEW_SPEAKERS]
        parts = []
        if helped:
            parts.append(f"lowers WER for {', '.join(helped)}")
        if hurt:
            parts.append(f"raises WER for {', '.join(hurt)}")
        if unclear:
            parts.append(f"no significant change for {', '.join(unclear)}")
        if tested:
            k = max(r.get("holm_family") or 1 for r in tested)
            parts[-1] += (" (speaker-level test per group"
                          + (f", Holm-corrected across the {k} per-group comparisons)" if k > 1 else ")"))
        if few:
            parts.append(f"too few speakers to tell for {', '.join(few)}")
        text = f"{prefix}{cond} vs {baseline}: " + "; ".join(parts) + "."
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


def overall_verdicts(summary: list[dict[str, Any]], comparisons: list[dict[str, Any]],
                     key: str = "accent_group") -> list[str]:
    """Each biased condition against the baseline overall (WER, term recall, false insertions), and small groups."""
    out = []
    allrows = {r["condition"]: r for r in summary if r[key] == ALL}
    for r in comparisons:
        if r[key] != ALL or r["metric"] not in ("wer", "term_recall", "false_ins_per_100"):
            continue
        m = st.METRICS[r["metric"]]
        if r["diff"] is None:
            continue
        sig = r["significance"]
        change = fmt_value(r["metric"], r["diff"], signed=True)
        if sig == st.TOO_FEW_SPEAKERS:
            numbers = f"{change}, 95% CI {na_speakers(r['n_speakers'])}"
            head = "too few speakers"
        else:
            numbers = f"{change}, 95% CI {fmt_ci(r['metric'], r['low'], r['high'], True)}"
            direction = {True: "better", False: "worse"}.get(r["improved"], "no change")
            head = f"{direction}, significant" if sig == st.SIGNIFICANT else "not significant"
        out.append(f"{r['condition']}: {m.label} {fmt_value(r['metric'], r['base'])} → "
                   f"{fmt_value(r['metric'], r['cond'])} ({numbers}) - {head}: {decision_reason(r)}.")
    out += small_group_verdicts(summary, key)
    if not allrows:
        out.append("No utterances were scored.")
    return out


def small_group_verdicts(summary: list[dict[str, Any]], key: str = "accent_group", prefix: str = "") -> list[str]:
    """The groups too small for an interval (speakers) or for a stable one (words), by name."""
    out = []
    few = sorted({r[key] for r in summary if r.get("too_few_speakers") and r[key] != ALL})
    if few:
        out.append(f"{prefix}No interval or verdict for {', '.join(few)}: fewer than {st.MIN_SPEAKERS} speakers; their"
                   " values are shown, their intervals marked n/a.")
    words = sorted({r[key] for r in summary if r["small"] and not r.get("too_few_speakers") and r[key] != ALL})
    if words:
        out.append(f"{prefix}Few words in {', '.join(words)} (fewer than {st.MIN_WORDS}): their intervals are shown but"
                   " wide and unstable; they are flagged.")
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
