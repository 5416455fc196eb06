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
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Mapping, Protocol, Sequence

from .bias import ClipPlans
from .cache import TranscriptStore, audio_key, transcript_key
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


def _audio_seconds_estimate(utt: Utterance) -> float:
    if utt.end is not None:
        return utt.end - (utt.start or 0.0)
    try:
        import soundfile as sf

        return max(0.0, float(sf.info(utt.audio).duration) - (utt.start or 0.0))
    except Exception:
        return 0.0


@dataclass(frozen=True)
class Job:
    """One clip with the plans the store still lacks for it (and its audio's hash, which keys them)."""

    utt: Utterance
    plans: tuple[BiasPlan, ...]
    audio_hash: str = ""


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
            loaded.append((job, load_audio(job.utt.audio, start=job.utt.start, end=job.utt.end)))
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


#: Jobs handed to the executor at a time: the job list of a fresh run over millions of clips is never built whole.
JOB_CHUNK = 4096


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
    """Decode every clip under every plan, serving what the store already holds; every transcript in one dict.

    ``decode_missing`` then ``StoredTranscripts`` collected: for callers that
    want them all in memory (sweeps, tests). ``evaluate`` reads them back clip
    by clip instead.
    """
    stored, stats = decode_missing(utterances, plans, backend, store, conditions, progress=progress,
                                   batch_size=batch_size, executor=executor)
    out: dict[tuple[str, str], Transcript] = {}
    for utt, ts in stored:
        for name, t in zip(plans, ts):
            if t is not None:
                out[(utt.id, name)] = t
    return out, stats


def decode_missing(
    utterances: Sequence[Utterance],
    plans: Mapping[str, BiasPlan],
    backend: Any,
    store: TranscriptStore,
    conditions: Sequence[Condition] = (),
    progress: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
) -> tuple["StoredTranscripts", TranscribeStats]:
    """Decode every clip x plan the store lacks; the transcripts stay in the store until read back.

    Two steps: ask the store which clip x plan transcripts are missing and
    hand those jobs to the executor (local, batched, or Ray) ``JOB_CHUNK`` at
    a time, appending each result to the store the moment it arrives; the
    returned ``StoredTranscripts`` then reads every transcript back from the
    store in manifest order, one clip at a time. Outputs therefore depend only
    on the store's contents, never on the order or the process that decoded
    them. What is held per clip is its audio hash (32 bytes), not its
    transcripts.
    """
    engine = backend.describe()
    stats = TranscribeStats()
    plan_dicts = {name: p.to_dict() for name, p in plans.items()}
    per_clip = isinstance(plans, ClipPlans) and bool(plans.per_clip)
    if executor is None:
        executor = LocalExecutor(backend, batch_size if batch_size is not None else backend.batch_size)
    hashes: list[bytes | None] = []
    jobs: list[Job] = []
    bar = _Progress(utterances, enabled=progress)

    def keys_of(audio_hash: str, dicts: Mapping[str, Mapping[str, Any]] = plan_dicts) -> dict[str, str]:
        return {name: transcript_key(audio_hash, engine, dicts[name]) for name in plans}

    def run_jobs() -> None:
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
                store.put(transcript_key(res.job.audio_hash, engine, record["bias"]), record)
            stats.decoded += n
            stats.audio_seconds += res.audio_seconds
            stats.decode_seconds += res.decode_seconds
            bar.advance(utt, res.audio_seconds)
        jobs.clear()

    file_hashes: dict[str, str] = {}  # a recording cut into many segments is hashed once, not once per segment
    with bar:
        for utt in utterances:
            try:
                if utt.audio not in file_hashes:
                    if len(file_hashes) >= 4096:  # segments of one recording come together; keep the memory bounded
                        file_hashes.clear()
                    file_hashes[utt.audio] = file_sha256(utt.audio)
                digest = file_hashes[utt.audio]
            except OSError as exc:
                stats.failed += 1
                stats.problems.append(Problem(utt.audio, utt.line, f"cannot read audio for {utt.id}: {exc}"))
                bar.advance(utt, 0.0)
                hashes.append(None)
                continue
            hashes.append(bytes.fromhex(digest))
            audio_hash = audio_key(digest, utt.start, utt.end)  # a segment's key names its time range
            # a per-clip condition's plan is this clip's list fitted to the budget (bias.ClipPlans)
            clip_plans = plans.for_clip(utt) if per_clip else plans  # type: ignore[union-attr]
            keys = keys_of(audio_hash, {n: p.to_dict() for n, p in clip_plans.items()} if per_clip else plan_dicts)
            # one decode per distinct key: plans equal but for their name share it
            first_of_key = {keys[n]: n for n in reversed(list(plans))}
            present = {k for k in first_of_key if k in store}
            missing = tuple(clip_plans[n] for k, n in first_of_key.items() if k not in present)
            stats.cached += sum(keys[n] in present for n in plans)
            if missing:
                jobs.append(Job(utt, missing, audio_hash))
                if len(jobs) >= JOB_CHUNK:
                    run_jobs()
            else:
                bar.skip(utt, _stored_seconds(store, keys))
        run_jobs()
    corrections = {c.name: c for c in conditions if c.correct is not None}
    return StoredTranscripts(utterances, plans, plan_dicts, engine, store, hashes, corrections), stats


@dataclass(frozen=True)
class StoredTranscripts:
    """A run's transcripts as the store holds them, read back one clip at a time, in manifest order.

    Iterating gives (utterance, its transcript under each plan, in ``plans``
    order); a clip that failed, or lacks a transcript under some plan, gives
    None for every plan (it is excluded from every condition).
    """

    utterances: Sequence[Utterance]
    plans: Mapping[str, BiasPlan]
    plan_dicts: Mapping[str, Mapping[str, Any]]
    engine: Mapping[str, Any]
    store: TranscriptStore
    hashes: Sequence[bytes | None]
    corrections: Mapping[str, Condition]

    def __iter__(self) -> Iterator[tuple[Utterance, list[Transcript | None]]]:
        for utt, digest in zip(self.utterances, self.hashes):
            yield utt, self._clip(utt, digest)

    def _clip(self, utt: Utterance, digest: bytes | None) -> list[Transcript | None]:
        none: list[Transcript | None] = [None] * len(self.plans)
        if digest is None:
            return none
        out: list[Transcript | None] = []
        plans = self.plans
        per_clip = isinstance(plans, ClipPlans) and bool(plans.per_clip)
        dicts = {n: p.to_dict() for n, p in plans.for_clip(utt).items()} if per_clip else self.plan_dicts
        for name in self.plans:
            rec = self.store.get(transcript_key(audio_key(digest.hex(), utt.start, utt.end), self.engine,
                                                dicts[name]))
            if rec is None:
                return none  # failed clip: excluded from every condition
            rec = dict(rec)
            # the same audio may stand under several ids, the same plan under several condition names
            rec["utt_id"], rec["condition"], rec["bias"] = utt.id, name, dicts[name]
            t = Transcript.from_dict(rec)
            if name in self.corrections:
                condition = self.corrections[name]
                if per_clip and name in plans.lists:  # type: ignore[attr-defined]
                    condition = replace(condition, terms=tuple(plans.offered(utt, name)))  # type: ignore[attr-defined]
                t = _apply_correction(t, condition)
            out.append(t)
        return out


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

            self.total = sum(_audio_seconds_estimate(u) for u in utterances) or float(self.n)
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


