"""The report's Harms section: output on non-speech, prompt echo, loops and dropped tails.

Numbers come from the harm counts of utterances.csv (``asr_eval.harms``), with
the same speaker bootstrap and paired tests as WER; the explanations come from
the run folder's harms.jsonl, one event per harm, placed on the clip's
alignment. The harm comparisons are a Holm family of their own, so adding them
changes no p-value of the WER and term comparisons.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from .. import stats as st
from ..harms import ECHO, KINDS, LOOP, NONSPEECH, TAIL
from ..redact import Redactor
from ..runfolder import RunData
from ..scoring import term_columns
from .format import json_float
from .collect import Collected
from ..grouping import DEFAULT_GROUPINGS, Grouping
from .numbers import ALL, ALPHA, _no_interval, _strata, seed_tag, too_few_speakers

HARM_METRICS = st.HARM_METRICS
KIND_LABELS = {NONSPEECH: "output on non-speech", ECHO: "prompt echo", LOOP: "repetition loop", TAIL: "dropped tail"}
N_EXAMPLES = 12  # events listed per condition in the Markdown; the HTML shows each on its clip


def harm_section(run: RunData, col: Collected, groups: Sequence[str], red: Redactor, n_boot: int,
                 seed: int, grouping: Grouping = DEFAULT_GROUPINGS[0]) -> dict[str, Any]:
    """Per condition x group (ALL first): harm rates with intervals; each condition minus the baseline; events.

    The rates come from the per-speaker count sums ``collect`` gathered in its
    one pass over the clips; the events from harms.jsonl (``run.harms``).
    """
    summary, comparisons = harm_tables(col, groups, n_boot, seed, grouping)
    return {
        "metrics": {k: {"label": st.METRICS[k].label, "percent": st.METRICS[k].percent} for k in HARM_METRICS},
        "summary": summary,
        "comparisons": comparisons,
        "events": _event_counts(run, col.conditions),
        "examples": _examples(run, col.conditions, red),
        "thresholds": run.run.get("harms") if isinstance(run.run.get("harms"), Mapping) else None,
    }


def harm_tables(col: Collected, groups: Sequence[str], n_boot: int, seed: int,
                grouping: Grouping = DEFAULT_GROUPINGS[0], include_all: bool = True,
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(harm rates per condition x group, each condition minus the baseline) under ``grouping``."""
    key = grouping.key
    order = [ALL, *groups] if include_all else list(groups)
    summary = []
    for cond in col.conditions:
        for g in order:
            if not col.has_cell(g, cond):
                continue
            speakers, mat = col.cell(g, cond)
            gs = st.summarize_matrix(speakers, mat, n_boot=n_boot,
                                     seed=st.stable_seed(seed, "harms", seed_tag(grouping, g)),
                                     metrics=HARM_METRICS, strata=_strata(col.strata[cond]) if g == ALL else None)
            c = gs.counts
            few = too_few_speakers(gs.speakers)
            metrics = {k: v.as_dict() for k, v in gs.metrics.items()}
            summary.append({
                key: g, "condition": cond, "clips": gs.clips, "speakers": gs.speakers,
                "speech_clips": c.clips - c.ns_clips, "nonspeech_clips": c.ns_clips,
                "too_few_speakers": few,
                "counts": {k: getattr(c, k) for k in ("ns_clips", "ns_output_clips", "ns_words", "echo_clips",
                                                      "echo_words", "loop_clips", "loop_words", "tail_clips",
                                                      "tail_words")},
                "metrics": {k: _no_interval(v) for k, v in metrics.items()} if few else metrics,
            })
    return summary, _comparisons(col, order, n_boot, seed, grouping)


def _comparisons(col: Collected, order: Sequence[str], n_boot: int, seed: int,
                 grouping: Grouping) -> list[dict[str, Any]]:
    """Each condition minus the baseline, decided like the WER comparisons (``stats.decide``), in their own Holm families."""
    key = grouping.key
    base = col.baseline
    if base not in col.conditions:
        return []
    rows = []
    for cond in col.conditions:
        if cond == base:
            continue
        for g in order:
            p = col.paired(g, cond) if col.has_cell(g, base) and col.has_cell(g, cond) else None
            if p is None:
                continue
            res = st.paired_compare_counts(p, metrics=HARM_METRICS, n_boot=n_boot,
                                           seed=st.stable_seed(seed, "harms-paired", seed_tag(grouping, g)),
                                           strata=_strata(col.strata[base]) if g == ALL else None)
            for name, r in res.items():
                if math.isnan(r.base) and math.isnan(r.cond):
                    continue  # e.g. no non-speech clips in this group
                few = too_few_speakers(r.n_speakers)
                lo, hi = (None, None) if few else (json_float(r.low), json_float(r.high))
                rows.append({
                    key: g, "condition": cond, "baseline": base, "metric": name,
                    "base": json_float(r.base), "cond": json_float(r.cond), "diff": json_float(r.diff),
                    "low": lo, "high": hi,
                    "ci_excludes_zero": bool(lo is not None and hi is not None and (lo > 0 or hi < 0)),
                    "n_speakers": r.n_speakers, "n_clips": r.n_clips, "too_few_speakers": few,
                    "n_differ": r.n_differ, "wilcoxon_p": json_float(r.wilcoxon_p),
                    "speaker_t_p": json_float(r.speaker_t_p), "mapsswe_p": json_float(r.mapsswe_p),
                })
    for family in (lambda r: r[key] == ALL, lambda r: r[key] != ALL):
        fam = [r for r in rows if family(r)]
        tested = [r for r in fam if not r["too_few_speakers"]]
        for test in ("wilcoxon", "mapsswe"):
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
            r["holm_decision"] = json_float(d.p_holm)
    return rows


