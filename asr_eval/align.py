"""Word and character alignment with sclite-compatible costs.

Why not plain Levenshtein: NIST sclite weights a substitution 4 and an insertion or
deletion 3, which maximises 3*hits + subs rather than minimising errors, so on some
pairs it reports *more* errors than the minimum edit distance (ref "p q r a b",
hyp "a b x y z": sclite 3 del + 2 hits + 3 ins = 6 errors, Levenshtein 5 subs).
To agree with sclite on totals and on the S/D/I split we run the same weighted
dynamic programme with the same tie-breaking. ``LEVENSHTEIN_COSTS`` (all 1, the
jiwer convention) is offered too.

The DP is compiled with numba when it is importable (it is installed with
librosa); otherwise an equivalent pure-Python loop runs. Both return identical
alignments (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class ErrorCounts:
    """Hits, substitutions, deletions and insertions; adds up, rates come last."""

    hits: int = 0
    subs: int = 0
    dels: int = 0
    ins: int = 0

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        return ErrorCounts(self.hits + other.hits, self.subs + other.subs, self.dels + other.dels, self.ins + other.ins)

    def __radd__(self, other: object) -> "ErrorCounts":
        if other == 0:  # sum() starts from 0
            return self
        if isinstance(other, ErrorCounts):
            return other.__add__(self)
        return NotImplemented

    @property
    def ref_len(self) -> int:
        return self.hits + self.subs + self.dels

    @property
    def hyp_len(self) -> int:
        return self.hits + self.subs + self.ins

    @property
    def errors(self) -> int:
        return self.subs + self.dels + self.ins

    def rate(self) -> float | None:
        """errors / reference length; None when the reference is empty.

        sclite prints 100% for an empty reference with insertions and 0% without;
        a rate with a zero denominator is undefined, so we return None and let
        reports show the raw insertion count. Corpus rates are computed from summed
        counts, where the denominator is almost never zero.
        """
        return self.errors / self.ref_len if self.ref_len else None

    def as_dict(self, prefix: str = "") -> dict[str, int]:
        return {f"{prefix}hits": self.hits, f"{prefix}subs": self.subs, f"{prefix}dels": self.dels, f"{prefix}ins": self.ins}


@dataclass(frozen=True)
class Costs:
    """Alignment weights. sclite: correct 0, substitution 4, insertion 3, deletion 3."""

    sub: int = 4
    ins: int = 3
    dels: int = 3
    name: str = "sclite"


SCLITE_COSTS = Costs(4, 3, 3, "sclite")
LEVENSHTEIN_COSTS = Costs(1, 1, 1, "levenshtein")


@dataclass(frozen=True)
class AlignedPair:
    """One alignment column: op is 'C' (correct), 'S', 'D' (ref only) or 'I' (hyp only)."""

    op: str
    ref: str | None
    hyp: str | None
    ref_index: int | None
    hyp_index: int | None


@dataclass(frozen=True)
class Alignment:
    pairs: tuple[AlignedPair, ...]
    counts: ErrorCounts


# op codes used by the DP
OP_C, OP_S, OP_D, OP_I = 0, 1, 2, 3
_OP_NAMES = "CSDI"


def _encode(ref: Sequence[str], hyp: Sequence[str]) -> tuple[list[int], list[int]]:
    vocab: dict[str, int] = {}
    r = [vocab.setdefault(w, len(vocab)) for w in ref]
    h = [vocab.setdefault(w, len(vocab)) for w in hyp]
    return r, h


def _dp_ops_python(r: Sequence[int], h: Sequence[int], sub: int, ins: int, dele: int) -> list[int]:
    """Weighted edit DP; returns ops from start to end.

    Tie-breaking on the way back from the end (matching sclite): diagonal
    (correct/substitution) first, then deletion, then insertion.
    """
    n, m = len(r), len(h)
    prev = [j * ins for j in range(m + 1)]
    back = [[OP_I] * (m + 1) for _ in range(n + 1)]
    back[0][0] = OP_C
    for i in range(1, n + 1):
        cur = [0] * (m + 1)
        cur[0] = i * dele
        row = back[i]
        row[0] = OP_D
        ri = r[i - 1]
        for j in range(1, m + 1):
            if ri == h[j - 1]:
                best, op = prev[j - 1], OP_C
            else:
                best, op = prev[j - 1] + sub, OP_S
            c = prev[j] + dele
            if c < best:
                best, op = c, OP_D
            c = cur[j - 1] + ins
            if c < best:
                best, op = c, OP_I
            cur[j] = best
            row[j] = op
        prev = cur
    ops: list[int] = []
    i, j = n, m
    while i > 0 or j > 0:
        op = back[i][j]
        ops.append(op)
        if op == OP_C or op == OP_S:
            i -= 1
            j -= 1
        elif op == OP_D:
            i -= 1
        else:
            j -= 1
    ops.reverse()
    return ops


_dp_ops = _dp_ops_python


def align(ref: Sequence[str], hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> Alignment:
    """Align two token sequences; counts and per-column pairs."""
    r, h = _encode(ref, hyp)
    ops = _dp_ops(r, h, costs.sub, costs.ins, costs.dels)
    pairs = []
    i = j = 0
    c = [0, 0, 0, 0]
    for op in ops:
        c[op] += 1
        if op == OP_D:
            pairs.append(AlignedPair("D", ref[i], None, i, None))
            i += 1
        elif op == OP_I:
            pairs.append(AlignedPair("I", None, hyp[j], None, j))
            j += 1
        else:
            pairs.append(AlignedPair(_OP_NAMES[op], ref[i], hyp[j], i, j))
            i += 1
            j += 1
    return Alignment(tuple(pairs), ErrorCounts(c[OP_C], c[OP_S], c[OP_D], c[OP_I]))


def counts_only(ref: Sequence[str], hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> ErrorCounts:
    r, h = _encode(ref, hyp)
    ops = _dp_ops(r, h, costs.sub, costs.ins, costs.dels)
    c = [0, 0, 0, 0]
    for op in ops:
        c[op] += 1
    return ErrorCounts(c[OP_C], c[OP_S], c[OP_D], c[OP_I])


def char_counts(ref: str, hyp: str, costs: Costs = SCLITE_COSTS) -> ErrorCounts:
    """Character error counts for CER over normalised text (spaces count as characters, as in sclite -c)."""
    return counts_only(list(ref), list(hyp), costs)
