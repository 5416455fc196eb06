"""openai-whisper's British -> American spelling map, read from the installed package, and the normaliser factory on top.

Why read it rather than ship it: ``--normalizer whisper`` must give exactly the
text Whisper's ``EnglishTextNormalizer`` gives, and 1,739 of its outputs depend
on that map (``whisper/normalizers/english.json``), which is openai-whisper's
data, not ours. When openai-whisper is installed its file is read (the package
is located without importing it, which would load torch); when it is not, the
normaliser falls back to asr-eval's curated list and its version string says
``+spellings-asr-eval-curated`` so no one mistakes the numbers for the
leaderboard's.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Sequence

from .normalize import get_normalizer
from .normalize_whisper import Spellings
from .types import InputError, Term

MAX_BYTES = 1 << 20  # the real file is ~35 kB; anything far larger is not it
MAX_ENTRIES = 100_000


def whisper_spellings_path() -> Path | None:
    """Where the installed openai-whisper keeps its map (None when it is not installed)."""
    try:
        spec = importlib.util.find_spec("whisper")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:  # absent, or another project's one-file "whisper"
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "normalizers" / "english.json"
        if path.is_file():
            return path
    return None


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("openai-whisper")
    except metadata.PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=1)
def load_whisper_spellings() -> Spellings | None:
    """The map openai-whisper normalises with, or None when openai-whisper is not installed.

    Raises ``InputError`` naming the file when it is there but is not a JSON
    object of words to words (a broken install must not silently change scores).
    """
    path = whisper_spellings_path()
    if path is None:
        return None
    if path.stat().st_size > MAX_BYTES:
        raise InputError(str(path), f"larger than {MAX_BYTES} bytes: not openai-whisper's spelling map")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or len(data) > MAX_ENTRIES:
        raise InputError(str(path), "expected one JSON object mapping British to American spellings")
    bad = next((k for k, v in data.items() if not isinstance(v, str) or not k or not v), None)
    if bad is not None:
        raise InputError(str(path), f"entry {bad!r} does not map a word to a word")
    return Spellings(f"openai-whisper-{_version()}", MappingProxyType(data))


def normalizer_for(name: str, terms: Sequence[Term] = ()):
    """``normalize.get_normalizer`` with openai-whisper's own spelling map for ``whisper`` (when installed)."""
    return get_normalizer(name, terms, whisper_spellings=load_whisper_spellings() if name == "whisper" else None)
