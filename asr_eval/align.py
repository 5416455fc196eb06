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
from functools import cached_property
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
    """The alignment of one pair, kept compactly as an op string ("CCSDI...").

    ``pairs`` (one ``AlignedPair`` per column) is built on first access: most
    utterances of a large run are only counted, never inspected.
    """

    ops: str
    ref: tuple[str, ...]
    hyp: tuple[str, ...]
    counts: ErrorCounts

    @cached_property
    def pairs(self) -> tuple[AlignedPair, ...]:
        out = []
        i = j = 0
        ref, hyp = self.ref, self.hyp
        for op in self.ops:
            if op == "D":
                out.append(AlignedPair("D", ref[i], None, i, None))
                i += 1
            elif op == "I":
                out.append(AlignedPair("I", None, hyp[j], None, j))
                j += 1
            else:
                out.append(AlignedPair(op, ref[i], hyp[j], i, j))
                i += 1
                j += 1
        return tuple(out)


# op codes are the ASCII letters, so a numpy op array decodes straight to a string
OP_C, OP_S, OP_D, OP_I = ord("C"), ord("S"), ord("D"), ord("I")


def _encode(ref: Sequence[str], hyp: Sequence[str]) -> tuple[list[int], list[int]]:
    vocab: dict[str, int] = {}
    r = [vocab.setdefault(w, len(vocab)) for w in ref]
    h = [vocab.setdefault(w, len(vocab)) for w in hyp]
    return r, h


def _dp_ops_python(r: Sequence[int], h: Sequence[int], sub: int, ins: int, dele: int) -> str:
    """Weighted edit DP; returns the op string from start to end.

    Tie-breaking as in sclite's ``net_dp.c``: the diagonal (correct or
    substitution) wins when no worse than both others; between deletion and
    insertion, a tie goes to the insertion. The backtrace starts at the end.
    """
    n, m = len(r), len(h)
    prev = [j * ins for j in range(m + 1)]
    back = [[OP_I] * (m + 1) for _ in range(n + 1)]
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
            cd = prev[j] + dele
            ci = cur[j - 1] + ins
            if best > cd or best > ci:
                if cd < ci:
                    best, op = cd, OP_D
                else:
                    best, op = ci, OP_I
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
    return bytes(ops).decode("ascii")


def _build_numba():
    """The same DP compiled with numba (≈100x faster); None when numba is unavailable."""
    try:
        import numba
        import numpy as np
    except Exception:  # numba is optional: librosa brings it, the pure loop is the fallback
        return None

    @numba.njit(cache=True, nogil=True)
    def dp(r, h, sub, ins, dele):  # pragma: no cover - compiled
        n = r.shape[0]
        m = h.shape[0]
        back = np.empty((n + 1, m + 1), np.uint8)
        prev = np.empty(m + 1, np.int64)
        cur = np.empty(m + 1, np.int64)
        for j in range(m + 1):
            prev[j] = j * ins
            back[0, j] = 73
        for i in range(1, n + 1):
            cur[0] = i * dele
            back[i, 0] = 68
            ri = r[i - 1]
            for j in range(1, m + 1):
                if ri == h[j - 1]:
                    best = prev[j - 1]
                    op = 67
                else:
                    best = prev[j - 1] + sub
                    op = 83
                cd = prev[j] + dele
                ci = cur[j - 1] + ins
                if best > cd or best > ci:
                    if cd < ci:
                        best = cd
                        op = 68
                    else:
                        best = ci
                        op = 73
                cur[j] = best
                back[i, j] = op
            for j in range(m + 1):
                prev[j] = cur[j]
        ops = np.empty(n + m, np.uint8)
        k = n + m
        i = n
        j = m
        while i > 0 or j > 0:
            op = back[i, j]
            k -= 1
            ops[k] = op
            if op == 67 or op == 83:
                i -= 1
                j -= 1
            elif op == 68:
                i -= 1
            else:
                j -= 1
        return ops[k:]

    def run(r: Sequence[int], h: Sequence[int], sub: int, ins: int, dele: int) -> str:
        if not r or not h:  # trivial: no numpy round trip
            return "D" * len(r) + "I" * len(h)
        return dp(np.array(r, np.int64), np.array(h, np.int64), sub, ins, dele).tobytes().decode("ascii")

    def run_text(a: str, b: str, sub: int, ins: int, dele: int) -> str:
        if not a or not b:
            return "D" * len(a) + "I" * len(b)
        ra = np.frombuffer(a.encode("utf-32-le"), np.uint32)
        rb = np.frombuffer(b.encode("utf-32-le"), np.uint32)
        return dp(ra, rb, sub, ins, dele).tobytes().decode("ascii")

    return run, run_text


def _python_text(a: str, b: str, sub: int, ins: int, dele: int) -> str:
    return _dp_ops_python([ord(c) for c in a], [ord(c) for c in b], sub, ins, dele)


_compiled = _build_numba()
_dp_ops, _dp_text = _compiled if _compiled else (_dp_ops_python, _python_text)
BACKEND = "numba" if _compiled else "python"


def _counts(ops: str) -> ErrorCounts:
    return ErrorCounts(ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I"))


def align(ref: Sequence[str], hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> Alignment:
    """Align two token sequences; counts and per-column pairs."""
    r, h = _encode(ref, hyp)
    ops = _dp_ops(r, h, costs.sub, costs.ins, costs.dels)
    return Alignment(ops, tuple(ref), tuple(hyp), _counts(ops))


def counts_only(ref: Sequence[str], hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> ErrorCounts:
    r, h = _encode(ref, hyp)
    return _counts(_dp_ops(r, h, costs.sub, costs.ins, costs.dels))


def char_counts(ref: str, hyp: str, costs: Costs = SCLITE_COSTS) -> ErrorCounts:
    """Character error counts over normalised text; spaces between words count as characters."""
    return _counts(_dp_text(ref, hyp, costs.sub, costs.ins, costs.dels))
