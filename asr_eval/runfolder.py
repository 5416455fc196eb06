"""The run folder: the one module that writes it and reads it back.

A run folder is the contract between inference and everything after it
(reports, merge, sweep, notebooks): run.json, utterances.csv, terms.csv,
timing.csv, alignments.jsonl, skipped.csv, transcripts/, trn/ and the typed
Parquet copies. Writing and reading live side by side so the format has a
single owner.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .manifest import Manifest
from .files import write_atomic
from .score_run import ScoredRun
from .stats import COUNT_FIELDS
from .types import BiasPlan, Condition, InputError, Problem, Transcript, Utterance

BASELINE = "baseline"
COUNT_COLUMNS = (
    "ref_words", "hits", "subs", "dels", "ins",
    "ref_chars", "char_hits", "char_subs", "char_dels", "char_ins",
    "b_ref", "b_hits", "b_subs", "b_dels", "b_ins",
    "u_ref", "u_hits", "u_subs", "u_dels", "u_ins",
    "term_refs", "term_hits", "term_partial", "term_misses", "term_false_ins", "term_display_exact",
)
UTTERANCE_COLUMNS = ("utt_id", "condition", "speaker", "accent_group", "audio_seconds",
                     "ref", "hyp", "ref_norm", "hyp_norm", *COUNT_COLUMNS)
# Wall-clock figures differ between any two runs; kept apart so scored outputs are reproducible.
TIMING_COLUMNS = ("utt_id", "condition", "audio_seconds", "decode_seconds")
TERM_COLUMNS = ("utt_id", "condition", "speaker", "accent_group", "term", "category", "source", "outcome",
                "ref_text", "hyp_text", "display_exact", "in_force", "dropped", "ref_start", "hyp_start")


def _csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()


def write_run_folder(
    out_dir: Path,
    *,
    manifest: Manifest,
    utterances: Sequence[Utterance],
    conditions: Sequence[Condition],
    plans: Mapping[str, BiasPlan],
    transcripts: Mapping[tuple[str, str], Transcript],
    scored: ScoredRun,
    provenance: Mapping[str, Any],
    problems: Sequence[Problem] = (),
    baseline: str | None = None,
) -> None:
    """Write every output file of a run (each one atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [c.name for c in conditions]
    by_id = {u.id: u for u in utterances}
    tdir = out_dir / "transcripts"
    keep = {f"{_safe_name(n)}.jsonl" for n in names} | {f"{_safe_name(n)}.trn" for n in names} | {"ref.trn"}
    for stale in [*tdir.glob("*.jsonl"), *(out_dir / "trn").glob("*.trn")]:
        if stale.name not in keep:  # a condition of an earlier run into this folder
            stale.unlink()
    for name in names:
        lines = []
        for u in utterances:
            t = transcripts.get((u.id, name))
            if t is None:
                continue
            row = t.to_dict()
            row.update(speaker=u.speaker, accent_group=u.accent_group, ref=u.text)
            lines.append(json.dumps(row, ensure_ascii=False))
        write_atomic(tdir / f"{_safe_name(name)}.jsonl", "".join(l + "\n" for l in lines))
    write_atomic(out_dir / "utterances.csv", _csv_text(scored.utterance_rows, UTTERANCE_COLUMNS))
    write_atomic(out_dir / "timing.csv", _csv_text(scored.utterance_rows, TIMING_COLUMNS))
    write_atomic(out_dir / "terms.csv", _csv_text(scored.term_rows, TERM_COLUMNS))
    write_parquet(to_frame(scored.utterance_rows, UTTERANCE_COLUMNS), out_dir / "utterances.parquet")
    write_parquet(to_frame(scored.term_rows, TERM_COLUMNS), out_dir / "terms.parquet")
    write_atomic(out_dir / "alignments.jsonl",
                 "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored.alignment_rows))
    skipped = [{"path": p.path, "line": p.line, "severity": p.severity, "problem": p.problem}
               for p in (*manifest.problems, *problems)]
    for uid in scored.excluded:
        if not any(mentions(uid).search(s["problem"]) for s in skipped):
            skipped.append({"path": by_id[uid].audio, "line": by_id[uid].line, "severity": "error",
                            "problem": f"clip {uid} has no transcript in every condition; excluded"})
    write_atomic(out_dir / "skipped.csv", _csv_text(skipped, ("path", "line", "severity", "problem")))
    _write_trn(out_dir / "trn", scored.utterance_rows, names)
    run = dict(provenance)
    run["conditions"] = [
        {"name": c.name, "method": c.method, "strength": c.strength, "correct": c.correct,
         "terms_offered": len(c.terms), "plan": plans[c.name].to_dict() if c.name in plans else None}
        for c in conditions
    ]
    run["baseline"] = baseline or (BASELINE if BASELINE in names else names[0])
    run["counts"] = {"utterances": len(utterances), "scored": len(utterances) - len(scored.excluded),
                     "excluded": len(scored.excluded), "skipped_rows": len(skipped)}
    write_atomic(out_dir / "run.json", json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n")


def mentions(utt_id: str) -> re.Pattern[str]:
    """Matches ``utt_id`` as a whole id inside a problem message ('u1' not inside 'u10')."""
    return re.compile(r"(?<![\w./-])" + re.escape(utt_id) + r"(?![\w./-])")


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in name)


def _write_trn(folder: Path, rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> None:
    """Normalised reference/hypothesis trn files, so sclite can re-score exactly what asr-eval scored."""
    from .trn import format_trn_line

    refs: dict[str, str] = {}
    hyps: dict[str, list[str]] = {n: [] for n in names}
    for r in rows:
        refs.setdefault(r["utt_id"], format_trn_line(r["ref_norm"], r["speaker"], r["utt_id"]) + "\n")
        hyps[r["condition"]].append(format_trn_line(r["hyp_norm"], r["speaker"], r["utt_id"]) + "\n")
    write_atomic(folder / "ref.trn", "".join(refs.values()))
    for name in names:
        write_atomic(folder / f"{_safe_name(name)}.trn", "".join(hyps[name]))


# --------------------------------------------------------------------------- reading

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
    conditions = [str(c["name"]) for c in run.get("conditions") or [] if isinstance(c, _MappingABC) and "name" in c]
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


# --------------------------------------------------------------------------- DataFrames

TABLES = ("utterances", "terms")


def to_frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame.from_records(list(rows), columns=list(columns))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet via a temporary file and rename, like every other output."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    frame.to_parquet(tmp, engine="pyarrow", index=False)
    os.replace(tmp, path)


def read_frames(run_dir: str | Path) -> dict[str, "pd.DataFrame"]:
    """``{"utterances": ..., "terms": ...}`` (Parquet when present, else the CSVs)."""
    import pandas as pd

    run_dir = Path(run_dir)
    out: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        pq, csv = run_dir / f"{name}.parquet", run_dir / f"{name}.csv"
        if pq.exists():
            out[name] = pd.read_parquet(pq, engine="pyarrow")
        elif csv.exists():
            out[name] = pd.read_csv(csv, keep_default_na=False)
        else:
            raise InputError(str(csv), f"not a run folder: no {name}.parquet or {name}.csv")
    return out
