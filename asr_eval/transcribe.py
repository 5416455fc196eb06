"""Transcription loop: decode every clip x plan that the transcript store lacks.

Resumable by construction: each clip's transcripts are appended to the store
(fsynced) as soon as they exist, and a rerun asks the store first. How the
missing transcripts get decoded is the executor's business (``LocalExecutor``
here, batched or not; ``ray_executor.RayExecutor`` on a cluster); the store
stays in the driver, so caching and resumption work the same for all of them.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Sequence

from .cache import TranscriptStore, transcript_key
from .files import file_sha256
from .types import BiasPlan, Condition, DecodeResult, ModelError, Problem, Transcript, Utterance


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


@dataclass(frozen=True)
class Job:
    """One clip with the plans the store still lacks for it."""

    utt: Utterance
    plans: tuple[BiasPlan, ...]


@dataclass(frozen=True)
class JobResult:
    """What decoding one job produced: one DecodeResult per plan, or a problem."""

    job: Job
    results: tuple[DecodeResult, ...] = ()
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0  # this clip's share of the decoding time
    problem: Problem | None = None
    node: str = ""  # where it was decoded (timing.csv's node column)


class Executor(Protocol):
    """Turns jobs into results, in any order; the driver stores them as they arrive.

    ``backend`` is the driver's view of the engine (for Ray, a proxy that
    tokenizes and describes but never decodes), so plans and cache keys are
    made the same way whichever executor decodes.
    """

    backend: Any

    def run(self, jobs: Sequence[Job]) -> Iterator[JobResult]: ...


def _failure(job: Job, exc: BaseException) -> JobResult:
    where = getattr(exc, "path", job.utt.audio)
    return JobResult(job, problem=Problem(str(where), job.utt.line, f"clip {job.utt.id} failed: {getattr(exc, 'problem', exc)}"))


def decode_jobs(backend: Any, jobs: Sequence[Job], node: str = "") -> list[JobResult]:
    """Decode a batch of jobs with one ``transcribe_batch`` call; clip by clip only to isolate a failure.

    A clip whose audio cannot be read fails alone; if a batched call fails,
    its clips are retried one by one so one bad clip never costs the others.
    Shared by the local and the Ray executors, so both decode identically.
    ``node`` names the machine doing it; it goes with every result.
    """
    from .audio import duration_seconds, load_audio

    loaded: list[tuple[Job, Any]] = []
    out: list[JobResult] = []
    for job in jobs:
        try:
            loaded.append((job, load_audio(job.utt.audio)))
        except Exception as exc:
            out.append(_failure(job, exc))
    if len(loaded) > 1:
        t0 = time.perf_counter()
        try:
            batch = backend.transcribe_batch([a for _, a in loaded], [list(j.plans) for j, _ in loaded])
        except ModelError:
            raise  # the engine itself is unusable: no clip would fare better
        except Exception:
            batch = None  # retried clip by clip below, to find the clip at fault
        if batch is not None:
            elapsed = time.perf_counter() - t0
            total = sum(duration_seconds(a) for _, a in loaded) or 1.0
            for (job, audio), results in zip(loaded, batch):
                secs = duration_seconds(audio)
                out.append(JobResult(job, tuple(results), secs, elapsed * secs / total, node=node))
            return out
    for job, audio in loaded:
        t0 = time.perf_counter()
        try:
            results = backend.transcribe(audio, list(job.plans))
        except ModelError:
            raise
        except Exception as exc:  # one bad clip never costs the rest of the run
            out.append(_failure(job, exc))
            continue
        out.append(JobResult(job, tuple(results), duration_seconds(audio), time.perf_counter() - t0, node=node))
    return out


class LocalExecutor:
    """Decodes in this process, ``batch_size`` clips per backend call."""

    def __init__(self, backend: Any, batch_size: int = 1):
        self.backend = backend
        self.batch_size = max(1, batch_size)
        self.node = socket.gethostname()

    def run(self, jobs: Sequence[Job]) -> Iterator[JobResult]:
        for k in range(0, len(jobs), self.batch_size):
            yield from decode_jobs(self.backend, jobs[k : k + self.batch_size], self.node)


def transcribe(
    utterances: Sequence[Utterance],
    plans: Mapping[str, BiasPlan],
    backend: Any,
    store: TranscriptStore,
    conditions: Sequence[Condition] = (),
    progress: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
) -> tuple[dict[tuple[str, str], Transcript], TranscribeStats]:
    """Decode every clip under every plan, serving what the store already holds.

    Three steps: ask the store which clip x plan transcripts are missing;
    hand those jobs to the executor (local, batched, or Ray) and append each
    result to the store the moment it arrives; then read every transcript
    back from the store in manifest order. Outputs therefore depend only on
    the store's contents, never on the order or the process that decoded them.
    """
    engine = backend.describe()
    stats = TranscribeStats()
    corrections = {c.name: c for c in conditions if c.correct is not None}
    plan_dicts = {name: p.to_dict() for name, p in plans.items()}
    if executor is None:
        executor = LocalExecutor(backend, batch_size if batch_size is not None else backend.batch_size)
    keys: dict[str, dict[str, str]] = {}
    jobs: list[Job] = []
    bar = _Progress(utterances, enabled=progress)
    with bar:
        for utt in utterances:
            try:
                audio_hash = file_sha256(utt.audio)
            except OSError as exc:
                stats.failed += 1
                stats.problems.append(Problem(utt.audio, utt.line, f"cannot read audio for {utt.id}: {exc}"))
                bar.advance(utt, 0.0)
                continue
            keys[utt.id] = {name: transcript_key(audio_hash, engine, plan_dicts[name]) for name in plans}
            # one decode per distinct key: plans equal but for their name share it
            first_of_key = {keys[utt.id][n]: n for n in reversed(list(plans))}
            missing = tuple(plans[n] for k, n in first_of_key.items() if k not in store)
            stats.cached += sum(keys[utt.id][n] in store for n in plans)
            if missing:
                jobs.append(Job(utt, missing))
            else:
                bar.skip(utt, _stored_seconds(store, keys[utt.id]))
        for res in executor.run(jobs):
            utt = res.job.utt
            if res.problem is not None:
                stats.failed += 1
                stats.problems.append(res.problem)
                bar.advance(utt, 0.0)
                continue
            n = len(res.job.plans)
            for plan, dec in zip(res.job.plans, res.results):
                record = Transcript(
                    utt_id=utt.id, condition=plan.condition, text=dec.text, plan=plan,
                    audio_seconds=res.audio_seconds, decode_seconds=res.decode_seconds / n, extra=dec.extra,
                    node=res.node,
                ).to_dict()
                store.put(keys[utt.id][plan.condition], record)
            stats.decoded += n
            stats.audio_seconds += res.audio_seconds
            stats.decode_seconds += res.decode_seconds
            bar.advance(utt, res.audio_seconds)
    out: dict[tuple[str, str], Transcript] = {}
    for utt in utterances:
        if utt.id not in keys or any(keys[utt.id][n] not in store for n in plans):
            continue  # failed clip: excluded from every condition
        for name in plans:
            rec = dict(store.get(keys[utt.id][name]))
            # the same audio may stand under several ids, the same plan under several condition names
            rec["utt_id"], rec["condition"], rec["bias"] = utt.id, name, plan_dicts[name]
            t = Transcript.from_dict(rec)
            if name in corrections:
                t = _apply_correction(t, corrections[name])
            out[(utt.id, name)] = t
    return out, stats


def _stored_seconds(store: TranscriptStore, keys: Mapping[str, str]) -> float:
    rec = store.get(next(iter(keys.values())))
    return float(rec.get("audio_seconds") or 0.0) if rec else 0.0


def _apply_correction(t: Transcript, condition: Condition) -> Transcript:
    from .correct import correct_text

    text, fixes = correct_text(t.text, condition.terms, condition.correct)
    extra = dict(t.extra)
    extra["uncorrected"] = t.text
    extra["corrections"] = [getattr(f, "__dict__", f) for f in fixes]
    extra["correct_threshold"] = condition.correct
    return Transcript(t.utt_id, t.condition, text, t.plan, t.audio_seconds, t.decode_seconds, t.error, extra, t.node)


class _Progress:
    """rich progress bar over audio seconds (clips done, audio hours, ETA); silent when disabled."""

    def __init__(self, utterances: Sequence[Utterance], enabled: bool):
        self.enabled = enabled and len(utterances) > 0
        self.n = len(utterances)
        self.done = 0
        self.audio_done = 0.0
        self.cached_s = 0.0
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
            self.audio_done += seconds or 0.0
            self.progress.update(
                self.task, completed=self.audio_done - self.cached_s if self.total != self.n else self.done,
                clips=f"{self.done}/{self.n} clips",
                hours=f"{self.audio_done / 3600:.3f}/{self.total / 3600:.3f} h audio",
            )

    def skip(self, utt: Utterance, seconds: float) -> None:
        """A clip served from the cache: counted as done but kept out of the bar and ETA,
        which measure only the decoding still to do (else a resumed run's ETA starts absurdly short)."""
        if self.enabled and self.total != self.n:
            self.cached_s += seconds or 0.0
            self.progress.update(self.task, total=max(self.total - self.cached_s, 1e-9))
        self.advance(utt, seconds)