def _event_counts(run: RunData, conditions: Sequence[str]) -> list[dict[str, Any]]:
    """Events per condition and kind (a clip may hold several of one kind: two loops)."""
    n: Counter[tuple[str, str]] = Counter((e["condition"], e["kind"]) for e in run.harms)
    return [{"condition": c, **{k: n[(c, k)] for k in KINDS}} for c in conditions]


def _event_view(e: Mapping[str, Any], red: Redactor) -> dict[str, Any]:
    return {"utt_id": e["utt_id"], "condition": e["condition"], "accent_group": e.get("accent_group", ""),
            "kind": e["kind"], "label": KIND_LABELS.get(e["kind"], e["kind"]), "words": e.get("words"),
            "text": red.text(e.get("text") or ""), "detail": red.text(e.get("detail") or "")}


def _examples(run: RunData, conditions: Sequence[str], red: Redactor) -> dict[str, list[dict[str, Any]]]:
    """The first events of each condition, biased conditions' echoes and loops first."""
    rank = {ECHO: 0, LOOP: 1, NONSPEECH: 2, TAIL: 3}
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in conditions}
    for e in sorted(run.harms, key=lambda e: (rank.get(e["kind"], 9), e["utt_id"])):
        rows = out.get(e["condition"])
        if rows is not None and len(rows) < N_EXAMPLES:
            rows.append(_event_view(e, red))
    return out


def attach_to_views(run: RunData, views: Sequence[dict[str, Any]], red: Redactor) -> None:
    """Put each clip's harm events on its utterance view, with the alignment columns they cover.

    A harm of hypothesis words (echo, loop, output on non-speech) marks those
    words' columns; a dropped tail marks the reference words it lost.
    """
    by_clip: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for e in run.harms:
        by_clip[(e["utt_id"], e["condition"])].append(e)
    for v in views:
        kinds: set[str] = set()
        for cond, cu in v["conditions"].items():
            events = by_clip.get((v["utt_id"], cond), [])
            ops = "".join(p[0] for p in cu.get("pairs") or [])
            out = []
            for e in events:
                ev = _event_view(e, red)
                if e.get("ref_start") is not None:
                    ev["cols"] = term_columns(ops, e["ref_start"], int(e.get("ref_len") or 0), "ref")
                elif e.get("hyp_start") is not None:
                    ev["cols"] = term_columns(ops, e["hyp_start"], int(e.get("hyp_len") or 0), "hyp")
                else:
                    ev["cols"] = []
                out.append(ev)
                kinds.add(e["kind"])
            cu["harms"] = out
        v["harms"] = sorted(kinds)  # the kinds any condition of this clip shows, for the page's filter


HARMS_CSV_COLUMNS = ("accent_group", "condition", "metric", "value", "low", "high", "clips", "nonspeech_clips",
                     "baseline", "base", "diff", "diff_low", "diff_high", "holm_wilcoxon", "significance")


def harms_csv(model: Mapping[str, Any], key: str = "accent_group") -> str:
    """harms.csv: one row per group x condition x harm metric, its interval and, for biased conditions, the change.

    ``model`` is the report model, or one grouping's section of it (``key`` its group column).
    """
    import csv
    import io

    h = model.get("harms") or {}
    comp = {(r[key], r["condition"], r["metric"]): r for r in h.get("comparisons", [])}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow((key, *HARMS_CSV_COLUMNS[1:]))
    for r in h.get("summary", []):
        for name, e in r["metrics"].items():
            c = comp.get((r[key], r["condition"], name), {})
            row = [r[key], r["condition"], name, e["value"], e["low"], e["high"], r["clips"],
                   r["nonspeech_clips"], c.get("baseline"), c.get("base"), c.get("diff"), c.get("low"), c.get("high"),
                   c.get("holm_wilcoxon"), c.get("significance")]
            w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()
