"""asr-eval's own manifest: CSV, TSV or JSONL with ``audio,text,speaker,accent_group`` (optional ``id``, ``entities``)."""

from __future__ import annotations

from pathlib import Path

from ..tabular import jsonl_rows, read_csv, read_text
from ..types import InputError
from .base import ReadOptions, Record, Source

REQUIRED = ("audio", "text", "speaker", "accent_group")


def read(path: Path, options: ReadOptions) -> Source:
    text = read_text(path, "manifest", options.limits)
    suffix = path.suffix.lower()
    records: list[Record] = []
    if suffix in (".jsonl", ".json", ".ndjson"):
        seen_keys: set[str] = set()
        for row in jsonl_rows(path, text, options.limits):
            seen_keys |= set(row.fields)
            records.append(Record(str(path), row.line, _speaker(row.fields, options)))
        missing = [c for c in _required(options) if c not in seen_keys]
        if missing and seen_keys:
            raise InputError(str(path), f"no row has required field(s) {', '.join(missing)}")
    elif suffix in (".csv", ".tsv"):
        fields, rows = read_csv(path, text, delimiter="\t" if suffix == ".tsv" else ",", limits=options.limits)
        required = [c for c in _required(options) if not (c == "speaker" and options.speaker_column)]
        missing = [c for c in required if c not in fields]
        if options.speaker_column and options.speaker_column not in fields:
            missing.append(options.speaker_column)
        if missing:
            raise InputError(str(path), f"missing required column(s) {', '.join(missing)} (header: {', '.join(fields)})", 1)
        for row in rows:
            records.append(Record(str(path), row.line, {} if row.problem else _speaker(row.fields, options),
                                  problem=row.problem))
    else:
        raise InputError(str(path), f"unsupported manifest format {suffix!r} (use .csv or .jsonl, or name the format with --format)")
    return Source("asr-eval", path, path.parent, (path,), tuple(records))


def _required(options: ReadOptions) -> tuple[str, ...]:
    """A --nonspeech manifest may leave out the text column: its clips have none."""
    return REQUIRED if options.text_required else tuple(c for c in REQUIRED if c != "text")


def _speaker(fields: dict, options: ReadOptions) -> dict:
    """``--speaker-column`` names the column that holds the speaker; the row is otherwise as written."""
    if options.speaker_column:
        fields = dict(fields)
        fields["speaker"] = fields.get(options.speaker_column, "")
    return fields
