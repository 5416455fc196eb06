"""Read a run folder (the pipeline's output) into plain Python values.

The run folder is the contract between inference and reporting (docs/report.md):
run.json, utterances.csv, terms.csv, alignments.jsonl, skipped.csv. Reports
never re-run the model or re-score; they only read these files. Missing
optional files (terms.csv, alignments.jsonl, skipped.csv) give empty tables;
a missing run.json or utterances.csv, or a malformed row, is an InputError
naming file and line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stats import COUNT_FIELDS
from ..types import InputError

_UTT_REQUIRED = ("utt_id", "condition", "speaker", "accent_group", "ref_words", "subs", "dels", "ins")
_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": None}


@dataclass(frozen=True)
class RunData:
    """Everything a report needs from one run folder."""

    path: Path
    run: Mapping[str, Any]
    utterances: list[dict[str, Any]]
    terms: list[dict[str, Any]]
    alignments: dict[tuple[str, str], list[tuple[str, str | None, str | None]]]
    skipped: list[dict[str, Any]]
    conditions: list[str] = field(default_factory=list)
    baseline: str = "baseline"


def _bool(value: Any, path: Path, line: int, col: str) -> bool | None:
    key = str(value).strip().lower() if value is not None else ""
    if key not in _BOOL:
        raise InputError(str(path), f"column {col!r}: expected True/False, got {value!r}", line)
    return _BOOL[key]


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return [(i + 2, row) for i, row in enumerate(reader)]


def _utterances(path: Path) -> list[dict[str, Any]]:
    rows = _read_csv(path)
    out = []
    for line, row in rows:
        missing = [c for c in _UTT_REQUIRED if c not in row]
        if missing:
            raise InputError(str(path), f"missing columns {missing}", 1)
        rec: dict[str, Any] = dict(row)
        for f in COUNT_FIELDS:
            if f == "clips":
                continue
            raw = (row.get(f) or "").strip()
            try:
                rec[f] = int(float(raw)) if raw else 0
            except ValueError:
                raise InputError(str(path), f"column {f!r}: expected a count, got {raw!r}", line) from None
        for f in ("audio_seconds", "decode_seconds"):
            raw = (row.get(f) or "").strip()
            try:
                rec[f] = float(raw) if raw else 0.0
            except ValueError:
                raise InputError(str(path), f"column {f!r}: expected seconds, got {raw!r}", line) from None
        for f in ("ref", "hyp", "ref_norm", "hyp_norm"):
            rec[f] = row.get(f) or ""
        rec["_line"] = line
        out.append(rec)
    return out


def _terms(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line, row in _read_csv(path):
        rec: dict[str, Any] = dict(row)
        for col in ("display_exact", "in_force", "dropped"):
            rec[col] = _bool(row.get(col), path, line, col)
        for col in ("ref_start", "hyp_start"):
            raw = (row.get(col) or "").strip()
            try:
                rec[col] = int(float(raw)) if raw else None
            except ValueError:
                raise InputError(str(path), f"column {col!r}: expected a word index, got {raw!r}", line) from None
        if rec.get("outcome") not in ("hit", "partial", "miss", "false_insertion"):
            raise InputError(str(path), f"column 'outcome': unknown value {rec.get('outcome')!r}", line)
        out.append(rec)
    return out


def _alignments(path: Path) -> dict[tuple[str, str], list[tuple[str, str | None, str | None]]]:
    if not path.exists():
        return {}
    out = {}
    with open(path, encoding="utf-8") as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
                pairs = [(str(op), r, h) for op, r, h in row["pairs"]]
                out[(str(row["utt_id"]), str(row["condition"]))] = pairs
            except (ValueError, KeyError, TypeError) as e:
                raise InputError(str(path), f"malformed alignment row: {e}", line) from None
    return out


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder; conditions keep run.json's order, baseline first."""
    run_dir = Path(run_dir)
    run_path = run_dir / "run.json"
    if not run_path.exists():
        raise InputError(str(run_path), "not found: is this a run folder written by `asr-eval run`?")
    try:
        run = json.loads(run_path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise InputError(str(run_path), f"not valid JSON: {e}") from None
    utt_path = run_dir / "utterances.csv"
    if not utt_path.exists():
        raise InputError(str(utt_path), "not found")
    utterances = _utterances(utt_path)
    skipped_path = run_dir / "skipped.csv"
    skipped = [dict(r) for _, r in _read_csv(skipped_path)] if skipped_path.exists() else []
    baseline = str(run.get("baseline") or "baseline")
    conditions = [str(c["name"]) for c in run.get("conditions") or [] if isinstance(c, Mapping) and "name" in c]
    for u in utterances:
        if u["condition"] not in conditions:
            conditions.append(u["condition"])
    present = {u["condition"] for u in utterances}
    conditions = [c for c in conditions if c in present]
    if baseline in conditions:
        conditions.remove(baseline)
        conditions.insert(0, baseline)
    return RunData(
        path=run_dir,
        run=run,
        utterances=utterances,
        terms=_terms(run_dir / "terms.csv"),
        alignments=_alignments(run_dir / "alignments.jsonl"),
        skipped=skipped,
        conditions=conditions,
        baseline=baseline,
    )
