"""Test sets in the field's formats, read into asr-eval's records: one module per format, chosen by ``detect``.

``read_source(path, options)`` is the one entry point; ``manifest.load_manifest``
calls it and applies the same checks to every format. See docs/formats.md.
"""

from __future__ import annotations

from pathlib import Path

from .base import FORMATS, ReadOptions, Record, Source
from .detect import detect

__all__ = ["FORMATS", "ReadOptions", "Record", "Source", "detect", "read_source"]


def read_source(path: str | Path, options: ReadOptions = ReadOptions()) -> Source:
    """The test set at ``path`` in the format ``options.format`` names, or the one ``detect`` finds."""
    from . import commonvoice, hf, kaldi, lhotse_json, native, nemo, stm

    kind, paths = detect(Path(path), options)
    if kind == "asr-eval":
        return native.read(paths[0], options)
    if kind == "nemo":
        return nemo.read(paths[0], options)
    if kind == "hf":
        return hf.read_folder(paths[0], options)
    if kind == "hf-disk":
        return hf.read_disk(paths[0], options)
    if kind == "lhotse":
        return lhotse_json.read_cuts(paths[0], options) if len(paths) == 1 else lhotse_json.read_pair(paths[0], paths[1], options)
    if kind == "kaldi":
        return kaldi.read(paths[0], options)
    if kind == "commonvoice":
        return commonvoice.read(paths[0], options)
    return stm.read(paths[0], options)
