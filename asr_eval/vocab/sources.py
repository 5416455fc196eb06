"""I/O for the vocab tools: vocabularies, tokenizers, manifests, word lists, phonemes.

Kept apart from the pure modules so those can be tested on hand-made values.
"""

from __future__ import annotations

import csv
import dataclasses
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from ..types import InputError, ModelError, Term, Vocabulary
from .load import load_dictionary, load_directory
from .findings import ERROR, Finding

_DUPLICATE = re.compile(r"duplicate term (.+) \(first at line (\d+)\)")


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
    """Load a vocabulary even when it has duplicate entries, reporting each as a finding.

    ``asr_eval.vocab`` rejects a file at its first duplicate (right for a run);
    a linter should list every duplicate, so each one's line is blanked in a
    temporary copy and the file is loaded again (line numbers are unchanged).
    """
    loader = load_dictionary if kind == "dictionary" else load_directory
    path = Path(path)
    try:
        return loader(path), []
    except InputError as exc:
        if not _DUPLICATE.match(exc.problem) or exc.line is None:
            raise
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        for _ in range(len(lines)):
            m = None
            try:
                copy.write_text("\n".join(lines), encoding="utf-8")
                vocab = loader(copy)
            except InputError as exc:
                m = _DUPLICATE.match(exc.problem)
                if m is None or exc.line is None or not lines[exc.line - 1].strip():
                    raise InputError(str(path), exc.problem, exc.line) from None
                findings.append(
                    Finding(ERROR, "duplicate", f"duplicate of {m.group(1)} (line {m.group(2)})", str(path), exc.line, m.group(1).strip("'\""))
                )
                lines[exc.line - 1] = ""
                continue
            return dataclasses.replace(vocab, path=str(path), name=path.stem), findings
    raise InputError(str(path), "could not load after removing duplicates")


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
    from ..backends.faster_whisper import PROMPT_BUDGET

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


def load_references(paths: Sequence[str | Path], on_problem: Callable[[object], None] | None = None) -> list[RefRow]:
    """Reference rows from manifests (CSV or JSONL); audio files need not exist here.

    Rows the manifest loader rejects are skipped and passed to ``on_problem``.
    """
    try:
        from ..manifest import load_manifest
    except ImportError:
        load_manifest = None
    rows: list[RefRow] = []
    for p in paths:
        if load_manifest is not None:
            m = load_manifest(p, check_audio=False)
            for problem in m.problems:
                if on_problem is not None:
                    on_problem(problem)
            rows.extend(RefRow(u.id, u.text, u.speaker, u.accent_group, str(p)) for u in m.utterances)
            continue
        with open(p, newline="", encoding="utf-8-sig") as f:
            for i, row in enumerate(csv.DictReader(f), start=1):
                rows.append(RefRow(row.get("id") or row.get("audio") or str(i), row["text"], row.get("speaker", ""), row.get("accent_group", ""), str(p)))
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
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise InputError(str(path), "empty file (no header row)", 1)
        fields = [h.strip().lower() for h in reader.fieldnames]
        missing = [c for c in ("term", "condition", "outcome") if c not in fields]
        if missing:
            raise InputError(str(path), f"missing column(s) {', '.join(missing)} (header is {fields})", 1)
        reader.fieldnames = fields
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def metaphone_encoder() -> Callable[[str], tuple[str, str]]:
    """Double Metaphone (primary, alternate) from the doublemetaphone package, else jellyfish's Metaphone."""
    try:
        from doublemetaphone import doublemetaphone

        return lambda w: tuple(doublemetaphone(w))  # type: ignore[return-value]
    except ImportError:
        import jellyfish

        return lambda w: (jellyfish.metaphone(w).upper(), "")
