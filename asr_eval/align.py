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
alignments (tests check this). The compiled kernels are cached under the user
cache (``<cache_root>/numba``), never inside the installed package.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
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


# The compiled DP. The kernels are module-level functions that ``_build_numba``
# compiles on first use (so importing this module stays cheap), not closures
# made inside it: numba hashes a closure's cells into its cache key, and a
# compiled kernel held in a cell hashes differently in every process, so the
# cache never hit and every command added a ~60 KB entry next to the code.
# Their globals ``np`` and ``_nb_kernel`` are bound by ``_build_numba``.
np = None
_nb_kernel = None


def _kernel_src(r, h, sub, ins, dele, out, end):  # pragma: no cover - compiled
    """Align r and h; write the ops right-aligned ending at out[end]; return their start."""
    n = r.shape[0]
    m = h.shape[0]
    w = m + 1
    back = np.empty((n + 1) * w, np.uint8)
    prev = np.empty(w, np.int64)
    cur = np.empty(w, np.int64)
    for j in range(w):
        prev[j] = j * ins
        back[j] = 73
    for i in range(1, n + 1):
        cur[0] = i * dele
        row = i * w
        back[row] = 68
        ri = r[i - 1]
        left = cur[0]
        for j in range(1, w):
            # branch-free form of: diagonal if no worse than both others, else
            # deletion if strictly cheaper than insertion, else insertion
            ne = ri != h[j - 1]
            diag = prev[j - 1] + sub * ne
            cd = prev[j] + dele
            ci = left + ins
            dl = cd < ci
            keep = diag <= cd and diag <= ci
            best = diag if keep else (cd if dl else ci)
            cur[j] = best
            left = best
            back[row + j] = (67 + 16 * ne) if keep else (68 if dl else 73)
        prev, cur = cur, prev
    k = end
    i = n
    j = m
    while i > 0 or j > 0:
        op = back[i * w + j]
        k -= 1
        out[k] = op
        if op == 67 or op == 83:
            i -= 1
            j -= 1
        elif op == 68:
            i -= 1
        else:
            j -= 1
    return k


def _single_src(r, h, sub, ins, dele):  # pragma: no cover - compiled
    out = np.empty(r.shape[0] + h.shape[0], np.uint8)
    k = _nb_kernel(r, h, sub, ins, dele, out, out.shape[0])
    return out[k:]


def _batch_src(r_all, r_off, h_all, h_off, sub, ins, dele, out, starts, counts):  # pragma: no cover - compiled
    for u in range(r_off.shape[0] - 1):
        end = r_off[u + 1] + h_off[u + 1]
        k = _nb_kernel(r_all[r_off[u]:r_off[u + 1]], h_all[h_off[u]:h_off[u + 1]], sub, ins, dele, out, end)
        starts[u] = k
        for p in range(k, end):
            op = out[p]
            if op == 67:
                counts[u, 0] += 1
            elif op == 83:
                counts[u, 1] += 1
            elif op == 68:
                counts[u, 2] += 1
            else:
                counts[u, 3] += 1


@contextmanager
def _jit_cache(numba):
    """Point numba's cache at ``<cache_root>/numba`` while the kernels are decorated; yields ``cache=``.

    numba fixes a function's cache folder when it is decorated, so the
    setting is restored at once and other numba users in the process are not
    moved. A user's own ``NUMBA_CACHE_DIR`` wins. Where the folder cannot be
    made, the kernels compile uncached: numba's fallback would be to write
    next to the installed package.
    """
    config = numba.config
    previous = config.CACHE_DIR
    if previous:
        yield True
        return
    from . import cache_root

    folder = cache_root() / "numba"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        usable = os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        usable = False
    if not usable:
        yield False
        return
    config.CACHE_DIR = str(folder)
    try:
        yield True
    finally:
        config.CACHE_DIR = previous


