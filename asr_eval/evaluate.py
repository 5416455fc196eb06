"""One evaluation, end to end: the orchestration behind ``asr-eval run`` and ``asr-eval score``.

``evaluate`` takes inputs already loaded (``Inputs``) so sweeps, tests and
notebooks can build them in memory; ``run_evaluation`` is the same call on
paths. Every stage it strings together lives elsewhere: transcription
(``transcribe``), scoring (``score_run``), the run folder (``runfolder``) and
reports (``report``); this module owns only the order and the provenance.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .bias import CONTEXT_KIND, build_conditions, make_plans
from .cache import TranscriptStore
from .files import RunLock, claim_folder, file_sha256
from .grouping import manifest_problems, metadata_columns, parse_group_by
from .harms import THRESHOLDS
from .manifest import Manifest, join_manifests, load_manifest
from .provenance import base_provenance, vocab_info
from .runfolder import Run, RunWriter, check_condition_names, load_run
from .score_run import score_stream
from .shard import in_shard, parse_shard
from .transcribe import decode_missing
from .types import Condition, DecodeOptions, Problem, Term, Vocabulary
from .vocab import load_dictionary, load_directory


@dataclass(frozen=True)
class RunConfig:
    backend: str = "faster-whisper"
    model: str = "tiny.en"
    device: str = "cpu"
    compute_type: str = "int8"
    batch_size: int = 1
    cpu_threads: int = 0
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    method: str = "prompt"
    correct: float | None = None     # post-correction threshold for the biased conditions
    strength: float | None = None    # for methods that have one (boost)
    conditions: tuple[str, ...] = ()
    shard: str | None = None
    redact: bool = False
    redact_names: bool = False
    cache_dir: str | None = None
    progress: bool = True
    reports: bool = True
    executor: str = "local"          # 'local' | 'ray'
    ray_address: str | None = None   # existing Ray cluster; None starts a local one
    ray_actors: int = 0              # 0: one per GPU on cuda, else one per CPU
    force: bool = False              # write into a non-empty folder that is not an asr-eval run folder
    normalizer: str = "asr-eval"     # 'asr-eval' | 'whisper' | 'none' (asr_eval.normalize.get_normalizer)
    group_by: tuple[str, ...] = ()   # --group-by: the report's groupings (grouping.parse_group_by); () = accent group
    synonyms: str | None = None      # --synonyms FILE: accepted equivalent spellings (asr_eval.synonyms)


@dataclass(frozen=True)
class RunOutcome:
    out_dir: Path
    utterances: int
    scored: int
    decoded: int
    cached: int
    failed: int
    audio_seconds: float
    decode_seconds: float
    wall_seconds: float
    problems: tuple[Any, ...]
    reports: dict[str, Path]
    rejected: int = 0  # manifest rows rejected (each is an error in problems and skipped.csv)
    missing: int = 0   # clip x condition with no transcript, scored as an empty hypothesis

    @property
    def complete(self) -> bool:
        """Every manifest row was used and every clip scored from a real transcript (else the CLI exits 5)."""
        return not (self.rejected or self.failed or self.missing)

    def load(self) -> Run:
        """The run folder as written, read back by its one reader (sweeps aggregate from it)."""
        return load_run(self.out_dir)


def load_vocabularies(dictionary: str | Path | None, directory: str | Path | None,
                      on_problem: Callable[[Problem], None] | None = None,
                      ) -> tuple[Vocabulary | None, Vocabulary | None]:
    """Both vocabularies; characters the loaders removed (invisible, control) are reported to ``on_problem``."""
    return (load_dictionary(dictionary, on_problem=on_problem) if dictionary else None,
            load_directory(directory, on_problem=on_problem) if directory else None)


def all_terms(dictionary: Vocabulary | None, directory: Vocabulary | None) -> tuple:
    return (dictionary.terms if dictionary else ()) + (directory.terms if directory else ())


@dataclass(frozen=True)
class Inputs:
    """What an evaluation reads from disk, loaded once: the manifest and the vocabularies.

    ``terms`` is the list every condition is scored against; by default the
    dictionary's terms then the directory's, but a sweep adds its distractors.
    """

    manifest: Manifest
    dictionary: Vocabulary | None = None
    directory: Vocabulary | None = None
    scoring_terms: tuple[Term, ...] | None = None
    problems: tuple[Problem, ...] = ()  # warnings from loading the vocabularies (text the loaders cleaned)

    @property
    def terms(self) -> tuple[Term, ...]:
        return self.scoring_terms if self.scoring_terms is not None else all_terms(self.dictionary, self.directory)


def load_inputs(manifest_path: str | Path, dictionary: str | Path | None = None,
                directory: str | Path | None = None, *, audio_roots: Sequence[str | Path] = (),
                allow_outside_paths: bool = False, manifest_options: Any = None,
                nonspeech: str | Path | None = None) -> Inputs:
    """The manifest (its audio confined to its folder and ``audio_roots``) and the vocabularies.

    ``manifest_options`` (``formats.ReadOptions``) names the test set's format; by default it is detected.
    ``nonspeech`` is a second manifest of clips with no speech (``--nonspeech``, asr-eval's own format);
    its clips join the first manifest's (``join_manifests``).
    """
    problems: list[Problem] = []
    dict_v, dir_v = load_vocabularies(dictionary, directory, problems.append)
    manifest = load_manifest(manifest_path, audio_roots=audio_roots, allow_outside_paths=allow_outside_paths,
                             options=manifest_options)
    if nonspeech is not None:
        extra = load_manifest(nonspeech, audio_roots=audio_roots, allow_outside_paths=allow_outside_paths,
                              nonspeech=True)
        manifest = join_manifests(manifest, extra)
    return Inputs(manifest, dict_v, dir_v, problems=tuple(problems))


def harm_thresholds() -> dict[str, Any]:
    """The thresholds that defined the harms of this run (``asr_eval.harms``), for run.json."""
    return dict(THRESHOLDS)


def grouping_problems(group_by: Sequence[str], manifest: Manifest) -> tuple[Problem, ...]:
    """Check ``--group-by`` against the manifest (``InputError`` for a missing column); warnings for empty values."""
    groupings = parse_group_by(group_by)
    notes = manifest_problems(groupings, manifest.utterances, f"manifest {manifest.path}")
    return tuple(Problem(manifest.path, None, n, "warning") for n in notes)


def stored_group_by(group_by: Sequence[str]) -> list[str]:
    """run.json's ``group_by``: the groupings a later ``asr-eval report`` of the folder uses unless told otherwise."""
    return [",".join(g.columns) for g in parse_group_by(group_by)]


def _rejected(manifest: Manifest) -> int:
    return sum(p.severity == "error" for p in manifest.problems)


def run_evaluation(
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    dictionary: str | Path | None = None,
    directory: str | Path | None = None,
    config: RunConfig = RunConfig(),
    conditions: Sequence[Condition] | None = None,
    backend: Any = None,
    command: Sequence[str] | None = None,
    executor: Any = None,
    audio_roots: Sequence[str | Path] = (),
    allow_outside_paths: bool = False,
    manifest_options: Any = None,
    nonspeech: str | Path | None = None,
) -> RunOutcome:
    """``evaluate`` on inputs read from these paths (the CLI's entry point)."""
    inputs = load_inputs(manifest_path, dictionary, directory, audio_roots=audio_roots,
                         allow_outside_paths=allow_outside_paths, manifest_options=manifest_options,
                         nonspeech=nonspeech)
    return evaluate(inputs, out_dir, config=config, conditions=conditions, backend=backend, command=command,
                    executor=executor)


def evaluate(
    inputs: Inputs,
    out_dir: str | Path,
    *,
    config: RunConfig = RunConfig(),
    conditions: Sequence[Condition] | None = None,
    backend: Any = None,
    command: Sequence[str] | None = None,
    executor: Any = None,
    lists: Mapping[str, Any] | None = None,
    clip_terms: Sequence[Term] = (),
) -> RunOutcome:
    """Transcribe, score, write the run folder and reports; the outcome carries the run read back.

    ``conditions``/``backend``/``executor`` override the config (sweeps, tests).
    With ``config.executor == 'ray'`` the model lives in Ray actors and the
    driver talks to it through the executor's proxy backend.

    Per-clip lists: when the manifest has ``context_terms``, the ``context``
    and ``context+dictionary`` conditions are added (``bias.build_conditions``)
    and fitted clip by clip. A caller passing its own ``conditions`` names
    where each per-clip condition's lists come from in ``lists`` (a
    ``bias.ClipLists`` per condition name), and in ``clip_terms`` every term
    those lists may offer (the scorer's normaliser protects them all, and
    plans.jsonl's display forms are read back as these terms).
    """
    from .backends import load_backend
    from .context import ManifestLists, has_context, term_pool
    from .whisper_spellings import normalizer_for

    t_start = time.perf_counter()
    out = Path(out_dir)
    manifest = inputs.manifest
    dict_v, dir_v = inputs.dictionary, inputs.directory
    if conditions is None:
        context = has_context(manifest.utterances)
        conditions = build_conditions(dict_v, dir_v, method=config.method, only=config.conditions or None,
                                      context=context)
        if context:
            listed = ManifestLists(all_terms(dict_v, dir_v))
            lists = {c.name: listed for c in conditions if c.kind == CONTEXT_KIND}
            clip_terms = listed.all_terms(manifest.utterances)
        # strength only where the method has one: elsewhere it would change the cache key, not the output
        strength = config.strength if config.method == "boost" else None
        if config.correct is not None or strength is not None:
            conditions = [c if c.method == "none" else replace(c, correct=config.correct, strength=strength)
                          for c in conditions]
    shard = parse_shard(config.shard)
    utterances = [u for u in manifest.utterances if in_shard(u.id, shard)]
    # A grouping column the manifest lacks is refused now, before minutes of decoding.
    group_notes = grouping_problems(config.group_by, manifest)
    if config.executor not in ("local", "ray"):  # before the output folder is claimed
        raise ValueError(f"--executor must be local or ray, got {config.executor!r}")
    normalizer = normalizer_for(config.normalizer, (*inputs.terms, *clip_terms))  # an unknown name fails before any decoding
    synonyms = read_synonyms(config.synonyms, inputs.terms)  # a bad file fails before any decoding
    with RunLock(out, force=config.force), ExitStack() as stack:
        backend_kwargs = dict(model=config.model, device=config.device, compute_type=config.compute_type,
                              options=config.decode, cpu_threads=config.cpu_threads, batch_size=config.batch_size)
        if executor is None and config.executor == "ray":
            from .ray_executor import BackendSpec, RayExecutor

            executor = stack.enter_context(RayExecutor(
                BackendSpec(args=(config.backend,), kwargs=backend_kwargs), address=config.ray_address,
                actors=config.ray_actors, batch_size=config.batch_size, device=config.device,
                # an actor reserves the CPUs its backend will use (--cpu-threads; Ray's OMP_NUM_THREADS otherwise)
                cpus_per_actor=float(config.cpu_threads or 1),
            ))
        if backend is None:
            backend = executor.backend if executor is not None else load_backend(config.backend, **backend_kwargs)
        plans = make_plans(conditions, backend, lists)
        per_clip = getattr(plans, "per_clip", ())
        cache_path = Path(config.cache_dir) / "transcripts.jsonl" if config.cache_dir else out / "cache" / "transcripts.jsonl"
        terms = inputs.terms
        normalizer = with_synonyms(normalizer, synonyms)
        pool = term_pool(terms, clip_terms) if per_clip else None
        names = [c.name for c in conditions]
        with TranscriptStore(cache_path) as store:
            stored, tstats = decode_missing(utterances, plans, backend, store, conditions, progress=config.progress,
                                            batch_size=config.batch_size, executor=executor)
            stack.close()  # release Ray actors (and their GPUs) before scoring
            # Read back, scored and written clip by clip: no stage holds the whole run's transcripts or rows.
            audio_total = decode_total = 0.0
            with RunWriter(out, names, meta_columns=metadata_columns(u.meta for u in manifest.utterances),
                           per_clip=per_clip) as writer:
                for clip in score_stream(stored, names, terms, normalizer, per_clip=per_clip, pool=pool):
                    writer.add(clip)
                    present = [t for t in clip.transcripts if t is not None]
                    if present and clip.transcripts[0] is not None:
                        audio_total += clip.transcripts[0].audio_seconds
                    for t in present:
                        decode_total += t.decode_seconds
                wall = time.perf_counter() - t_start
                provenance = base_provenance(command)
                provenance.update({
                    "manifest": {"path": str(Path(manifest.path).resolve()),
                                 "sha256": manifest.sha256 or file_sha256(manifest.path),
                                 "format": manifest.format, "read_options": dict(manifest.read_options),
                                 "utterances": len(manifest.utterances), "skipped": len(manifest.problems),
                                 # where this run could read audio from (None: a manifest loaded without checking it)
                                 **(manifest.audio_policy.to_dict() if manifest.audio_policy
                                    else {"audio_roots": None, "allow_outside_paths": None})},
                    **({"nonspeech_manifest": {"path": str(Path(manifest.nonspeech_path).resolve()),
                                               "sha256": file_sha256(manifest.nonspeech_path)}}
                       if manifest.nonspeech_path else {}),
                    "harms": harm_thresholds(),
                    "dictionary": vocab_info(dict_v),
                    "directory": vocab_info(dir_v),
                    "engine": backend.describe(),
                    "normalizer": normalizer.version,
                    "normalizer_name": normalizer.name,
                    "synonyms": synonyms.info() if synonyms else None,
                    "shard": config.shard,
                    "executor": {"kind": config.executor, "batch_size": config.batch_size,
                                 "ray_address": config.ray_address, "ray_actors": config.ray_actors}
                    if config.executor == "ray" else {"kind": "local", "batch_size": config.batch_size},
                    "method": config.method,
                    "group_by": stored_group_by(config.group_by),
                    "timing": {
                        "wall_seconds": round(wall, 3),
                        "audio_seconds": round(audio_total, 3),
                        "decode_seconds_total": round(decode_total, 3),
                        "rtfx": round(audio_total / decode_total, 2) if decode_total else None,  # all conditions together
                        "decode_seconds_this_run": round(tstats.decode_seconds, 3),
                        "audio_seconds_decoded_this_run": round(tstats.audio_seconds, 3),
                        "rtfx_this_run": round(tstats.audio_seconds / tstats.decode_seconds, 2) if tstats.decode_seconds else None,
                        "decoded": tstats.decoded, "cached": tstats.cached,
                    },
                })
                writer.finish(manifest=manifest, conditions=conditions, plans=plans, provenance=provenance,
                              vocabulary=terms, problems=(*inputs.problems, *tstats.problems),
                              clip_terms=clip_terms if per_clip else ())
                excluded = len(writer.excluded)
        reports: dict[str, Path] = {}
        if config.reports:
            from .report import write_reports

            reports = write_reports(out, redact=config.redact, redact_names=config.redact_names,
                                    group_by=config.group_by or None)
    return RunOutcome(
        out_dir=out, utterances=len(utterances), scored=len(utterances) - excluded,
        decoded=tstats.decoded, cached=tstats.cached, failed=tstats.failed,
        audio_seconds=tstats.audio_seconds, decode_seconds=tstats.decode_seconds,
        wall_seconds=time.perf_counter() - t_start,
        problems=(*manifest.problems, *inputs.problems, *tstats.problems, *group_notes), reports=reports,
        rejected=_rejected(manifest),
    )


def score_hypotheses(
    manifest_path: str | Path,
    hyp_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    dictionary: str | Path | None = None,
    directory: str | Path | None = None,
    baseline: str | None = None,
    correct: float | None = None,
    redact: bool = False,
    redact_names: bool = False,
    reports: bool = True,
    command: Sequence[str] | None = None,
    force: bool = False,
    manifest_options: Any = None,
    hyp_options: Any = None,
    normalizer: str = "asr-eval",
    group_by: Sequence[str] = (),
    synonyms: str | Path | None = None,
) -> RunOutcome:
    """Score transcripts made elsewhere (a vendor engine with/without its vocabulary) like a run.

    Each hypothesis file gives one or more conditions (a ``condition`` column, else
    the file name). The run folder has the same files as ``run_evaluation``'s.
    ``correct`` post-corrects every non-baseline condition towards the vocabulary.

    A clip a condition has no transcript for is scored as an empty hypothesis,
    every reference word a deletion: that is the honest WER of a system that
    returned nothing, where leaving the clip out would flatter it. Each such
    clip is a warning in skipped.csv and counts in ``RunOutcome.missing``.
    A transcript whose manifest row was rejected is dropped; the row's own
    error (file:line) says why, not "id not in the manifest".
    ``hyp_options`` (a ``hypotheses.HypOptions``) says how the files are read
    and matched to clips: format, matching, channel, Azure field. ``synonyms``
    is a ``--synonyms`` file (``asr_eval.synonyms``).
    """
    from .hypotheses import HypOptions, load_for_manifest
    from .normalize import get_normalizer
    from .spill import SPILL_NAME, ClipStore
    from .transcribe import _apply_correction
    from .types import BiasPlan, InputError, Transcript
    from .whisper_spellings import normalizer_for

    t_start = time.perf_counter()
    get_normalizer(normalizer)  # an unknown name fails before anything is read
    out = Path(out_dir)
    claim_folder(out, force=force)  # a folder that is not asr-eval's is refused before minutes of scoring
    with RunLock(out, force=force), ClipStore(out / SPILL_NAME) as store:  # the clips and texts on disk, not in memory
        manifest = load_manifest(manifest_path, check_audio=False, options=manifest_options,
                                 store=store)  # scoring imported text needs no audio
        group_notes = grouping_problems(group_by, manifest)
        loaded = load_for_manifest(hyp_paths, manifest.utterances, hyp_options or HypOptions(), rejected=manifest.rejected)
        hyps = loaded.hyps
        names = list(hyps)
        if baseline is None:
            baseline = "baseline" if "baseline" in names else names[0]
        if baseline not in names:
            raise InputError(", ".join(map(str, hyp_paths)), f"baseline condition {baseline!r} not among {names}")
        names = [baseline] + [n for n in names if n != baseline]
        check_condition_names(names, ", ".join(map(str, hyp_paths)))  # before any scoring: the files must not collide
        vocab_problems: list[Problem] = []
        dict_v, dir_v = load_vocabularies(dictionary, directory, vocab_problems.append)
        terms = all_terms(dict_v, dir_v)
        syn = read_synonyms(synonyms, terms)
        conditions = [Condition(n, "external", terms if n != baseline else (), correct=None if n == baseline else correct)
                      for n in names]
        plans = {n: BiasPlan(condition=n, method="external", text=None) for n in names}
        utterances = manifest.utterances
        summary, missing = _missing_hypotheses(hyps, names, utterances, manifest.path, ", ".join(map(str, hyp_paths)))

        def clip_transcripts(u: Any) -> list[Transcript]:
            """This clip's transcript under each condition, made when it is scored and dropped once written."""
            out = []
            for c in conditions:
                text = hyps[c.name].get(u.id)
                if text is None:
                    out.append(Transcript(utt_id=u.id, condition=c.name, text="", plan=plans[c.name], audio_seconds=0.0,
                                          decode_seconds=0.0, extra={"missing_hypothesis": True}))
                    continue
                t = Transcript(utt_id=u.id, condition=c.name, text=text, plan=plans[c.name], audio_seconds=0.0,
                               decode_seconds=0.0)
                out.append(_apply_correction(t, c) if c.correct is not None else t)
            return out

        norm = with_synonyms(normalizer_for(normalizer, terms), syn)
        with RunWriter(out, names,
                       meta_columns=metadata_columns(u.meta for u in utterances)) as writer:
            for clip in score_stream(((u, clip_transcripts(u)) for u in utterances), names, terms, norm):
                writer.add(clip)
            excluded = len(writer.excluded)
            provenance = base_provenance(command)
            provenance.update({
                "manifest": {"path": str(Path(manifest.path).resolve()), "sha256": manifest.sha256 or file_sha256(manifest.path),
                             "format": manifest.format, "read_options": dict(manifest.read_options),
                             "utterances": len(manifest.utterances), "skipped": len(manifest.problems)},
                "hypotheses": list(loaded.sources),
                "harms": harm_thresholds(),
                "dictionary": vocab_info(dict_v),
                "directory": vocab_info(dir_v),
                "engine": {"backend": "external", "model": "imported transcripts"},
                "normalizer": norm.version,
                "normalizer_name": norm.name,
                "synonyms": syn.info() if syn else None,
                "shard": None,
                "method": "external",
                "group_by": stored_group_by(group_by),
                "timing": {"wall_seconds": round(time.perf_counter() - t_start, 3)},
            })
            writer.finish(manifest=manifest, conditions=conditions, plans=plans, provenance=provenance, vocabulary=terms,
                          problems=(*vocab_problems, *loaded.problems, *missing), baseline=baseline)
            paths: dict[str, Path] = {}
            if reports:
                from .report import write_reports

                paths = write_reports(out, redact=redact, redact_names=redact_names, group_by=group_by or None)
        return RunOutcome(out_dir=out, utterances=len(utterances), scored=len(utterances) - excluded,
                          decoded=0, cached=0, failed=0, audio_seconds=0.0, decode_seconds=0.0,
                          wall_seconds=time.perf_counter() - t_start,
                          problems=(*manifest.problems, *vocab_problems, *loaded.problems, *summary, *group_notes), reports=paths,
                          rejected=_rejected(manifest), missing=len(missing))


def read_synonyms(path: str | Path | None, terms: Sequence[Term] = ()) -> Any:
    """The ``--synonyms`` file's sets (``asr_eval.synonyms.Synonyms``), checked against the default normaliser
    with these terms (two sets that normalise alike are an error now, not after decoding); None without a file."""
    if path is None:
        return None
    from .normalize import make_normalizer
    from .synonyms_load import load_synonyms

    syn = load_synonyms(path)
    with_synonyms(make_normalizer(terms), syn)
    return syn


def with_synonyms(normalizer: Any, synonyms: Any) -> Any:
    """``normalizer`` with the synonym sets applied after it (its version names the file); itself without sets."""
    if synonyms is None:
        return normalizer
    from .synonyms import SynonymNormalizer

    return SynonymNormalizer(normalizer, synonyms)


def _missing_hypotheses(hyps: dict[str, dict[str, str]], names: Sequence[str], utterances: Sequence[Any],
                        manifest_path: str, hyp_files: str, show: int = 10) -> tuple[list[Problem], list[Problem]]:
    """(one warning per condition for the console, one per clip x condition for skipped.csv)."""
    summary: list[Problem] = []
    each: list[Problem] = []
    lacking: dict[str, list[tuple[str, int | None]]] = {name: [] for name in names}
    for u in utterances:  # one pass for every condition: the clips may be read back from disk (spill)
        for name in names:
            if u.id not in hyps[name]:
                lacking[name].append((u.id, u.line))
    for name, clips in lacking.items():
        if not clips:
            continue
        shown = ", ".join(uid for uid, _ in clips[:show]) + (", ... (all in skipped.csv)" if len(clips) > show else "")
        summary.append(Problem(hyp_files, None, f"condition {name!r}: {len(clips)} manifest utterance(s) have no "
                               f"transcript ({shown}); scored as empty hypotheses (every reference word a deletion)",
                               "warning"))
        each += [Problem(manifest_path, line, f"no transcript for {uid} in condition {name!r} ({hyp_files}); "
                         "scored as an empty hypothesis", "warning") for uid, line in clips]
    return summary, each
