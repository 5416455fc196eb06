"""Hugging Face audio datasets: an audio folder (``metadata.csv``/``metadata.jsonl``) or a ``save_to_disk`` folder.

Audio folder: https://huggingface.co/docs/datasets/audio_dataset#audiofolder
``file_name`` is the audio's path relative to the metadata file; every other
column is kept, the transcript taken from the first of ``text``,
``transcription``, ``sentence``, ``transcript`` that the file has.

``save_to_disk`` folder: https://huggingface.co/docs/datasets/process#save
read with the optional ``datasets`` package (``pip install 'asr-eval[datasets]'``),
the audio column cast to undecoded ``{bytes, path}``: embedded bytes are
written once into asr-eval's cache folder under their hash, a bare path is
read where it points (relative paths against the dataset's folder). Nothing is
downloaded: ``load_from_disk`` reads only local arrow files.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from ..tabular import jsonl_rows, read_csv, read_text
from ..types import InputError
from .base import ReadOptions, Record, Source, canonical, extracted_audio_root, store_audio_bytes

TEXT = ("text", "transcription", "sentence", "transcript")
SPEAKER = ("speaker", "speaker_id", "client_id")
ACCENT = ("accent_group", "accent", "accents")


def _text_column(path: Path, names: Any) -> str:
    found = next((t for t in TEXT if t in names), None)
    if found is None:
        raise InputError(str(path), f"no transcript column: expected one of {', '.join(TEXT)} (columns: {', '.join(map(str, names))})", 1)
    return found


def read_folder(path: Path, options: ReadOptions) -> Source:
    """``path`` is the metadata file (detection found it in the folder given)."""
    text = read_text(path, "metadata file", options.limits)
    records: list[Record] = []
    if path.suffix.lower() == ".jsonl":
        rows = list(jsonl_rows(path, text, options.limits))
        names: set[str] = set().union(*(r.fields for r in rows)) if rows else set()
        if "file_name" not in names:
            raise InputError(str(path), "no line has the 'file_name' field an audio folder's metadata needs")
        column = _text_column(path, names)
        problems = [None] * len(rows)
    else:
        header, it = read_csv(path, text, limits=options.limits)
        if "file_name" not in header:
            raise InputError(str(path), f"missing required column 'file_name' (header: {', '.join(header)})", 1)
        column = _text_column(path, header)
        rows = list(it)
        problems = [r.problem for r in rows]
    for row, problem in zip(rows, problems):
        f = row.fields
        if problem or "file_name" not in f:
            records.append(Record(str(path), row.line, problem=problem or "missing required field 'file_name'"))
            continue
        records.append(Record(str(path), row.line, canonical(
            f, text=f.get(column, ""), audio=f["file_name"], uid=f.get("id"), speaker_names=SPEAKER,
            accent_names=ACCENT, speaker_column=options.speaker_column, drop=("file_name", column))))
    return Source("hf", path, path.parent, (path,), tuple(records))


def read_disk(path: Path, options: ReadOptions) -> Source:
    """A folder written by ``Dataset.save_to_disk`` (or one split of a ``DatasetDict``)."""
    try:
        import datasets
    except ImportError:
        raise InputError(str(path), "a dataset saved with save_to_disk is read with the 'datasets' package: "
                                    "pip install 'asr-eval[datasets]'") from None
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # a damaged or foreign folder: datasets says why in its own words
        raise InputError(str(path), f"cannot load this saved dataset: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        if len(ds) != 1:
            raise InputError(str(path), f"a DatasetDict with splits {', '.join(ds)}: give the split's folder "
                                        f"(e.g. {path / next(iter(ds))})")
        split = next(iter(ds))
        ds, path = ds[split], path / split
    if ds.num_rows > options.limits.max_rows:
        raise InputError(str(path), f"more than {options.limits.max_rows} rows")
    audio_cols = [n for n, f in ds.features.items() if isinstance(f, datasets.Audio)]
    if not audio_cols:
        raise InputError(str(path), f"no Audio column (columns: {', '.join(ds.features)})")
    audio_col = audio_cols[0]
    column = _text_column(path, list(ds.features))
    ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
    keep = [n for n, f in ds.features.items() if isinstance(f, datasets.Value)]
    files = tuple(sorted(p for p in path.iterdir() if p.is_file() and (p.suffix == ".arrow" or p.suffix == ".json")))
    records: list[Record] = []
    extracted = False
    for i, row in enumerate(ds, start=1):
        raw = {k: row[k] for k in keep}
        audio = row.get(audio_col) or {}
        name = audio.get("path") or ""
        data = audio.get("bytes")
        if data:
            if len(data) > options.limits.max_bytes:
                records.append(Record(str(path), i, problem=f"row {i}: embedded audio larger than {options.limits.max_bytes} bytes"))
                continue
            if options.check_audio:
                where, extracted = str(store_audio_bytes(data, PurePosixPath(name).suffix.lower())), True
            else:
                where = name or f"row-{i}"
        elif name:
            where = name
        else:
            records.append(Record(str(path), i, problem=f"row {i}: the audio column holds neither bytes nor a path"))
            continue
        uid = raw.get("id") or (str(PurePosixPath(name).with_suffix("")) if name else f"row-{i}")
        records.append(Record(str(path), i, canonical(
            raw, text=raw.get(column, ""), audio=where, uid=uid, speaker_names=SPEAKER, accent_names=ACCENT,
            speaker_column=options.speaker_column, drop=(column,))))
    # the cache folder is an audio root only when this dataset's own bytes were written there
    return Source("hf-disk", path, path, files, tuple(records), roots=(extracted_audio_root(),) if extracted else ())
