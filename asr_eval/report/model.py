"""Turn a loaded run into one JSON-ready report model.

Every writer (CSV, Markdown, JSON, HTML) renders this one model, so they carry
the same numbers. The model is assembled here from ``numbers`` (tables from
counts), ``verdicts`` (plain-language sentences about those numbers) and
``views`` (what the pages show besides: failed terms in context, aligned
utterances, provenance). Redaction is decided here, once, and applied by those
modules to every excerpt that leaves them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .. import stats as st
from ..grouping import DEFAULT_GROUPINGS, Grouping, is_default
from ..redact import Redactor
from ..runfolder import ClipBlock, RunData
from . import harms, numbers, verdicts, views
from .collect import Collected, blocks_of, collect
from .format import fmt_ci, fmt_p, fmt_value
from .numbers import ALL, ALPHA, SUMMARY_METRICS

SCHEMA = "asr-eval-report/1"

__all__ = ["ALL", "ALPHA", "SCHEMA", "SUMMARY_METRICS", "build_report", "directory_names", "fmt_ci", "fmt_p",
           "fmt_value"]


def directory_names(run: RunData, seen: set[str] | None = None) -> tuple[list[str], str | None]:
    """Name phrases to mask: every directory person of the run's vocabulary snapshot, plus directory terms seen.

    The snapshot (vocabulary.json) is what the run used, so the names masked are
    the run's own even if the directory file has changed or moved since. A
    report reads its run folder only: a folder written before snapshots existed
    masks the names seen as terms and says so (``problem``), rather than open
    whatever path its run.json names.
    """
    names = set(seen) if seen is not None else {t["term"] for t in run.terms if t.get("source") == "directory"}
    if run.vocabulary is not None:
        people = [t for t in run.vocabulary.scoring if t.source == "directory"]
        return sorted(names | _name_forms(people)), None
    if run.run.get("directory"):
        return sorted(names), ("this run folder has no vocabulary snapshot (vocabulary.json; older asr-eval "
                               "did not write one): only names seen as terms in this run were masked; "
                               "rerun it to mask the whole directory")
    return sorted(names), None


def _name_forms(people) -> set[str]:
    out: set[str] = set()
    for term in people:
        out.update(term.written_forms)
        out.update(str(term.meta[k]) for k in ("first", "last") if term.meta.get(k))
    return out


def verdicts_and_fairness(col: Collected, groups: list[str], comparisons: list[dict[str, Any]], n_boot: int,
                          seed: int) -> dict[str, Any]:
    """Put the verdict in words on each comparison row; the fairness section with its verdict sentences.

    Shared with ``compare``, which calls it on each pair of runs once the Holm
    correction has been applied across every pair (its rows carry the group
    under the default grouping's key).
    """
    _verdict_notes(comparisons)
    return _fairness(col, groups, comparisons, n_boot, seed, DEFAULT_GROUPINGS[0], "")


def build_report(
    run: RunData,
    *,
    redact: bool = False,
    redact_names: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
    clips: Callable[[], Iterable[ClipBlock]] | None = None,
    directory_terms: Callable[[], set[str]] | None = None,
    groupings: Sequence[Grouping] = DEFAULT_GROUPINGS,
) -> dict[str, Any]:
    """The full report model (JSON-ready: only dicts, lists, str, int, float, bool, None).

    ``clips`` streams the run's clips (``runfolder.iter_clips``) and
    ``directory_terms`` the directory terms its terms.csv names, for a ``run``
    read without its rows (``runfolder.open_run``); by default both come from
    the rows ``run`` holds. Either way one pass over the clips
    (``collect.collect``) gathers what the report needs, so its memory does
    not grow with the number of clips.

    ``groupings`` (``grouping.parse_group_by``): the first one's tables are
    the model's ``summary``, ``comparisons``, ``fairness`` and ``harms`` (keyed
    by its ``key``), as they always were for the accent group; each further
    one is a section of ``groupings`` with the same tables.
    """
    groupings = tuple(groupings) or DEFAULT_GROUPINGS
    if clips is None:
        blocks = lambda: blocks_of(run)  # noqa: E731
        seen = {t["term"] for t in run.terms if t.get("source") == "directory"}
    else:
        blocks = clips
        seen = directory_terms() if (redact_names and directory_terms is not None) else set()
    names, name_problem = directory_names(run, seen) if redact_names else ([], None)
    red = Redactor.build(redact or redact_names, names) if (redact or redact_names) else Redactor(enabled=False)
    # A pseudonym numbers the directory names seen as terms (only with redact_names does it show).
    name_index = {t: i + 1 for i, t in enumerate(sorted(seen))}

    def display(term: str, source: str) -> str:
        return red.term(term, source, name_index.get(term))

    col = collect(blocks(), run.run, red=red, display=display, groupings=groupings)
    first = groupings[0]
    key = first.key
    groups = col.groups
    summary = numbers.summary(col, groups, n_boot, seed, first)
    comparisons = numbers.comparisons(col, groups, n_boot, seed, first)
    _verdict_notes(comparisons)
    fairness = _fairness(col, groups, comparisons, n_boot, seed, first, "")
    terms, term_changes = numbers.term_tables(col, display)
    explanations, n_expl, causes = views.explanations(col)
    utterances, n_views = views.utterance_views(col)
    harm_report = harms.harm_section(run, col, groups, red, n_boot, seed, first)
    harms.attach_to_views(run, utterances, red)
    sections = [_grouping_section(col.view(i), g, key, summary, comparisons, harm_report, n_boot, seed)
                for i, g in enumerate(groupings) if i > 0]
    lead = list(fairness["gap_verdicts"]) if fairness["groups_differ"] else []
    for sec in sections:  # a real gap under any grouping leads the verdicts, named by its grouping
        if sec["fairness"]["groups_differ"]:
            lead += sec["fairness"]["gap_verdicts"]
    return {
        "schema": SCHEMA,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": views.run_info(run, red),
        "redaction": {"enabled": red.enabled, "pii": bool(redact or redact_names), "names": bool(redact_names),
                      "note": ("Excerpts are redacted (emails, phone numbers, long digit strings"
                               + (", directory names" if redact_names else "") + "); metrics use the full text.")
                      if red.enabled else "Redaction was off: excerpts are shown as transcribed.",
                      "problem": name_problem},
        "settings": {"n_boot": n_boot, "seed": seed, "alpha": ALPHA,
                     "interval": "95% studentized bootstrap, speakers resampled within each group "
                                 "(for ALL: within each accent group when every group has 2+ speakers)",
                     "min_speakers": st.MIN_SPEAKERS, "min_words": st.MIN_WORDS,
                     "verdict_rule": ("no interval and no verdict below min_speakers; otherwise the Wilcoxon "
                                      "signed-rank test over speakers decides when enough speakers changed for "
                                      "its smallest p (2/2^n) to pass the first Holm step (alpha / family), the "
                                      "paired t-test over speakers when fewer did; Holm within the overall and "
                                      "within the per-group comparisons; MAPSSWE is reported, never decides")},
        "baseline": col.baseline,
        "conditions": list(col.conditions),
        # How the per-group tables are grouped (the first: the tables above; the others: ``groupings``);
        # report.json leaves these out when the report is grouped by accent group alone (``jsonout``).
        "group_by": [g.describe() for g in groupings],
        "groupings": sections,
        "grouping_notes": list(col.notes),
        "groups": groups,
        "metrics": {k: {"label": st.METRICS[k].label, "percent": st.METRICS[k].percent,
                        "lower_is_better": st.METRICS[k].lower_is_better} for k in SUMMARY_METRICS},
        # When groups differ, that leads: the gap lines come before the condition verdicts.
        "verdicts": lead + verdicts.overall_verdicts(summary, comparisons, key),
        "fairness": fairness,
        "summary": summary,
        "comparisons": comparisons,
        "terms": terms,
        "term_changes": term_changes,
        "explanations": explanations,
        "explanations_total": n_expl,
        "failure_causes": causes,
        "worst": views.worst(col),
        "utterances": utterances,
        "utterances_total": n_views,
        "skipped": views.skipped(run, red),
        "harms": harm_report,
    }


def _verdict_notes(comparisons: list[dict[str, Any]]) -> None:
    for r in comparisons:  # the verdict in words, with the test that gave it, for every format's table
        r["verdict_note"] = verdicts.comparison_note(r)
        r["verdict_reason"] = verdicts.decision_reason(r)


def _fairness(col: Any, groups: list[str], comparisons: list[dict[str, Any]], n_boot: int, seed: int,
              grouping: Grouping, prefix: str) -> dict[str, Any]:
    key = grouping.key
    fairness = numbers.fairness(col, groups, comparisons, n_boot, seed, grouping)
    notes = {(r[key], r["condition"]): r["verdict_note"] for r in comparisons if r["metric"] == "wer"}
    for g in fairness["gains"]:
        g["verdict_note"] = notes.get((g[key], g["condition"]), g["significance"])
    gap_verdicts, gain_verdicts = verdicts.fairness_verdicts(col.baseline, fairness["gaps"], fairness["gains"],
                                                             fairness["gain_correlation"], key, prefix)
    fairness.update(verdicts=gap_verdicts + gain_verdicts, gap_verdicts=gap_verdicts, gain_verdicts=gain_verdicts)
    return fairness


def _rekey(row: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new: row[old], **{k: v for k, v in row.items() if k != old}}


def _merge_all(group_rows: list[dict[str, Any]], all_rows: list[dict[str, Any]], conditions: Sequence[str],
               all_first: bool) -> list[dict[str, Any]]:
    """Per condition, the ALL rows (taken from the first grouping's table) before or after the groups' rows."""
    out: list[dict[str, Any]] = []
    for cond in conditions:
        grp = [r for r in group_rows if r["condition"] == cond]
        al = [r for r in all_rows if r["condition"] == cond]
        out += al + grp if all_first else grp + al
    return out


def _grouping_section(col: Any, grouping: Grouping, first_key: str, summary: list[dict[str, Any]],
                      comparisons: list[dict[str, Any]], harm_report: dict[str, Any], n_boot: int,
                      seed: int) -> dict[str, Any]:
    """One further grouping's tables: its groups' rows (own Holm family, own small-group flags) and the ALL rows.

    The ALL rows do not depend on the grouping, so they are the first
    grouping's, re-keyed; the groups' seeds depend only on the grouping and
    label (``numbers.seed_tag``), so a table is the same whichever other
    groupings the report shows.
    """
    key = grouping.key
    groups = col.groups
    conds = col.conditions

    def alls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [_rekey(r, first_key, key) for r in rows if r[first_key] == ALL]

    g_summary = _merge_all(numbers.summary(col, groups, n_boot, seed, grouping, include_all=False), alls(summary),
                           conds, all_first=False)
    g_comp = numbers.comparisons(col, groups, n_boot, seed, grouping, include_all=False)
    _verdict_notes(g_comp)
    g_comp = _merge_all(g_comp, alls(comparisons), conds, all_first=True)
    prefix = f"By {grouping.noun}: "
    fairness = _fairness(col, groups, g_comp, n_boot, seed, grouping, prefix)
    h_summary, h_comp = harms.harm_tables(col, groups, n_boot, seed, grouping, include_all=False)
    return {
        **grouping.describe(),
        "groups": groups,
        "summary": g_summary,
        "comparisons": g_comp,
        "fairness": fairness,
        "verdicts": ((fairness["gap_verdicts"] if fairness["groups_differ"] else [])
                     + verdicts.small_group_verdicts(g_summary, key, prefix)),
        "harms": {"metrics": harm_report["metrics"],
                  "summary": _merge_all(h_summary, alls(harm_report["summary"]), conds, all_first=True),
                  "comparisons": _merge_all(h_comp, alls(harm_report["comparisons"]), conds, all_first=True)},
    }


def is_default_grouping(model: dict[str, Any]) -> bool:
    """Grouped by accent group alone: report.json then has exactly the keys it always had."""
    return is_default([Grouping(tuple(g["columns"])) for g in model.get("group_by") or []] or DEFAULT_GROUPINGS)
