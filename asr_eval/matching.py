"""Find vocabulary phrases in a word sequence: leftmost first, then longest.

Why one matcher: two places look for terms. The normaliser sets terms aside in
raw text so its rules cannot rewrite them; the scorer finds terms in the
normalised reference and hypothesis to count hits, misses and false insertions.
When each had its own loop, a change to one (a tie-break, a length rule) could
make the normaliser protect one span while the scorer counted another. Both now
build a ``PhraseIndex`` and call ``find``; only the words differ (folded raw
words for the normaliser, normalised words for the scorer), and on words the
normaliser leaves alone those are the same words (a property test checks it).

Semantics: scanning left to right, at each position the longest phrase that
starts there wins, and scanning resumes after it; matches never overlap. This
is greedy, not an optimal cover: with phrases "a b" and "b c d", "a b c d"
yields "a b" and nothing else. A phrase added twice keeps its first payload,
which is how the scorer credits a form shared by two terms to the first term.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Iterable, Mapping, Sequence, TypeVar

T = TypeVar("T")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class PhraseIndex(Generic[T]):
    """Phrases grouped by first word, longest first, each with a payload (a term, its tokens...)."""

    by_first: Mapping[str, tuple[tuple[Phrase, T], ...]]

    @classmethod
    def build(cls, phrases: Iterable[tuple[Phrase, T]]) -> "PhraseIndex[T]":
        """Index ``(words, payload)`` pairs; empty phrases are ignored, a repeated phrase keeps its first payload."""
        seen: set[Phrase] = set()
        groups: dict[str, list[tuple[Phrase, T]]] = {}
        for words, payload in phrases:
            words = tuple(words)
            if not words or words in seen:
                continue
            seen.add(words)
            groups.setdefault(words[0], []).append((words, payload))
        # sorted() is stable: phrases of equal length keep the order they were given in
        return cls({w: tuple(sorted(v, key=lambda p: -len(p[0]))) for w, v in groups.items()})

    def __bool__(self) -> bool:
        return bool(self.by_first)

    def could_match(self, words: Iterable[str]) -> bool:
        """False when no word starts a phrase: a cheap test before ``find``."""
        return not self.by_first.keys().isdisjoint(words)

    def find(self, words: Sequence[str]) -> list[tuple[int, int, T]]:
        """Non-overlapping ``(start, end, payload)`` matches, leftmost first, longest at each start."""
        by_first = self.by_first
        if by_first.keys().isdisjoint(words):
            return []
        out: list[tuple[int, int, T]] = []
        i, n = 0, len(words)
        while i < n:
            for phrase, payload in by_first.get(words[i], ()):
                e = i + len(phrase)
                # the first word matched by the lookup, so a one-word phrase needs no comparison
                if e <= n and (e == i + 1 or tuple(words[i:e]) == phrase):
                    out.append((i, e, payload))
                    i = e
                    break
            else:
                i += 1
        return out
