"""Load and validate test sets: asr-eval's own manifest or any format ``asr_eval.formats`` reads.

asr-eval's own manifest is CSV, TSV or JSONL (read by ``asr_eval.tabular``). Columns: ``audio`` (path relative to the manifest's folder), ``text``
(reference), ``speaker``, ``accent_group``; optional ``id`` and ``entities``
(JSON list of ``{"text", "label"}``) and ``context_terms`` (the clip's own
biasing list: ``a|b|c``, or a JSON list; ``asr_eval.context``); every other
column is kept as metadata.
References may mark entities inline as ``[Siobhan Nguyen](person)``.

A clip with no speech (silence, line noise, hold music, DTMF) has an empty
``text`` and a ``speech`` column set to false (``false``/``0``/``no``); a
manifest loaded with ``nonspeech=True`` (``--nonspeech``) holds only such
clips and needs no ``text`` column. Its output is scored as a harm
(``asr_eval.harms``), never as WER; an empty text without the mark is still an
error, since it is far more often a missing transcript than silence.

A malformed *file* (unreadable, not UTF-8, no header, a missing required column,
a JSONL line that is not a JSON object) raises ``InputError``. A malformed *row*
(more cells than the header, a value of the wrong JSON type, an empty path or
text, a reference with no words, a duplicate id, missing audio, audio outside
the allowed folders) is reported as a ``Problem`` naming the file and line and
skipped, so one bad clip never costs the rest of the run.

Audio is confined: a manifest may be written by someone other than whoever runs
it (a shared service), so its audio must resolve, symlinks followed, inside the
manifest's folder or a folder the caller names (``audio_roots``). Anything else
is rejected with one message that never depends on whether the file exists, so
a manifest cannot read ``../../secret.flac`` into a report nor probe the disk.
``allow_outside_paths`` lifts the rule for trusted local use.

The other formats (NeMo, HF audio folders and saved datasets, lhotse, Kaldi,
Common Voice, NIST stm) are read by ``asr_eval.formats`` into the same
records, so every rule here applies to each of them alike. A record may be a
segment of its audio (``start``/``end`` seconds); a segment that ends before it
starts, or past the end of its audio, is refused here.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from .alternatives import problem as alternation_problem
from .context import COLUMN as CONTEXT_COLUMN, parse_context_terms
from .formats import ReadOptions, read_source
from .harms import speech_value
from .types import EntitySpan, InputError, Problem, Utterance

REQUIRED = ("audio", "text", "speaker", "accent_group")
STRING_FIELDS = ("id", "audio", "text", "speaker", "accent_group")
_MARKUP_HINT = "]("
# sclite's alternations, "{ um / uh / @ }": the scorer reads them; a reference of only optional words is still one
_ALTERNATION = re.compile(r"\{[^{}]*/[^{}]*\}")


@dataclass(frozen=True)
class AudioPolicy:
    """Where a manifest's audio was allowed to be: ``roots`` (resolved, the manifest's folder first), or anywhere."""

    roots: tuple[str, ...]
    allow_outside: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The provenance entry: which folders audio could come from."""
        return {"audio_roots": list(self.roots), "allow_outside_paths": self.allow_outside}


@dataclass(frozen=True)
class Manifest:
    """The usable rows, the problems of the others, and how audio paths were checked.

    ``rejected`` maps the id of each rejected row (where the row gives one) to
    its problem, so that a file naming that id (``score --hyp``) can show the
    row's own error instead of "not in the manifest". ``audio_policy`` is None
    when audio paths were not checked (nothing will read them).
    """

    path: str
    utterances: tuple[Utterance, ...]
    problems: tuple[Problem, ...]
    rejected: Mapping[str, Problem] = field(default_factory=dict, compare=False)
    audio_policy: AudioPolicy | None = None
    format: str = "asr-eval"
    sha256: str = ""  # the fingerprint of the files read (one file: its own sha256)
    read_options: Mapping[str, Any] = field(default_factory=dict, compare=False)  # how to read it again (merge)
    nonspeech_path: str | None = None  # the --nonspeech manifest joined into this one, if any


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "number")


