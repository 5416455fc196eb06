"""Which format a test set is in, from its path and, where the name does not say, its first record.

A folder: ``wav.scp`` is Kaldi; ``metadata.csv``/``metadata.jsonl`` an HF audio
folder; ``dataset_info.json``/``dataset_dict.json`` a saved HF dataset; lhotse
cuts, or recordings with supervisions, by their file names. A file: ``.stm``;
a ``.tsv`` whose header has ``path``, ``sentence`` and ``client_id`` is Common
Voice; a JSON-lines file (``.jsonl``, ``.json``, ``.jsonl.gz``) by the keys of
its first record (``audio_filepath``: NeMo; ``supervisions`` and
``recording``: lhotse cuts; ``recording_id``: lhotse supervisions, whose
recordings file is the one named with ``recordings`` for ``supervisions``).
Anything else is asr-eval's own CSV/TSV/JSONL. Only a first line is read.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..types import InputError
from .base import FORMATS, ReadOptions

_PEEK = 1 << 20  # a first record longer than 1 MiB is not a manifest line worth guessing from


def _first_line(path: Path) -> str:
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as f:
            while True:
                raw = f.readline(_PEEK)
                if not raw:
                    return ""
                if raw.strip():
                    return raw.decode("utf-8-sig", errors="replace").strip()
    except (OSError, EOFError):
        return ""  # the reader will say what is wrong with it


def _first_record(path: Path) -> dict:
    try:
        obj = json.loads(_first_line(path))
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _is_jsonl(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".jsonl", ".jsonl.gz", ".json", ".ndjson"))


def _pair_for(path: Path) -> tuple[Path, Path] | None:
    """(recordings, supervisions) when ``path`` is one of a lhotse pair named alike."""
    name = path.name
    for mine, other in (("supervisions", "recordings"), ("recordings", "supervisions")):
        if mine in name:
            sibling = path.with_name(name.replace(mine, other))
            if sibling.is_file():
                return (sibling, path) if mine == "supervisions" else (path, sibling)
            raise InputError(str(path), f"a lhotse {mine} file needs its {other} file: expected {sibling}")
    return None


def _in_folder(folder: Path, word: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and word in p.name and _is_jsonl(p))


def _folder(folder: Path, forced: str | None) -> tuple[str, list[Path]]:
    has = lambda name: (folder / name).is_file()  # noqa: E731
    if forced in (None, "kaldi") and has("wav.scp"):
        return "kaldi", [folder]
    if forced in (None, "hf"):
        for name in ("metadata.csv", "metadata.jsonl"):
            if has(name):
                return "hf", [folder / name]
    if forced in (None, "hf-disk") and (has("dataset_info.json") or has("dataset_dict.json") or has("state.json")):
        return "hf-disk", [folder]
    if forced in (None, "lhotse"):
        recs, sups, cuts = _in_folder(folder, "recordings"), _in_folder(folder, "supervisions"), _in_folder(folder, "cuts")
        if len(recs) == 1 and len(sups) == 1:
            return "lhotse", [recs[0], sups[0]]
        if len(cuts) == 1 and not recs and not sups:
            return "lhotse", cuts
        if recs or sups or cuts:
            names = ", ".join(p.name for p in (*recs, *sups, *cuts))
            raise InputError(str(folder), f"more than one lhotse manifest here ({names}): give the cuts or supervisions file itself")
    if forced == "stm":
        stms = sorted(folder.glob("*.stm"))
        if len(stms) == 1:
            return "stm", stms
    what = f"a {forced} test set" if forced else "a test set"
    raise InputError(str(folder), f"cannot find {what} in this folder (no wav.scp, metadata.csv/jsonl, saved dataset "
                                  "or lhotse manifest); give the manifest file, or name the format with --format")


def detect(path: Path, options: ReadOptions = ReadOptions()) -> tuple[str, list[Path]]:
    """(format, the paths its reader takes); ``options.format`` other than 'auto' decides the format."""
    forced = None if options.format in (None, "", "auto") else options.format
    if forced is not None and forced not in FORMATS:
        raise InputError(str(path), f"unknown format {forced!r} (one of auto, {', '.join(FORMATS)})")
    if not path.exists():
        raise InputError(str(path), "manifest not found")
    if path.is_dir():
        if forced == "asr-eval" or forced == "nemo" or forced == "commonvoice":
            raise InputError(str(path), f"a {forced} manifest is a file, not a folder")
        return _folder(path, forced)
    name = path.name.lower()
    if name == "wav.scp" and forced in (None, "kaldi"):
        return "kaldi", [path.parent]
    if forced == "kaldi":
        raise InputError(str(path), "a Kaldi data folder is given as the folder (or its wav.scp)")
    if forced == "hf-disk":
        return "hf-disk", [path.parent]
    if forced in ("asr-eval", "nemo", "hf", "commonvoice", "stm"):
        return forced, [path]
    if name.endswith(".stm"):
        return "stm", [path]
    if name.endswith(".tsv") and forced is None:
        header = {h.strip() for h in _first_line(path).split("\t")}
        if {"path", "sentence", "client_id"} <= header:
            return "commonvoice", [path]
        return "asr-eval", [path]
    if _is_jsonl(path):
        first = _first_record(path)
        if forced is None and "audio_filepath" in first:
            return "nemo", [path]
        if forced is None and name.startswith("metadata.") and "file_name" in first:
            return "hf", [path]
        if forced == "lhotse" or "supervisions" in first or "recording_id" in first or "sources" in first:
            if "supervisions" in first or "cuts" in name:
                return "lhotse", [path]
            pair = _pair_for(path)
            if pair is not None:
                return "lhotse", list(pair)
            if forced == "lhotse":
                return "lhotse", [path]
    if name == "metadata.csv" and forced is None and "file_name" in {h.strip() for h in _first_line(path).split(",")}:
        return "hf", [path]
    return "asr-eval", [path]