def _build_numba():
    """The same DP compiled with numba; None when numba is unavailable."""
    global np, _nb_kernel
    try:
        import numba
        import numpy
    except Exception:  # numba is optional: librosa brings it, the pure loop is the fallback
        return None

    np = numpy
    with _jit_cache(numba) as cache:
        jit = numba.njit(cache=cache, nogil=True)
        _nb_kernel = jit(_kernel_src)
        single = jit(_single_src)
        batch = jit(_batch_src)

    def run(r: Sequence[int], h: Sequence[int], sub: int, ins: int, dele: int) -> str:
        if not r or not h:  # trivial: no numpy round trip
            return "D" * len(r) + "I" * len(h)
        return single(np.array(r, np.int64), np.array(h, np.int64), sub, ins, dele).tobytes().decode("ascii")

    def run_text(a: str, b: str, sub: int, ins: int, dele: int) -> str:
        if not a or not b:
            return "D" * len(a) + "I" * len(b)
        ra = np.frombuffer(a.encode("utf-32-le"), np.uint32).astype(np.int64)
        rb = np.frombuffer(b.encode("utf-32-le"), np.uint32).astype(np.int64)
        return single(ra, rb, sub, ins, dele).tobytes().decode("ascii")

    def run_batch(r_all, r_off, h_all, h_off, sub: int, ins: int, dele: int, want_ops: bool = True):
        """Op strings (or, with ``want_ops=False``, (C, S, D, I) count rows) for every pair."""
        r_all = np.asarray(r_all, np.int64)
        h_all = np.asarray(h_all, np.int64)
        r_off = np.asarray(r_off, np.int64)
        h_off = np.asarray(h_off, np.int64)
        out = np.empty(int(r_off[-1] + h_off[-1]), np.uint8)
        starts = np.empty(r_off.shape[0] - 1, np.int64)
        counts = np.zeros((r_off.shape[0] - 1, 4), np.int64)
        batch(r_all, r_off, h_all, h_off, sub, ins, dele, out, starts, counts)
        if not want_ops:
            return counts.tolist()
        text = out.tobytes().decode("latin-1")  # unwritten bytes may be anything; slices below skip them
        ends = (r_off[1:] + h_off[1:]).tolist()
        return [text[s:e] for s, e in zip(starts.tolist(), ends)]

    return run, run_text, run_batch


def _python_text(a: str, b: str, sub: int, ins: int, dele: int) -> str:
    return _dp_ops_python([ord(c) for c in a], [ord(c) for c in b], sub, ins, dele)


def _python_batch(r_all, r_off, h_all, h_off, sub: int, ins: int, dele: int, want_ops: bool = True):
    r_all, h_all = list(r_all), list(h_all)
    ops = [
        _dp_ops_python(r_all[r_off[u]:r_off[u + 1]], h_all[h_off[u]:h_off[u + 1]], sub, ins, dele)
        for u in range(len(r_off) - 1)
    ]
    return ops if want_ops else [[o.count("C"), o.count("S"), o.count("D"), o.count("I")] for o in ops]


_impl: tuple | None = None


def _backend_impl() -> tuple:
    """Build the kernels on first use, so importing this module stays cheap.

    Set ASR_EVAL_PURE_PYTHON=1 to skip numba (the results are identical, only slower).
    """
    global _impl
    if _impl is None:
        compiled = None if os.environ.get("ASR_EVAL_PURE_PYTHON") else _build_numba()
        _impl = (*compiled, "numba") if compiled else (_dp_ops_python, _python_text, _python_batch, "python")
    return _impl


def backend() -> str:
    """'numba' or 'python': which DP implementation aligns."""
    return _backend_impl()[3]


def _dp_ops(r: Sequence[int], h: Sequence[int], sub: int, ins: int, dele: int) -> str:
    return _backend_impl()[0](r, h, sub, ins, dele)


def _dp_text(a: str, b: str, sub: int, ins: int, dele: int) -> str:
    return _backend_impl()[1](a, b, sub, ins, dele)


def _dp_batch(r_all, r_off, h_all, h_off, sub: int, ins: int, dele: int, want_ops: bool = True):
    return _backend_impl()[2](r_all, r_off, h_all, h_off, sub, ins, dele, want_ops)


