"""lhotse manifests, read from their JSON schema (lhotse itself is not needed): a CutSet, or a RecordingSet with a SupervisionSet.

https://lhotse.readthedocs.io/en/latest/corpus.html
Every supervision is one utterance, a segment of its recording: in a cut,
from ``cut.start + supervision.start`` for ``supervision.duration`` seconds.
A supervision repeated in several cuts (``trim_to_supervisions`` keeps
overlapping ones) is read once. ``speaker`` is the speaker; ``gender``,
``language`` and the keys of ``custom`` are metadata (``custom.accent`` is the
accent group). Only ``file`` audio sources are read, relative paths against
the manifest's folder; ``url``, ``command`` and in-memory sources are refused
per utterance. Files are ``.jsonl`` or ``.jsonl.gz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..tabular import jsonl_rows
from ..types import InputError
from .base import ReadOptions, Record, Source, canonical, read_maybe_gz, seconds

SPEAKER = ("speaker",)
ACCENT = ("accent_group", "accent")


def _source(recording: Mapping[str, Any], channel: Any) -> str:
    """The file that holds the supervision's channel; ValueError when the recording's audio is not a plain file."""
    sources = recording.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, dict) for s in sources):
        raise ValueError(f"recording {recording.get('id')!r} has no 'sources' list")
    chosen = sources[0]
    if channel is not None and len(sources) > 1:
        chans = channel if isinstance(channel, list) else [channel]
        chosen = next((s for s in sources if any(c in (s.get("channels") or []) for c in chans)), sources[0])
    if chosen.get("type") != "file":
        raise ValueError(f"recording {recording.get('id')!r}: audio source type {chosen.get('type')!r} is not read "
                         "(only 'file' sources; asr-eval runs no commands and downloads nothing)")
    src = chosen.get("source")
    if not isinstance(src, str) or not src:
        raise ValueError(f"recording {recording.get('id')!r}: source has no file path")
    return src


def _utterance(path: Path, line: int, sup: Mapping[str, Any], recording: Mapping[str, Any] | None,
               offset: float, options: ReadOptions) -> Record:
    try:
        if not isinstance(sup, dict):
            raise ValueError("a supervision must be a JSON object")
        for key in ("id", "start", "duration"):
            if key not in sup:
                raise ValueError(f"supervision is missing required field {key!r}")
        if recording is None:
            raise ValueError(f"supervision {sup['id']!r}: recording {sup.get('recording_id')!r} is not in the recordings")
        start = offset + seconds(sup["start"], "start")
        end = start + seconds(sup["duration"], "duration")
        audio = _source(recording, sup.get("channel"))
    except ValueError as exc:
        return Record(str(path), line, problem=str(exc))
    custom = sup.get("custom") if isinstance(sup.get("custom"), dict) else {}
    raw = {**{k: v for k, v in custom.items() if isinstance(v, (str, int, float, bool))},
           **{k: v for k, v in sup.items() if k in ("speaker", "gender", "language") and v is not None},
           "recording_id": recording.get("id")}
    fields = canonical(raw, text=sup.get("text") if sup.get("text") is not None else "", audio=audio, uid=sup["id"],
                       speaker_names=SPEAKER, accent_names=ACCENT, speaker_column=options.speaker_column)
    return Record(str(path), line, fields, start, end)


def read_cuts(path: Path, options: ReadOptions) -> Source:
    text = read_maybe_gz(path, "cuts manifest", options.limits)
    records: list[Record] = []
    seen: dict[str, Record] = {}
    for row in jsonl_rows(path, text, options.limits):
        cut = row.fields
        kind = cut.get("type", "MonoCut")
        if kind != "MonoCut":
            records.append(Record(str(path), row.line, problem=f"cut type {kind!r} is not read (only MonoCut)"))
            continue
        recording = cut.get("recording")
        sups = cut.get("supervisions")
        if not isinstance(recording, dict) or not isinstance(sups, list):
            records.append(Record(str(path), row.line, problem="a cut needs 'recording' (object) and 'supervisions' (list)"))
            continue
        try:
            offset = seconds(cut.get("start", 0), "start")
        except ValueError as exc:
            records.append(Record(str(path), row.line, problem=str(exc)))
            continue
        for sup in sups:
            rec = _utterance(path, row.line, sup, recording, offset, options)
            uid = rec.fields.get("id")
            if uid is not None and uid in seen and (seen[uid].start, seen[uid].end, seen[uid].fields.get("audio")) == (rec.start, rec.end, rec.fields.get("audio")):
                continue  # the same supervision again, in a neighbour's trimmed cut
            if uid is not None:
                seen.setdefault(uid, rec)
            records.append(rec)
    return Source("lhotse", path, path.parent, (path,), tuple(records))


def _recording(recordings: Mapping[str, Mapping[str, Any]], sup: Mapping[str, Any]) -> Mapping[str, Any] | None:
    rid = sup.get("recording_id")
    return recordings.get(rid) if isinstance(rid, str) else None


def read_pair(recordings_path: Path, supervisions_path: Path, options: ReadOptions) -> Source:
    recordings: dict[str, Mapping[str, Any]] = {}
    for row in jsonl_rows(recordings_path, read_maybe_gz(recordings_path, "recordings manifest", options.limits), options.limits):
        rid = row.fields.get("id")
        if not isinstance(rid, str) or not rid:
            raise InputError(str(recordings_path), "a recording needs a string 'id'", row.line)
        if rid in recordings:
            raise InputError(str(recordings_path), f"duplicate recording id {rid!r}", row.line)
        recordings[rid] = row.fields
    records = [
        _utterance(supervisions_path, row.line, row.fields, _recording(recordings, row.fields), 0.0, options)
        for row in jsonl_rows(supervisions_path, read_maybe_gz(supervisions_path, "supervisions manifest", options.limits),
                              options.limits)
    ]
    return Source("lhotse", supervisions_path, supervisions_path.parent, (recordings_path, supervisions_path), tuple(records))
