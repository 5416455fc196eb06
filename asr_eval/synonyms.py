"""Accepted equivalent spellings (``--synonyms FILE``), applied after normalisation.

Why: some differences are not errors for the people reading a transcript ("ok" /
"okay", "e-mail" / "email", "healthcare" / "health care"), and the normaliser
cannot know every house style. fstalign takes a synonyms file too; its rules
are one-way (reference form -> accepted hypothesis forms). Here a line is a set
of forms that are all the same word, ``ok|okay``, applied symmetrically: after
normalisation every occurrence of any form, on either side, is rewritten to the
set's first form, so the two sides meet whichever form each wrote. Multi-word
forms are found leftmost-longest with the scorer's matcher (``asr_eval.matching``).

The forms are normalised by the very normaliser they extend, so ``E-Mail`` in the
file means whatever ``E-Mail`` becomes in a transcript. The set file's hash is
part of the normaliser's version: results scored with and without it (or with
another file) never pass for one another in a cache or a comparison.

File format: UTF-8 text, one set per line, forms separated by ``|``; blank
lines and lines starting with ``#`` are skipped. A set needs two different
forms; a form may be in one set only. ``parse_synonyms`` is pure (lines in);
``asr_eval.synonyms_load`` reads the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from asr_eval.fold import fold
from asr_eval.matching import PhraseIndex
from asr_eval.types import InputError

MAX_SETS = 100_000
MAX_FORMS = 64          # forms in one set
MAX_FORM_WORDS = 16     # words in one form


@dataclass(frozen=True)
class SynonymSet:
    """The forms of one line, first form first (the one occurrences are rewritten to)."""

    forms: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Synonyms:
    """The sets of one file, with where it came from (for run.json and errors)."""

    sets: tuple[SynonymSet, ...]
    path: str = "<synonyms>"
    sha256: str = ""

    def info(self) -> dict[str, Any]:
        """What run.json records: the file, its hash and how many sets it holds."""
        return {"path": self.path, "sha256": self.sha256, "sets": len(self.sets)}

    @property
    def tag(self) -> str:
        """The part of a normaliser's version that names this file's content."""
        return f"synonyms-{self.sha256[:16] or 'inline'}"


def parse_synonyms(lines: Iterable[str], path: str = "<synonyms>", sha256: str = "") -> Synonyms:
    """The sets of these lines; a malformed line is an ``InputError`` naming ``path`` and the line."""
    sets: list[SynonymSet] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "|" not in line:
            raise InputError(path, f"expected forms separated by '|' (e.g. 'ok|okay'), got {line!r}", n)
        forms: list[str] = []
        for part in line.split("|"):
            form = " ".join(part.split())
            if not form:
                raise InputError(path, f"empty form in {line!r}: each form between '|' needs a word", n)
            if len(form.split()) > MAX_FORM_WORDS:
                raise InputError(path, f"form {form!r} has more than {MAX_FORM_WORDS} words", n)
            if form not in forms:
                forms.append(form)
        if len(forms) < 2:
            raise InputError(path, f"a set needs two different forms, got {line!r}", n)
        if len(forms) > MAX_FORMS:
            raise InputError(path, f"more than {MAX_FORMS} forms in one set", n)
        for form in forms:
            key = fold(form)
            if key in seen:
                raise InputError(path, f"form {form!r} is already in the set on line {seen[key]}: "
                                       "a form may belong to one set only", n)
        for form in forms:
            seen[fold(form)] = n
        sets.append(SynonymSet(tuple(forms), n))
        if len(sets) > MAX_SETS:
            raise InputError(path, f"more than {MAX_SETS} synonym sets", n)
    return Synonyms(tuple(sets), path, sha256)


@dataclass(frozen=True)
class SynonymNormalizer:
    """A normaliser whose output has every synonym form rewritten to its set's first form.

    Wraps any normaliser of ``asr_eval.normalize`` (it has ``name``, ``version``,
    ``__call__``, ``words``, ``normalize_with_sources`` and ``with_terms``, which is
    all the scorer uses) and is one itself.
    """

    base: Any
    synonyms: Synonyms
    _index: PhraseIndex[tuple[str, ...]] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _build_index(self.base, self.synonyms))

    @property
    def name(self) -> str:
        return getattr(self.base, "name", "asr-eval")

    @property
    def version(self) -> str:
        return f"{self.base.version}+{self.synonyms.tag}"

    def __call__(self, text: str) -> str:
        return self.normalize_with_sources(text)[0]

    def words(self, text: str) -> list[str]:
        return apply_synonyms(self._index, self.base.words(text))[0]

    def normalize_with_sources(self, text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        norm, sources = self.base.normalize_with_sources(text)
        words = norm.split()
        out, starts = apply_synonyms(self._index, words)
        if out is words:
            return norm, sources
        moved = tuple((starts[s], starts[s + c] - starts[s], raw) for s, c, raw in sources if starts[s + c] > starts[s])
        return " ".join(out), moved

    def with_terms(self, forms: Iterable[str]) -> "SynonymNormalizer":
        base = self.base.with_terms(forms)
        return self if base is self.base else SynonymNormalizer(base, self.synonyms)


def _build_index(base: Any, synonyms: Synonyms) -> PhraseIndex[tuple[str, ...]]:
    """Every form's normalised words -> its set's first form's; two sets meeting after normalisation is an error."""
    owner: dict[tuple[str, ...], SynonymSet] = {}
    pairs: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for s in synonyms.sets:
        canon: tuple[str, ...] | None = None
        for form in s.forms:
            toks = tuple(base.words(form))
            if not toks:
                raise InputError(synonyms.path, f"form {form!r} normalises to nothing (normaliser {base.version})", s.line)
            other = owner.get(toks)
            if other is not None and other is not s:
                raise InputError(synonyms.path, f"form {form!r} normalises to {' '.join(toks)!r}, as a form of the set on "
                                                f"line {other.line} does: a form may belong to one set only", s.line)
            owner[toks] = s
            canon = canon or toks
            pairs.append((toks, canon))
    return PhraseIndex.build(pairs)


def apply_synonyms(index: PhraseIndex[tuple[str, ...]], words: Sequence[str]) -> tuple[list[str], list[int]]:
    """``words`` with each found form replaced by its set's first form, and where each old word now starts.

    The second list has ``len(words) + 1`` entries: old word ``i`` begins at new
    index ``starts[i]``; a word inside a replaced multi-word form maps to the
    replacement's start (``starts[len(words)]`` is the new length). Returns the
    input list itself when nothing matched.
    """
    words = list(words) if not isinstance(words, list) else words
    found = index.find(words) if index else []
    if not found:
        return words, list(range(len(words) + 1))
    out: list[str] = []
    starts: list[int] = []
    i = 0
    for s, e, canon in found:
        while i < s:
            starts.append(len(out))
            out.append(words[i])
            i += 1
        at = len(out)
        starts.extend([at] * (e - s))
        out.extend(canon)
        i = e
    while i < len(words):
        starts.append(len(out))
        out.append(words[i])
        i += 1
    starts.append(len(out))
    return out, starts
