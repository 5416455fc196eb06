"""The comparison report's model: run B (and C...) against run A on the clips they share.

Each condition pair (``pairing.ConditionPair``) becomes a two-condition run in
memory, A's condition as the baseline and B's as the condition, on the shared
clips only, grouped by the chosen column. The numbers a single run's report
computes (``numbers.summary``, ``numbers.comparisons``, ``numbers.fairness``,
``harms.harm_section``) are then computed on it unchanged, so a comparison of
two runs uses the same intervals, tests and verdict rules as a comparison of
two conditions of one run. The Holm correction is applied once more across
every pair's rows, as a run applies it across its conditions. What is
particular to two runs is added from ``pairing``: the change of the gap
between groups, term occurrences gained and lost, the clips that changed most.

Reads only what the run folders hold (``runfolder.Run``), like every report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .. import pairing
from .. import stats as st
from ..redact import Redactor
from ..runfolder import Run
from . import harms, numbers, verdicts, views
from .collect import blocks_of, collect
from .model import directory_names, verdicts_and_fairness
from .numbers import ALL, ALPHA, SUMMARY_METRICS

SCHEMA = "asr-eval-compare/1"
N_TERMS = 15


def shared_clips(a: Run, a_cond: str, b: Run, b_cond: str) -> pairing.ClipSets:
    """Clips scored under A's condition and B's, in A's order; and those only one side scored."""
    a_ids = list(dict.fromkeys(str(u["utt_id"]) for u in a.utterances if u["condition"] == a_cond))
    b_ids = list(dict.fromkeys(str(u["utt_id"]) for u in b.utterances if u["condition"] == b_cond))
    return pairing.clip_sets(a_ids, b_ids)


def pair_run(a: Run, b: Run, pair: pairing.ConditionPair, group_by: str) -> Run:
    """The pair as one run in memory: A's condition (the baseline) and B's, on the shared clips, grouped by ``group_by``."""
    keep = set(shared_clips(a, pair.a_cond, b, pair.b_cond).shared)
    first = pairing.first_rows(a.utterances)
    speakers = {uid: str(r["speaker"]) for uid, r in first.items()}
    groups = {uid: str(r.get(group_by, "")) for uid, r in first.items()}
    utts = (pairing.relabel(a.utterances, pair.a_cond, pair.a_label, keep, group_by)
            + pairing.relabel(b.utterances, pair.b_cond, pair.b_label, keep, group_by, speakers))
    # Terms, alignments and harm events follow their clip: its group and speaker are A's.
    def side(rows: Sequence[Mapping[str, Any]], cond: str, label: str) -> list[dict[str, Any]]:
        return [{**r, "condition": label, "accent_group": groups[str(r["utt_id"])],
                 "speaker": speakers[str(r["utt_id"])]}
                for r in rows if r["condition"] == cond and str(r["utt_id"]) in keep]

    terms = side(a.terms, pair.a_cond, pair.a_label) + side(b.terms, pair.b_cond, pair.b_label)
    harm_rows = side(a.harms, pair.a_cond, pair.a_label) + side(b.harms, pair.b_cond, pair.b_label)
    alignments = {}
    for run, cond, label in ((a, pair.a_cond, pair.a_label), (b, pair.b_cond, pair.b_label)):
        for (uid, c), pairs in run.alignments.items():
            if c == cond and uid in keep:
                alignments[(uid, label)] = pairs

    def cond_entry(run: Run, cond: str, label: str) -> dict[str, Any]:
        entry = next((dict(c) for c in run.run.get("conditions") or [] if isinstance(c, Mapping)
                      and c.get("name") == cond), {"name": cond, "method": ""})
        return {**entry, "name": label}

    info = {**a.run, "conditions": [cond_entry(a, pair.a_cond, pair.a_label), cond_entry(b, pair.b_cond, pair.b_label)],
            "baseline": pair.a_label}
    records = tuple(dataclasses.replace(r, name=label) for run, cond, label in
                    ((a, pair.a_cond, pair.a_label), (b, pair.b_cond, pair.b_label))
                    for r in run.condition_records if r.name == cond)
    return Run(path=b.path, run=info, utterances=utts, terms=terms, alignments=alignments, skipped=[],
               conditions=[pair.a_label, pair.b_label], baseline=pair.a_label, condition_records=records,
               vocabulary=a.vocabulary, harms=harm_rows)


def _redactor(runs: Sequence[Run], redact: bool, redact_names: bool) -> Redactor:
    if not (redact or redact_names):
        return Redactor(enabled=False)
    names: set[str] = set()
    if redact_names:
        for r in runs:
            names.update(directory_names(r)[0])
    return Redactor.build(True, sorted(names))


