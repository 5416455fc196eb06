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
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from .manifest import Manifest
from .counts import COUNT_COLUMNS
from .files import listed_outputs, os_errors, record_outputs, replace_atomic, temp_path, write_atomic
from .tabular import jsonl_rows, read_csv, read_json, read_text, stream_csv, stream_jsonl
from .score_run import ScoredRun
from .grouping import metadata_columns, stored_value
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
# Each scored clip's manifest metadata (gender, age, channel...), so a report can regroup the run without the manifest.
METADATA_FILE = "metadata.csv"


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
    per_clip: Sequence[str] = (),
    clip_terms: Sequence[Term] = (),
) -> None:
    """Every output file of a run whose rows are all in memory (``RunWriter`` fed from ``scored``)."""
    from .score_run import ClipRows

    names = [c.name for c in conditions]
    excluded = set(scored.excluded)
    urows, trows, arows = iter(scored.utterance_rows), iter(scored.term_rows), iter(scored.alignment_rows)
    harms_of: dict[str, list[dict[str, Any]]] = {}
    for h in scored.harm_rows:
        harms_of.setdefault(h["utt_id"], []).append(h)
    pending_terms: list[dict[str, Any]] = []
    with RunWriter(out_dir, names, meta_columns=metadata_columns(u.meta for u in utterances), per_clip=per_clip) as w:
        for u in utterances:
            ts = tuple(transcripts.get((u.id, n)) for n in names)
            if u.id in excluded:
                w.add(ClipRows(u, ts, excluded=True))
                continue
            ur = tuple(next(urows) for _ in names)
            ar = tuple(next(arows) for _ in names)
            tr: list[dict[str, Any]] = []
            while True:  # the term rows of this clip: they follow the clip order, as the scorer made them
                row = pending_terms.pop() if pending_terms else next(trows, None)
                if row is None:
                    break
                if row["utt_id"] != u.id:
                    pending_terms.append(row)
                    break
                tr.append(row)
            w.add(ClipRows(u, ts, ur, tuple(tr), ar, harm_rows=tuple(harms_of.get(u.id, ()))))
        w.finish(manifest=manifest, conditions=conditions, plans=plans, provenance=provenance,
                 vocabulary=vocabulary, problems=problems, baseline=baseline, clip_terms=clip_terms)


#: Parquet types of the columns that are not strings; a new column is a string unless listed here
#: (counts are 64-bit integers, word indexes nullable integers, flags booleans).
PARQUET_TYPES: dict[str, str] = {
    **{c: "int64" for c in COUNT_COLUMNS}, "audio_seconds": "float64", "decode_seconds": "float64",
    "display_exact": "bool_", "in_force": "bool_", "dropped": "bool_", "ref_start": "int64", "hyp_start": "int64",
}
PARQUET_BATCH = 20_000  # rows per Parquet row group written by RunWriter


