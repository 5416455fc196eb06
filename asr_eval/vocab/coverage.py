"""Which vocabulary terms the test audio actually exercises (pure).

A term that never occurs in any reference is untested: its recall is unknown
and only its false insertions can be measured. Matching uses the scorer's own
normaliser (passed in as ``words``) so "PayNimbus" in a reference counts
exactly when the scorer would look for it; overlapping forms go to the longest
one ("PayNimbus Wallet" is not also a "PayNimbus").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from ..matching import PhraseIndex
from ..types import Term

_SENTENCE_END = re.compile(r"[.!?]['\")\]]*$")
_TOKEN = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)
RARE_ZIPF = 3.0  # a sentence-initial capitalised word rarer than this is probably a name
# A common sentence-initial word followed by a capitalised one joins it below this
# frequency ('Bob Marley called') but not above ('Ask Bob'); 'John Smith' at a
# sentence start is seen as 'Smith' (word frequency cannot tell names from verbs).
JOIN_ZIPF = 5.0


@dataclass(frozen=True)
class TermCoverage:
    display: str
    source: str
    category: str
    occurrences: int
    utterances: int
    speakers: int
    by_accent: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**self.__dict__, "by_accent": dict(self.by_accent)}


@dataclass(frozen=True)
class Candidate:
    """A capitalised word or run of words in the references that no term covers."""

    text: str
    occurrences: int
    utterances: int
    example: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CoverageReport:
    terms: tuple[TermCoverage, ...]
    accent_groups: tuple[str, ...]
    utterances_by_accent: Mapping[str, int]
    n_utterances: int
    missing: tuple[Candidate, ...]
    normalizer: str

    @property
    def untested(self) -> tuple[TermCoverage, ...]:
        return tuple(t for t in self.terms if t.occurrences == 0)

    def to_dict(self) -> dict:
        return {
            "normalizer": self.normalizer,
            "utterances": self.n_utterances,
            "utterances_by_accent": dict(self.utterances_by_accent),
            "accent_groups": list(self.accent_groups),
            "terms": [t.to_dict() for t in self.terms],
            "untested": [t.display for t in self.untested],
            "missing_from_vocabulary": [c.to_dict() for c in self.missing],
        }


def _matcher(terms: Sequence[Term], words: Callable[[str], list[str]]) -> dict[tuple[str, ...], int]:
    forms: dict[tuple[str, ...], int] = {}
    for i, term in enumerate(terms):
        for form in term.written_forms:
            key = tuple(words(form))
            if key:
                forms.setdefault(key, i)
    return forms


def capitalised_runs(text: str, word_frequency: Callable[[str], float]) -> list[str]:
    """Runs of capitalised words that are not merely sentence-initial ('Stella', 'Zentrix Cloud')."""
    runs: list[str] = []
    current: list[str] = []
    pending = ""  # a common sentence-initial word, kept only if a capitalised word follows ('Bob Marley')
    for m in _TOKEN.finditer(text):
        tok = m.group(0).strip("'’-")
        before = text[: m.start()].rstrip()
        sentence_start = not before or bool(_SENTENCE_END.search(before)) or before.endswith(":")
        if current and (sentence_start or before.endswith(",")):
            runs.append(" ".join(current))
            current = []
        cap = tok[:1].isupper() and tok != "I" and not tok.startswith("I'")
        if cap and sentence_start and word_frequency(tok) >= RARE_ZIPF:
            pending = tok if word_frequency(tok) < JOIN_ZIPF else ""  # 'Please', 'The': capitalised only because a sentence starts
            continue
        if cap:
            if pending and not current and not sentence_start and text[: m.start()].rstrip().endswith(pending):
                current.append(pending)
            current.append(tok)
        elif current:
            runs.append(" ".join(current))
            current = []
        pending = ""
    if current:
        runs.append(" ".join(current))
    return runs


def coverage(
    terms: Sequence[Term],
    refs: Sequence[tuple[str, str, str, str]],
    words: Callable[[str], list[str]],
    word_frequency: Callable[[str], float],
    normalizer: str = "",
    min_missing: int = 2,
) -> CoverageReport:
    """``refs`` are (utterance id, reference text, speaker, accent group)."""
    forms = _matcher(terms, words)
    index = PhraseIndex.build(forms.items())  # the scorer's matcher: a term is found exactly where it is scored
    occ: list[Counter] = [Counter() for _ in terms]
    utts: list[set] = [set() for _ in terms]
    spk: list[set] = [set() for _ in terms]
    per_accent: Counter = Counter()
    covered_words: set[str] = set()
    cand_occ: Counter = Counter()
    cand_utt: dict[str, set] = {}
    cand_example: dict[str, str] = {}
    for utt_id, text, speaker, accent in refs:
        per_accent[accent] += 1
        text_words = words(text)
        for _start, _end, idx in index.find(text_words):
            occ[idx][accent] += 1
            utts[idx].add(utt_id)
            spk[idx].add(speaker)
        for run in capitalised_runs(text, word_frequency):
            cand_occ[run] += 1
            cand_utt.setdefault(run, set()).add(utt_id)
            cand_example.setdefault(run, text)
    for key in forms:
        covered_words.update(key)
    accents = tuple(sorted(per_accent))
    rows = tuple(
        TermCoverage(t.display, t.source, t.category, sum(occ[i].values()), len(utts[i]), len(spk[i]), {a: occ[i][a] for a in accents})
        for i, t in enumerate(terms)
    )
    missing = []
    for run, n in cand_occ.most_common():
        if n < min_missing:
            continue
        run_words = words(run)
        if run_words and all(w in covered_words for w in run_words):
            continue  # every word is part of some term's written form
        missing.append(Candidate(run, n, len(cand_utt[run]), cand_example[run]))
    return CoverageReport(rows, accents, dict(sorted(per_accent.items())), sum(per_accent.values()), tuple(missing), normalizer)
