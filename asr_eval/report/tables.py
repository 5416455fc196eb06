"""summary.csv and comparison.csv: the report model's tables, flat, for spreadsheets and diffs."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from ..counts import COUNT_COLUMNS
from .numbers import SUMMARY_METRICS


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def group_key(model: Mapping[str, Any]) -> str:
    """The group column of a model's (or a grouping section's) rows: 'accent_group' unless grouped otherwise."""
    if "key" in model:
        return str(model["key"])
    by = model.get("group_by") or []
    return str(by[0]["key"]) if by else "accent_group"


def summary_csv(model: Mapping[str, Any]) -> str:
    """One row per group x condition (plus the ALL group): metrics with CI bounds, then raw counts.

    ``model`` is the report model or one grouping's section of it; the first
    column is named after the grouping (``accent_group`` by default). A group
    with too few speakers keeps its values; its bounds are empty and
    ``too_few_speakers`` says why.
    """
    key = group_key(model)
    metric_cols = [c for m in SUMMARY_METRICS for c in (m, f"{m}_low", f"{m}_high")]
    counts = COUNT_COLUMNS
    header = [key, "condition", "clips", "speakers", "words", "small", "small_reason", "too_few_speakers",
              *metric_cols, *counts]
    rows = []
    for r in model["summary"]:
        vals = []
        for m in SUMMARY_METRICS:
            e = r["metrics"][m]
            vals += [e["value"], e["low"], e["high"]]
        rows.append([r[key], r["condition"], r["clips"], r["speakers"], r["words"], r["small"],
                     r["small_reason"], r["too_few_speakers"], *vals, *(r["counts"][f] for f in counts)])
    return _csv(header, rows)


COMPARISON_COLUMNS = [
    "accent_group", "condition", "baseline", "metric", "base", "cond", "diff", "low", "high", "ci_excludes_zero",
    "n_speakers", "too_few_speakers", "n_differ", "n_clips", "n_segments", "mapsswe_unit", "wilcoxon_p",
    "holm_wilcoxon", "sign_p", "holm_sign", "speaker_t_p", "speaker_t_df", "holm_speaker_t", "mapsswe_w", "mapsswe_p",
    "holm_mapsswe", "significance", "decided_by", "decision_p", "holm_decision", "holm_family", "vetoed_by_interval", "verdict_note",
]


def comparison_csv(model: Mapping[str, Any]) -> str:
    """One row per (group, biased condition, metric): condition minus baseline with interval and tests.

    ``significance`` is decided by the test in ``decided_by`` (its p and Holm-adjusted p beside it); with
    too few speakers the bounds and the Holm columns are empty and ``significance`` says so.
    """
    key = group_key(model)
    columns = [key, *COMPARISON_COLUMNS[1:]]
    return _csv(columns, [[r.get(c) for c in columns] for r in model["comparisons"]])