def counts_from_ops(ops: str) -> ErrorCounts:
    return ErrorCounts(ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I"))


_counts = counts_from_ops


def align(ref: Sequence[str], hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> Alignment:
    """Align two token sequences; counts and per-column pairs."""
    r, h = _encode(ref, hyp)
    ops = _dp_ops(r, h, costs.sub, costs.ins, costs.dels)
    return Alignment(ops, tuple(ref), tuple(hyp), _counts(ops))


def counts_only(ref: Sequence[str], hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> ErrorCounts:
    r, h = _encode(ref, hyp)
    return _counts(_dp_ops(r, h, costs.sub, costs.ins, costs.dels))


def align_many(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], costs: Costs = SCLITE_COSTS) -> list[Alignment]:
    """Align many pairs in one compiled call (the per-call overhead dominates short utterances)."""
    return [Alignment(ops, tuple(r), tuple(h), _counts(ops)) for ops, (r, h) in zip(ops_many(pairs, costs), pairs)]


def ops_many(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], costs: Costs = SCLITE_COSTS) -> list[str]:
    vocab: dict[str, int] = {}
    get = vocab.setdefault
    r_all: list[int] = []
    h_all: list[int] = []
    r_off = [0]
    h_off = [0]
    for r, h in pairs:
        r_all.extend([get(w, len(vocab)) for w in r])
        h_all.extend([get(w, len(vocab)) for w in h])
        r_off.append(len(r_all))
        h_off.append(len(h_all))
    return _dp_batch(r_all, r_off, h_all, h_off, costs.sub, costs.ins, costs.dels)


def counts_many(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], costs: Costs = SCLITE_COSTS) -> list[ErrorCounts]:
    """Word error counts of many pairs in one compiled call, without op strings."""
    vocab: dict[str, int] = {}
    get = vocab.setdefault
    r_all: list[int] = []
    h_all: list[int] = []
    r_off = [0]
    h_off = [0]
    for r, h in pairs:
        r_all.extend([get(w, len(vocab)) for w in r])
        h_all.extend([get(w, len(vocab)) for w in h])
        r_off.append(len(r_all))
        h_off.append(len(h_all))
    return [ErrorCounts(*row) for row in _dp_batch(r_all, r_off, h_all, h_off, costs.sub, costs.ins, costs.dels, False)]


def char_counts_many(pairs: Sequence[tuple[str, str]], costs: Costs = SCLITE_COSTS) -> list[ErrorCounts]:
    """``char_counts`` for many pairs in one compiled call."""
    refs = [r for r, _ in pairs]
    hyps = [h for _, h in pairs]
    r_off = [0, *accumulate(map(len, refs))]
    h_off = [0, *accumulate(map(len, hyps))]
    if backend() == "numba":
        import numpy as np

        r_all = np.frombuffer("".join(refs).encode("utf-32-le"), np.uint32)
        h_all = np.frombuffer("".join(hyps).encode("utf-32-le"), np.uint32)
    else:
        r_all, h_all = [ord(c) for c in "".join(refs)], [ord(c) for c in "".join(hyps)]
    rows = _dp_batch(r_all, r_off, h_all, h_off, costs.sub, costs.ins, costs.dels, False)
    return [ErrorCounts(*row) for row in rows]


def char_counts(ref: str, hyp: str, costs: Costs = SCLITE_COSTS) -> ErrorCounts:
    """Character error counts over normalised text; spaces between words count as characters."""
    return _counts(_dp_text(ref, hyp, costs.sub, costs.ins, costs.dels))


# --------------------------------------------------------------------------- alternations

# sclite's word costs are C floats: leaving out an "@" arc costs 0.001
# (``wwd_WORD``), so totals are float32 sums and ties fall where float32
# rounding puts them. The network DP runs in float32 to choose as sclite does.
NULL_DEL = 0.001


