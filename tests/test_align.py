"""Alignment and error counts: hand-computed tables and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr_eval import align as A
from asr_eval.align import LEVENSHTEIN_COSTS, SCLITE_COSTS, ErrorCounts, align, char_counts, counts_only

# (ref, hyp, sclite (H, S, D, I), levenshtein (H, S, D, I)); worked out by hand.
CASES = [
    ("", "", (0, 0, 0, 0), (0, 0, 0, 0)),
    ("a b c", "a b c", (3, 0, 0, 0), (3, 0, 0, 0)),
    ("a b c", "", (0, 0, 3, 0), (0, 0, 3, 0)),
    ("", "x y", (0, 0, 0, 2), (0, 0, 0, 2)),
    ("a b c", "a x c", (2, 1, 0, 0), (2, 1, 0, 0)),
    ("a b c", "a c", (2, 0, 1, 0), (2, 0, 1, 0)),
    ("a c", "a b c", (2, 0, 0, 1), (2, 0, 0, 1)),
    # sub (4) beats del+ins (6): x/y substitutes, no hit is lost
    ("a x", "a y", (1, 1, 0, 0), (1, 1, 0, 0)),
    # sclite prefers D+C+I (cost 6) to S+S (cost 8); Levenshtein ties 2 = 2 and takes the diagonal
    ("a b", "b c", (1, 0, 1, 1), (0, 2, 0, 0)),
    # sclite reports MORE errors than the edit distance: 3 del + 2 hits + 3 ins (cost 18)
    # beats 5 substitutions (cost 20); Levenshtein: 5 subs (5 errors) beats 6.
    ("p q r a b", "a b x y z", (2, 0, 3, 3), (0, 5, 0, 0)),
    ("the cat sat", "the cat sat on the mat", (3, 0, 0, 3), (3, 0, 0, 3)),
]


@pytest.mark.parametrize("ref,hyp,sclite,lev", CASES)
def test_hand_computed_counts(ref, hyp, sclite, lev):
    assert align(ref.split(), hyp.split()).counts == ErrorCounts(*sclite)
    assert align(ref.split(), hyp.split(), LEVENSHTEIN_COSTS).counts == ErrorCounts(*lev)
    assert counts_only(ref.split(), hyp.split()) == ErrorCounts(*sclite)


def test_pairs_describe_the_alignment():
    a = align("p q r a b".split(), "a b x y z".split())
    assert a.ops == "DDDCCIII"
    assert [(p.op, p.ref, p.hyp) for p in a.pairs] == [
        ("D", "p", None), ("D", "q", None), ("D", "r", None),
        ("C", "a", "a"), ("C", "b", "b"),
        ("I", None, "x"), ("I", None, "y"), ("I", None, "z"),
    ]
    assert [p.ref_index for p in a.pairs] == [0, 1, 2, 3, 4, None, None, None]
    assert [p.hyp_index for p in a.pairs] == [None, None, None, 0, 1, 2, 3, 4]


def test_char_counts_count_spaces():
    # "ab cd" -> "ab ce": one substituted character out of five (space included)
    assert char_counts("ab cd", "ab ce") == ErrorCounts(4, 1, 0, 0)
    assert char_counts("", "ab") == ErrorCounts(0, 0, 0, 2)
    assert char_counts("café", "cafe").subs == 1


def test_error_counts_arithmetic_and_rates():
    a, b = ErrorCounts(3, 1, 1, 0), ErrorCounts(2, 0, 0, 2)
    assert a + b == ErrorCounts(5, 1, 1, 2)
    assert sum([a, b]) == a + b
    assert (a + b).ref_len == 7 and (a + b).hyp_len == 8 and (a + b).errors == 4
    assert (a + b).rate() == pytest.approx(4 / 7)
    assert ErrorCounts(0, 0, 0, 3).rate() is None  # empty reference: undefined, not 100 %
    assert ErrorCounts().rate() is None


words = st.lists(st.sampled_from(["a", "b", "c", "d", "don't", "x-ray", "café"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(words)
def test_identity_has_no_errors(x):
    c = align(x, x).counts
    assert c == ErrorCounts(len(x), 0, 0, 0)


@settings(max_examples=300, deadline=None)
@given(words, words)
def test_counts_are_consistent_with_lengths(r, h):
    for costs in (SCLITE_COSTS, LEVENSHTEIN_COSTS):
        a = align(r, h, costs)
        assert a.counts.ref_len == len(r) and a.counts.hyp_len == len(h)
        assert [p.ref for p in a.pairs if p.ref is not None] == r
        assert [p.hyp for p in a.pairs if p.hyp is not None] == h
        assert all((p.op == "C") == (p.ref == p.hyp) for p in a.pairs)


@settings(max_examples=300, deadline=None)
@given(words, words)
def test_compiled_and_python_dp_agree(r, h):
    enc = A._encode(r, h)
    for c in (SCLITE_COSTS, LEVENSHTEIN_COSTS):
        assert A._dp_ops(*enc, c.sub, c.ins, c.dels) == A._dp_ops_python(*enc, c.sub, c.ins, c.dels)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)), max_size=12),
       st.randoms(use_true_random=False))
def test_counts_add_in_any_grouping(rows, rnd):
    counts = [ErrorCounts(*r) for r in rows]
    total = sum(counts, ErrorCounts())
    shuffled = counts[:]
    rnd.shuffle(shuffled)
    cut = rnd.randint(0, len(shuffled))
    assert sum(shuffled[:cut], ErrorCounts()) + sum(shuffled[cut:], ErrorCounts()) == total
    halves = [sum(counts[i : i + 2], ErrorCounts()) for i in range(0, len(counts), 2)]
    assert sum(halves, ErrorCounts()) == total


@settings(max_examples=200, deadline=None)
@given(words, words)
def test_levenshtein_costs_minimise_errors(r, h):
    """Unit costs give the edit distance; sclite costs never give fewer errors."""
    import rapidfuzz.distance.Levenshtein as L

    lev = align(r, h, LEVENSHTEIN_COSTS).counts
    assert lev.errors == L.distance(r, h)
    assert align(r, h).counts.errors >= lev.errors


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(words, words), max_size=30))
def test_batch_alignment_equals_one_by_one(pairs):
    assert A.ops_many(pairs) == [align(r, h).ops for r, h in pairs]
    assert A.align_many(pairs) == [align(r, h) for r, h in pairs]
    texts = [(" ".join(r), " ".join(h)) for r, h in pairs]
    assert A.char_counts_many(texts) == [char_counts(r, h) for r, h in texts]
    for c in (SCLITE_COSTS, LEVENSHTEIN_COSTS):
        assert A._python_batch(*_flat(pairs), c.sub, c.ins, c.dels) == A.ops_many(pairs, c)


def _flat(pairs):
    vocab: dict[str, int] = {}
    r_all, h_all, r_off, h_off = [], [], [0], [0]
    for r, h in pairs:
        r_all += [vocab.setdefault(w, len(vocab)) for w in r]
        h_all += [vocab.setdefault(w, len(vocab)) for w in h]
        r_off.append(len(r_all))
        h_off.append(len(h_all))
    return r_all, r_off, h_all, h_off
