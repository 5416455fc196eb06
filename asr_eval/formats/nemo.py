"""NeMo ASR manifests: JSON lines with ``audio_filepath``, ``text``, ``duration`` and optional ``offset``.

https://docs.nvidia.com/nemo-framework/user-guide/latest/nemotoolkit/asr/datasets.html
A line with ``offset`` is a segment of a longer file: ``duration`` seconds
from ``offset``. Without it the whole file is the utterance (``duration``,
which NeMo uses to bucket and filter, does not cut it). Relative paths are
read against the manifest's folder, as NeMo does. NeMo has no id field: an
``id`` (or ``utt_id``) key is used when present, else the path without its
extension, with the segment's times in centiseconds for a segment.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..tabular import jsonl_rows
from ..types import InputError
from .base import ReadOptions, Record, Source, canonical, read_maybe_gz, seconds

SPEAKER = ("speaker", "speaker_id", "spk_id")
ACCENT = ("accent_group", "accent")
ID = ("id", "utt_id", "utterance_id")


def read(path: Path, options: ReadOptions) -> Source:
    text = read_maybe_gz(path, "manifest", options.limits)
    records: list[Record] = []
    for row in jsonl_rows(path, text, options.limits):
        f = row.fields
        if "audio_filepath" not in f:
            records.append(Record(str(path), row.line, problem="missing required field 'audio_filepath'"))
            continue
        if "text" not in f:
            records.append(Record(str(path), row.line, problem="missing required field 'text'"))
            continue
        start = end = None
        try:
            if f.get("offset") is not None:
                start = seconds(f["offset"], "offset")
                if f.get("duration") is None:
                    raise ValueError("a line with 'offset' needs 'duration' (the segment's length)")
                end = start + seconds(f["duration"], "duration")
            elif f.get("duration") is not None:
                seconds(f["duration"], "duration")
        except ValueError as exc:
            records.append(Record(str(path), row.line, problem=str(exc)))
            continue
        uid = next((f[k] for k in ID if f.get(k) not in (None, "")), None)
        audio = f["audio_filepath"]
        if uid is None and start is not None and isinstance(audio, str) and audio.strip():
            stem = str(PurePosixPath(audio.strip().replace("\\", "/")).with_suffix("")) if audio.strip() not in (".", "..", "/") else audio
            uid = f"{stem}-{round(start * 100):07d}-{round(end * 100):07d}"
        fields = canonical(f, text=f["text"], audio=audio, uid=uid, speaker_names=SPEAKER, accent_names=ACCENT,
                           speaker_column=options.speaker_column,
                           drop=("audio_filepath", "offset", "duration", *ID))
        records.append(Record(str(path), row.line, fields, start, end))
    if not records:
        raise InputError(str(path), "no lines in this NeMo manifest")
    return Source("nemo", path, path.parent, (path,), tuple(records))