def _lattice_src(words, pred_ptr, pred_idx, ends, h, sub, ins, dele, null_del, ops, arcs):  # pragma: no cover - compiled
    """Align hypothesis codes ``h`` to a reference network; returns the number of columns written.

    sclite's ``net_dp.c`` recurrence over (reference arc, hypothesis word):
    a cell is reached by substitution from any predecessor arc one hypothesis
    word back, by deletion from any predecessor arc, or by insertion from the
    same arc; the predecessor with the least cost wins, the first listed on a
    tie; then substitution if no worse than both others, deletion if strictly
    cheaper than insertion, else insertion. ``words[a]`` is -1 for an ``@`` arc,
    whose deletion costs ``null_del`` and leaves no column. The columns are
    written backwards from index 0: ``ops[k]`` (ASCII C/S/D/I) and, for C/S/D,
    ``arcs[k]`` the reference arc. Costs are float32, as sclite's.
    """
    n_arcs = words.shape[0]
    m = h.shape[0]
    w = m + 1
    cost = np.zeros(n_arcs * w, np.float32)
    back_a = np.empty(n_arcs * w, np.int64)
    back_b = np.empty(n_arcs * w, np.int64)
    back_a[0] = -1
    back_b[0] = -1
    for b in range(1, w):
        cost[b] = cost[b - 1] + ins
        back_a[b] = 0
        back_b[b] = b - 1
    for a in range(1, n_arcs):
        wa = words[a]
        da = null_del if wa < 0 else dele
        p0 = pred_ptr[a]
        p1 = pred_ptr[a + 1]
        row = a * w
        arg = pred_idx[p0]
        best = cost[arg * w]
        for q in range(p0 + 1, p1):
            p = pred_idx[q]
            if cost[p * w] < best:
                best = cost[p * w]
                arg = p
        cost[row] = best + da
        back_a[row] = arg
        back_b[row] = 0
        for b in range(1, w):
            darg = pred_idx[p0]
            sarg = darg
            dmin = cost[darg * w + b]
            smin = cost[darg * w + b - 1]
            for q in range(p0 + 1, p1):
                p = pred_idx[q]
                c = cost[p * w + b]
                if c < dmin:
                    dmin = c
                    darg = p
                c = cost[p * w + b - 1]
                if c < smin:
                    smin = c
                    sarg = p
            sd = smin if wa == h[b - 1] else smin + sub
            dd = dmin + da
            idd = cost[row + b - 1] + ins
            k = row + b
            if sd <= dd and sd <= idd:
                cost[k] = sd
                back_a[k] = sarg
                back_b[k] = b - 1
            elif dd < idd:
                cost[k] = dd
                back_a[k] = darg
                back_b[k] = b
            else:
                cost[k] = idd
                back_a[k] = a
                back_b[k] = b - 1
    a = ends[0]
    for e in ends[1:]:
        if cost[e * w + m] < cost[a * w + m]:
            a = e
    b = m
    n = 0
    while a > 0 or b > 0:
        k = a * w + b
        pa = back_a[k]
        pb = back_b[k]
        if pa == a:
            ops[n] = 73
            arcs[n] = -1
            n += 1
        elif pb == b:
            if words[a] >= 0:
                ops[n] = 68
                arcs[n] = a
                n += 1
        else:
            ops[n] = 67 if words[a] == h[b - 1] else 83
            arcs[n] = a
            n += 1
        a = pa
        b = pb
    return n


_lattice_kernel = None


def _lattice_impl():
    """The network DP, compiled with numba when the word kernels are (else the same code, uncompiled)."""
    global _lattice_kernel, np
    if _lattice_kernel is None:
        import numpy

        if np is None:
            np = numpy
        kernel = _lattice_src
        if backend() == "numba":
            import numba

            with _jit_cache(numba) as cache:
                kernel = numba.njit(cache=cache, nogil=True)(_lattice_src)
        _lattice_kernel = kernel
    return _lattice_kernel


def align_lattice(net, hyp: Sequence[str], costs: Costs = SCLITE_COSTS) -> Alignment:
    """Align a hypothesis to a reference with alternations (an ``asr_eval.alternatives.Lattice``).

    The alignment's ``ref`` is the path the alignment chose: the words of the
    chosen alternatives, none for an ``@`` taken, so counts and columns read as
    for a plain reference.
    """
    kernel = _lattice_impl()
    vocab: dict[str, int] = {}
    codes = np.array([-1 if wd is None else vocab.setdefault(wd, len(vocab)) for wd in net.words], np.int64)
    h = np.array([vocab.setdefault(wd, len(vocab)) for wd in hyp], np.int64)
    ptr = np.zeros(len(net.preds) + 1, np.int64)
    ptr[1:] = np.cumsum([len(p) for p in net.preds])
    idx = np.array([p for ps in net.preds for p in ps] or [0], np.int64)
    ends = np.array(net.ends, np.int64)
    size = len(codes) + len(h)
    ops = np.empty(size, np.uint8)
    arcs = np.empty(size, np.int64)
    f = np.float32
    n = kernel(codes, ptr, idx, ends, h, f(costs.sub), f(costs.ins), f(costs.dels), f(NULL_DEL), ops, arcs)
    op_str = ops[:n][::-1].tobytes().decode("ascii")
    ref = tuple(net.words[a] for a in arcs[:n][::-1].tolist() if a >= 0)
    return Alignment(op_str, ref, tuple(hyp), _counts(op_str))
