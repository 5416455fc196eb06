"""Transcription loop: decode every clip x plan that the transcript store lacks.

Resumable by construction: each clip's transcripts are appended to the store
(fsynced) as soon as they exist, and a rerun asks the store first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .store import TranscriptStore, file_sha256, transcript_key
from .types import BiasPlan, Condition, Problem, Transcript, Utterance


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


