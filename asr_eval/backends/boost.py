"""Contextual biasing inside the decoder: a bonus for tokens that spell a vocabulary term.

Why: a prompt only *suggests* words and is limited to 223 tokens; shallow-fusion
style biasing instead adds a bonus to the next-token scores whenever the token
would start or continue one of the terms, given what has been decoded so far.
The terms' token sequences (with and without a leading space, since Whisper
writes most words with one) live in a prefix trie; a decoded suffix that
follows a trie path is a term "in progress".

The bonus is added to the *logits* (an openai-whisper logit filter runs
before the softmax), so within one decoding step it ranks tokens exactly as a
score-level bonus would; with beam search the per-step normaliser differs.
With ``cancel=True`` a term in progress is protected: tokens that continue it
get an extra ``strength`` per token already matched, i.e. abandoning a partly
spelled term costs what its prefix earned (the "cancel the bonus on failure"
rule of shallow fusion, expressed relative to the other tokens).

Strength 0 leaves the logits untouched, so strength-0 boosting is the baseline.
This module is pure (no torch import): the filter only calls methods of the
tensors it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Node:
    depth: int = 0
    terminal: bool = False
    children: dict[int, _Node] = field(default_factory=dict)

    def insert(self, seq: Sequence[int]) -> None:
        node = self
        for tok in seq:
            node = node.children.setdefault(tok, _Node(depth=node.depth + 1))
        if seq:
            node.terminal = True


@dataclass(frozen=True)
class TermState:
    """Where a decoded token sequence stands with respect to the terms."""

    node: _Node
    pending: int  # tokens of the term in progress not yet sealed by a complete term


class BoostTrie:
    """Prefix trie over the token sequences of the biasing terms.

    ``sequences`` are matched anywhere (they start with a space-prefixed
    token, i.e. at a word boundary); ``start_sequences`` only as the very first
    decoded tokens (the bare spelling, which Whisper uses at the start of text).
    """

    def __init__(self, sequences: Iterable[Sequence[int]], start_sequences: Iterable[Sequence[int]] = ()):
        self.root = _Node()
        self.start_root = _Node()
        self.n_sequences = 0
        for seq in sequences:
            self.root.insert(list(seq))
            self.start_root.insert(list(seq))
            self.n_sequences += 1
        for seq in start_sequences:
            self.start_root.insert(list(seq))

    @classmethod
    def from_terms(cls, terms: Sequence[str], encode: Callable[[str], list[int]]) -> BoostTrie:
        """Trie for written forms, tokenised with the decoder's own ``encode``."""
        forms = [t.strip() for t in terms if t and t.strip()]
        return cls([encode(" " + f) for f in forms], [encode(f) for f in forms])

    def __bool__(self) -> bool:
        return bool(self.root.children)

    def state(self, decoded: Sequence[int]) -> TermState:
        """Follow ``decoded`` through the trie; leaving a path falls back to the root."""
        node = self.start_root
        pending = 0
        for tok in decoded:
            nxt = node.children.get(tok)
            if nxt is None and node is not self.root:
                nxt = self.root.children.get(tok)
                pending = 0
            if nxt is None:
                node, pending = self.root, 0
                continue
            node = nxt
            pending = 0 if nxt.terminal else pending + 1
        return TermState(node=node, pending=pending)

    def bonus_units(self, decoded: Sequence[int], cancel: bool = False) -> dict[int, float]:
        """Next-token bonus, in units of ``strength``, for every token that starts or continues a term."""
        st = self.state(decoded)
        units: dict[int, float] = {}
        starts = self.start_root if not decoded else self.root
        for tok in starts.children:
            units[tok] = 1.0
        if st.node is not starts:
            extra = float(st.pending) if cancel else 0.0
            for tok in st.node.children:
                units[tok] = 1.0 + extra
        return units


class BoostLogitFilter:
    """openai-whisper ``LogitFilter``: adds ``strength`` x bonus units to the logits in place.

    ``sample_begin`` is the index of the first decoded token in the token
    tensor (after the prompt and start-of-transcript tokens).
    """

    def __init__(self, trie: BoostTrie, strength: float, sample_begin: int, cancel: bool = False):
        self.trie = trie
        self.strength = float(strength)
        self.sample_begin = sample_begin
        self.cancel = cancel

    def apply(self, logits: Any, tokens: Any) -> None:
        if self.strength == 0 or not self.trie:
            return
        for row in range(tokens.shape[0]):
            decoded = tokens[row, self.sample_begin :].tolist()
            for tok, units in self.trie.bonus_units(decoded, self.cancel).items():
                logits[row, tok] += self.strength * units
