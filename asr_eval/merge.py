"""Combine the run folders of ``--shard i/n`` jobs into one run, as if it had run in one piece.

Only transcripts (and the vocabulary snapshot they were scored against) are
taken from the shards; everything after them (scoring, run folder, reports)
is recomputed by the same code a single run uses, so a merged run equals an
unsharded one. Before that, the shards must provably be parts of one run:
same manifest bytes, same vocabulary snapshot, same conditions and plans,
same engine, every shard of the job array present, and every clip x
condition transcribed exactly once (failed clips must be recorded as failed by
the shard that owned them).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .grouping import manifest_problems as grouping_problems, parse_group_by
from .runfolder import (
    VOCABULARY_FILE, ConditionRecord, VocabularySnapshot, read_run_info, read_skipped, read_transcripts,
)
from .types import AsrEvalError, InputError, Problem, Transcript

ENGINE_IGNORED = ("model_path",)  # where the weights live may differ per node; their hash may not
EXCLUDED_SUFFIX = "has no transcript in every condition; excluded"


class MergeError(AsrEvalError):
    """Shard folders that cannot be one run; the message lists every reason."""


@dataclass(frozen=True)
class MergeOutcome:
    out_dir: Path
    shards: int
    utterances: int
    scored: int
    failed: int
    reports: dict[str, Path]
    rejected: int = 0  # manifest rows rejected at load (by the shards, or by merge's own reading)


@dataclass(frozen=True)
class _Shard:
    folder: Path
    run: dict[str, Any]
    spec: tuple[int, int] | None
    transcripts: dict[tuple[str, str], Transcript]
    skipped: tuple[dict[str, str], ...]
    vocabulary: VocabularySnapshot | None


def _read_shard(folder: Path) -> _Shard:
    from .shard import parse_shard

    if not (folder / "run.json").is_file():
        raise MergeError(f"{folder}: not a run folder (no run.json)")
    try:
        run = read_run_info(folder)
        manifest = run.get("manifest")
        if not isinstance(manifest, dict) or not manifest.get("sha256") or not all(
                isinstance(c, dict) and "name" in c for c in run.get("conditions") or []) or not run.get("conditions"):
            raise InputError(str(folder / "run.json"), "lacks the manifest's sha256 or the conditions a merge needs")
        transcripts = read_transcripts(folder, [c["name"] for c in run["conditions"]])
        snapshot = folder / VOCABULARY_FILE
        vocabulary = VocabularySnapshot.read(snapshot) if snapshot.is_file() else None
    except InputError as exc:  # a damaged shard is a reason not to merge, reported as such
        raise MergeError(str(exc)) from None
    return _Shard(folder, run, parse_shard(run.get("shard")), transcripts, tuple(read_skipped(folder)), vocabulary)


def _same(label: str, shards: Sequence[_Shard], value: Any, problems: list[str]) -> None:
    first = value(shards[0])
    for s in shards[1:]:
        if value(s) != first:
            problems.append(f"{label} differs: {shards[0].folder} has {first!r}, {s.folder} has {value(s)!r}")


def _engine(s: _Shard) -> dict[str, Any]:
    return {k: v for k, v in (s.run.get("engine") or {}).items() if k not in ENGINE_IGNORED}


def _sha(s: _Shard, key: str) -> Any:
    v = s.run.get(key)
    return v.get("sha256") if isinstance(v, dict) else v


def check_compatible(shards: Sequence[_Shard]) -> None:
    """Every reason the shards are not parts of one run, raised together."""
    problems: list[str] = []
    _same("manifest sha256", shards, lambda s: s.run["manifest"]["sha256"], problems)
    _same("dictionary sha256", shards, lambda s: _sha(s, "dictionary"), problems)
    _same("directory sha256", shards, lambda s: _sha(s, "directory"), problems)
    if any(s.vocabulary is None for s in shards):
        problems.append("no vocabulary snapshot (vocabulary.json) in "
                        + ", ".join(str(s.folder) for s in shards if s.vocabulary is None)
                        + ": written by an older asr-eval; rerun those shards (their transcript cache makes it quick)")
    else:
        _same("vocabulary snapshot", shards, lambda s: s.vocabulary, problems)
    _same("conditions and plans", shards,
          lambda s: [(c["name"], c["method"], c.get("strength"), c.get("correct"), c.get("plan"))
                     for c in s.run["conditions"]], problems)
    _same("engine", shards, _engine, problems)
    specs = [s.spec for s in shards]
    if any(spec is None for spec in specs):
        if len(shards) > 1:
            problems.append("only --shard i/n runs can be merged: "
                            + ", ".join(str(s.folder) for s in shards if s.spec is None) + " ran unsharded")
    else:
        ns = {n for _, n in specs}
        if len(ns) > 1:
            problems.append(f"shards of different job arrays: n = {sorted(ns)}")
        else:
            n = ns.pop()
            have = Counter(i for i, _ in specs)
            dup = sorted(i for i, c in have.items() if c > 1)
            missing = sorted(set(range(n)) - set(have))
            if dup:
                problems.append(f"shard(s) {', '.join(f'{i}/{n}' for i in dup)} given more than once")
            if missing:
                problems.append(f"shard(s) {', '.join(f'{i}/{n}' for i in missing)} missing")
    if problems:
        raise MergeError("cannot merge these shards:\n  " + "\n  ".join(problems))


def _load_manifest(run: dict[str, Any], manifest_override: Path | None, options: Any = None):
    """The manifest the shards ran on (references come from it), refused if its files changed since.

    It is read as the shards read it (the format and options run.json
    recorded) unless ``options`` says otherwise; a test set of several files
    (a Kaldi folder) is compared by the fingerprint of all of them.
    """
    from .formats import ReadOptions
    from .manifest import load_manifest

    manifest_path = Path(manifest_override or run["manifest"]["path"])
    if not manifest_path.exists():
        raise MergeError(f"manifest {manifest_path} (from run.json) not found; pass the manifest explicitly")
    if options is None:
        recorded = run["manifest"].get("read_options") or {}
        options = ReadOptions(**{k: v for k, v in recorded.items() if k in ReadOptions.__dataclass_fields__})
    man = load_manifest(manifest_path, check_audio=False, options=options)  # merging reads no audio
    if man.sha256 != run["manifest"]["sha256"]:
        raise MergeError(f"manifest {manifest_path} changed since the shards ran (sha256 differs from run.json)")
    ns = run.get("nonspeech_manifest")  # a --nonspeech manifest joined into the run: its clips are the run's too
    if isinstance(ns, dict) and ns.get("path"):
        from .files import file_sha256
        from .manifest import join_manifests

        ns_path = Path(ns["path"])
        if not ns_path.is_file() or file_sha256(ns_path) != ns.get("sha256"):
            raise MergeError(f"non-speech manifest {ns_path} (from run.json) is missing or changed since the shards ran")
        man = join_manifests(man, load_manifest(ns_path, check_audio=False, nonspeech=True))
    return manifest_path, man


def _shard_synonyms(shards: Sequence[_Shard]) -> Any:
    """The ``--synonyms`` file the shards were scored with (the same in each, unchanged since), or None."""
    recorded = [s.run.get("synonyms") or None for s in shards]
    hashes = {(r or {}).get("sha256") for r in recorded}
    if len(hashes) > 1:
        raise MergeError("the shards were scored with different --synonyms files: "
                         + "; ".join(f"{s.folder}: {(r or {}).get('path') or 'none'}" for s, r in zip(shards, recorded)))
    first = recorded[0]
    if not first:
        return None
    from .synonyms_load import load_synonyms

    syn = load_synonyms(first["path"])
    if syn.sha256 != first.get("sha256"):
        raise MergeError(f"synonyms file {first['path']} changed since the shards were scored (sha256 differs)")
    return syn


def merge_runs(
    shard_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    manifest: str | Path | None = None,
    reports: bool = True,
    redact: bool = False,
    redact_names: bool = False,
    command: Sequence[str] | None = None,
    force: bool = False,
    manifest_options: Any = None,
    normalizer: str | None = None,
    group_by: Sequence[str] = (),
) -> MergeOutcome:
    """Check the shards belong together, then score and write them as one run folder.

    ``force`` writes into a non-empty folder that is not an asr-eval run folder.
    ``normalizer`` (asr-eval | whisper | none) re-scores with that normaliser; by
    default the merged run is scored with the one the shards recorded (they must
    agree; a shard from before the choice existed was scored with asr-eval's).
    ``group_by`` picks the report's groupings; by default the shards' own (their run.json).
    """
    from .provenance import base_provenance
    from .shard import in_shard
    from .runfolder import mentions, write_run_folder
    from .score_run import score_transcripts
    from .normalize import get_normalizer
    from .context import term_pool
    from .files import RunLock
    from .whisper_spellings import normalizer_for

    t0 = time.perf_counter()
    if not shard_dirs:
        raise MergeError("no shard folders given")
    out = Path(out_dir)
    if any(Path(d).resolve() == out.resolve() for d in shard_dirs):
        raise MergeError(f"the merged run cannot be written into shard folder {out}")
    shards = [_read_shard(Path(d)) for d in shard_dirs]
    check_compatible(shards)
    if normalizer is None:
        recorded = sorted({str(s.run.get("normalizer_name") or "asr-eval") for s in shards})
        if len(recorded) > 1:
            raise MergeError(f"the shards were scored with different normalisers ({', '.join(recorded)}): "
                             "choose one with --normalizer")
        normalizer = recorded[0]
    try:
        get_normalizer(normalizer)  # an unknown name (a hand-edited run.json) fails before anything is written
    except ValueError as exc:
        raise MergeError(str(exc)) from None
    run0 = shards[0].run
    manifest_path, man = _load_manifest(run0, Path(manifest) if manifest else None, manifest_options)
    if not group_by and isinstance(run0.get("group_by"), list):
        group_by = [str(g) for g in run0["group_by"]]
    grouping_problems(parse_group_by(group_by), man.utterances, f"manifest {manifest_path}")  # before any scoring
    vocabulary = shards[0].vocabulary
    names = [c["name"] for c in run0["conditions"]]

    transcripts: dict[tuple[str, str], Transcript] = {}
    owners: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for s in shards:
        for key, t in s.transcripts.items():
            owners[key].append(s.folder)
            transcripts[key] = t
    duplicates = sorted(f"{u} [{c}] in {', '.join(map(str, fs))}" for (u, c), fs in owners.items() if len(fs) > 1)
    known = {u.id for u in man.utterances}
    strangers = sorted({u for u, _ in owners if u not in known})
    failed_in: dict[str, list[dict[str, str]]] = defaultdict(list)
    missing: list[str] = []
    # Rows the shards rejected while loading the manifest (missing audio, a path outside the allowed
    # folders...): merge reads no audio, so it learns of them from the shards' skipped.csv, by line.
    rejected_at_load = {int(row["line"]): row for s in shards for row in s.skipped
                        if row.get("severity") == "error" and (row.get("line") or "").isdigit()
                        and Path(row.get("path") or "").name == manifest_path.name}
    rejected = [u for u in man.utterances if u.line in rejected_at_load
                and not any((u.id, c) in transcripts for c in names)]
    rejected_ids = {u.id for u in rejected}
    utterances = [u for u in man.utterances if u.id not in rejected_ids]
    for utt in utterances:
        absent = [c for c in names if (utt.id, c) not in transcripts]
        if not absent:
            continue
        owner = [s for s in shards if s.spec is None or in_shard(utt.id, s.spec)]
        pattern = mentions(utt.id)
        recorded = [row for s in owner for row in s.skipped if pattern.search(row.get("problem", ""))]
        if recorded:
            failed_in[utt.id] = recorded
        else:
            missing.extend(f"{utt.id} [{c}]" for c in absent)
    errors = []
    if duplicates:
        errors.append(f"{len(duplicates)} clip x condition transcribed more than once: " + "; ".join(duplicates[:20]))
    if missing:
        errors.append(f"{len(missing)} clip x condition missing from every shard (and not recorded as failed): "
                      + "; ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""))
    if strangers:
        errors.append(f"{len(strangers)} clip(s) not in the manifest: {', '.join(strangers[:20])}")
    if errors:
        raise MergeError("cannot merge these shards:\n  " + "\n  ".join(errors))

    records = [ConditionRecord.from_dict(c) for c in run0["conditions"]]
    conditions = vocabulary.conditions(records)
    plans = {r.name: r.plan for r in records if r.plan is not None}
    terms = vocabulary.scoring
    # per-clip conditions (bias.ClipPlans): each clip is scored against its own plans' terms too
    per_clip = [c["name"] for c in run0["conditions"] if c.get("per_clip")]
    clip_terms = vocabulary.clip_terms if per_clip else ()
    synonyms = _shard_synonyms(shards)
    norm = normalizer_for(normalizer, (*terms, *clip_terms))
    if synonyms is not None:
        from .synonyms import SynonymNormalizer

        norm = SynonymNormalizer(norm, synonyms)
    scored = score_transcripts(utterances, transcripts, names, terms, norm, per_clip=per_clip,
                               pool=term_pool(terms, clip_terms) if per_clip else None)
    manifest_problems = {(p.path, str(p.line if p.line is not None else ""), p.problem) for p in man.problems}
    problems: list[Problem] = [Problem(row["path"], int(row["line"]), row["problem"], "error")
                               for row in (rejected_at_load[u.line] for u in rejected)]
    seen = {(p.path, str(p.line), p.problem) for p in problems}
    for rows in failed_in.values():
        for row in rows:
            ident = (row.get("path", ""), row.get("line", ""), row.get("problem", ""))
            if ident in manifest_problems or ident in seen or ident[2].endswith(EXCLUDED_SUFFIX):
                continue
            seen.add(ident)
            problems.append(Problem(ident[0], int(ident[1]) if ident[1] else None, ident[2],
                                    row.get("severity") or "error"))

    timing = [s.run.get("timing") or {} for s in shards]
    provenance = base_provenance(command)
    provenance.update({
        "manifest": {"path": str(manifest_path), "sha256": run0["manifest"]["sha256"],
                     "format": man.format, "read_options": dict(man.read_options),
                     "utterances": len(man.utterances), "skipped": len(man.problems)},
        "dictionary": run0.get("dictionary"),
        "directory": run0.get("directory"),
        "engine": run0.get("engine"),
        "normalizer": norm.version,
        "normalizer_name": norm.name,
        "synonyms": synonyms.info() if synonyms is not None else None,
        "shard": None,
        "method": run0.get("method"),
        "group_by": [",".join(g.columns) for g in parse_group_by(group_by)],
        "merged_from": [{"folder": str(s.folder), "shard": s.run.get("shard"), "created": s.run.get("created"),
                         "normalizer": s.run.get("normalizer")} for s in shards],
        "timing": {
            "wall_seconds": round(time.perf_counter() - t0, 3),
            "shard_wall_seconds": [t.get("wall_seconds") for t in timing],
            "audio_seconds": round(sum(t.audio_seconds for (u, c), t in transcripts.items() if c == names[0]), 3),
            "decode_seconds_total": round(sum(t.decode_seconds for t in transcripts.values()), 3),
        },
    })
    written: dict[str, Path] = {}
    with RunLock(out, force=force):
        write_run_folder(out, manifest=man, utterances=utterances, conditions=conditions, plans=plans,
                         transcripts=transcripts, scored=scored, provenance=provenance, vocabulary=terms,
                         problems=problems, per_clip=per_clip, clip_terms=clip_terms)
        if reports:
            try:
                from .report import write_reports
            except ImportError:  # the report writers are optional for merging
                write_reports = None
            if write_reports is not None:
                written = write_reports(out, redact=redact, redact_names=redact_names, group_by=group_by or None)
    rejected_rows = len(rejected) + sum(p.severity == "error" for p in man.problems)
    return MergeOutcome(out, len(shards), len(man.utterances), len(utterances) - len(scored.excluded),
                        len(failed_in), written, rejected=rejected_rows)
