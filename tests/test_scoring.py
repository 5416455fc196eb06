"""Per-utterance scores: term outcomes, B-WER/U-WER, display-form accuracy, tallies. Hand-computed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr_eval.align import ErrorCounts
from asr_eval.normalize import make_normalizer
from asr_eval.counts import COUNT_COLUMNS, Counts
from asr_eval.scoring import TermTally, build_term_index, score_utterance, term_columns, term_tally
from asr_eval.types import EntitySpan, Term

TERMS = (
    Term("PostgreSQL", "tool", "dictionary", aliases=("Postgres",), sounds_like=("post gres q l",)),
    Term("Siobhan Nguyen", "person", "directory", aliases=("Shivaun Nguyen",)),
    Term("Zentrix Cloud", "product", "dictionary"),
    Term("St. Clair", "place", "dictionary"),
    Term("Klarvo", "product", "dictionary"),
)
NORM = make_normalizer(TERMS)


def score(ref, hyp, entities=()):
    return score_utterance(ref, hyp, TERMS, NORM, entities)


def outcomes(s):
    return [(e.term, e.outcome, e.ref_text, e.hyp_text) for e in s.terms]


# ref, hyp, [(term, outcome, ref_text, hyp_text)], words (H,S,D,I), biased (H,S,D,I)
CASES = [
    ("We use PostgreSQL daily", "we use PostgreSQL daily",
     [("PostgreSQL", "hit", "postgresql", "postgresql")], (4, 0, 0, 0), (1, 0, 0, 0)),
    # an alias is a correct written form: a hit for the term, still a word substitution
    ("We use PostgreSQL daily", "we use Postgres daily",
     [("PostgreSQL", "hit", "postgresql", "postgres")], (3, 1, 0, 0), (0, 1, 0, 0)),
    # sounds-like is a hint, not a correct form; the inserted pieces next to the
    # substituted term word are term errors (B-WER), "daily" is not
    ("We use PostgreSQL daily", "we use post gres q l daily",
     [("PostgreSQL", "miss", "postgresql", "post gres q l")], (3, 1, 0, 3), (0, 1, 0, 3)),
    ("Ask Siobhan Nguyen now", "ask Shivan Nguyen now",
     [("Siobhan Nguyen", "partial", "siobhan nguyen", "shivan nguyen")], (3, 1, 0, 0), (1, 1, 0, 0)),
    ("Ask Siobhan Nguyen now", "ask now",
     [("Siobhan Nguyen", "miss", "siobhan nguyen", "")], (2, 0, 2, 0), (0, 0, 2, 0)),
    ("Ask Siobhan Nguyen now", "ask Shivaun Nguyen now",
     [("Siobhan Nguyen", "hit", "siobhan nguyen", "shivaun nguyen")], (3, 1, 0, 0), (1, 1, 0, 0)),
    # the protected "St." is not expanded on either side
    ("Meet at St. Clair", "meet at St Clair", [("St. Clair", "hit", "st clair", "st clair")], (4, 0, 0, 0), (2, 0, 0, 0)),
    ("Meet at St. Clair", "meet at Saint Clair", [("St. Clair", "partial", "st clair", "saint clair")], (3, 1, 0, 0), (1, 1, 0, 0)),
    # false insertion: a term the speaker never said (over-biasing); its word is a biased insertion
    ("please call me", "please call Klarvo me",
     [("Klarvo", "false_insertion", "", "klarvo")], (3, 0, 0, 1), (0, 0, 0, 1)),
    # a substitution by a term: false insertion; the reference word is not a term word
    ("the clear view", "the Klarvo view", [("Klarvo", "false_insertion", "clear", "klarvo")], (2, 1, 0, 0), (0, 0, 0, 0)),
    # said once, written twice: one hit and one false insertion
    ("Klarvo works", "Klarvo Klarvo works",
     [("Klarvo", "hit", "klarvo", "klarvo"), ("Klarvo", "false_insertion", "", "klarvo")], (2, 0, 0, 1), (1, 0, 0, 1)),
    ("nothing here", "nothing here", [], (2, 0, 0, 0), (0, 0, 0, 0)),
    ("", "Zentrix Cloud", [("Zentrix Cloud", "false_insertion", "", "zentrix cloud")], (0, 0, 0, 2), (0, 0, 0, 2)),
    ("Zentrix Cloud", "", [("Zentrix Cloud", "miss", "zentrix cloud", "")], (0, 0, 2, 0), (0, 0, 2, 0)),
]


@pytest.mark.parametrize("ref,hyp,events,words,biased", CASES)
def test_hand_computed(ref, hyp, events, words, biased):
    s = score(ref, hyp)
    assert outcomes(s) == events
    assert s.words == ErrorCounts(*words)
    assert s.biased == ErrorCounts(*biased)
    assert s.biased + s.unbiased == s.words


@pytest.mark.parametrize("hyp,exact", [
    ("Call Siobhan Nguyen", True),
    ("call siobhan nguyen", False),  # right words, wrong case
    ("Call Shivaun Nguyen", True),  # an alias, written exactly
    ("Call Siobhán Nguyen", False),  # diacritic the display form lacks
])
def test_display_form_exactness(hyp, exact):
    (ev,) = score("Call Siobhan Nguyen", hyp).terms
    assert ev.outcome == "hit" and ev.display_exact is exact


def test_positions_point_into_normalised_text():
    s = score("So, ask Siobhan Nguyen about PostgreSQL.", "so ask about postgres please")
    miss, hit = s.terms
    assert (miss.outcome, miss.ref_start, miss.hyp_start, miss.display_exact) == ("miss", 2, None, None)
    assert (hit.outcome, hit.ref_start, hit.hyp_start) == ("hit", 5, 3)
    assert s.ref_norm.split()[hit.ref_start] == "postgresql" and s.hyp_norm.split()[hit.hyp_start] == "postgres"


def test_entities_are_scored_as_terms():
    s = score("Ask Aroha Te Whata", "ask Aroha Te Whata", entities=(EntitySpan("Aroha Te Whata", "person"),))
    (ev,) = s.terms
    assert (ev.term, ev.category, ev.source, ev.outcome, ev.display_exact) == ("Aroha Te Whata", "person", "annotation", "hit", True)
    assert s.biased == ErrorCounts(3, 0, 0, 0)


def test_counts_row_is_flat_and_consistent():
    s = score("Ask Siobhan Nguyen about PostgreSQL", "ask Shivan Nguyen about Postgres Klarvo")
    row = s.counts_row()
    assert all(isinstance(v, int) for v in row.values())
    assert row["ref_words"] == row["hits"] + row["subs"] + row["dels"] == 5
    assert row["b_ref"] + row["u_ref"] == row["ref_words"]
    assert row["b_ins"] + row["u_ins"] == row["ins"] == 1
    assert (row["term_refs"], row["term_hits"], row["term_partial"], row["term_misses"], row["term_false_ins"]) == (2, 1, 1, 0, 1)
    assert row["term_display_exact"] == 1
    assert row["ref_chars"] == len(s.ref_norm)


def test_tally_rates():
    t = TermTally(refs=10, hits=6, partial=1, misses=3, false_ins=2, display_exact=4)
    assert t.recall() == pytest.approx(0.6)
    assert t.precision() == pytest.approx(6 / 8)
    assert t.f1() == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert t.display_accuracy() == pytest.approx(0.4)
    assert t.false_ins_per_100(50) == pytest.approx(4.0)
    assert TermTally().recall() is None and TermTally().precision() is None and TermTally().f1() is None
    assert sum([t, t]) == TermTally(20, 12, 2, 6, 4, 8)


def test_prebuilt_index_gives_the_same_result():
    index = build_term_index(TERMS, make_normalizer())
    a = score_utterance("Meet Siobhan Nguyen at St. Clair", "meet siobhan nguyen at st clair", index, NORM)
    b = score("Meet Siobhan Nguyen at St. Clair", "meet siobhan nguyen at st clair")
    assert a.terms == b.terms and a.words == b.words


phrases = st.lists(st.sampled_from(["we", "use", "PostgreSQL", "Postgres", "Siobhan Nguyen", "St. Clair",
                                    "Klarvo,", "twenty", "five", "don't", "Dr.", "um", "Zentrix Cloud", "café"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(phrases)
def test_scoring_a_text_against_itself_has_no_errors(words):
    text = " ".join(words)
    s = score(text, text)
    assert s.words.errors == 0 and s.chars.errors == 0 and s.biased.errors == 0
    assert all(e.outcome == "hit" and e.display_exact for e in s.terms)
    assert term_tally(s.terms).false_ins == 0


@settings(max_examples=200, deadline=None)
@given(phrases, phrases)
def test_split_and_tallies_add_up(r, h):
    s = score(" ".join(r), " ".join(h))
    assert s.biased + s.unbiased == s.words
    t = term_tally(s.terms)
    assert t.refs == t.hits + t.partial + t.misses
    assert s.biased.ref_len == sum(len(e.ref_text.split()) for e in s.terms if e.outcome != "false_insertion")


def test_batch_scoring_equals_one_by_one():
    from asr_eval.scoring import score_many

    pairs = [(ref, hyp) for ref, hyp, *_ in CASES] + [("Ask Aroha Te Whata", "ask Aroha Te Whata")]
    entities = [()] * len(CASES) + [(EntitySpan("Aroha Te Whata", "person"),)]
    batch = score_many(pairs, TERMS, NORM, entities)
    assert batch == [score(r, h, e) for (r, h), e in zip(pairs, entities)]
    with pytest.raises(ValueError, match="entities has 1 entries for 2 pairs"):
        score_many(pairs[:2], TERMS, NORM, [()])


def test_every_demo_term_is_recognised_when_said_and_only_by_its_written_forms():
    from pathlib import Path

    from asr_eval.vocab import load_dictionary, load_directory

    root = Path(__file__).resolve().parent.parent / "dictionaries"
    paths = [root / "demo-company.csv", root / "demo-directory.csv"]
    if not all(p.exists() for p in paths):
        pytest.skip("demo dictionaries not present")
    terms = load_dictionary(paths[0]).terms + load_directory(paths[1]).terms
    norm = make_normalizer(terms)
    for term in terms:
        for form in term.written_forms:
            ref = f"Yesterday {term.display} was mentioned."
            s = score_utterance(ref, f"yesterday {form} was mentioned", terms, norm)
            mine = [e for e in s.terms if e.term == term.display]
            assert mine and mine[0].outcome == "hit" and mine[0].display_exact, (term.display, form, s.terms)
        written = {tuple(norm.words(f)) for f in term.written_forms}
        for hint in term.sounds_like:
            toks = tuple(norm.words(hint))
            if any(toks[i : i + len(w)] == w for w in written for i in range(len(toks))):
                continue  # the hint contains a spelling the author also accepts ("postgres sequel"): correct
            s = score_utterance(f"Yesterday {term.display} was mentioned.", f"yesterday {hint} was mentioned", terms, norm)
            assert [e.outcome for e in s.terms if e.term == term.display and e.outcome != "false_insertion"] != ["hit"], (term.display, hint)


@settings(max_examples=300, deadline=None)
@given(phrases, phrases)
def test_events_point_at_the_words_they_quote(r, h):
    s = score(" ".join(r), " ".join(h))
    ref, hyp = s.ref_norm.split(), s.hyp_norm.split()
    for e in s.terms:
        if e.ref_start is not None:
            assert ref[e.ref_start : e.ref_start + len(e.ref_text.split())] == e.ref_text.split()
        if e.hyp_start is not None:
            assert hyp[e.hyp_start : e.hyp_start + len(e.hyp_text.split())] == e.hyp_text.split()
        else:
            assert e.hyp_text == ""
        assert (e.display_exact is None) == (e.outcome != "hit")


@pytest.mark.parametrize("ops,start,length,side,cols", [
    ("CCC", 1, 2, "ref", [1, 2]),
    ("CICSD", 0, 2, "ref", [0, 2]),  # an insertion inside the term is not one of its words
    ("CICSD", 0, 2, "hyp", [0, 1]),
    ("CDC", 1, 2, "hyp", [2]),  # past the end of the hypothesis
    ("IIC", 0, 1, "ref", [2]),
    ("CC", None, 1, "ref", []),
    ("", 0, 1, "ref", []),
])
def test_term_columns(ops, start, length, side, cols):
    assert term_columns(ops, start, length, side) == cols


@settings(max_examples=200, deadline=None)
@given(phrases, phrases)
def test_term_columns_hold_exactly_the_words_an_event_quotes(r, h):
    s = score(" ".join(r), " ".join(h))
    pairs = s.alignment.pairs
    for e in s.terms:
        if e.ref_start is not None:
            cols = term_columns(s.ops, e.ref_start, len(e.ref_text.split()), "ref")
            assert [pairs[c].ref for c in cols] == e.ref_text.split()
            assert [pairs[c].ref_index for c in cols] == list(range(e.ref_start, e.ref_start + len(cols)))
        if e.hyp_start is not None:
            cols = term_columns(s.ops, e.hyp_start, len(e.hyp_text.split()), "hyp")
            assert [pairs[c].hyp for c in cols] == e.hyp_text.split()


def test_utterance_counts_are_one_clip_and_match_the_error_counts():
    s = score("Ask Siobhan Nguyen about PostgreSQL", "ask Shivan Nguyen about Postgres Klarvo")
    c = s.counts
    assert isinstance(c, Counts) and c.clips == 1
    assert list(s.counts_row()) == list(COUNT_COLUMNS) and s.counts_row() == c.csv_row()
    assert (c.hits, c.subs, c.dels, c.ins) == (s.words.hits, s.words.subs, s.words.dels, s.words.ins)
    assert c.ref_chars == s.chars.ref_len and c.b_ref == s.biased.ref_len and c.u_ref == s.unbiased.ref_len
    t = term_tally(s.terms)
    assert (c.term_refs, c.term_hits, c.term_false_ins) == (t.refs, t.hits, t.false_ins)
    assert s.alignment.counts == s.words and s.alignment.ops == s.ops


def test_scoring_keeps_no_state_between_calls():
    import gc

    from asr_eval import scoring
    from asr_eval.scoring import score_many

    # No module-level container that could remember anything (the term index used to be cached by id()).
    assert [k for k, v in vars(scoring).items() if isinstance(v, (dict, list, set)) and not k.startswith("__")] == []
    gc.disable()
    try:
        score_many([("Klarvo works", "Klarvo works")], TERMS, NORM)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    score_many([("Klarvo works", "Klarvo works")], TERMS, NORM)
    assert gc.isenabled()
