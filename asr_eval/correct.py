"""Post-correction: replace hypothesis word spans that sound and look like a vocabulary term.

Why: biasing inside the decoder is not available for every engine (vendor
transcripts arrive as text), and names are often recognised as something that
*sounds* right but is spelled wrong ("Shivaun" for "Siobhan"). A span is
replaced by the term's display form when it is close to one of the term's
written forms or ``sounds_like`` hints, both phonetically (Double Metaphone
codes, compared with a normalised edit distance) and orthographically
(rapidfuzz ratio of the letters); the score is the mean of the two, in [0, 1].

Spans of any word count up to the longest form's + 2 are compared as letters
without spaces (a span much shorter or longer than the form is skipped), so
"zen tricks" can become "Zentrix", "Postgres Q L" "PostgreSQL" and "Shivawn
Win" "Siobhan Nguyen". Candidates are taken best score
first (longer span on ties) and never overlap; a span already spelled as one
of the term's written forms is claimed first (an alias is rewritten to the
display form, the display form left as is), so an exact name protects its
neighbours ("new" next to "Nguyen" stays "new").
Forms (and spans) under five letters must match letter for letter, since
fuzzy matching of acronyms turns "at" into "AHT". Punctuation around the span
and a possessive "'s" are kept.

Pure: strings in, strings and frozen records out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from doublemetaphone import doublemetaphone
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from .fold import fold
from .types import Term

_WORD = re.compile(r"\S+")
_EDGE = re.compile(r"^(?P<lead>[^\w]*)(?P<core>.*?)(?P<trail>(?:['’]s)?[^\w]*)$", re.DOTALL)
MIN_LENGTH_RATIO = 0.6  # a span much shorter or longer than the form is not a misspelling of it
MIN_FUZZY_LETTERS = 5  # shorter forms (acronyms, "Okta") must match letter for letter: "at" is not "AHT"


@dataclass(frozen=True)
class Correction:
    """One replacement: hypothesis words ``start``..``end`` (exclusive) were ``original``."""

    original: str
    replacement: str
    term: str
    matched_form: str
    score: float
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def letters(text: str) -> str:
    """The spelling that is compared: folded (``asr_eval.fold``), letters and digits only."""
    return "".join(c for c in fold(text) if c.isalnum())


@lru_cache(maxsize=65536)
def _word_codes(word: str) -> tuple[str, str]:
    primary, secondary = doublemetaphone(word)
    return primary, secondary or primary


def phonetic_codes(words: Sequence[str]) -> tuple[str, ...]:
    """Primary and secondary Double Metaphone codes of a word sequence (codes concatenated)."""
    parts = [_word_codes(w) for w in (letters(w) for w in words) if w]
    codes = ("".join(p for p, _ in parts), "".join(s for _, s in parts))
    return tuple(dict.fromkeys(c for c in codes if c))


def similarity(span_words: Sequence[str], form: str) -> float:
    """Mean of phonetic and orthographic similarity between a word span and a written form."""
    a, b = letters(" ".join(span_words)), letters(form)
    if not a or not b:
        return 0.0
    orth = fuzz.ratio(a, b) / 100.0
    ca, cb = phonetic_codes(span_words), phonetic_codes(form.split())
    phon = max((Levenshtein.normalized_similarity(x, y) for x in ca for y in cb), default=orth)
    return (orth + phon) / 2.0


@dataclass(frozen=True)
class _Form:
    text: str
    term: Term
    n_words: int
    exact: bool  # a written form: matching it means the term is already right


def _forms(terms: Sequence[Term]) -> list[_Form]:
    out: list[_Form] = []
    for term in terms:
        for text in term.written_forms:
            if letters(text):
                out.append(_Form(text, term, len(text.split()), True))
        for text in term.sounds_like:
            if letters(text):
                out.append(_Form(text, term, len(text.split()), False))
    return out


def _candidates(words: list[str], forms: list[_Form], threshold: float) -> list[tuple[float, int, int, _Form]]:
    """(score, start, end, form) for every span scoring >= threshold; vectorised per span length."""
    cores = [_EDGE.match(w).group("core") for w in words]
    found: list[tuple[float, int, int, _Form]] = []
    max_len = max(f.n_words for f in forms) + 2
    sel = forms
    for length in range(1, min(max_len, len(words)) + 1):
        spans = [cores[i : i + length] for i in range(len(words) - length + 1)]
        span_letters = [letters(" ".join(s)) for s in spans]
        form_letters = [letters(f.text) for f in sel]
        orth = process.cdist(span_letters, form_letters, scorer=fuzz.ratio, dtype=np.float32) / 100.0
        span_codes = [phonetic_codes(s) for s in spans]
        form_codes = [phonetic_codes(f.text.split()) for f in sel]
        phon = np.zeros_like(orth)
        for slot in range(2):
            a = [c[min(slot, len(c) - 1)] if c else "" for c in span_codes]
            for other in range(2):
                b = [c[min(other, len(c) - 1)] if c else "" for c in form_codes]
                phon = np.maximum(phon, process.cdist(a, b, scorer=Levenshtein.normalized_similarity, dtype=np.float32))
        la = np.array([len(s) for s in span_letters], dtype=np.float32)[:, None]
        lb = np.array([len(s) for s in form_letters], dtype=np.float32)[None, :]
        ratio = np.minimum(la, lb) / np.maximum(np.maximum(la, lb), 1.0)
        score = np.where(orth >= 1.0, 1.0, (orth + phon) / 2.0)  # same letters: a perfect match
        score[(ratio < MIN_LENGTH_RATIO) | (la == 0)] = 0.0
        score[((lb < MIN_FUZZY_LETTERS) | (la < MIN_FUZZY_LETTERS)) & (orth < 1.0)] = 0.0
        for i, j in zip(*np.nonzero(score >= threshold - 1e-9)):
            found.append((float(score[i, j]), int(i), int(i) + length, sel[j]))
    return found


def correct_text(text: str, terms: Sequence[Term], threshold: float) -> tuple[str, tuple[Correction, ...]]:
    """``text`` with close-but-wrong spans replaced by term display forms, and what was replaced."""
    matches = list(_WORD.finditer(text))
    words = [m.group() for m in matches]
    forms = _forms(terms)
    if not words or not forms:
        return text, ()
    cands = _candidates(words, forms, threshold)
    # Exact spellings first (they protect their words), then best score, then longer span, then leftmost.
    cands.sort(key=lambda c: (-(c[3].exact and letters(" ".join(words[c[1]:c[2]])) == letters(c[3].text)),
                              -c[0], -(c[2] - c[1]), c[1]))
    taken = [False] * len(words)
    chosen: list[tuple[float, int, int, _Form]] = []
    for cand in cands:
        score, start, end, form = cand
        if any(taken[start:end]):
            continue
        for k in range(start, end):
            taken[k] = True
        span_core = " ".join(_EDGE.match(w).group("core") for w in words[start:end])
        if span_core == form.term.display:
            continue  # already the display form: claimed, not changed
        chosen.append(cand)
    if not chosen:
        return text, ()
    chosen.sort(key=lambda c: c[1])
    pieces: list[str] = []
    fixes: list[Correction] = []
    cursor = 0
    for score, start, end, form in chosen:
        lead = _EDGE.match(words[start]).group("lead")
        trail = _EDGE.match(words[end - 1]).group("trail")
        begin, finish = matches[start].start(), matches[end - 1].end()
        original = text[begin:finish]
        pieces.append(text[cursor:begin])
        pieces.append(lead + form.term.display + trail)
        cursor = finish
        fixes.append(Correction(original=original, replacement=form.term.display, term=form.term.display,
                                matched_form=form.text, score=round(score, 4), start=start, end=end))
    pieces.append(text[cursor:])
    return "".join(pieces), tuple(fixes)
