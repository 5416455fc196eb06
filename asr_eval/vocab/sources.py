"""I/O for the vocab tools: vocabularies, tokenizers, manifests, word lists, phonemes.

Kept apart from the pure modules so those can be tested on hand-made values.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..tabular import read_csv, read_text
from ..types import InputError, ModelError, Term, Vocabulary
from .findings import Finding
from .load import load_dictionary, load_directory, read_dictionary, read_directory


def load_vocabularies(dictionary: str | Path | None, directory: str | Path | None) -> list[Vocabulary]:
    """Load as a run would; any problem raises InputError naming file and line."""
    out = []
    if dictionary is not None:
        out.append(load_dictionary(dictionary))
    if directory is not None:
        out.append(load_directory(directory))
    if not out:
        raise InputError("-", "give a dictionary and/or --directory")
    return out


def load_for_lint(path: str | Path, kind: str) -> tuple[Vocabulary, list[Finding]]:
    """Every entry of the file, duplicates included, and what the loader found wrong with each.

    A run stops at the first defect; a linter reads on, so each malformed entry,
    and each field from which invisible characters were removed, is one finding.
    Only a file that cannot be read at all raises ``InputError``.
    """
    loaded = (read_dictionary if kind == "dictionary" else read_directory)(path)
    return loaded.vocabulary, list(loaded.findings)


def load_limits() -> dict:
    """The engine limits table shipped with the package (asr_eval/data/engine_limits.json)."""
    import json
    from importlib import resources

    text = resources.files("asr_eval").joinpath("data/engine_limits.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def token_counter(model: str = "tiny.en") -> Callable[[str], int]:
    """Count prompt tokens exactly as the faster-whisper backend does (leading space added)."""
    from ..backends.models import load_tokenizer, resolve_model

    tok = load_tokenizer(resolve_model(model))

    @lru_cache(maxsize=None)
    def count(text: str) -> int:
        return len(tok.encode(" " + text.strip()))

    return count


def try_token_counter(model: str = "tiny.en") -> Callable[[str], int] | None:
    try:
        return token_counter(model)
    except (ModelError, ImportError):
        return None


def prompt_budget() -> int:
    from ..backends.whisper_rules import PROMPT_BUDGET

    return PROMPT_BUDGET


@lru_cache(maxsize=None)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def word_frequency(word: str) -> float:
    """Zipf frequency (0-8) of an English word from the wordfreq package (offline data)."""
    return _zipf(word.lower())


def common_words(n: int) -> list[str]:
    from wordfreq import top_n_list

    return top_n_list("en", n)


def make_words(terms: Sequence[Term]) -> tuple[Callable[[str], list[str]], str]:
    """The scorer's normaliser (protecting every written form) or, if it is absent, a simple one."""
    try:
        from ..normalize import NORMALIZER_VERSION, make_normalizer
    except ImportError:
        from .text import words

        return words, "fallback-lowercase-1"
    norm = make_normalizer(terms)
    return norm.words, NORMALIZER_VERSION


@dataclasses.dataclass(frozen=True)
class RefRow:
    id: str
    text: str
    speaker: str
    accent_group: str
    manifest: str
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the manifest's other columns (--group-by)


def load_references(paths: Sequence[str | Path], on_problem: Callable[[object], None] | None = None,
                    options: Any = None) -> list[RefRow]:
    """Reference rows from manifests (CSV or JSONL); audio files need not exist here.

    Rows the manifest loader rejects are skipped and passed to ``on_problem``.
    """
    from ..manifest import load_manifest

    rows: list[RefRow] = []
    for p in paths:
        m = load_manifest(p, check_audio=False, options=options)
        for problem in m.problems:
            if on_problem is not None:
                on_problem(problem)
        rows.extend(RefRow(u.id, u.text, u.speaker, u.accent_group, str(p), u.meta) for u in m.utterances)
    return rows


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_phonemes(texts: Sequence[str], voice: str = "en-us") -> list[str]:
    """IPA for each text from espeak-ng, one process for the whole list (lines in, lines out)."""
    if not texts:
        return []
    clean = [re.sub(r"[\r\n]+", " ", t).strip() or "-" for t in texts]
    out = subprocess.run(
        ["espeak-ng", "-q", "--ipa", "-v", voice, "--stdin"],
        input="\n".join(clean) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    if len(lines) != len(clean):  # espeak may merge or split lines; fall back to one call each
        lines = [
            subprocess.run(["espeak-ng", "-q", "--ipa", "-v", voice, t], capture_output=True, text=True, check=True).stdout.strip()
            for t in clean
        ]
    return [re.sub(r"\s+", " ", ln) for ln in lines]


def read_term_events(run_dir: str | Path) -> list[dict[str, str]]:
    """Rows of a run's terms.csv (a run folder or the file itself); headers are case-insensitive."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / "terms.csv"
    if not path.exists():
        raise InputError(str(path), "no terms.csv here: is this a run folder written by `asr-eval run`?")
    fields, records = read_csv(path, read_text(path, "terms.csv"), lower_header=True)
    missing = [c for c in ("term", "condition", "outcome") if c not in fields]
    if missing:
        raise InputError(str(path), f"missing {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)} (header is {fields})", 1)
    return [{k: v.strip() for k, v in row.fields.items()} for row in records]


def metaphone_encoder() -> Callable[[str], tuple[str, str]]:
    """Double Metaphone (primary, alternate) from the doublemetaphone package, else jellyfish's Metaphone."""
    try:
        from doublemetaphone import doublemetaphone

        return lambda w: tuple(doublemetaphone(w))  # type: ignore[return-value]
    except ImportError:
        import jellyfish

        return lambda w: (jellyfish.metaphone(w).upper(), "")