class _StreamFile:
    """One output written as it grows: lines go to the temporary twin, renamed into place by ``commit``."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = temp_path(path)
        with os_errors(path, self.tmp):
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.tmp, "w", encoding="utf-8", newline="")

    def write(self, text: str) -> None:
        with os_errors(self.path, self.tmp):
            self.fh.write(text)

    def commit(self) -> None:
        with os_errors(self.path, self.tmp):
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            self.fh.close()  # flushing what is buffered may fail too (a full disk): the file goes anyway
        except OSError:
            pass
        try:
            self.tmp.unlink()
        except OSError:
            pass


class _CsvStream(_StreamFile):
    def __init__(self, path: Path, columns: Sequence[str]):
        super().__init__(path)
        self.columns = list(columns)
        self.writer = csv.DictWriter(self.fh, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        with os_errors(self.path, self.tmp):
            self.writer.writeheader()

    def row(self, r: Mapping[str, Any]) -> None:
        with os_errors(self.path, self.tmp):
            self.writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in self.columns})


class _ParquetStream:
    """A Parquet table written in row groups of ``PARQUET_BATCH`` rows, with a fixed schema (``PARQUET_TYPES``)."""

    def __init__(self, path: Path, columns: Sequence[str]):
        import pyarrow as pa

        self.path, self.tmp = path, temp_path(path)
        self.columns = list(columns)
        self.schema = pa.schema([(c, getattr(pa, PARQUET_TYPES.get(c, "string"))()) for c in self.columns])
        self.rows: list[Mapping[str, Any]] = []
        self.writer: Any = None

    def row(self, r: Mapping[str, Any]) -> None:
        self.rows.append(r)
        if len(self.rows) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{c: r.get(c) for c in self.columns} for r in self.rows], schema=self.schema)
        self.rows = []
        with os_errors(self.path, self.tmp):
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.tmp, self.schema)
            self.writer.write_table(table)

    def commit(self) -> None:
        self._flush()
        with os_errors(self.path, self.tmp):
            self.writer.close()
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        except OSError:
            pass
        try:
            self.tmp.unlink()
        except OSError:
            pass


class RunWriter:
    """Writes a run folder clip by clip, so a run of any size holds one clip's rows at a time.

    Feed it each clip's transcripts and scored rows (``add``, a
    ``score_run.ClipRows``) in manifest order, then ``finish``
    with what the run was; each file is written to a temporary twin and
    renamed into place only by ``finish``, so a failed run leaves the folder's
    earlier files as they were. The files are byte for byte what one write of
    all rows would give. A new per-utterance column needs no change here: it
    is a key of the rows and a name in ``UTTERANCE_COLUMNS`` (and, if it is
    not a string, in ``PARQUET_TYPES``).
    """

    def __init__(self, out_dir: Path, conditions: Sequence[str], meta_columns: Sequence[str] = (),
                 per_clip: Sequence[str] = ()):
        self.out_dir = Path(out_dir)
        # metadata.csv's columns: the manifest's metadata (``grouping.metadata_columns``), known before the first clip
        self.meta_columns = ("utt_id", *(c for c in meta_columns if c != "utt_id"))
        self.names = list(conditions)
        self.per_clip = [n for n in self.names if n in set(per_clip)]  # conditions whose plan differs per clip
        self.plan_stats: dict[str, dict[str, int]] = {
            n: {"clips": 0, "offered": 0, "in_force": 0, "dropped": 0, "clips_with_dropped": 0, "tokens_max": 0}
            for n in self.per_clip}
        check_condition_names(self.names)
        with os_errors(self.out_dir):
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.streams: dict[str, Any] = {}
        self.utterances = 0
        self.excluded: list[tuple[str, str, int | None]] = []  # (utt id, audio, manifest line) of each excluded clip
        try:
            for name in self.names:
                self._open(f"transcripts/{_safe_name(name)}.jsonl")
            self._open("utterances.csv", UTTERANCE_COLUMNS)
            self._open("timing.csv", TIMING_COLUMNS)
            self._open("terms.csv", TERM_COLUMNS)
            self._open(METADATA_FILE, self.meta_columns)
            self.streams["utterances.parquet"] = _ParquetStream(self.out_dir / "utterances.parquet", UTTERANCE_COLUMNS)
            self.streams["terms.parquet"] = _ParquetStream(self.out_dir / "terms.parquet", TERM_COLUMNS)
            self._open("alignments.jsonl")
            self._open(HARMS_FILE)
            self._open("trn/ref.trn")
            for name in self.names:
                self._open(f"trn/{_safe_name(name)}.trn")
            if self.per_clip:
                self._open(PLANS_FILE)
        except BaseException:
            self.abort()
            raise

    def _open(self, rel: str, columns: Sequence[str] | None = None) -> None:
        path = self.out_dir / rel
        self.streams[rel] = _CsvStream(path, columns) if columns is not None else _StreamFile(path)

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is not None or self.streams:  # an error, or left without finish(): nothing half-written stays
            self.abort()

    def abort(self) -> None:
        for s in self.streams.values():
            s.discard()
        self.streams = {}

    def _transcripts(self, utt: Utterance, transcripts: Sequence[Transcript | None]) -> None:
        """transcripts/<condition>.jsonl: every transcript a clip has (failed ones too), with its reference."""
        for name, t in zip(self.names, transcripts):
            if t is None:
                continue
            row = t.to_dict()
            row.update(speaker=utt.speaker, accent_group=utt.accent_group, ref=utt.text)
            self.streams[f"transcripts/{_safe_name(name)}.jsonl"].write(json.dumps(row, ensure_ascii=False) + "\n")

    def _plans(self, utt: Utterance, transcripts: Sequence[Transcript | None]) -> None:
        """plans.jsonl: what each per-clip condition offered this clip, in force and dropped by the budget."""
        for name, t in zip(self.names, transcripts):
            if t is None or name not in self.plan_stats:
                continue
            p = t.plan
            offered = len(p.terms_in_force) + len(p.terms_dropped)
            self.streams[PLANS_FILE].write(json.dumps({"utt_id": utt.id, **p.to_dict(), "condition": name,
                                                       "offered": offered}, ensure_ascii=False) + "\n")
            st = self.plan_stats[name]
            st["clips"] += 1
            st["offered"] += offered
            st["in_force"] += len(p.terms_in_force)
            st["dropped"] += len(p.terms_dropped)
            st["clips_with_dropped"] += bool(p.terms_dropped)
            st["tokens_max"] = max(st["tokens_max"], p.tokens)

    def add(self, clip: Any) -> None:
        """One clip (``score_run.ClipRows``): its transcripts and rows go to every table and trn file."""
        from .trn import format_trn_line

        self.utterances += 1
        self._transcripts(clip.utt, clip.transcripts)
        self._plans(clip.utt, clip.transcripts)
        if clip.excluded:
            self.excluded.append((clip.utt.id, clip.utt.audio, clip.utt.line))
            return
        s = self.streams
        speech = [r for r in clip.utterance_rows if not r.get("ns_clips")]  # no speech: not in WER, so not in what sclite would re-score
        for r in clip.utterance_rows:
            s["utterances.csv"].row(r)
            s["timing.csv"].row(r)
            s["utterances.parquet"].row(r)
        for r in speech:
            s[f"trn/{_safe_name(r['condition'])}.trn"].write(
                format_trn_line(r["hyp_norm"], r["speaker"], r["utt_id"]) + "\n")
        if speech:
            r = speech[0]
            s["trn/ref.trn"].write(format_trn_line(r["ref_norm"], r["speaker"], r["utt_id"]) + "\n")
        s[METADATA_FILE].row({"utt_id": clip.utt.id, **{c: stored_value(clip.utt.meta.get(c))
                                                        for c in self.meta_columns[1:]}})
        for r in clip.term_rows:
            s["terms.csv"].row(r)
            s["terms.parquet"].row(r)
        for r in clip.alignment_rows:
            s["alignments.jsonl"].write(json.dumps(r, ensure_ascii=False) + "\n")
        for r in clip.harm_rows:
            s[HARMS_FILE].write(json.dumps(r, ensure_ascii=False) + "\n")

    def finish(
        self,
        *,
        manifest: Manifest,
        conditions: Sequence[Condition],
        plans: Mapping[str, BiasPlan],
        provenance: Mapping[str, Any],
        vocabulary: Sequence[Term] = (),
        problems: Sequence[Problem] = (),
        baseline: str | None = None,
        clip_terms: Sequence[Term] = (),
    ) -> None:
        """Put every file in place and list them in the folder's index.

        ``clip_terms``: every term a per-clip condition could offer some clip
        (snapshotted so that plans.jsonl's display forms read back as terms).

        ``vocabulary`` is the list of terms the run was scored against; it is
        snapshotted (with every condition's offered terms) in vocabulary.json so
        that reports, merge and sweeps never go back to the source files, which
        may have changed or moved since.

        A condition of an earlier run into this folder leaves transcripts/ and
        trn/ files behind; they are removed only if the folder's index lists
        them, so a file asr-eval did not write is never deleted.
        """
        out_dir, names = self.out_dir, self.names
        previous = listed_outputs(out_dir)
        written: list[str] = []
        for rel, stream in list(self.streams.items()):
            stream.commit()
            del self.streams[rel]
            written.append(rel)

        def put(rel: str, text: str) -> None:
            write_atomic(out_dir / rel, text)
            written.append(rel)

        skipped = [{"path": p.path, "line": p.line, "severity": p.severity, "problem": p.problem}
                   for p in (*manifest.problems, *problems)]
        for uid, audio, line in self.excluded:
            if not any(mentions(uid).search(s["problem"]) for s in skipped):
                skipped.append({"path": audio, "line": line, "severity": "error",
                                "problem": f"clip {uid} has no transcript in every condition; excluded"})
        put("skipped.csv", _csv_text(skipped, ("path", "line", "severity", "problem")))
        put(VOCABULARY_FILE, VocabularySnapshot(tuple(vocabulary), {c.name: tuple(c.terms) for c in conditions},
                                                tuple(clip_terms)).to_json())
        run = dict(provenance)
        run["conditions"] = [
            {"name": c.name, "method": c.method, "kind": condition_kind(c), "strength": c.strength, "correct": c.correct,
             "terms_offered": len(c.terms), "plan": plans[c.name].to_dict() if c.name in plans else None,
             # a per-clip condition's plan above is a template; each clip's is in plans.jsonl
             **({"per_clip": {**self.plan_stats[c.name], "file": PLANS_FILE}} if c.name in self.plan_stats else {})}
            for c in conditions
        ]
        run["baseline"] = baseline or (BASELINE if BASELINE in names else names[0])
        run["counts"] = {"utterances": self.utterances, "scored": self.utterances - len(self.excluded),
                         "excluded": len(self.excluded), "skipped_rows": len(skipped)}
        put("run.json", json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n")
        if (out_dir / CACHE_FILE).is_file():  # the transcript cache, when it lives in this folder, is the run's too
            written.append(CACHE_FILE)
        stale = sorted(rel for rel in previous - set(written) if _is_condition_file(rel))
        for rel in stale:
            with os_errors(out_dir / rel):
                (out_dir / rel).unlink(missing_ok=True)
        record_outputs(out_dir, written, removed=stale)


CACHE_FILE = "cache/transcripts.jsonl"
PLANS_FILE = "plans.jsonl"  # one line per clip x per-clip condition: the BiasPlan that clip decoded under


def _is_condition_file(rel: str) -> bool:
    """A per-condition output (transcripts/<c>.jsonl, trn/<c>.trn): the files a rerun with other conditions makes stale."""
    parts = Path(rel).parts
    return len(parts) == 2 and ((parts[0] == "transcripts" and parts[1].endswith(".jsonl"))
                                or (parts[0] == "trn" and parts[1].endswith(".trn")))


# --------------------------------------------------------------------------- vocabulary snapshot

VOCABULARY_FILE = "vocabulary.json"
SNAPSHOT_FORMAT = 1
HARMS_FILE = "harms.jsonl"  # one harm event (asr_eval.harms.HarmEvent) per line, with its clip and condition


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
    clip_terms: tuple[Term, ...] = ()  # every term a per-clip condition could offer a clip (plans.jsonl)

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
        if self.clip_terms:
            doc["clip_terms"] = [ref(t) for t in self.clip_terms]
        doc["terms"] = table
        return json.dumps(doc, ensure_ascii=False, default=str) + "\n"

    @classmethod
    def read(cls, path: Path) -> "VocabularySnapshot":
        doc = read_json(path, "vocabulary snapshot")
        try:
            terms = [term_from_dict(d) for d in doc["terms"]]
            return cls(tuple(terms[i] for i in doc["scoring"]),
                       {str(k): tuple(terms[i] for i in v) for k, v in doc["offered"].items()},
                       tuple(terms[i] for i in doc.get("clip_terms") or ()))
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
    harms: list[dict[str, Any]] = field(default_factory=list)  # harms.jsonl; empty for folders written before it
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)  # metadata.csv by utt id (``load_run`` only)
    metadata_columns: tuple[str, ...] = ()  # metadata.csv's columns: what a report may group by besides the built-ins

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


def iter_utterance_rows(path: Path) -> Iterator[dict[str, Any]]:
    """utterances.csv's records as they are read (counts as ints, seconds as floats, ``_line`` added)."""
    for record in stream_csv(path):
        line, row = record.line, record.fields
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
        yield rec


def _utterances(path: Path) -> list[dict[str, Any]]:
    return list(iter_utterance_rows(path))


def iter_term_rows(path: Path) -> Iterator[dict[str, Any]]:
    """terms.csv's records as they are read (flags as bools, word indexes as ints); none when there is no file."""
    if not path.exists():
        return
    for record in stream_csv(path):
        line, row = record.line, record.fields
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
        yield rec


def _terms(path: Path) -> list[dict[str, Any]]:
    return list(iter_term_rows(path))


Pairs = list[tuple[str, "str | None", "str | None"]]


def iter_alignment_rows(path: Path) -> Iterator[tuple[str, str, Pairs]]:
    """(utt id, condition, aligned pairs) per line of alignments.jsonl as it is read; none when there is no file."""
    if not path.exists():
        return
    for record in stream_jsonl(path):
        row = record.fields
        try:
            pairs = [(str(op), r, h) for op, r, h in row["pairs"]]
            key = (str(row["utt_id"]), str(row["condition"]))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(str(path), f"malformed alignment row: {e}", record.line) from None
        yield key[0], key[1], pairs


def _alignments(path: Path) -> dict[tuple[str, str], list[tuple[str, str | None, str | None]]]:
    return {(u, c): pairs for u, c, pairs in iter_alignment_rows(path)}


@dataclass
class ClipBlock:
    """One clip's rows: utterances.csv (one per condition), terms.csv, and its alignments by condition."""

    utt_id: str
    utterances: list[dict[str, Any]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    alignments: dict[str, Pairs] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)  # its metadata.csv row (utt_id left out); {} in older folders


class NotInClipOrder(Exception):
    """terms.csv or alignments.jsonl does not follow utterances.csv clip by clip (a folder not written by asr-eval)."""


def iter_clips(run_dir: str | Path) -> Iterator[ClipBlock]:
    """The folder's clips one at a time, reading utterances.csv, terms.csv and alignments.jsonl side by side.

    asr-eval writes all three clip by clip in the same order, so one clip's
    rows are all at hand with nothing else in memory. Rows of the other two
    files that do not follow that order (a folder edited by hand, or rows of a
    clip utterances.csv lacks) raise ``NotInClipOrder`` when they are found to
    be left over; the caller then reads the folder whole (``load_run``).
    """
    run_dir = Path(run_dir)
    utt_path = run_dir / "utterances.csv"
    if not utt_path.exists():
        raise InputError(str(utt_path), "not found")
    terms = iter_term_rows(run_dir / "terms.csv")
    aligns = iter_alignment_rows(run_dir / "alignments.jsonl")
    metas = iter_metadata_rows(run_dir)
    next_term = next(terms, None)
    next_align = next(aligns, None)
    next_meta = next(metas, None)
    block: ClipBlock | None = None
    for u in iter_utterance_rows(utt_path):
        uid = str(u["utt_id"])
        if block is not None and block.utt_id == uid:
            block.utterances.append(u)
            continue
        if block is not None:
            yield block
        block = ClipBlock(uid, [u])
        while next_term is not None and str(next_term["utt_id"]) == uid:
            block.terms.append(next_term)
            next_term = next(terms, None)
        while next_align is not None and next_align[0] == uid:
            block.alignments[next_align[1]] = next_align[2]
            next_align = next(aligns, None)
        if next_meta is not None and next_meta[0] == uid:
            block.meta = next_meta[1]
            next_meta = next(metas, None)
    if block is not None:
        yield block
    if next_term is not None or next_align is not None or next_meta is not None:
        raise NotInClipOrder(f"{run_dir}: terms.csv, alignments.jsonl or {METADATA_FILE} is not in "
                             "utterances.csv's clip order")


def iter_metadata_rows(run_dir: str | Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(utt id, metadata) per row of metadata.csv as it is read; none for folders written before it existed."""
    path = Path(run_dir) / METADATA_FILE
    if not path.is_file():
        return
    for record in stream_csv(path):
        row = dict(record.fields)
        uid = row.pop("utt_id", None)
        if uid is None:
            raise InputError(str(path), "missing column 'utt_id'", 1)
        yield str(uid), {str(k): str(v or "") for k, v in row.items()}


def read_metadata(run_dir: str | Path) -> dict[str, dict[str, str]]:
    """utt id -> the clip's metadata (metadata.csv whole: for tests, notebooks and ``grouping.groups_of``)."""
    return dict(iter_metadata_rows(run_dir))


def read_metadata_columns(run_dir: str | Path) -> tuple[str, ...]:
    """The metadata columns this run folder kept (metadata.csv's header); () for folders written before it."""
    path = Path(run_dir) / METADATA_FILE
    if not path.is_file():
        return ()
    with os_errors(path):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader([fh.readline(1_000_000)]), [])
    return tuple(c for c in header if c and c != "utt_id")


def run_conditions(run: Mapping[str, Any], present: Iterable[str]) -> tuple[list[str], str]:
    """(conditions with scored rows, in run.json's order, baseline first; the baseline's name)."""
    baseline = str(run.get("baseline") or "baseline")
    conditions = [str(c["name"]) for c in run.get("conditions") or [] if isinstance(c, _MappingABC) and "name" in c]
    present = list(dict.fromkeys(present))
    for c in present:
        if c not in conditions:
            conditions.append(c)
    conditions = [c for c in conditions if c in set(present)]
    if baseline in conditions:
        conditions.remove(baseline)
        conditions.insert(0, baseline)
    return conditions, baseline


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
    conditions, baseline = run_conditions(run, (u["condition"] for u in utterances))
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
        harms=read_harms(run_dir),
        metadata=read_metadata(run_dir),
        metadata_columns=read_metadata_columns(run_dir),
    )


_HARM_INTS = ("words", "hyp_start", "hyp_len", "ref_start", "ref_len", "prompt_start", "copies")


def read_harms(run_dir: str | Path) -> list[dict[str, Any]]:
    """harms.jsonl: every harm event with its clip and condition; [] when the folder has none (older runs)."""
    from .harms import KINDS

    path = Path(run_dir) / HARMS_FILE
    if not path.is_file():
        return []
    out = []
    for record in jsonl_rows(path, read_text(path)):
        row = dict(record.fields)
        for key in ("utt_id", "condition", "kind"):
            if not isinstance(row.get(key), str):
                raise InputError(str(path), f"harm event without a {key!r} string", record.line)
        if row["kind"] not in KINDS:
            raise InputError(str(path), f"unknown harm kind {row['kind']!r} (known: {', '.join(KINDS)})", record.line)
        for key in _HARM_INTS:
            value = row.get(key)
            if value is not None and (type(value) is not int or value < 0):
                raise InputError(str(path), f"field {key!r}: expected a whole number >= 0, got {value!r}", record.line)
        for key in ("text", "detail"):
            if not isinstance(row.get(key, ""), str):
                raise InputError(str(path), f"field {key!r}: expected a string", record.line)
        out.append(row)
    return out


def iter_plans(run_dir: str | Path) -> Iterator[tuple[str, BiasPlan, int]]:
    """plans.jsonl, one (clip id, plan, terms offered) at a time; nothing when the run has no per-clip condition."""
    path = Path(run_dir) / PLANS_FILE
    if not path.is_file():
        return
    for record in stream_jsonl(path):
        row = record.fields
        try:
            if not isinstance(row.get("utt_id"), str) or not isinstance(row.get("condition"), str):
                raise TypeError("a plan without 'utt_id' and 'condition' strings")
            for key in ("terms_in_force", "terms_dropped"):
                if not isinstance(row.get(key) or [], list) or not all(isinstance(x, str) for x in row.get(key) or []):
                    raise TypeError(f"field {key!r} must be a list of strings")
            yield row["utt_id"], BiasPlan.from_dict(row), int(row.get("offered") or 0)
        except (TypeError, ValueError, KeyError) as exc:
            raise InputError(str(path), f"malformed plan ({exc})", record.line) from None


def open_run(run_dir: str | Path) -> Run:
    """A run folder without its rows: run.json, skipped.csv and the vocabulary snapshot (rows: ``iter_clips``).

    ``conditions`` lists run.json's, baseline first; which of them have rows
    is known only once the rows have been read.
    """
    run_dir = Path(run_dir)
    run = read_run_info(run_dir)
    if not (run_dir / "utterances.csv").exists():
        raise InputError(str(run_dir / "utterances.csv"), "not found")
    listed = [str(c["name"]) for c in run.get("conditions") or [] if isinstance(c, _MappingABC) and "name" in c]
    conditions, baseline = run_conditions(run, listed)
    snapshot = run_dir / VOCABULARY_FILE
    return Run(path=run_dir, run=run, utterances=[], terms=[], alignments={}, skipped=read_skipped(run_dir),
               conditions=conditions, baseline=baseline, condition_records=_condition_records(run_dir / "run.json", run),
               vocabulary=VocabularySnapshot.read(snapshot) if snapshot.is_file() else None,
               harms=read_harms(run_dir),  # harm events are few (a clip's harms, not its words): read whole
               metadata_columns=read_metadata_columns(run_dir))


def directory_terms(run_dir: str | Path) -> set[str]:
    """The directory terms terms.csv names (one streaming pass): the names a redacted report masks."""
    return {str(t["term"]) for t in iter_term_rows(Path(run_dir) / "terms.csv") if t.get("source") == "directory"}


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