def _type_problem(row: Mapping[str, Any]) -> str | None:
    """A value JSONL typed wrongly; ``str()`` would make 12345 a reference and a list its repr.

    None is an absent value (as an empty CSV cell). ``entities`` may be the list
    itself or, as in a CSV cell, a string holding its JSON.
    """
    for name in STRING_FIELDS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            return f"field {name!r} must be a string, got {_json_type(value)}"
    value = row.get("entities")
    if value is not None and not isinstance(value, (str, list)):
        return f"field 'entities' must be a list of objects, got {_json_type(value)}"
    return None


def _entities(row: dict[str, Any], text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """The plain reference and its spans; ValueError's message says whether the markup or the 'entities' field is wrong."""
    spans: list[EntitySpan] = []
    if _MARKUP_HINT in text:
        from .annotations import parse_entity_markup

        try:
            text, found = parse_entity_markup(text)
        except ValueError as exc:
            raise ValueError(f"bad entity annotation: {exc}") from None
        spans.extend(found)
    raw = row.get("entities")
    if raw not in (None, ""):
        from .annotations import entities_from_json

        try:
            spans.extend(entities_from_json(raw if isinstance(raw, str) else json.dumps(raw)))
        except ValueError as exc:
            raise ValueError(f"bad entity annotation in field 'entities': {exc}") from None
    return text, tuple(spans)


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class _Confinement:
    """Decides, per audio path, whether the manifest may have it read, before the file is looked at.

    Two checks, both needed: the path as written, with ``..`` collapsed but no
    link followed, must lie in a root (so ``../../etc/passwd`` is refused without
    touching the disk), and the path with every link followed must too (so a
    link inside the folder cannot lead out). A root is taken as given and as
    resolved, so a manifest reached through a linked folder still owns its files.
    """

    def __init__(self, base: Path, audio_roots: Sequence[str | Path], allow_outside: bool):
        given = [base, *(Path(r) for r in audio_roots)]
        resolved = list(dict.fromkeys(os.path.realpath(r) for r in given))
        self.policy = AudioPolicy(tuple(resolved), allow_outside)
        self._lexical = list(dict.fromkeys([*(os.path.abspath(r) for r in given), *resolved]))
        extra = ", ".join(resolved[1:])
        self._allowed = "the manifest's folder" + (f", {extra}" if extra else "")

    def locate(self, base: Path, audio: str) -> tuple[Path, str | None]:
        """The path to read and, when it may not be read, why (the same words whether it exists or not)."""
        if self.policy.allow_outside:  # trusted local use: exactly the behaviour before confinement
            return ((base / audio).resolve() if not Path(audio).is_absolute() else Path(audio)), None
        written = os.path.normpath(os.path.join(os.path.abspath(base), audio))
        if _inside(written, self._lexical):
            real = os.path.realpath(os.path.join(base, audio))  # what opening it would reach: links, then ..
            if _inside(real, self.policy.roots):
                return Path(real), None
        return Path(written), (f"audio path {audio!r} is outside the allowed folders ({self._allowed}; "
                               "use --audio-root or --allow-outside-paths)")


def _audio_problem(path: Path, audio: str) -> str | None:
    """Why an allowed path cannot be used; inside the allowed folders, saying which is no leak."""
    if path.is_dir():
        return f"audio path is a folder, not a file: {audio}"
    if not path.is_file():
        return f"audio file not found: {audio}"
    if not os.access(path, os.R_OK):
        return f"audio file is not readable: {audio}"
    return None


@lru_cache(maxsize=1)
def _normalizer() -> Any:
    from .normalize import make_normalizer

    return make_normalizer(())


def _words(text: str) -> list[str]:
    """The reference's words as scoring will count them.

    Scoring's normaliser also protects the vocabulary's terms, but protecting
    only ever keeps words, so a reference empty here can only be non-empty there
    if a vocabulary term is itself a filler or punctuation.
    """
    return _normalizer().words(text)


def load_manifest(
    path: str | Path,
    check_audio: bool = True,
    *,
    audio_roots: Sequence[str | Path] = (),
    allow_outside_paths: bool = False,
    options: ReadOptions | None = None,
    nonspeech: bool = False,
    store: Any = None,
) -> Manifest:
    """The test set's usable rows and the problems of the others, in any format ``asr_eval.formats`` reads.

    ``nonspeech``: every row is a clip with no speech (``--nonspeech``); its
    text must be empty or absent.

    ``check_audio`` (the default) confines audio to the manifest's folder and
    ``audio_roots`` (unless ``allow_outside_paths``) and checks each file is
    there; without it (score, merge: nothing reads audio) the audio column is
    only a name and is not confined. ``options`` names the format and how to
    read it (``--format``, ``--speaker-column``...); by default it is detected.

    ``store`` (a ``spill.ClipStore``) keeps the usable clips on disk instead of
    in memory: ``utterances`` is then a sequence read back from it, for test
    sets too big to hold (``score`` of a million transcripts).
    """
    path = Path(path)
    options = replace(options or ReadOptions(), check_audio=check_audio, text_required=not nonspeech)
    source = read_source(path, options)
    base = source.base
    confine = (_Confinement(base, [*audio_roots, *source.roots], allow_outside_paths) if check_audio else None)
    native = source.format == "asr-eval"
    utterances: list[Utterance] = []
    problems: list[Problem] = [Problem(p, n, msg) for p, n, msg in source.problems]
    rejected: dict[str, Problem] = {}
    ids: dict[str, int] = {}  # id -> line, unless the store keeps them
    n_kept = 0
    durations: dict[str, float | None] = {}
    no_speaker = no_group = 0
    for rec in source.records:
        uid = ""
        line = rec.line

        def bad(msg: str, severity: str = "error", where: tuple[str, int | None] | None = None) -> None:
            problems.append(Problem(*(where or (rec.path, line)), msg, severity))
            if severity == "error" and uid:
                rejected.setdefault(uid, problems[-1])

        if rec.problem:
            bad(rec.problem)
            continue
        clean = {str(k).strip(): ("" if v is None else v) for k, v in rec.fields.items()}
        wrong_type = _type_problem(clean)
        if wrong_type:
            bad(wrong_type)
            continue
        audio = clean.get("audio", "").strip()
        text = clean.get("text", "").strip()
        uid = clean.get("id", "").strip()
        if not uid and audio:
            try:
                uid = str(Path(audio).with_suffix("")).replace("\\", "/")
            except ValueError:  # '/', '.', '..': a path that names no file
                bad(f"audio path {audio!r} names no file")
                continue
        if not audio:
            bad("empty 'audio' path")
            continue
        if "\x00" in audio:  # no file has such a name; the path functions would raise
            bad("audio path contains a NUL character")
            continue
        nul = next((f for f in ("text", "speaker", "accent_group", "id") if "\x00" in str(clean.get(f, ""))), None)
        if nul:  # no transcript holds one: a NUL in a reference is a damaged file, not speech
            bad(f"field {nul!r} contains a NUL character")
            continue
        try:
            silent = nonspeech or speech_value(clean.get("speech")) is False
        except ValueError as exc:
            bad(str(exc))
            continue
        if not text and not silent:
            bad(f"empty reference text for {audio}: a clip with no speech needs a 'speech' column set to false")
            continue
        if silent and text and _words(text):
            bad(f"clip {audio} is marked as having no speech but its reference has words: {text!r}")
            continue
        if store is None and uid in ids:
            bad(f"duplicate id {uid!r} (first at line {ids[uid]})")
            continue
        if confine is not None and not rec.audio_is_name:
            audio_path, outside = confine.locate(base, audio)
            problem = outside or _audio_problem(audio_path, audio)
            if problem:
                bad(problem)
                continue
        else:
            audio_path = (base / audio).resolve() if not Path(audio).is_absolute() else Path(audio)
        if rec.start is not None or rec.end is not None:
            problem = _segment_problem(rec.start, rec.end, audio_path, durations if confine is not None else None)
            if problem:
                bad(problem, where=rec.segment_at)
                continue
        try:
            text, entities = _entities(clean, text)
        except ValueError as exc:
            bad(str(exc))
            continue
        alt_problem = alternation_problem(text)  # sclite's { a / b / @ } groups, honoured by the scorer
        if alt_problem:
            bad(f"reference alternation: {alt_problem}: {text!r}")
            continue
        if not silent and not _words(text) and not _ALTERNATION.search(text):
            bad(f"reference has no words after normalisation: {text!r}")
            continue
        try:
            context = parse_context_terms(clean.get(CONTEXT_COLUMN))
        except ValueError as exc:
            bad(str(exc))
            continue
        speaker = str(clean.get("speaker", "")).strip()
        group = str(clean.get("accent_group", "")).strip()
        if not speaker:
            if native or "speaker" in clean:
                bad(f"empty speaker for {uid}; using the clip id as its speaker", "warning")
            else:
                no_speaker += 1
            speaker = uid
        if not group:
            if native or "accent_group" in clean:
                bad(f"empty accent_group for {uid}; using 'unknown'", "warning")
            else:
                no_group += 1
            group = "unknown"
        meta = {k: v for k, v in clean.items()
                if k not in (*REQUIRED, "id", "entities", "speech", CONTEXT_COLUMN) and v not in ("", None)}
        if context:
            meta[CONTEXT_COLUMN] = context  # a tuple of terms (asr_eval.context), read by per-clip conditions
        if silent or clean.get("speech") not in ("", None):
            meta["speech"] = "false" if silent else "true"  # one spelling, read back by harms.is_nonspeech
        utt = Utterance(uid, str(audio_path), text, speaker, group, meta, entities, line, rec.start, rec.end)
        if store is not None:
            first = store.add(utt)
            if first is not None:
                bad(f"duplicate id {uid!r} (first at line {first})")
                continue
        else:
            ids[uid] = line if line is not None else len(ids) + 1
            utterances.append(utt)
        n_kept += 1
    if no_speaker:
        problems.append(Problem(str(path), None, f"{no_speaker} utterance(s) have no speaker in this {source.format} "
                                "test set; each is its own speaker (name the field with --speaker-column)", "warning"))
    if no_group:
        problems.append(Problem(str(path), None, f"{no_group} utterance(s) have no accent in this {source.format} "
                                "test set; grouped as 'unknown'", "warning"))
    if not n_kept:
        detail = f" ({len(problems)} rows rejected; first: {problems[0]})" if problems else ""
        raise InputError(str(path), f"no usable utterances{detail}")
    kept = (lambda k: store.has(k)) if store is not None else ids.__contains__
    return Manifest(str(path), store.utterances() if store is not None else tuple(utterances), tuple(problems),
                    {k: p for k, p in rejected.items() if not kept(k)}, confine.policy if confine else None,
                    source.format, source.sha256(), options.to_dict())


def _segment_problem(start: float | None, end: float | None, audio: Path,
                     durations: dict[str, float | None] | None) -> str | None:
    """Why a time range cannot be cut from its audio; the audio's length is looked up once per file, and only when audio is read."""
    from .audio import MAX_OVERSHOOT, audio_duration

    s = start or 0.0
    if s < 0:
        return f"segment starts at {s:g} s, before the start of the audio"
    if end is not None and end <= s:
        return f"segment ends at {end:g} s, not after it starts at {s:g} s"
    if durations is None:
        return None
    key = str(audio)
    if key not in durations:
        durations[key] = audio_duration(audio)
    total = durations[key]
    if total is None:  # a format soundfile cannot measure without decoding: checked when the clip is read
        return None
    if s >= total:
        return f"segment starts at {s:g} s, at or after the end of its audio ({total:g} s)"
    if end is not None and end > total + MAX_OVERSHOOT:
        return f"segment ends at {end:g} s, beyond the end of its audio ({total:g} s)"
    return None


def join_manifests(main: Manifest, extra: Manifest) -> Manifest:
    """``main`` plus the clips of ``extra`` (a ``--nonspeech`` manifest); an id both hold is a problem of ``extra``'s row.

    The result keeps ``main``'s path and audio policy (provenance records
    ``extra`` itself: ``nonspeech_manifest``).
    """
    ids = {u.id for u in main.utterances}
    kept, problems = [], list(extra.problems)
    for u in extra.utterances:
        if u.id in ids:
            problems.append(Problem(extra.path, u.line, f"duplicate id {u.id!r} (also in {main.path})"))
            continue
        kept.append(u)
    return replace(main, utterances=main.utterances + tuple(kept), problems=main.problems + tuple(problems),
                   rejected={**main.rejected, **extra.rejected}, nonspeech_path=extra.path)
