"""Reading a ``--synonyms`` file: bounded like every input (``asr_eval.tabular``), hashed for run.json.

The format and its checks are ``asr_eval.synonyms.parse_synonyms``; this module
is the only part that touches the file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from asr_eval.files import file_sha256
from asr_eval.synonyms import Synonyms, parse_synonyms
from asr_eval.tabular import DEFAULT_LIMITS, Limits, bounded_lines, read_text

# A synonyms file is a hand-written list: far smaller than a manifest.
SYNONYM_LIMITS = replace(DEFAULT_LIMITS, max_bytes=64 * 1024**2, max_line_chars=64 * 1024)


def load_synonyms(path: str | Path, limits: Limits = SYNONYM_LIMITS) -> Synonyms:
    """The sets of ``path``; an unreadable, oversized or malformed file is an ``InputError`` with file and line."""
    text = read_text(path, "synonyms file", limits)
    lines = bounded_lines(path, text, limits)
    return parse_synonyms(lines, str(Path(path).resolve()), file_sha256(path))
