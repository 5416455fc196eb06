"""Transcripts made elsewhere, from any engine, matched to the clips of a manifest (``asr-eval score --hyp``).

Reading a file is ``asr_eval.hypformats``' job (one reader per vendor family,
the format detected per file); this module decides which manifest clip each
transcript is of, and what text each clip gets:

* **matching** (``match``): ``id`` (the transcript names the utterance id, or
  the per-clip file is named after it), ``stem`` (it names the audio file:
  ``calls/0007.wav``, ``gs://b/0007.flac`` and a ctm's ``0007`` all match the
  clip whose audio is ``.../0007.wav``), ``column:NAME`` (it names the value of
  the manifest's column NAME), or ``auto``: an audio name by stem, anything
  else by id, then by stem;
* **channels**: ``channel`` picks one audio channel (0-based); without it a
  clip whose manifest row has a ``channel`` gets that channel, and otherwise
  the channels are joined, word by word in time order where every channel has
  times, else channel after channel;
* **segments**: a transcript of a whole recording matched to manifest clips
  that are segments of it (``Utterance.start``/``end``) is cut into them by
  word midpoints (``asr_eval.wordtimes``, sclite's rule); a word in no segment
  is charged to the next one and listed as a warning.

Rows without a condition get the file's stem (a folder's name for a folder of
per-clip files) as their condition, so a vendor's run with and without its
custom vocabulary can be two files (or folders), or one file with a condition
column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from asr_eval.files import file_sha256
from asr_eval.hypformats import HypDoc, HypFile, read_hyp_path
from asr_eval.hypformats.model import Word, join_words
from asr_eval.tabular import DEFAULT_LIMITS, Limits
from asr_eval.trn import utt_from_trn_id
from asr_eval.types import InputError, Problem, Utterance
from asr_eval.wordtimes import Segment, TimedWord, assign_words

Hypotheses = dict[str, dict[str, str]]  # condition -> utt_id -> text
MATCH_MODES = ("auto", "id", "stem", "column:NAME")


@dataclass(frozen=True)
class HypOptions:
    """How hypothesis files are read and matched (``score``'s --hyp-format, --hyp-match, --channel, --azure-field)."""

    fmt: str | None = None
    match: str = "auto"
    channel: int | None = None
    azure_field: str = "display"

    def __post_init__(self) -> None:
        if self.match not in ("auto", "id", "stem") and not (self.match.startswith("column:") and self.match[7:].strip()):
            raise InputError("--hyp-match", f"unknown matching {self.match!r}: use auto, id, stem or column:NAME")
        if self.channel is not None and self.channel < 0:
            raise InputError("--channel", f"channels count from 0, got {self.channel}")


@dataclass(frozen=True)
class LoadedHypotheses:
    """The texts per condition and clip, what was read (for run.json), and warnings (words outside segments)."""

    hyps: Hypotheses
    sources: tuple[dict[str, Any], ...]
    problems: tuple[Problem, ...] = field(default=())


# --------------------------------------------------------------------------- one transcript's text


def _channel_index(value: Any) -> int | None:
    """A manifest row's channel (stm 'A'/'B' or '1'/'2', or a 0-based number) as a 0-based index."""
    if value is None or str(value).strip() == "":
        return None
    t = str(value).strip().lower()
    if t in ("a", "b"):
        return ord(t) - ord("a")
    if t.isdigit():
        return max(int(t) - 1, 0) if isinstance(value, str) else int(t)
    return None


def pick(doc: HypDoc, channel: int | None, path: str) -> tuple[str, list[Word], bool]:
    """(text, words, timed) of the asked channel, or of all channels joined."""
    chans = doc.channels
    if not chans:
        return "", [], True
    if channel is not None and len(chans) > 1 or channel not in (None, 0) and len(chans) == 1:
        found = next((c for c in chans if c.index == channel), None)
        if found is None:
            raise InputError(path, f"{doc.where}: no channel {channel} (channels here: "
                                   f"{', '.join(str(c.index) for c in chans)}; --channel counts from 0)", doc.line)
        return found.text, list(found.words), found.timed
    if len(chans) == 1:
        return chans[0].text, list(chans[0].words), chans[0].timed
    if all(c.timed for c in chans):  # both sides of a call, word by word in time order
        words = sorted((w for c in chans for w in c.words), key=lambda w: (w.start, w.end))
        return join_words(words), words, True
    return " ".join(c.text.strip() for c in chans if c.text.strip()), [], False


# --------------------------------------------------------------------------- matching


def audio_stem(name: str) -> str:
    """The file name without folders (POSIX, Windows or URI) and without its last extension: what 'stem' matches."""
    base = name.split("?", 1)[0].split("#", 1)[0].replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base[1:] else base


class _Index:
    """The manifest's clips by id, audio stem and (on demand) a column, for matching."""

    def __init__(self, utterances: Sequence[Utterance], rejected: Iterable[str]):
        self.utts = utterances
        self.rejected = set(rejected)
        self._columns: dict[str, dict[str, list[Utterance]]] = {}
        self.store = getattr(utterances, "store", None)  # a spill.ClipStore: look clips up on disk, hold none
        if self.store is None:
            self.by_id = {u.id: u for u in self.utts}
            self.by_stem: dict[str, list[Utterance]] = {}
            for u in self.utts:
                self.by_stem.setdefault(audio_stem(u.audio), []).append(u)

    def _get_id(self, name: str) -> Utterance | None:
        return self.store.by_id(name) if self.store is not None else self.by_id.get(name)

    def _get_stem(self, stem: str) -> list[Utterance] | None:
        if self.store is not None:
            return self.store.by_stem(stem) or None
        return self.by_stem.get(stem)

    def column(self, name: str, source: str) -> dict[str, list[Utterance]]:
        if name not in self._columns:
            if not any(name in u.meta for u in self.utts):
                raise InputError(source, f"--hyp-match column:{name}: the manifest has no column {name!r}")
            table: dict[str, list[Utterance]] = {}
            for u in self.utts:
                if u.meta.get(name) not in (None, ""):
                    table.setdefault(str(u.meta[name]).strip(), []).append(u)
            self._columns[name] = table
        return self._columns[name]

    def resolve(self, name: str, kind: str, mode: str, source: str) -> tuple[str, list[Utterance]] | None:
        """(how it matched, the clips) for a transcript named ``name``; None when nothing matches."""
        if mode.startswith("column:"):
            got = self.column(mode[7:].strip(), source).get(name.strip())
            return ("column", got) if got else None
        by_id = self._id(name, kind)
        by_stem = self._get_stem(audio_stem(name)) if mode != "id" and (mode == "stem" or kind == "audio" or by_id is None) else None
        if mode == "id":
            return ("id", [by_id]) if by_id else None
        if mode == "stem":
            return ("stem", by_stem) if by_stem else None
        if kind == "audio":
            return ("stem", by_stem) if by_stem else (("id", [by_id]) if by_id else None)
        return ("id", [by_id]) if by_id else (("stem", by_stem) if by_stem else None)

    def _id(self, name: str, kind: str) -> Utterance | None:
        got = self._get_id(name)
        if got is None and kind == "trn":  # ids asr-eval's trn export wrote
            got = self._get_id(utt_from_trn_id(name))
        return got

    def is_rejected(self, name: str, kind: str) -> bool:
        return name in self.rejected or (kind == "trn" and utt_from_trn_id(name) in self.rejected)


@dataclass
class _Collector:
    hyps: Hypotheses = field(default_factory=dict)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    outside_words: int = 0
    store: Any = None  # a spill.ClipStore: the texts (and where each came from) go to disk

    def add(self, cond: str, uid: str, text: str, where: str, path: str, line: int | None) -> None:
        here = f"{path}:{line}" if line is not None else path
        if where and where != "$" and not where.startswith("line "):
            here += f" {where}"
        if self.store is not None:
            first = self.store.add_hyp(cond, uid, text, here)
            if first is not None:
                raise InputError(path, f"utterance {uid!r} of condition {cond!r} is given twice (first in {first})", line)
            if cond not in self.hyps:
                from .spill import StoredHyps

                self.hyps[cond] = StoredHyps(self.store, cond)  # type: ignore[assignment]
            return
        key = (cond, uid)
        if key in self.origin:
            raise InputError(path, f"utterance {uid!r} of condition {cond!r} is given twice (first in {self.origin[key]})", line)
        self.origin[key] = here
        self.hyps.setdefault(cond, {})[uid] = text


def _assign(doc: HypDoc, how: str, targets: list[Utterance], cond: str, f: HypFile, opts: HypOptions,
            out: _Collector) -> None:
    path = f.path
    if how == "id" or (len(targets) == 1 and not targets[0].is_segment and doc.start is None):
        u = targets[0]
        text, _, _ = pick(doc, opts.channel if opts.channel is not None else _meta_channel(u, doc), path)
        out.add(cond, u.id, text, doc.where, path, doc.line)
        return
    if doc.start is not None:  # a NeMo row of a segment: the clip of that audio starting there
        u = next((t for t in targets if t.start is not None and abs(t.start - doc.start) < 1e-3), None)
        if u is None and doc.start == 0:
            u = next((t for t in targets if t.start is None), None)
        if u is None:
            raise InputError(path, f"{doc.where}: no manifest clip of {audio_stem(targets[0].audio)!r} starts at "
                                   f"offset {doc.start:g} s", doc.line)
        text, _, _ = pick(doc, opts.channel, path)
        out.add(cond, u.id, text, doc.where, path, doc.line)
        return
    whole = [u for u in targets if not u.is_segment]
    if whole:
        raise InputError(path, f"{doc.where}: {len(targets)} manifest clips share the audio {audio_stem(targets[0].audio)!r} "
                               f"({', '.join(u.id for u in targets[:3])}) and {whole[0].id} is not a segment of it; "
                               "name the clips' ids in the transcripts (--hyp-match id)", doc.line)
    groups: dict[int | None, list[Utterance]] = {}
    for u in targets:
        groups.setdefault(opts.channel if opts.channel is not None else _meta_channel(u, doc), []).append(u)
    for channel, utts in groups.items():
        text, words, timed = pick(doc, channel, path)
        if not timed:
            raise InputError(path, f"{doc.where}: this transcript covers {len(utts)} segment(s) of "
                                   f"{audio_stem(utts[0].audio)!r} but has no word times to cut it by; use a timed format "
                                   "(ctm, srt, vtt, vendor JSON with word times) or one transcript per segment", doc.line)
        segs = [Segment(u.id, u.start, u.end) for u in utts]
        result = assign_words([TimedWord(w.text, w.start, w.end) for w in words], segs)  # type: ignore[arg-type]
        for u in utts:
            out.add(cond, u.id, " ".join(result.words[u.id]), doc.where, path, doc.line)
        if result.outside:
            out.outside_words += len(result.outside)
            shown = "; ".join(f"{o.word.text!r} at {o.word.start:.2f}-{o.word.end:.2f} s -> {o.charged_to}"
                              for o in result.outside[:5])
            more = f" (and {len(result.outside) - 5} more)" if len(result.outside) > 5 else ""
            chan = f" channel {channel}" if channel is not None else ""
            out.problems.append(Problem(path, doc.line, f"condition {cond!r}: {len(result.outside)} word(s) of "
                                        f"{audio_stem(utts[0].audio)!r}{chan} lie outside every reference segment and are "
                                        f"scored with the next segment (as sclite does): {shown}{more}", "warning"))


def _meta_channel(u: Utterance, doc: HypDoc) -> int | None:
    """The channel a manifest row names, used only when the transcript has more than one."""
    if len(doc.channels) < 2:
        return None
    return _channel_index(u.meta.get("channel"))


def _condition_default(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def load_for_manifest(paths: Sequence[str | Path], utterances: Sequence[Utterance], options: HypOptions = HypOptions(),
                      *, rejected: Iterable[str] = (), limits: Limits = DEFAULT_LIMITS, show: int = 5) -> LoadedHypotheses:
    """Every --hyp path read and matched to the manifest's clips; a transcript that matches no clip is an error of its file.

    Transcripts of clips whose manifest row was rejected are dropped: that row's
    own error (file:line) says why, not "not in the manifest".
    """
    index = _Index(utterances, rejected)
    out = _Collector(store=index.store)
    sources = []
    for raw in paths:
        p = Path(raw)
        default = _condition_default(p)
        formats: dict[str, int] = {}
        matched: dict[str, int] = {}
        hashes = []
        outside_before = out.outside_words
        for f in read_hyp_path(p, options.fmt, azure_field=options.azure_field, limits=limits, stream=True):
            unknown: dict[str, list[Any]] = {}
            for doc in f.docs:
                name, kind = (doc.key, doc.key_kind or "id") if doc.key is not None else (Path(f.path).stem, "file")
                cond = doc.condition or default
                got = index.resolve(name, kind, options.match, f.path)
                if got is None and doc.key is not None and len(f.docs) == 1:
                    # a file per clip whose inside names nothing we know (AssemblyAI's upload URL): its file name
                    got = index.resolve(Path(f.path).stem, "file", options.match, f.path)
                    if got is not None:
                        name, kind = Path(f.path).stem, "file"  # else the error names the id the file gave
                if got is None:
                    if not index.is_rejected(name, kind):
                        seen = unknown.setdefault(cond, [0])  # [count, first few names]: bounded however many
                        seen[0] += 1
                        if len(seen) <= show + 1:
                            seen.append(name)
                    continue
                how, targets = got
                matched[how] = matched.get(how, 0) + 1
                _assign(doc, how, targets, cond, f, options, out)
            formats[f.format] = formats.get(f.format, 0) + 1  # after the pass: a streamed file knows it then
            if unknown:
                cond, (count, *names) = next(iter(unknown.items()))
                how = options.match if options.match != "auto" else "id or audio file name"
                raise InputError(f.path, f"condition {cond!r}: {count} id(s) not in the manifest (matched by {how}): "
                                         f"{', '.join(names[:show])}{' ...' if count > show else ''}")
            if p.is_dir():
                hashes.append(f"{Path(f.path).name} {file_sha256(f.path)}")
        source: dict[str, Any] = {"path": str(p)}
        if p.is_dir():
            source.update(kind="folder", files=len(hashes),
                          sha256=hashlib.sha256("\n".join(hashes).encode()).hexdigest())
        else:
            source.update(kind="file", sha256=file_sha256(p))
        source["format"] = next(iter(formats)) if len(formats) == 1 else formats
        source.update(match=options.match, matched=matched, channel=options.channel)
        if any("azure" in k for k in formats):
            source["azure_field"] = options.azure_field
        if out.outside_words > outside_before:
            source["words_outside_segments"] = out.outside_words - outside_before
        sources.append(source)
    if not out.hyps:
        raise InputError(", ".join(map(str, paths)), "no transcripts of any manifest clip found")
    return LoadedHypotheses(out.hyps, tuple(sources), tuple(out.problems))


# --------------------------------------------------------------------------- without a manifest


def load_hypotheses(
    path: str | Path,
    condition: str | None = None,
    fmt: str | None = None,
    known_ids: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    channel: int | None = None,
) -> Hypotheses:
    """condition -> {key: hypothesis text} from one file or folder, keyed as the file names each transcript.

    ``known_ids`` (the manifest's ids) lets trn ids of the form ``speaker-utt``
    map back to ``utt``; other keys are kept as written and reported by
    ``check_ids``. Matching by audio name and cutting recordings into segments
    need the manifest: ``load_for_manifest``.
    """
    path = Path(path)
    known = set(known_ids) if known_ids is not None else None
    default = condition or _condition_default(path)
    out: Hypotheses = {}
    seen: dict[tuple[str, str], int | None] = {}
    for f in read_hyp_path(path, fmt, limits=limits):
        for doc in f.docs:
            key = doc.key if doc.key is not None else Path(f.path).stem
            if doc.key_kind == "trn" and known is not None and key not in known and utt_from_trn_id(key) in known:
                key = utt_from_trn_id(key)
            cond = doc.condition or default
            if (cond, key) in seen:
                first = seen[(cond, key)]
                raise InputError(f.path, f"utterance {key!r} appears twice for condition {cond!r}"
                                         f"{f' (first on line {first})' if first else ''}", doc.line)
            seen[(cond, key)] = doc.line
            out.setdefault(cond, {})[key] = pick(doc, channel, f.path)[0]
    return out


def merge(sets: Iterable[tuple[str, Hypotheses]]) -> Hypotheses:
    """Combine several files; the same (condition, id) in two files is an error."""
    out: Hypotheses = {}
    origin: dict[str, str] = {}
    for path, hyps in sets:
        for cond, rows in hyps.items():
            target = out.setdefault(cond, {})
            for utt, text in rows.items():
                if utt in target:
                    raise InputError(path, f"utterance {utt!r} of condition {cond!r} was already given in {origin[cond + chr(0) + utt]}")
                target[utt] = text
                origin[cond + chr(0) + utt] = path
    return out


def check_ids(hyps: Hypotheses, manifest_ids: Iterable[str], path: str = "<hypotheses>", show: int = 5) -> list[Problem]:
    """Warnings for manifest utterances with no transcript and errors for ids the manifest lacks."""
    ids = list(manifest_ids)
    known = set(ids)
    problems: list[Problem] = []
    for cond, rows in sorted(hyps.items()):
        extra = sorted(set(rows) - known)
        missing = [i for i in ids if i not in rows]
        if extra:
            problems.append(Problem(path, None, f"condition {cond!r}: {len(extra)} id(s) not in the manifest: "
                                    f"{', '.join(extra[:show])}{' ...' if len(extra) > show else ''}", "error"))
        if missing:
            problems.append(Problem(path, None, f"condition {cond!r}: {len(missing)} manifest utterance(s) have no "
                                    f"transcript: {', '.join(missing[:show])}{' ...' if len(missing) > show else ''}",
                                    "warning"))
    return problems


__all__ = ["Hypotheses", "HypOptions", "LoadedHypotheses", "MATCH_MODES", "load_for_manifest", "load_hypotheses",
           "merge", "check_ids", "pick", "Mapping"]
