"""Word-to-segment assignment by midpoint, sclite's rule for scoring a ctm against an stm."""

from __future__ import annotations

import random

import pytest

from asr_eval.wordtimes import Segment, TimedWord, assign_words


def W(text, s, e):
    return TimedWord(text, s, e)


def test_midpoint_decides_and_boundaries_are_half_open():
    segs = [Segment("a", 0.0, 1.0), Segment("b", 1.0, 2.0)]
    words = [W("x", 0.2, 0.5), W("straddles", 0.8, 1.4), W("edge", 0.9, 1.1), W("y", 1.5, 1.9)]
    got = assign_words(words, segs)
    # 'straddles' mid 1.1 -> b; 'edge' mid exactly 1.0 -> b (a segment is [start, end))
    assert got.words == {"a": ("x",), "b": ("straddles", "edge", "y")} and got.outside == ()


def test_gap_words_go_to_the_next_segment_and_trailing_ones_to_the_last():
    segs = [Segment("a", 0.0, 1.0), Segment("b", 2.0, 3.0)]
    words = [W("gap", 1.2, 1.6), W("in", 2.1, 2.5), W("late", 4.0, 4.2), W("early", -0.0, 0.0)]
    got = assign_words(words, segs)
    assert got.words == {"a": ("early",), "b": ("gap", "in", "late")}
    assert [(o.word.text, o.charged_to) for o in got.outside] == [("gap", "b"), ("late", "b")]


def test_words_before_the_first_segment_go_to_it():
    got = assign_words([W("lead", 0.0, 0.4)], [Segment("a", 1.0, 2.0)])
    assert got.words == {"a": ("lead",)} and got.outside[0].charged_to == "a"


def test_overlapping_segments_the_one_ending_first_takes_the_word():
    segs = [Segment("long", 0.0, 5.0), Segment("short", 1.0, 2.0)]
    got = assign_words([W("w", 1.2, 1.6), W("v", 3.0, 3.2)], segs)
    assert got.words == {"long": ("v",), "short": ("w",)}


def test_open_ended_segments_and_time_order():
    segs = [Segment("head", None, 1.0), Segment("tail", 1.0, None)]
    got = assign_words([W("z", 9.0, 9.5), W("a", 0.1, 0.2), W("m", 1.1, 1.2)], segs)
    assert got.words == {"head": ("a",), "tail": ("m", "z")} and not got.outside


def test_no_segments_is_a_programming_error():
    with pytest.raises(ValueError):
        assign_words([W("a", 0, 1)], [])


def test_matches_a_direct_reading_of_the_rule_on_random_inputs():
    """Every word lands in exactly one segment: the earliest-ending one ending after its midpoint that starts by it,
    else the earliest-ending one ending after it, else the last to end."""
    rng = random.Random(7)
    for _ in range(300):
        segs, t = [], 0.0
        for i in range(rng.randint(1, 6)):
            t += rng.uniform(0, 2)
            length = rng.uniform(0.1, 3)
            segs.append(Segment(f"s{i}", round(t, 2), round(t + length, 2)))
            t += length * rng.choice([0.5, 1.0, 1.2])  # some overlap, some gaps
        words = []
        for j in range(rng.randint(0, 12)):
            s = round(rng.uniform(0, t + 2), 2)
            words.append(W(f"w{j}", s, round(s + rng.uniform(0, 0.6), 2)))
        got = assign_words(words, segs)
        order = sorted(segs, key=lambda s: (s.end, s.start))
        expect: dict[str, list[str]] = {s.id: [] for s in segs}
        for w in sorted(words, key=lambda w: (w.start, w.end)):
            m = w.mid
            after = [s for s in order if s.end > m]
            holder = next((s for s in after if s.start <= m), None)
            expect[(holder or (after[0] if after else order[-1])).id].append(w.text)
        assert got.words == {k: tuple(v) for k, v in expect.items()}
        assert sum(len(v) for v in got.words.values()) == len(words)
