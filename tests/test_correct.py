"""Post-correction on hand-made cases: names fixed, neighbours and short words left alone."""

from __future__ import annotations

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from asr_eval.correct import Correction, correct_text, letters, similarity
from asr_eval.types import Term
from asr_eval.vocab import load_dictionary, load_directory

SIOBHAN_BARE = Term("Siobhan Nguyen", "person", "directory", sounds_like=("shiv awn win",))


@pytest.fixture(scope="module")
def demo_terms() -> tuple[Term, ...]:
    return (load_directory(ROOT / "dictionaries" / "demo-directory.csv").terms
            + load_dictionary(ROOT / "dictionaries" / "demo-company.csv").terms)


@pytest.mark.parametrize("terms_kind", ["demo", "bare"])
def test_shivaun_becomes_siobhan(demo_terms, terms_kind):
    terms = demo_terms if terms_kind == "demo" else (SIOBHAN_BARE,)
    text, fixes = correct_text("Hi, this is Shivaun Nguyen from support.", terms, 0.8)
    assert text == "Hi, this is Siobhan Nguyen from support."
    assert [(f.original, f.replacement, f.start, f.end) for f in fixes] == [("Shivaun Nguyen", "Siobhan Nguyen", 3, 5)]
    assert isinstance(fixes[0], Correction) and 0.8 <= fixes[0].score <= 1.0


@pytest.mark.parametrize("text", [
    "Siobhan Nguyen has a new ticket.",
    "The new Nguyen account is open.",
    "I have a new idea.",
    "Nguyen said it was new.",
])
def test_new_next_to_nguyen_is_left_alone(demo_terms, text):
    assert correct_text(text, demo_terms, 0.8) == (text, ())


@pytest.mark.parametrize("hyp, expected", [
    ("Is your Clarvo login using Oh Auth?", "Is your Klarvo login using OAuth?"),
    ("the Pay Nimbus refund breached our S L A, so log a charge back.",
     "the PayNimbus refund breached our SLA, so log a chargeback."),
    ("restarted the Postgres Q L pods", "restarted the PostgreSQL pods"),
    ("transfer to Seersha Nee Vraynawn in billing", "transfer to Saoirse Ní Bhraonáin in billing"),
    ("Ask Shivaun Nguyen's team", "Ask Siobhan Nguyen's team"),
])
def test_spoken_forms_are_corrected_keeping_punctuation(demo_terms, hyp, expected):
    text, fixes = correct_text(hyp, demo_terms, 0.8)
    assert text == expected
    assert fixes and all(f.replacement in expected for f in fixes)


@pytest.mark.parametrize("hyp", ["we meet at the station", "so please call", "I am fine"])
def test_short_words_are_not_turned_into_acronyms(demo_terms, hyp):
    # "at" ~ AHT, "so" ~ SSO, "am" ~ ... : short forms must match letter for letter
    assert correct_text(hyp, demo_terms, 0.7) == (hyp, ())


def test_threshold_above_score_changes_nothing():
    _, fixes = correct_text("this is Shivaun Nguyen", (SIOBHAN_BARE,), 0.8)
    assert fixes
    assert correct_text("this is Shivaun Nguyen", (SIOBHAN_BARE,), fixes[0].score + 0.01) == ("this is Shivaun Nguyen", ())


def test_correcting_twice_changes_nothing_more(demo_terms):
    once, _ = correct_text("Hi, this is Shivawn Win from Zen tricks cloud support.", demo_terms, 0.8)
    assert correct_text(once, demo_terms, 0.8) == (once, ())


def test_similarity_orders_plausible_above_implausible():
    assert similarity(["Shivaun", "Nguyen"], "Siobhan Nguyen") > similarity(["new", "Nguyen"], "Siobhan Nguyen")
    assert letters("Ní Bhraonáin") == "nibhraonain"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["Siobhan Nguyen", "Zentrix Cloud", "Klarvo", "the", "ticket", "and", "OAuth"]),
                min_size=1, max_size=8))
def test_display_forms_are_never_rewritten(demo_terms, words):
    text = " ".join(words)
    assert correct_text(text, demo_terms, 0.8) == (text, ())
