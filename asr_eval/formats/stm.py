"""NIST stm references: ``file channel speaker begin end [<labels>] transcript``, one segment per line.

https://github.com/usnistgov/SCTK/blob/master/doc/infmts.htm#stm_fmt_name_0
``;;`` starts a comment line. Each segment is an utterance cut from the
audio named by its file id: ``<id>.wav`` (or .flac, .sph, .mp3, .ogg, .opus,
.m4a) next to the stm, or in ``--audio-dir``. A segment whose transcript is
``IGNORE_TIME_SEGMENT_IN_SCORING`` is not scored, as in sclite, and is skipped.
The transcript is kept as written, sclite's alternations (``{ a / b / @ }``)
and optional words (``(uh)``) included, for the scorer to honour. Labels
(``<O,F0,M>``) and the channel are metadata. An stm has no utterance ids:
each is ``<file>-<channel>-<begin>-<end>``, times in centiseconds.
"""

from __future__ import annotations

from pathlib import Path

from ..tabular import bounded_lines, check_rows, read_text
from ..types import InputError
from .base import ReadOptions, Record, Source

IGNORE = "IGNORE_TIME_SEGMENT_IN_SCORING"
AUDIO_SUFFIXES = (".wav", ".flac", ".sph", ".mp3", ".ogg", ".opus", ".m4a")


def read(path: Path, options: ReadOptions) -> Source:
    lines = bounded_lines(path, read_text(path, "stm file", options.limits), options.limits)
    folder = Path(options.audio_dir) if options.audio_dir else path.parent
    located: dict[str, str] = {}
    records: list[Record] = []
    count = 0
    for n, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";;"):
            continue
        count += 1
        check_rows(path, count, n, options.limits)
        words = stripped.split()
        if len(words) < 5:
            records.append(Record(str(path), n, problem=f"expected 'file channel speaker begin end [<labels>] transcript', got {len(words)} fields"))
            continue
        file_id, channel, speaker, b, e = words[:5]
        rest = words[5:]
        labels = None
        if rest and rest[0].startswith("<"):
            close = next((i for i, w in enumerate(rest) if w.endswith(">")), None)
            if close is None:
                records.append(Record(str(path), n, problem="labels start with '<' but never end with '>'"))
                continue
            labels = " ".join(rest[: close + 1])[1:-1]
            rest = rest[close + 1:]
        text = " ".join(rest)
        if text == IGNORE:
            continue
        try:
            start, end = float(b), float(e)
        except ValueError:
            records.append(Record(str(path), n, problem=f"begin and end times must be numbers of seconds, got {b!r} and {e!r}"))
            continue
        if file_id not in located:
            located[file_id] = _locate(folder, file_id, path.parent)
        fields = {"id": f"{file_id}-{channel}-{round(start * 100):07d}-{round(end * 100):07d}", "audio": located[file_id],
                  "text": text, "speaker": speaker, "channel": channel, "file": file_id}
        if labels:
            fields["labels"] = labels
        records.append(Record(str(path), n, fields, start, end))
    if not count:
        raise InputError(str(path), "no segments in this stm file")
    return Source("stm", path, path.parent, (path,), tuple(records),
                  roots=(Path(options.audio_dir),) if options.audio_dir else ())


def _locate(folder: Path, file_id: str, base: Path) -> str:
    """The audio of a file id, as a path relative to the stm's folder when it is inside it (as a manifest would write it)."""
    found = next((folder / f"{file_id}{s}" for s in AUDIO_SUFFIXES if (folder / f"{file_id}{s}").is_file()),
                 folder / f"{file_id}.wav")
    try:
        return str(found.relative_to(base))
    except ValueError:
        return str(found)
