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
import re
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .manifest import Manifest
from .counts import COUNT_COLUMNS
from .files import listed_outputs, os_errors, record_outputs, replace_atomic, write_atomic
from .tabular import jsonl_rows, read_csv, read_json, read_text
from .score_run import ScoredRun
from .types import BiasPlan, Condition, InputError, Problem, Term, Transcript, Utterance

if TYPE_CHECKING:
    import pandas as pd

BASELINE = "baseline"
REF_TRN_STEM = "ref"  # trn/ref.trn holds the references; no condition may take its name
UTTERANCE_COLUMNS = ("utt_id", "condition", "speaker", "accent_group", "audio_seconds",
                     "ref", "hyp", "ref_norm", "hyp_norm", *COUNT_COLUMNS)
# Wall-clock figures differ between any two runs; kept apart so scored outputs are reproducible.
TIMING_COLUMNS = ("utt_id", "condition", "audio_seconds", "decode_seconds", "node")
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
    vocabulary: Sequence[Term] = (),
    problems: Sequence[Problem] = (),
    baseline: str | None = None,
) -> None:
    """Write every output file of a run (each one atomically) and list them in the folder's index.

    ``vocabulary`` is the list of terms the run was scored against; it is
    snapshotted (with every condition's offered terms) in vocabulary.json so
    that reports, merge and sweeps never go back to the source files, which
    may have changed or moved since.

    A condition of an earlier run into this folder leaves transcripts/ and
    trn/ files behind; they are removed only if the folder's index lists
    them, so a file asr-eval did not write is never deleted.
    """
    names = [c.name for c in conditions]
    check_condition_names(names)
    with os_errors(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {u.id: u for u in utterances}
    previous = listed_outputs(out_dir)
    written: list[str] = []

    def put(rel: str, text: str) -> None:
        write_atomic(out_dir / rel, text)
        written.append(rel)

    for name in names:
        lines = []
        for u in utterances:
            t = transcripts.get((u.id, name))
            if t is None:
                continue
            row = t.to_dict()
            row.update(speaker=u.speaker, accent_group=u.accent_group, ref=u.text)
            lines.append(json.dumps(row, ensure_ascii=False))
        put(f"transcripts/{_safe_name(name)}.jsonl", "".join(l + "\n" for l in lines))
    put("utterances.csv", _csv_text(scored.utterance_rows, UTTERANCE_COLUMNS))
    put("timing.csv", _csv_text(scored.utterance_rows, TIMING_COLUMNS))
    put("terms.csv", _csv_text(scored.term_rows, TERM_COLUMNS))
    write_parquet(to_frame(scored.utterance_rows, UTTERANCE_COLUMNS), out_dir / "utterances.parquet")
    write_parquet(to_frame(scored.term_rows, TERM_COLUMNS), out_dir / "terms.parquet")
    written += ["utterances.parquet", "terms.parquet"]
    put("alignments.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored.alignment_rows))
    skipped = [{"path": p.path, "line": p.line, "severity": p.severity, "problem": p.problem}
               for p in (*manifest.problems, *problems)]
    for uid in scored.excluded:
        if not any(mentions(uid).search(s["problem"]) for s in skipped):
            skipped.append({"path": by_id[uid].audio, "line": by_id[uid].line, "severity": "error",
                            "problem": f"clip {uid} has no transcript in every condition; excluded"})
    put("skipped.csv", _csv_text(skipped, ("path", "line", "severity", "problem")))
    written += _write_trn(out_dir, scored.utterance_rows, names)
    put(VOCABULARY_FILE, VocabularySnapshot(tuple(vocabulary), {c.name: tuple(c.terms) for c in conditions}).to_json())
    run = dict(provenance)
    run["conditions"] = [
        {"name": c.name, "method": c.method, "kind": condition_kind(c), "strength": c.strength, "correct": c.correct,
         "terms_offered": len(c.terms), "plan": plans[c.name].to_dict() if c.name in plans else None}
        for c in conditions
    ]
    run["baseline"] = baseline or (BASELINE if BASELINE in names else names[0])
    run["counts"] = {"utterances": len(utterances), "scored": len(utterances) - len(scored.excluded),
                     "excluded": len(scored.excluded), "skipped_rows": len(skipped)}
    put("run.json", json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n")
    if (out_dir / CACHE_FILE).is_file():  # the transcript cache, when it lives in this folder, is the run's too
        written.append(CACHE_FILE)
    stale = sorted(rel for rel in previous - set(written) if _is_condition_file(rel))
    for rel in stale:
        with os_errors(out_dir / rel):
            (out_dir / rel).unlink(missing_ok=True)
    record_outputs(out_dir, written, removed=stale)


CACHE_FILE = "cache/transcripts.jsonl"


def _is_condition_file(rel: str) -> bool:
    """A per-condition output (transcripts/<c>.jsonl, trn/<c>.trn): the files a rerun with other conditions makes stale."""
    parts = Path(rel).parts
    return len(parts) == 2 and ((parts[0] == "transcripts" and parts[1].endswith(".jsonl"))
                                or (parts[0] == "trn" and parts[1].endswith(".trn")))


# --------------------------------------------------------------------------- vocabulary snapshot

VOCABULARY_FILE = "vocabulary.json"
SNAPSHOT_FORMAT = 1


def condition_kind(c: Condition) -> str:
    """What a condition is for: set by whoever made it (sweeps), else baseline vs biased by its method."""
    if c.kind:
        return c.kind
    return "baseline" if c.method == "none" and c.correct is None and not c.terms else "biased"


def term_to_dict(t: Term) -> dict[str, Any]:
    return {"display": t.display, "category": t.category, "source": t.source, "aliases": list(t.aliases),
            "sounds_like": list(t.sounds_like), "priority": t.priority, "line": t.line, "meta": dict(t.meta)}


def term_from_dict(d: Mapping[str, Any]) -> Term:
    return Term(display=str(d["display"]), category=str(d.get("category") or ""), source=str(d.get("source") or ""),
                aliases=tuple(d.get("aliases") or ()), sounds_like=tuple(d.get("sounds_like") or ()),
                priority=int(d.get("priority") or 0), line=d.get("line"), meta=d.get("meta") or {})


@dataclass(frozen=True)
class VocabularySnapshot:
    """The resolved vocabulary a run used: the terms it was scored against and each condition's offered terms.

    Stored as one table of distinct terms plus index lists, so a condition that
    offers the whole dictionary costs a list of integers, not a second copy.
    """

    scoring: tuple[Term, ...]
    offered: Mapping[str, tuple[Term, ...]]

    def to_json(self) -> str:
        table: list[dict[str, Any]] = []
        index: dict[str, int] = {}

        def ref(t: Term) -> int:
            d = term_to_dict(t)
            key = json.dumps(d, sort_keys=True, ensure_ascii=False, default=str)
            if key not in index:
                index[key] = len(table)
                table.append(d)
            return index[key]

        doc = {"format": SNAPSHOT_FORMAT, "scoring": [ref(t) for t in self.scoring],
               "offered": {name: [ref(t) for t in terms] for name, terms in self.offered.items()}}
        doc["terms"] = table
        return json.dumps(doc, ensure_ascii=False, default=str) + "\n"

    @classmethod
    def read(cls, path: Path) -> "VocabularySnapshot":
        doc = read_json(path, "vocabulary snapshot")
        try:
            terms = [term_from_dict(d) for d in doc["terms"]]
            return cls(tuple(terms[i] for i in doc["scoring"]),
                       {str(k): tuple(terms[i] for i in v) for k, v in doc["offered"].items()})
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise InputError(str(path), f"malformed vocabulary snapshot ({exc})") from None

    def conditions(self, records: Sequence["ConditionRecord"]) -> list[Condition]:
        """The run's conditions as values, with the terms each one offered."""
        return [Condition(r.name, r.method, self.offered.get(r.name, ()), strength=r.strength, correct=r.correct,
                          kind=r.kind) for r in records]


def mentions(utt_id: str) -> re.Pattern[str]:
    """Matches ``utt_id`` as a whole id inside a problem message ('u1' not inside 'u10')."""
    return re.compile(r"(?<![\w./-])" + re.escape(utt_id) + r"(?![\w./-])")


def check_condition_names(names: Sequence[str], where: str = "conditions") -> None:
    """Refuse condition names whose files would overwrite each other (or the references' trn/ref.trn)."""
    seen: dict[str, str] = {REF_TRN_STEM: "the references (trn/ref.trn)"}
    for name in names:
        stem = _safe_name(name)
        if stem in seen:
            raise InputError(where, f"condition {name!r} would be written to the same file as {seen[stem]} "
                                    f"({stem!r}); rename it")
        seen[stem] = f"condition {name!r}"


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in name)


def _write_trn(out_dir: Path, rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """Normalised reference/hypothesis trn files, so sclite can re-score exactly what asr-eval scored."""
    from .trn import format_trn_line

    refs: dict[str, str] = {}
    hyps: dict[str, list[str]] = {n: [] for n in names}
    for r in rows:
        refs.setdefault(r["utt_id"], format_trn_line(r["ref_norm"], r["speaker"], r["utt_id"]) + "\n")
        hyps[r["condition"]].append(format_trn_line(r["hyp_norm"], r["speaker"], r["utt_id"]) + "\n")
    files = {"trn/ref.trn": "".join(refs.values())}
    files.update({f"trn/{_safe_name(name)}.trn": "".join(hyps[name]) for name in names})
    for rel, text in files.items():
        write_atomic(out_dir / rel, text)
    return list(files)


# --------------------------------------------------------------------------- reading

_UTT_REQUIRED = ("utt_id", "condition", "speaker", "accent_group", "ref_words", "subs", "dels", "ins")
_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": None}


@dataclass(frozen=True)
class ConditionRecord:
    """One condition as run.json records it: how it biased and the plan it decoded under."""

    name: str
    method: str
    kind: str
    strength: float | None = None
    correct: float | None = None
    terms_offered: int = 0
    plan: BiasPlan | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ConditionRecord":
        plan = d.get("plan")
        return cls(name=str(d["name"]), method=str(d.get("method") or ""), kind=str(d.get("kind") or ""),
                   strength=d.get("strength"), correct=d.get("correct"), terms_offered=int(d.get("terms_offered") or 0),
                   plan=BiasPlan.from_dict(plan) if plan else None)


@dataclass(frozen=True)
class Run:
    """A run folder read back: provenance, scored rows, conditions with their plans, the vocabulary snapshot.

    ``conditions`` are the names that have scored rows, baseline first;
    ``condition_records`` every condition run.json lists, in its order.
    ``vocabulary`` is None only for folders written before snapshots existed.
    """

    path: Path
    run: Mapping[str, Any]
    utterances: list[dict[str, Any]]
    terms: list[dict[str, Any]]
    alignments: dict[tuple[str, str], list[tuple[str, str | None, str | None]]]
    skipped: list[dict[str, Any]]
    conditions: list[str] = field(default_factory=list)
    baseline: str = "baseline"
    condition_records: tuple[ConditionRecord, ...] = ()
    vocabulary: VocabularySnapshot | None = None

    def plan(self, condition: str) -> BiasPlan | None:
        return next((r.plan for r in self.condition_records if r.name == condition), None)


RunData = Run  # the name the report modules know it by


def _bool(value: Any, path: Path, line: int, col: str) -> bool | None:
    key = str(value).strip().lower() if value is not None else ""
    if key not in _BOOL:
        raise InputError(str(path), f"column {col!r}: expected True/False, got {value!r}", line)
    return _BOOL[key]


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line, cells) per record, read within the reader's limits (a run folder may come from elsewhere)."""
    _, records = read_csv(path, read_text(path))
    return [(row.line, row.fields) for row in records]


def _utterances(path: Path) -> list[dict[str, Any]]:
    rows = _read_csv(path)
    out = []
    for line, row in rows:
        missing = [c for c in _UTT_REQUIRED if c not in row]
        if missing:
            raise InputError(str(path), f"missing columns {missing}", 1)
        rec: dict[str, Any] = dict(row)
        for f in COUNT_COLUMNS:
            raw = (row.get(f) or "").strip()
            try:
                rec[f] = _whole(raw, 0)
            except (ValueError, OverflowError):
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
                rec[col] = _whole(raw, None)
            except (ValueError, OverflowError):
                raise InputError(str(path), f"column {col!r}: expected a word index, got {raw!r}", line) from None
        if rec.get("outcome") not in ("hit", "partial", "miss", "false_insertion"):
            raise InputError(str(path), f"column 'outcome': unknown value {rec.get('outcome')!r}", line)
        out.append(rec)
    return out


def _alignments(path: Path) -> dict[tuple[str, str], list[tuple[str, str | None, str | None]]]:
    if not path.exists():
        return {}
    out = {}
    for record in jsonl_rows(path, read_text(path)):
        row = record.fields
        try:
            pairs = [(str(op), r, h) for op, r, h in row["pairs"]]
            out[(str(row["utt_id"]), str(row["condition"]))] = pairs
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(str(path), f"malformed alignment row: {e}", record.line) from None
    return out


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder; conditions keep run.json's order, baseline first."""
    run_dir = Path(run_dir)
    run_path = run_dir / "run.json"
    run = read_run_info(run_dir)
    utt_path = run_dir / "utterances.csv"
    if not utt_path.exists():
        raise InputError(str(utt_path), "not found")
    utterances = _utterances(utt_path)
    skipped = read_skipped(run_dir)
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
    snapshot = run_dir / VOCABULARY_FILE
    return Run(
        path=run_dir,
        run=run,
        utterances=utterances,
        terms=_terms(run_dir / "terms.csv"),
        alignments=_alignments(run_dir / "alignments.jsonl"),
        skipped=skipped,
        conditions=conditions,
        baseline=baseline,
        condition_records=_condition_records(run_path, run),
        vocabulary=VocabularySnapshot.read(snapshot) if snapshot.is_file() else None,
    )


def _condition_records(path: Path, run: Mapping[str, Any]) -> tuple[ConditionRecord, ...]:
    try:
        return tuple(ConditionRecord.from_dict(c) for c in run.get("conditions") or [])
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise InputError(str(path), f"malformed condition entry ({exc})") from None


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """run.json alone (provenance, conditions, plans): for callers that need no scored rows."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise InputError(str(path), "not found: is this a run folder written by `asr-eval run`?")
    info = read_json(path, "run.json")
    if not isinstance(info, dict) or not isinstance(info.get("conditions", []), list):
        raise InputError(str(path), "not a run description (expected a JSON object with a list of conditions)")
    return info


def _whole(raw: str, empty: Any) -> Any:
    """A count or index as written: a whole number ('3', '3.0'), never '2.5', 'inf' or 'nan'."""
    if not raw:
        return empty
    value = float(raw)
    if not value.is_integer():
        raise ValueError(raw)
    return int(value)


def read_transcripts(run_dir: str | Path, conditions: Sequence[str]) -> dict[tuple[str, str], Transcript]:
    """transcripts/<condition>.jsonl of the named conditions; every row once, or InputError at file:line."""
    out: dict[tuple[str, str], Transcript] = {}
    for name in conditions:
        path = Path(run_dir) / "transcripts" / f"{_safe_name(name)}.jsonl"
        if not path.is_file():
            raise InputError(str(path), f"missing (condition {name!r} is listed in run.json)")
        for row in jsonl_rows(path, read_text(path)):  # split at line ends only: a text may hold U+2028
            line_no = row.line
            try:
                t = Transcript.from_dict(row.fields)
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(str(path), f"unreadable transcript row ({exc})", line_no) from None
            if (t.utt_id, t.condition) in out:
                raise InputError(str(path), f"clip {t.utt_id!r} appears twice in one shard", line_no)
            out[(t.utt_id, t.condition)] = t
    return out


def read_skipped(run_dir: str | Path) -> list[dict[str, str]]:
    path = Path(run_dir) / "skipped.csv"
    return [dict(r) for _, r in _read_csv(path)] if path.is_file() else []


# --------------------------------------------------------------------------- DataFrames

TABLES = ("utterances", "terms")


def to_frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame.from_records(list(rows), columns=list(columns))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet via a temporary file and rename, like every other output."""
    replace_atomic(path, lambda tmp: frame.to_parquet(tmp, engine="pyarrow", index=False))


def read_frames(run_dir: str | Path) -> dict[str, pd.DataFrame]:
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
