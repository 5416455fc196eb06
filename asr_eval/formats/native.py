"""asr-eval's own manifest: CSV, TSV or JSONL with ``audio,text,speaker,accent_group`` (optional ``id``, ``entities``)."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from pathlib import Path

from ..tabular import stream_csv, stream_jsonl
from ..types import InputError
from .base import ReadOptions, Record, Source

REQUIRED = ("audio", "text", "speaker", "accent_group")


def read(path: Path, options: ReadOptions) -> Source:
    """The manifest's records, read lazily: a million-row test set is never held whole (``_Records``)."""
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".ndjson", ".csv", ".tsv"):
        raise InputError(str(path), f"unsupported manifest format {suffix!r} (use .csv or .jsonl, or name the format with --format)")
    if not path.exists():
        raise InputError(str(path), "manifest not found")
    if path.is_dir():
        raise InputError(str(path), "is a folder, not a manifest")
    records = _Records(path, options)
    first = iter(records)
    next(first, None)  # the header (or the first row) checked now, before anything else is read
    first.close()
    return Source("asr-eval", path, path.parent, (path,), records)


class _Records(Iterable[Record]):
    """The records of an asr-eval manifest, parsed row by row each time it is iterated.

    ``load_manifest`` reads them once, so memory holds one row, not the file
    and every row at once.
    """

    def __init__(self, path: Path, options: ReadOptions):
        self.path, self.options = path, options

    def __iter__(self) -> Generator[Record, None, None]:
        path, options = self.path, self.options
        if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
            seen_keys: set[str] = set()
            for row in stream_jsonl(path, options.limits):
                if len(seen_keys) < 4096:  # bounded: the required names show up early or not at all
                    seen_keys |= set(row.fields)
                yield Record(str(path), row.line, _speaker(row.fields, options))
            missing = [c for c in _required(options) if c not in seen_keys]
            if missing and seen_keys:
                raise InputError(str(path), f"no row has required field(s) {', '.join(missing)}")
            return
        for row in stream_csv(path, "\t" if path.suffix.lower() == ".tsv" else ",", options.limits,
                              on_header=lambda fields: self._check_header(fields)):
            yield Record(str(path), row.line, {} if row.problem else _speaker(row.fields, options), problem=row.problem)

    def _check_header(self, fields: list[str]) -> None:
        options = self.options
        required = [c for c in _required(options) if not (c == "speaker" and options.speaker_column)]
        missing = [c for c in required if c not in fields]
        if options.speaker_column and options.speaker_column not in fields:
            missing.append(options.speaker_column)
        if missing:
            raise InputError(str(self.path), f"missing required column(s) {', '.join(missing)} (header: {', '.join(fields)})", 1)


def _required(options: ReadOptions) -> tuple[str, ...]:
    """A --nonspeech manifest may leave out the text column: its clips have none."""
    return REQUIRED if options.text_required else tuple(c for c in REQUIRED if c != "text")


def _speaker(fields: dict, options: ReadOptions) -> dict:
    """``--speaker-column`` names the column that holds the speaker; the row is otherwise as written."""
    if options.speaker_column:
        fields = dict(fields)
        fields["speaker"] = fields.get(options.speaker_column, "")
    return fields
