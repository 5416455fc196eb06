"""Turn a loaded run into one JSON-ready report model.

Every writer (CSV, Markdown, JSON, HTML) renders this one model, so they carry
the same numbers. The model is assembled here from ``numbers`` (tables from
counts), ``verdicts`` (plain-language sentences about those numbers) and
``views`` (what the pages show besides: failed terms in context, aligned
utterances, provenance). Redaction is decided here, once, and applied by those
modules to every excerpt that leaves them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .. import stats as st
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
    correction has been applied across every pair.
    """
    for r in comparisons:  # the verdict in words, with the test that gave it, for every format's table
        r["verdict_note"] = verdicts.comparison_note(r)
        r["verdict_reason"] = verdicts.decision_reason(r)
    fairness = numbers.fairness(col, groups, comparisons, n_boot, seed)
    notes = {(r["accent_group"], r["condition"]): r["verdict_note"] for r in comparisons if r["metric"] == "wer"}
    for g in fairness["gains"]:
        g["verdict_note"] = notes.get((g["accent_group"], g["condition"]), g["significance"])
    gap_verdicts, gain_verdicts = verdicts.fairness_verdicts(col.baseline, fairness["gaps"], fairness["gains"],
                                                             fairness["gain_correlation"])
    fairness.update(verdicts=gap_verdicts + gain_verdicts, gap_verdicts=gap_verdicts, gain_verdicts=gain_verdicts)
    return fairness


def build_report(
    run: RunData,
    *,
    redact: bool = False,
    redact_names: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
    clips: Callable[[], Iterable[ClipBlock]] | None = None,
    directory_terms: Callable[[], set[str]] | None = None,
) -> dict[str, Any]:
    """The full report model (JSON-ready: only dicts, lists, str, int, float, bool, None).

    ``clips`` streams the run's clips (``runfolder.iter_clips``) and
    ``directory_terms`` the directory terms its terms.csv names, for a ``run``
    read without its rows (``runfolder.open_run``); by default both come from
    the rows ``run`` holds. Either way one pass over the clips
    (``collect.collect``) gathers what the report needs, so its memory does
    not grow with the number of clips.
    """
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

    col = collect(blocks(), run.run, red=red, display=display)
    groups = col.groups
    summary = numbers.summary(col, groups, n_boot, seed)
    comparisons = numbers.comparisons(col, groups, n_boot, seed)
    fairness = verdicts_and_fairness(col, groups, comparisons, n_boot, seed)
    terms, term_changes = numbers.term_tables(col, display)
    explanations, n_expl, causes = views.explanations(col)
    utterances, n_views = views.utterance_views(col)
    harm_report = harms.harm_section(run, col, groups, red, n_boot, seed)
    harms.attach_to_views(run, utterances, red)
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
        "groups": groups,
        "metrics": {k: {"label": st.METRICS[k].label, "percent": st.METRICS[k].percent,
                        "lower_is_better": st.METRICS[k].lower_is_better} for k in SUMMARY_METRICS},
        # When accent groups differ, that leads: the gap lines come before the condition verdicts.
        "verdicts": (fairness["gap_verdicts"] if fairness["groups_differ"] else [])
        + verdicts.overall_verdicts(summary, comparisons),
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
