"""Mozilla Common Voice TSV files (``test.tsv``, ``validated.tsv``...): one clip per row, audio under ``clips/``.

https://github.com/common-voice/cv-dataset (columns ``client_id``, ``path``,
``sentence``, ``up_votes``, ``down_votes``, ``age``, ``gender``, ``accents``
(``accent`` before 2021), ``variant``, ``locale``, ``segment``...).
``client_id`` is the speaker, ``accents`` (or ``accent``) the accent group,
every other column metadata. The audio is ``clips/<path>`` next to the TSV
(or in ``--audio-dir``). The files are tab-separated without quoting (a
sentence may hold a ``"``), so a row is split at tabs only; a row with
fewer or more fields than the header is refused on its own line.
"""

from __future__ import annotations

from pathlib import Path

from ..tabular import bounded_lines, check_field, check_rows, read_text
from ..types import InputError
from .base import ReadOptions, Record, Source, canonical

REQUIRED = ("path", "sentence")
SPEAKER = ("client_id",)
ACCENT = ("accent_group", "accents", "accent")


def read(path: Path, options: ReadOptions) -> Source:
    lines = bounded_lines(path, read_text(path, "Common Voice TSV", options.limits), options.limits)
    if not lines or not lines[0].strip():
        raise InputError(str(path), "empty file: no header row", 1)
    header = [h.strip() for h in lines[0].split("\t")]
    if len(header) > options.limits.max_columns:
        raise InputError(str(path), f"header has {len(header)} cells, more than {options.limits.max_columns} columns", 1)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(str(path), f"missing required column(s) {', '.join(missing)} (header: {', '.join(header)})", 1)
    clips = Path(options.audio_dir) if options.audio_dir else None
    records: list[Record] = []
    count = 0
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        count += 1
        check_rows(path, count, n, options.limits)
        cells = line.split("\t")
        if len(cells) != len(header):
            records.append(Record(str(path), n, problem=f"this row has {len(cells)} tab-separated fields, the header has {len(header)}"))
            continue
        row = dict(zip(header, cells))
        for name, cell in row.items():
            check_field(path, name, cell, n, options.limits)
        clip = row["path"].strip()
        audio = str(clips / clip) if clips and clip else (f"clips/{clip}" if clip else "")
        uid = str(Path(clip).with_suffix("")) if clip and clip not in (".", "..") else None
        records.append(Record(str(path), n, canonical(
            row, text=row["sentence"], audio=audio, uid=uid, speaker_names=SPEAKER, accent_names=ACCENT,
            speaker_column=options.speaker_column, drop=("path", "sentence"))))
    return Source("commonvoice", path, path.parent, (path,), tuple(records),
                  roots=(clips,) if clips else ())
