"""Counts: one additive value per clip; rates only from summed counts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from asr_eval import stats as st
from asr_eval.counts import COUNT_COLUMNS, DERIVED, FIELDS, RATES, Counts, Ratio, harmonic_f1
from asr_eval.runfolder import UTTERANCE_COLUMNS

counts = hs.builds(Counts, **{f: hs.integers(0, 10_000) for f in FIELDS})
clips = hs.builds(Counts, **{f: hs.integers(1, 1) if f == "clips" else hs.integers(0, 60) for f in FIELDS})


@settings(max_examples=200, deadline=None)
@given(hs.lists(counts, max_size=30), hs.data())
def test_summing_in_any_grouping_gives_the_same_counts(items, data):
    total = sum(items, Counts.zero())
    order = data.draw(hs.permutations(range(len(items))))
    cuts = sorted(data.draw(hs.lists(hs.integers(0, len(items)), max_size=5)))
    shuffled = [items[i] for i in order]
    groups = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)])]
    assert sum((sum(g, Counts.zero()) for g in groups), Counts.zero()) == total
    assert sum(shuffled) == total if items else sum(shuffled) == 0  # sum() from 0 works too
    for f in FIELDS:
        assert getattr(total, f) == sum(getattr(c, f) for c in items)


@given(counts)
def test_zero_is_neutral(c):
    z = Counts.zero()
    assert c + z == c == z + c
    assert sum([c]) == c and 0 + c == c
    assert z == Counts() and all(v == 0 for v in z.values())


def test_adding_anything_else_is_a_type_error():
    with pytest.raises(TypeError):
        Counts() + 1
    with pytest.raises(TypeError):
        1 + Counts()
    with pytest.raises(TypeError):
        Counts() + {"hits": 1}


@settings(max_examples=200, deadline=None)
@given(hs.lists(clips, min_size=1, max_size=30))
def test_rates_are_ratios_of_summed_counts(items):
    total = sum(items)
    expect = {
        "wer": (total.subs + total.dels + total.ins, total.ref_words, 1.0),
        "cer": (total.char_subs + total.char_dels + total.char_ins, total.ref_chars, 1.0),
        "bwer": (total.b_subs + total.b_dels + total.b_ins, total.b_ref, 1.0),
        "uwer": (total.u_subs + total.u_dels + total.u_ins, total.u_ref, 1.0),
        "term_recall": (total.term_hits, total.term_refs, 1.0),
        "term_precision": (total.term_hits, total.term_hits + total.term_false_ins, 1.0),
        "term_f1": (2 * total.term_hits, total.term_hits + total.term_false_ins + total.term_refs, 1.0),
        "false_ins_per_100": (total.term_false_ins, len(items), 100.0),
        "display_accuracy": (total.term_display_exact, total.term_refs, 1.0),
    }
    for name, (num, den, scale) in expect.items():
        assert total.rate(name) == (scale * num / den if den else None), name
    # The statistics use the same definitions: a metric of summed counts is the rate.
    for name, m in st.METRICS.items():
        assert m.value(total) == total.rate(name)


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.tuples(hs.sampled_from("abc"), clips), min_size=1, max_size=25))
def test_summary_point_estimates_equal_the_rates_of_summed_counts(rows):
    records = [{"speaker": s, "utt_id": str(i), **c.csv_row()} for i, (s, c) in enumerate(rows)]
    g = st.summarize(records, n_boot=10)
    total = sum(c for _, c in rows)
    assert g.counts == total and g.clips == len(rows) and g.words == total.ref_words
    for name, e in g.metrics.items():
        r = total.rate(name)
        assert (math.isnan(e.value) if r is None else e.value == r), name


def test_one_list_of_count_columns():
    assert FIELDS[0] == "clips" and COUNT_COLUMNS == FIELDS[1:]
    assert UTTERANCE_COLUMNS[-len(COUNT_COLUMNS):] == COUNT_COLUMNS
    assert st.COUNT_FIELDS == FIELDS
    c = Counts(*range(len(FIELDS)))
    assert list(c.csv_row()) == list(COUNT_COLUMNS) and list(c.as_dict()) == list(FIELDS)
    assert c.values() == tuple(range(len(FIELDS)))


@given(clips)
def test_a_csv_row_reads_back_as_the_same_counts(c):
    row = {k: str(v) for k, v in c.csv_row().items()}  # as csv.DictReader gives it
    assert Counts.from_record(row) == c  # one row is one clip
    assert Counts.from_record({**row, "clips": "3"}).clips == 3
    assert Counts.from_record({}) == Counts(clips=1)


def test_from_record_refuses_fractional_counts():
    with pytest.raises(ValueError, match="subs"):
        Counts.from_record({"subs": 1.5})


def test_derived_counts_are_sums_of_fields():
    c = Counts(subs=2, dels=3, ins=4, char_subs=1, b_ins=5, u_dels=6)
    assert (c.word_errors, c.char_errors, c.b_errors, c.u_errors) == (9, 1, 5, 6)
    assert DERIVED["word_errors"] == ("subs", "dels", "ins")


def test_ratio_names_are_checked_and_zero_denominators_give_none():
    with pytest.raises(ValueError, match="unknown count 'errs'"):
        Ratio({"errs": 1}, {"ref_words": 1})
    assert all(r.of(Counts()) is None for r in RATES.values())


def test_harmonic_f1_agrees_with_the_ratio_of_sums_where_both_are_defined():
    c = Counts(term_refs=10, term_hits=6, term_false_ins=2)
    assert harmonic_f1(c.rate("term_precision"), c.rate("term_recall")) == pytest.approx(c.rate("term_f1"))
    assert harmonic_f1(None, 0.5) is None and harmonic_f1(0.0, 0.0) == 0.0
    # Terms said but none written: precision undefined, so the harmonic form is too; the ratio of sums is 0.
    c = Counts(term_refs=4)
    assert harmonic_f1(c.rate("term_precision"), c.rate("term_recall")) is None and c.rate("term_f1") == 0.0


def test_sweep_rows_use_the_same_rates():
    from asr_eval.sweep import PointInfo, aggregate

    rows = [{"condition": "p", "accent_group": "a", **Counts(ref_words=40, subs=3, dels=1, ins=2, term_refs=5,
                                                                term_hits=3, term_false_ins=1).csv_row()}] * 3
    (row, _) = aggregate([PointInfo("strength", "p", "boost", 1.0, None, 0, 1, 1, 0)], rows, [])
    total = sum(Counts.from_record(r) for r in rows)
    assert row.wer == total.rate("wer") and row.recall == total.rate("term_recall")
    assert row.precision == total.rate("term_precision") and row.false_ins_per_100 == total.rate("false_ins_per_100")