def _changed(synth: Run, pair: pairing.ConditionPair, red: Redactor) -> dict[str, Any]:
    a = [u for u in synth.utterances if u["condition"] == pair.a_label]
    b = [u for u in synth.utterances if u["condition"] == pair.b_label]
    moved, better, worse = pairing.clip_changes(a, b)
    a_by, b_by = {u["utt_id"]: u for u in a}, {u["utt_id"]: u for u in b}
    rows = []
    for c in moved:
        ua, ub = a_by[c.utt_id], b_by[c.utt_id]
        rows.append({
            "utt_id": c.utt_id, "group": c.group, "speaker": c.speaker, "ref_words": c.ref_words,
            "a_errors": c.a_errors, "b_errors": c.b_errors, "change": c.change,
            "ref": red.text(ua["ref"]),
            "a_hyp": red.text(ua["hyp"]), "b_hyp": red.text(ub["hyp"]),
            "a_pairs": views.redact_pairs(synth.alignments.get((c.utt_id, pair.a_label), []), red),
            "b_pairs": views.redact_pairs(synth.alignments.get((c.utt_id, pair.b_label), []), red),
        })
    return {"clips": rows, "better": better, "worse": worse, "unchanged": len(a) - better - worse}


def _terms(synth: Run, pair: pairing.ConditionPair, red: Redactor) -> dict[str, Any]:
    a = [t for t in synth.terms if t["condition"] == pair.a_label]
    b = [t for t in synth.terms if t["condition"] == pair.b_label]
    dir_terms = sorted({t["term"] for t in synth.terms if t.get("source") == "directory"})
    index = {t: i + 1 for i, t in enumerate(dir_terms)}
    rows = []
    for c in pairing.term_changes(a, b):
        d = c.as_dict()
        d["term"] = red.term(c.term, c.source, index.get(c.term))  # a person's name never leaves unredacted
        rows.append(d)
    gained = sorted((r for r in rows if r["gained"] > 0), key=lambda r: (-r["gained"], r["lost"], r["term"]))
    lost = sorted((r for r in rows if r["lost"] > 0), key=lambda r: (-r["lost"], r["gained"], r["term"]))
    fi = sorted((r for r in rows if r["false_ins_change"] != 0), key=lambda r: (-r["false_ins_change"], r["term"]))
    return {"rows": rows, "gained": gained[:N_TERMS], "lost": lost[:N_TERMS], "false_insertions": fi[:N_TERMS],
            "occurrences": sum(r["occurrences"] for r in rows), "gained_total": sum(r["gained"] for r in rows),
            "lost_total": sum(r["lost"] for r in rows)}


def _gap_changes(synth: Run, pair: pairing.ConditionPair, groups: Sequence[str], n_boot: int,
                 seed: int) -> list[dict[str, Any]]:
    by: dict[str, tuple[list, list]] = {g: ([], []) for g in groups}
    for u in synth.utterances:
        by[u["accent_group"]][0 if u["condition"] == pair.a_label else 1].append(u)
    out = []
    for metric in ("wer", "term_recall"):
        g = pairing.gap_change(by, metric=metric, n_boot=n_boot, seed=st.stable_seed(seed, "gapchange", pair.name))
        if g is None:
            continue
        d = g.as_dict()
        few = [x for x in {g.a_worst, g.a_best, g.b_worst, g.b_best}
               if numbers.too_few_speakers(len({u["speaker"] for u in by[x][0]}))]
        if few:  # as everywhere in the reports: no interval for a group under MIN_SPEAKERS
            d.update(low=None, high=None, verdict="too few speakers", too_few_speakers=sorted(few))
        else:
            d["too_few_speakers"] = []
        out.append(d)
    return out


def _gap_sentence(pair_name: str, g: Mapping[str, Any]) -> str:
    m = st.METRICS[g["metric"]]
    from .format import fmt_ci, fmt_value

    head = (f"{pair_name}: the {m.label} gap between groups goes from {fmt_value(g['metric'], g['a_gap'], True)} "
            f"({g['a_worst']} vs {g['a_best']}) to {fmt_value(g['metric'], g['b_gap'], True)} "
            f"({g['b_worst']} vs {g['b_best']}), change {fmt_value(g['metric'], g['change'], True)}")
    if g["verdict"] == "too few speakers":
        return head + f" - no interval: fewer than {st.MIN_SPEAKERS} speakers in {', '.join(g['too_few_speakers'])}."
    ci = fmt_ci(g["metric"], g["low"], g["high"], True)
    says = {"narrows": "B narrows the gap (the interval is below zero)",
            "widens": "B widens the gap (the interval is above zero)",
            "no clear change": "no clear change (the interval includes zero)",
            "no interval": "no interval"}[g["verdict"]]
    return f"{head} {ci} - {says}."


