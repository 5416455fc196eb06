"""Load and validate evaluation manifests (CSV, TSV or JSONL; read by ``asr_eval.tabular``).

Columns: ``audio`` (path relative to the manifest's folder), ``text``
(reference), ``speaker``, ``accent_group``; optional ``id`` and ``entities``
(JSON list of ``{"text", "label"}``); every other column is kept as metadata.
References may mark entities inline as ``[Siobhan Nguyen](person)``.

A malformed *file* (unreadable, not UTF-8, no header, a missing required column,
a JSONL line that is not a JSON object) raises ``InputError``. A malformed *row*
(more cells than the header, an empty path or text, a duplicate id, missing
audio) is reported as a ``Problem`` naming the file and line and skipped, so one
bad clip never costs the rest of the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .tabular import jsonl_rows, read_csv, read_text
from .types import EntitySpan, InputError, Problem, Utterance

REQUIRED = ("audio", "text", "speaker", "accent_group")
_MARKUP_HINT = "]("


@dataclass(frozen=True)
class Manifest:
    path: str
    utterances: tuple[Utterance, ...]
    problems: tuple[Problem, ...]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, fields) per record; a record the reader could not split comes as ``{"__error__": problem}``."""
    text = read_text(path, "manifest")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        seen_keys: set[str] = set()
        for row in jsonl_rows(path, text):
            seen_keys |= set(row.fields)
            yield row.line, row.fields
        missing = [c for c in REQUIRED if c not in seen_keys]
        if missing and seen_keys:
            raise InputError(str(path), f"no row has required field(s) {', '.join(missing)}")
    elif suffix in (".csv", ".tsv"):
        fields, rows = read_csv(path, text, delimiter="\t" if suffix == ".tsv" else ",")
        missing = [c for c in REQUIRED if c not in fields]
        if missing:
            raise InputError(str(path), f"missing required column(s) {', '.join(missing)} (header: {', '.join(fields)})", 1)
        for row in rows:
            yield row.line, ({"__error__": row.problem} if row.problem else row.fields)
    else:
        raise InputError(str(path), f"unsupported manifest format {suffix!r} (use .csv or .jsonl)")


def _entities(row: dict[str, Any], text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    spans: list[EntitySpan] = []
    if _MARKUP_HINT in text:
        from .annotations import parse_entity_markup

        text, found = parse_entity_markup(text)
        spans.extend(found)
    raw = row.get("entities")
    if raw not in (None, ""):
        from .annotations import entities_from_json

        spans.extend(entities_from_json(raw if isinstance(raw, str) else json.dumps(raw)))
    return text, tuple(spans)


def load_manifest(path: str | Path, check_audio: bool = True) -> Manifest:
    path = Path(path)
    base = path.parent
    utterances: list[Utterance] = []
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for line, row in _rows(path):
        def bad(msg: str, severity: str = "error") -> None:
            problems.append(Problem(str(path), line, msg, severity))

        if "__error__" in row:
            bad(row["__error__"])
            continue
        clean = {str(k).strip(): ("" if v is None else v) for k, v in row.items()}
        audio = str(clean.get("audio", "")).strip()
        text = str(clean.get("text", "")).strip()
        if not audio:
            bad("empty 'audio' path")
            continue
        if not text:
            bad(f"empty reference text for {audio}")
            continue
        uid = str(clean.get("id") or "").strip() or str(Path(audio).with_suffix("")).replace("\\", "/")
        if uid in ids:
            bad(f"duplicate id {uid!r} (first at line {ids[uid]})")
            continue
        audio_path = (base / audio).resolve() if not Path(audio).is_absolute() else Path(audio)
        if check_audio and not audio_path.is_file():
            bad(f"audio file not found: {audio} (looked for {audio_path})")
            continue
        try:
            text, entities = _entities(clean, text)
        except ValueError as exc:
            bad(f"bad entity annotation: {exc}")
            continue
        speaker = str(clean.get("speaker") or "").strip()
        group = str(clean.get("accent_group") or "").strip()
        if not speaker:
            bad(f"empty speaker for {uid}; using the clip id as its speaker", "warning")
            speaker = uid
        if not group:
            bad(f"empty accent_group for {uid}; using 'unknown'", "warning")
            group = "unknown"
        meta = {k: v for k, v in clean.items() if k not in (*REQUIRED, "id", "entities") and v not in ("", None)}
        ids[uid] = line
        utterances.append(Utterance(uid, str(audio_path), text, speaker, group, meta, entities, line))
    if not utterances:
        detail = f" ({len(problems)} rows rejected; first: {problems[0]})" if problems else ""
        raise InputError(str(path), f"no usable utterances{detail}")
    return Manifest(str(path), tuple(utterances), tuple(problems))
