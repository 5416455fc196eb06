"""Engine-independent checks on dictionaries and directories (pure).

Each check targets a defect that silently spoils an evaluation or a biasing
list: two entries for the same term split its hits; a written form shared by
two terms makes a hit ambiguous; symbols and digits are never written the way
the author expects by a speech engine; a display form with diacritics but no
plain alias is scored as wrong whenever an English model writes it plainly.
Engine-specific limits are checked in :mod:`engines`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from ..fold import strip_accents
from ..types import InputError, Term, Vocabulary
from .findings import ERROR, WARNING, Finding, count, sort_findings
from .text import describe_characters, is_acronym, is_invisible, spelling_key, words

MAX_WORDS = 6  # AssemblyAI's per-phrase cap; longer entries are sentences, not terms
MAX_CHARS = 60
SIMILAR_SPELLING = 88.0  # rapidfuzz ratio (0-100) on spelling keys
UNRELATED_ALIAS = 50.0  # below this ratio, with no shared word, an alias looks like another term

# Characters engines spell out as words or never emit: '&' -> 'and', '@' -> 'at'.
SPOKEN_SYMBOLS = set("@#$%^*+=<>/\\_~|{}[]&")
# Unicode categories no engine outputs: symbols (emoji, ™, ©), private use, unassigned; and the
# invisible ones (controls, format, separators: ``text.is_invisible``), which the loaders remove.
UNSPEAKABLE_CATEGORIES = {"So", "Sk", "Co", "Cn"}


@dataclass(frozen=True)
class LintReport:
    """All findings of ``vocab check``; ``exit_code`` is non-zero when any is an error."""

    findings: tuple[Finding, ...]
    n_terms: int
    files: tuple[str, ...]
    engines: tuple[str, ...]

    @property
    def errors(self) -> int:
        return count(self.findings, ERROR)

    @property
    def warnings(self) -> int:
        return count(self.findings, WARNING)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict:
        return {
            "files": list(self.files),
            "engines": list(self.engines),
            "terms": self.n_terms,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
        }


def make_report(vocabularies: Sequence[Vocabulary], findings: Iterable[Finding], engines: Sequence[str]) -> LintReport:
    return LintReport(
        findings=tuple(sort_findings(findings)),
        n_terms=sum(len(v.terms) for v in vocabularies),
        files=tuple(v.path for v in vocabularies),
        engines=tuple(engines),
    )


def unreadable_report(error: InputError, files: Sequence[str], engines: Sequence[str]) -> LintReport:
    """The report of a file that could not be read at all: that one error, so ``--json`` still says why."""
    return LintReport((Finding(ERROR, "unreadable", error.problem, error.path, error.line),), 0, tuple(files), tuple(engines))


def _f(severity: str, code: str, message: str, vocab: Vocabulary, term: Term) -> Finding:
    return Finding(severity, code, message, vocab.path, term.line, term.display)


def _entry_checks(vocab: Vocabulary, term: Term) -> list[Finding]:
    out: list[Finding] = []
    for form in term.written_forms:
        role = "display form" if form == term.display else f"alias {form!r}"
        if not any(c.isalnum() for c in form):
            out.append(_f(ERROR, "empty", f"{role} has no letters or digits", vocab, term))
            continue
        bad = sorted({c for c in form if is_invisible(c) or unicodedata.category(c) in UNSPEAKABLE_CATEGORIES})
        if bad:
            out.append(_f(ERROR, "unspeakable", f"{role} contains {describe_characters(bad)}, which no speech engine outputs", vocab, term))
        symbols = sorted({c for c in form if c in SPOKEN_SYMBOLS})
        if symbols:
            out.append(
                _f(WARNING, "symbol", f"{role} contains {''.join(symbols)!r}; engines write such symbols as words (add the spoken form as an alias)", vocab, term)
            )
        if "  " in form or "\t" in form or form != form.strip():
            out.append(_f(WARNING, "whitespace", f"{role} has stray or repeated whitespace", vocab, term))
    n_words = len(term.display.split())
    if n_words > MAX_WORDS or len(term.display) > MAX_CHARS:
        out.append(
            _f(WARNING, "too-long", f"display form has {n_words} words / {len(term.display)} characters (> {MAX_WORDS} words or {MAX_CHARS} characters): a phrase, not a term", vocab, term)
        )
    if any(c.isdigit() for c in term.display):
        spelled = [f for f in (*term.aliases, *term.sounds_like) if not any(c.isdigit() for c in f)]
        if not spelled:
            out.append(
                _f(WARNING, "digits", "display form contains digits and no alias or sounds_like spells them out; engines differ in writing numbers", vocab, term)
            )
    if not term.display.isascii():
        plain = strip_accents(term.display)
        if plain.isascii() and plain != term.display and not any(a.casefold() == plain.casefold() for a in term.aliases):
            out.append(
                _f(WARNING, "diacritics", f"display form has diacritics but no plain alias {plain!r}; English models usually write it plainly", vocab, term)
            )
    seen: set[str] = {term.display.casefold()}
    for alias in term.aliases:
        if alias.casefold() in seen:
            out.append(_f(WARNING, "redundant-alias", f"alias {alias!r} differs from another form of this term only in case", vocab, term))
        seen.add(alias.casefold())
        shared = set(words(alias)) & set(words(term.display))
        ratio = fuzz.ratio(spelling_key(alias), spelling_key(term.display))
        if not shared and ratio < UNRELATED_ALIAS and not _abbreviates(alias, term.display):
            out.append(
                _f(WARNING, "alias-mismatch", f"alias {alias!r} shares no word with display form {term.display!r} (similarity {ratio:.0f}/100): another term?", vocab, term)
            )
    if term.source == "directory" and term.display[:1].islower():
        out.append(_f(WARNING, "display-case", "a person's name written in lower case; exact display-form hits compare case", vocab, term))
    return out


def _abbreviates(a: str, b: str) -> bool:
    """True when one form is the initials of the other ('SLA' / 'Service Level Agreement')."""
    for short, long_ in ((a, b), (b, a)):
        if is_acronym(short):
            initials = "".join(w[0] for w in words(long_))
            if spelling_key(short) == initials:
                return True
    return False


def duplicates(entries: Sequence[tuple[Vocabulary, Term]]) -> list[Finding]:
    """Each entry whose display form repeats an earlier one, exactly up to case ("duplicate", which a run refuses)
    or up to spacing, punctuation and diacritics ("near-duplicate"); the message names the first one and where it is."""
    out: list[Finding] = []
    by_case: dict[str, tuple[Vocabulary, Term]] = {}
    by_key: dict[str, tuple[Vocabulary, Term]] = {}
    for vocab, term in entries:
        case_key, key = term.display.casefold(), spelling_key(term.display)
        if case_key in by_case:
            v0, t0 = by_case[case_key]
            out.append(_f(ERROR, "duplicate", f"duplicate of {t0.display!r} ({_where(v0, t0)})", vocab, term))
        elif key and key in by_key:
            v0, t0 = by_key[key]
            out.append(
                _f(ERROR, "near-duplicate", f"same term as {t0.display!r} ({_where(v0, t0)}) up to case, spacing, punctuation or diacritics; merge them (one display, the other as alias)", vocab, term)
            )
        by_case.setdefault(case_key, (vocab, term))
        if key:
            by_key.setdefault(key, (vocab, term))
    return out


def without_duplicates(vocab: Vocabulary) -> Vocabulary:
    """The vocabulary less each entry that repeats an earlier display form of the same file (a run refuses those)."""
    seen: set[str] = set()
    kept = []
    for term in vocab.terms:
        if term.display.casefold() not in seen:
            seen.add(term.display.casefold())
            kept.append(term)
    return replace(vocab, terms=tuple(kept))


def _cross_checks(entries: Sequence[tuple[Vocabulary, Term]]) -> list[Finding]:
    out = duplicates(entries)
    # a written form that belongs to two terms makes a hit ambiguous
    owner: dict[str, tuple[Vocabulary, Term, str]] = {}
    reported: set[tuple[int, int]] = set()
    for i, (vocab, term) in enumerate(entries):
        for form in dict.fromkeys(term.written_forms):
            key = spelling_key(form)
            if not key:
                continue
            if key in owner and owner[key][1] is not term:
                v0, t0, f0 = owner[key]
                if spelling_key(t0.display) == spelling_key(term.display):
                    continue  # already reported as a (near-)duplicate
                pair = (id(t0), id(term))
                if pair not in reported:
                    reported.add(pair)
                    out.append(
                        _f(ERROR, "alias-conflict", f"written form {form!r} also belongs to {t0.display!r} ({_where(v0, t0)}, as {f0!r}): a hit could not be attributed", vocab, term)
                    )
            owner.setdefault(key, (vocab, term, form))
    # similar spellings of different terms: usually a typo or a variant that should be an alias
    keyed = [(v, t, spelling_key(t.display)) for v, t in entries]
    for i, j in _similar_pairs([k for _, _, k in keyed]):
        (v0, t0, k0), (v1, t1, k1) = keyed[i], keyed[j]
        if not k0 or not k1 or k0 == k1 or t0.display.casefold() == t1.display.casefold():
            continue
        if abs(len(k0) - len(k1)) > max(len(k0), len(k1)) * (1 - SIMILAR_SPELLING / 100) + 1:
            continue
        ratio = fuzz.ratio(k0, k1)
        if ratio >= SIMILAR_SPELLING:
            out.append(
                _f(WARNING, "similar-spelling", f"spelled almost like {t0.display!r} ({_where(v0, t0)}; similarity {ratio:.0f}/100): a typo, or a variant that should be an alias?", v1, t1)
            )
    return out


def _similar_pairs(keys: Sequence[str], block: int = 256) -> Iterator[tuple[int, int]]:
    """Index pairs i < j, in order, whose keys may score ``SIMILAR_SPELLING`` or more.

    Every pair is compared, so the cost grows with the square of the list:
    rapidfuzz's ``cdist`` does it in C++, a block of rows at a time (memory
    ``block`` x n bytes), where a Python loop over the pairs took minutes for
    a few thousand terms. Candidates are confirmed by the caller.
    """
    for start in range(0, len(keys), block):
        scores = process.cdist(keys[start:start + block], keys, scorer=fuzz.ratio, score_cutoff=SIMILAR_SPELLING, dtype=np.uint8)
        for row, j in zip(*np.nonzero(scores)):
            if start + row < j:
                yield start + int(row), int(j)


def _where(vocab: Vocabulary, term: Term) -> str:
    return f"{vocab.path}:{term.line}" if term.line is not None else vocab.path


def lint(vocabularies: Sequence[Vocabulary]) -> list[Finding]:
    """Every engine-independent finding for these vocabularies, in no particular order."""
    entries = [(v, t) for v in vocabularies for t in v.terms]
    findings: list[Finding] = []
    for vocab, term in entries:
        findings.extend(_entry_checks(vocab, term))
    findings.extend(_cross_checks(entries))
    return findings