def build_compare_report(
    runs: Mapping[str, Run],
    pairs: Sequence[pairing.ConditionPair],
    *,
    group_by: str = "accent_group",
    n_boot: int = 2000,
    seed: int = 0,
    redact: bool = False,
    redact_names: bool = False,
    checks: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The comparison model (JSON-ready). ``runs``: label -> run (A first); ``checks``: what compare verified or forced."""
    red = _redactor(list(runs.values()), redact, redact_names)
    synths = [pair_run(runs[p.a_run], runs[p.b_run], p, group_by) for p in pairs]
    per_pair = []
    all_rows: list[dict[str, Any]] = []
    for p, synth in zip(pairs, synths):
        # the run report's one pass over a run's clips, on the pair as a two-condition run
        col = collect(blocks_of(synth), synth.run, red=red, display=lambda term, source: red.term(term, source, None))
        groups = col.groups
        rows = numbers.comparisons(col, groups, n_boot, seed)
        for r in rows:
            r["pair"] = p.name
        all_rows += rows
        per_pair.append((p, synth, col, groups, rows))
    numbers.holm_families(all_rows)  # one family across every pair, as a run's report has across its conditions
    out_pairs = []
    verdict_lines: list[str] = []
    for p, synth, col, groups, rows in per_pair:
        summary = numbers.summary(col, groups, n_boot, seed)
        fairness = verdicts_and_fairness(col, groups, rows, n_boot, seed)
        gap_changes = _gap_changes(synth, p, groups, n_boot, seed)
        lines = verdicts.overall_verdicts(summary, rows) + [_gap_sentence(p.name, g) for g in gap_changes]
        terms = _terms(synth, p, red)
        if terms["occurrences"]:
            lines.append(f"{p.name}: of {terms['occurrences']} term occurrences on the shared clips, B recognised "
                         f"{terms['gained_total']} that A missed and missed {terms['lost_total']} that A recognised.")
        verdict_lines += lines
        harm = harms.harm_section(synth, col, groups, red, n_boot, seed)
        out_pairs.append({
            "name": p.name, "a_run": p.a_run, "b_run": p.b_run, "a_condition": p.a_cond, "b_condition": p.b_cond,
            "a_label": p.a_label, "b_label": p.b_label, "baseline": p.a_label, "conditions": [p.a_label, p.b_label],
            "groups": groups, "clips": len({u["utt_id"] for u in synth.utterances}),
            "speakers": len({u["speaker"] for u in synth.utterances}),
            "verdicts": lines, "summary": summary, "comparisons": rows, "fairness": fairness,
            "gap_changes": gap_changes, "terms": terms, "changed": _changed(synth, p, red),
            "harms": {"summary": harm["summary"], "comparisons": harm["comparisons"], "metrics": harm["metrics"],
                      "events": harm["events"], "examples": {}},
        })
    return {
        "schema": SCHEMA,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "group_by": group_by,
        "runs": [{"label": label, "path": str(run.path), "conditions": list(run.conditions),
                  "clips": len({u["utt_id"] for u in run.utterances}), "info": views.run_info(run, red)}
                 for label, run in runs.items()],
        "checks": dict(checks or {}),
        "redaction": {"enabled": red.enabled,
                      "note": "Excerpts are redacted; metrics use the full text." if red.enabled
                      else "Redaction was off: excerpts are shown as transcribed."},
        "settings": {"n_boot": n_boot, "seed": seed, "alpha": ALPHA, "min_speakers": st.MIN_SPEAKERS,
                     "min_words": st.MIN_WORDS,
                     "interval": "95% studentized bootstrap over speakers, paired by clip (B minus A); the "
                                 "same resamples for both runs",
                     "holm": "within the overall rows and within the per-group rows of every pair together"},
        "metrics": {k: {"label": st.METRICS[k].label, "percent": st.METRICS[k].percent,
                        "lower_is_better": st.METRICS[k].lower_is_better} for k in SUMMARY_METRICS},
        "verdicts": verdict_lines,
        "pairs": out_pairs,
        "gate": None,
    }


def flat_rows(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every pair's comparison rows, in pair order (for comparison.csv)."""
    return [r for p in model["pairs"] for r in p["comparisons"]]


__all__ = ["ALL", "SCHEMA", "build_compare_report", "flat_rows", "pair_run", "shared_clips"]
