"""Hypothesis files from every engine: detection, and one reader per vendor family.

``read_hyp_path`` turns a file, or a folder of per-clip files, into
``HypFile``s: each a list of ``HypDoc`` (a transcript of one audio file or
clip, by channel, with word times where the format has them). The format is
detected from the content (JSON documents by their fields, text formats by
extension and first line) unless ``fmt`` names it. Every reader is written
from the vendor's documented schema; docs/formats.md cites each page.
Matching transcripts to manifest clips is ``asr_eval.hypotheses``' job.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Callable, Iterator

from ..tabular import (DEFAULT_LIMITS, Limits, json_array_rows, jsonl_rows, parse_json, read_text, stream_csv,
                       stream_jsonl)
from ..types import InputError
from . import assemblyai, aws, azure, ctm, deepgram, google, nemo, plain, revai, whisper
from .model import Channel, HypDoc, HypFile, Node, Word

__all__ = ["FORMATS", "HypDoc", "HypFile", "StreamedHypFile", "Channel", "Word", "read_hyp_path", "read_hyp_file", "detect_object"]

# format name -> (reader of one JSON object) for the JSON formats
_JSON_READERS: dict[str, Callable[..., list[HypDoc]]] = {
    "aws": aws.read, "google": google.read, "google-v1": google.read, "google-v2": google.read,
    "azure-batch": azure.read_batch, "azure-fast": azure.read_fast, "deepgram": deepgram.read,
    "assemblyai": assemblyai.read, "revai": revai.read, "nemo": nemo.read,
    "whisper-json": whisper.read_json, "whisperx": whisper.read_json,
}
_TEXT_FORMATS = ("csv", "tsv", "trn", "ctm", "srt", "vtt", "whisper-tsv", "txt")
FORMATS = ("auto", "jsonl", *_TEXT_FORMATS, "aws", "google", "azure-batch", "azure-fast", "deepgram", "assemblyai",
           "revai", "nemo", "whisper-json", "whisperx")
# extensions a folder's files may have, and those each forced format reads from a folder
_EXTENSIONS = {".json": "json", ".jsonl": "json", ".ndjson": "json", ".csv": "csv", ".tsv": "tsv", ".trn": "trn",
               ".ctm": "ctm", ".srt": "srt", ".vtt": "vtt", ".txt": "txt"}
_FORMAT_EXT = {"csv": {".csv"}, "tsv": {".tsv"}, "whisper-tsv": {".tsv"}, "trn": {".trn"}, "ctm": {".ctm"},
               "srt": {".srt"}, "vtt": {".vtt"}, "txt": {".txt"}}
_WRAPPED = ("response", "result", "transcript")  # a JSONL line {"id": ..., "response": {vendor JSON}}
_AUDIO_KEYS = ("audio", "audio_filepath", "audio_file", "file")


def detect_object(obj: dict) -> str | None:
    """The vendor format of one JSON object, or None (plain rows are 'jsonl')."""
    if aws.detect(obj):
        return "aws"
    if deepgram.detect(obj):
        return "deepgram"
    if google.detect(obj):
        return google.version(obj)
    if azure.detect_batch(obj):
        return "azure-batch"
    if azure.detect_fast(obj):
        return "azure-fast"
    if revai.detect(obj):
        return "revai"
    if nemo.detect(obj):
        return "nemo"
    if whisper.detect_json(obj):
        return whisper.json_flavour(obj)
    if assemblyai.detect(obj):
        return "assemblyai"
    if plain.detect(obj) or any(k in obj for k in (*plain.ID_KEYS, *plain.TEXT_KEYS)):
        return "jsonl"  # id,text rows (an incomplete one is reported by the plain reader, which says what it lacks)
    return None


_KNOWN = ("AWS Transcribe, Google Speech-to-Text v1/v2, Azure batch or fast transcription, Deepgram, AssemblyAI, "
          "Rev.ai, NeMo manifest, Whisper/WhisperX JSON, or id,text rows")


def _object_docs(node: Node, fmt: str | None, opts: dict[str, Any]) -> tuple[str, list[HypDoc]]:
    """(format, transcripts) of one JSON object: a whole vendor response, a JSONL line, or an array entry."""
    obj = node.value
    if not isinstance(obj, dict):
        raise node.fail(f"expected a JSON object, got {type(obj).__name__}")
    ident = next((obj[k] for k in ("id", "utt_id") if isinstance(obj.get(k), (str, int)) and not isinstance(obj.get(k), bool)), None)
    cond = obj.get("condition") if isinstance(obj.get("condition"), str) else None
    inner = next((k for k in _WRAPPED if isinstance(obj.get(k), dict)), None)
    if inner is not None and ident is not None:  # {"id": "u1", "response": {...vendor JSON...}}
        sub = Node(obj[inner], node.file, f"{node.path}.{inner}", node.line)
        kind = fmt if fmt not in (None, "auto", "jsonl") else detect_object(obj[inner])
        if kind is None or kind == "jsonl":
            raise sub.fail(f"not a transcript this tool reads (expected {_KNOWN})")
        docs = _JSON_READERS[kind](sub, **opts)
        return kind, [_rekey(d, str(ident), "id", cond) for d in docs]
    kind = fmt if fmt not in (None, "auto") else detect_object(obj)
    if kind is None:
        raise node.fail(f"not a transcript this tool reads (expected {_KNOWN})")
    if kind == "jsonl":
        return kind, [plain.read_object(node)]
    if kind not in _JSON_READERS:
        raise node.fail(f"--hyp-format {kind} is not a JSON format")
    docs = _JSON_READERS[kind](node, **opts)
    if kind == "assemblyai":  # its 'id' names the vendor's job, not the clip
        ident = obj.get("utt_id") if isinstance(obj.get("utt_id"), str) else None
    if ident is not None:
        return kind, [_rekey(d, str(ident), "id", cond) for d in docs]
    audio = next((obj[k] for k in _AUDIO_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
    if audio is not None and kind != "nemo":
        return kind, [_rekey(d, audio, "audio", cond) for d in docs]
    return kind, [_rekey(d, d.key, d.key_kind, cond) for d in docs] if cond else docs


def _rekey(doc: HypDoc, key: str | None, kind: str | None, cond: str | None) -> HypDoc:
    return HypDoc(key, kind, doc.channels, condition=cond or doc.condition, line=doc.line, where=doc.where,
                  start=doc.start, end=doc.end)


def _json_docs(path: str, text: str, fmt: str | None, opts: dict[str, Any], limits: Limits,
               lines: bool) -> tuple[str, list[HypDoc]]:
    kinds: list[str] = []
    docs: list[HypDoc] = []
    if not lines:
        stripped = text.lstrip()
        if not stripped:
            raise InputError(path, "empty file: no transcript")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                parse_json(path, text)  # raises the one-line error with the line
            lines = True  # more than one JSON value: JSON lines
        except (RecursionError, ValueError):
            parse_json(path, text)
        else:
            if isinstance(value, list):  # an array of objects: read again entry by entry, for line numbers
                for i, row in enumerate(json_array_rows(path, text, limits)):
                    kind, got = _object_docs(Node(row.fields, path, f"$[{i}]", row.line), fmt, opts)
                    kinds.append(kind)
                    docs.extend(got)
                if not value:
                    raise InputError(path, "no transcripts found (an empty JSON array)")
                return _kind_of(kinds), docs
            kind, docs = _object_docs(Node(value, path, "$", None), fmt, opts)
            return kind, docs
    for row in jsonl_rows(path, text, limits):
        kind, got = _object_docs(Node(row.fields, path, "$", row.line), fmt, opts)
        kinds.append(kind)
        docs.extend(got)
    return _kind_of(kinds), docs


def _kind_of(kinds: list[str]) -> str:
    distinct = list(dict.fromkeys(kinds))
    if not distinct:
        return "jsonl"
    if distinct == ["jsonl"]:
        return "jsonl"
    return "jsonl:" + "+".join(k for k in distinct)


def read_hyp_file(path: str | Path, fmt: str | None = None, *, azure_field: str = "display",
                  limits: Limits = DEFAULT_LIMITS) -> HypFile:
    """One hypothesis file, its format detected unless ``fmt`` (a name of ``FORMATS``) is given."""
    path = Path(path)
    fmt = None if fmt in (None, "auto") else fmt
    if fmt is not None and fmt not in FORMATS:
        raise InputError(str(path), f"unknown hypothesis format {fmt!r}: use one of {', '.join(FORMATS)}")
    ext = path.suffix.lower()
    if fmt is None and ext not in _EXTENSIONS:
        raise InputError(str(path), f"unknown transcript format {ext!r}: use .json, .jsonl, .csv, .tsv, .trn, .ctm, "
                                    f".srt, .vtt or .txt, or name the format with --hyp-format")
    text = read_text(path, "transcript file", limits)
    p = str(path)
    opts = {"azure_field": azure_field}
    kind = fmt or _EXTENSIONS[ext]
    if kind in ("json", "jsonl") or kind in _JSON_READERS:
        lines = ext in (".jsonl", ".ndjson") or fmt == "nemo"
        detected, docs = _json_docs(p, text, None if kind in ("json", "jsonl") else kind, opts, limits, lines)
    elif kind == "tsv" and fmt is None and whisper.is_whisper_tsv(text):
        detected, docs = "whisper-tsv", whisper.read_tsv(p, text, limits)
    elif kind in ("csv", "tsv"):
        detected, docs = kind, plain.read_table(p, text, "\t" if kind == "tsv" else ",", limits)
    elif kind == "whisper-tsv":
        detected, docs = kind, whisper.read_tsv(p, text, limits)
    elif kind == "trn":
        detected, docs = kind, plain.read_trn(p, text, limits)
    elif kind == "ctm":
        detected, docs = kind, ctm.read(p, text, limits)
    elif kind in ("srt", "vtt"):
        detected, docs = kind, whisper.read_subtitles(p, text, limits, kind)
    elif kind == "txt":
        detected, docs = kind, whisper.read_txt(p, text, limits)
    else:  # pragma: no cover - FORMATS and the branches above list the same names
        raise InputError(p, f"unknown hypothesis format {kind!r}")
    if not docs:
        raise InputError(p, "no transcripts found")
    return HypFile(p, detected, tuple(docs))


def folder_files(folder: Path, fmt: str | None, limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """The hypothesis files of a folder: its visible regular files of a readable extension, sorted by name.

    With a forced text format only that format's extension is read, so the five
    files openai-whisper writes per audio file can sit side by side.
    """
    wanted = _FORMAT_EXT.get(fmt or "", None)
    if wanted is None:
        wanted = {".json", ".jsonl", ".ndjson"} if fmt not in (None, "auto") else set(_EXTENSIONS)
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(str(folder), f"cannot list the folder: {exc.strerror or exc}") from None
    out = []
    for p in entries:
        if p.name.startswith(".") or p.suffix.lower() not in wanted or not p.is_file():
            continue
        out.append(p)
        if len(out) > limits.max_rows:
            raise InputError(str(folder), f"more than {limits.max_rows} hypothesis files")
    if not out:
        raise InputError(str(folder), f"no hypothesis files ({', '.join(sorted(wanted))}) in this folder")
    return out


def read_hyp_path(path: str | Path, fmt: str | None = None, *, azure_field: str = "display",
                  limits: Limits = DEFAULT_LIMITS, stream: bool = False) -> Iterator[HypFile | StreamedHypFile]:
    """``read_hyp_file`` of a file, or of each file of a folder (a transcript per clip).

    ``stream``: a file of one transcript per line (JSON lines, CSV) is read as
    it is iterated (``StreamedHypFile``) instead of whole, so a million
    transcripts are never held at once.
    """
    path = Path(path)
    if path.is_dir():
        for p in folder_files(path, fmt, limits):
            yield read_hyp_file(p, fmt, azure_field=azure_field, limits=limits)
    elif stream and streamable(path, fmt):
        yield StreamedHypFile(path, fmt, azure_field=azure_field, limits=limits)
    else:
        yield read_hyp_file(path, fmt, azure_field=azure_field, limits=limits)


def streamable(path: Path, fmt: str | None) -> bool:
    """A file ``StreamedHypFile`` reads: JSON lines (.jsonl/.ndjson) or an id,text CSV, unless forced otherwise."""
    ext = path.suffix.lower()
    fmt = None if fmt in (None, "auto") else fmt
    if ext in (".jsonl", ".ndjson"):
        return fmt is None or fmt == "jsonl" or fmt in _JSON_READERS
    return ext == ".csv" and fmt in (None, "csv")


class StreamedHypFile:
    """A file of one transcript per line, parsed as it is iterated: ``HypFile``'s interface, not its memory.

    ``docs`` may be iterated more than once (each pass reads the file again);
    ``format`` is the format detected over the rows read so far, final after a
    full pass. ``len(docs)`` reads the file once more, so callers that need it
    only on a rare path pay for it only there.
    """

    def __init__(self, path: Path, fmt: str | None, *, azure_field: str = "display", limits: Limits = DEFAULT_LIMITS):
        if not path.exists():
            raise InputError(str(path), "transcript file not found")
        self.path = str(path)
        self._file = path
        self._fmt = None if fmt in (None, "auto") else fmt
        self._opts = {"azure_field": azure_field}
        self._limits = limits
        self._kinds: dict[str, None] = {}
        self._len: int | None = None
        self.meta: dict = {}
        self.docs = _Docs(self)

    @property
    def format(self) -> str:
        if self._file.suffix.lower() == ".csv":
            return "csv"
        return _kind_of(list(self._kinds))

    def _iter(self) -> Iterator[HypDoc]:
        n = 0
        if self._file.suffix.lower() == ".csv":
            rows = stream_csv(self._file, ",", self._limits, lower_header=True,
                              on_header=lambda h: plain.table_columns(self.path, h))
            first = next(rows, None)
            if first is not None:  # every row's fields are keyed by the whole header, in its order
                for doc in plain.table_docs(self.path, list(first.fields), itertools.chain([first], rows)):
                    n += 1
                    yield doc
        else:
            fmt = None if self._fmt in (None, "jsonl") else self._fmt
            for row in stream_jsonl(self._file, self._limits):
                kind, got = _object_docs(Node(row.fields, self.path, "$", row.line), fmt, self._opts)
                self._kinds.setdefault(kind)
                for doc in got:
                    n += 1
                    yield doc
        if not n:
            raise InputError(self.path, "no transcripts found")
        self._len = n


class _Docs:
    def __init__(self, owner: StreamedHypFile):
        self._owner = owner

    def __iter__(self) -> Iterator[HypDoc]:
        return self._owner._iter()

    def __len__(self) -> int:
        if self._owner._len is None:
            self._owner._len = sum(1 for _ in self._owner._iter())
        return self._owner._len
