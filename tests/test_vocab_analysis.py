"""vocab budget, coverage, confusable and history on hand-made inputs."""

from __future__ import annotations

import pytest

from asr_eval.bias import build_conditions, plan_for
from asr_eval.types import ModelError, Term, Vocabulary
from asr_eval.vocab.budget import budget_report
from asr_eval.vocab.confusable import confusable
from asr_eval.vocab.coverage import capitalised_runs, coverage
from asr_eval.vocab.history import ALL, history
from asr_eval.vocab.sources import (
    common_words,
    espeak_available,
    espeak_phonemes,
    make_words,
    metaphone_encoder,
    word_frequency,
)
from asr_eval.vocab.text import words as simple_words


def t(display: str, source: str = "dictionary", **kw) -> Term:
    return Term(display, kw.pop("category", "product"), source, **kw)


@pytest.fixture(scope="module")
def counter():
    from asr_eval.vocab.sources import token_counter

    try:
        return token_counter("tiny.en")
    except ModelError as exc:
        pytest.skip(str(exc))


# --------------------------------------------------------------------------- budget


def test_budget_matches_the_runs_plans(counter):
    d = Vocabulary("d", "d.csv", "dictionary", tuple(t(f"Zorbulax{i} Quintessimo", priority=i % 4) for i in range(40)) + (t("knowledge base"),))
    p = Vocabulary("p", "p.csv", "directory", tuple(t(f"Oluwaseun Adebayo{i}", "directory", category="person") for i in range(10)))
    report = budget_report([d, p], counter, 223, word_frequency, "tiny.en")
    for method in ("prompt", "hotwords"):
        for cond in build_conditions(d, p, method=method)[1:]:
            expected = plan_for(cond, counter, 223)
            got = next(x for x in report.plans if x.condition == f"{cond.name}/{method}")
            assert (got.terms_in_force, got.terms_dropped, got.tokens) == (expected.terms_in_force, expected.terms_dropped, expected.tokens)
    combined = next(x for x in report.plans if x.condition == "dictionary+directory/prompt")
    assert {r.display for r in report.terms if not r.kept} == set(combined.terms_dropped) != set()
    assert sum(r.marginal for r in report.terms) == report.total_tokens
    assert all(r.tokens == counter(r.display) for r in report.terms)
    kb = next(r for r in report.terms if r.display == "knowledge base")
    assert "common English words" in kb.suggestion
    assert [r.rank for r in report.terms] == list(range(1, len(report.terms) + 1))


# --------------------------------------------------------------------------- coverage


REFS = [
    ("u1", "Please call Siobhan Nguyen about PayNimbus Wallet.", "s1", "uk"),
    ("u2", "PayNimbus is down. Ask Bob Marley.", "s2", "us"),
    ("u3", "Bob Marley called, PayNimbus again.", "s3", "us"),
]
TERMS = [
    t("PayNimbus"),
    t("PayNimbus Wallet"),
    t("Siobhán Nguyen", "directory", category="person", aliases=("Siobhan Nguyen",)),
    t("Klarvo"),
]


@pytest.mark.parametrize("use_scorer_normaliser", [True, False])
def test_coverage_counts_longest_match_per_accent(use_scorer_normaliser):
    words, version = make_words(TERMS) if use_scorer_normaliser else (simple_words, "simple")
    report = coverage(TERMS, REFS, words, word_frequency, version)
    by = {r.display: r for r in report.terms}
    assert by["PayNimbus"].occurrences == 2 and dict(by["PayNimbus"].by_accent) == {"uk": 0, "us": 2}
    assert by["PayNimbus Wallet"].occurrences == 1  # not also counted as PayNimbus
    assert by["Siobhán Nguyen"].occurrences == 1  # matched through its alias
    assert [u.display for u in report.untested] == ["Klarvo"]
    assert [c.text for c in report.missing] == ["Bob Marley"]
    assert report.missing[0].occurrences == 2
    assert report.utterances_by_accent == {"uk": 1, "us": 2}


def test_capitalised_runs_skip_sentence_starts():
    assert capitalised_runs("Please call Stella. Ask her: Six spoons for Bob.", word_frequency) == ["Stella", "Bob"]


# --------------------------------------------------------------------------- confusable


@pytest.mark.parametrize("ipa", [True, False])
def test_confusable_finds_sound_alikes_and_common_words(ipa):
    if ipa and not espeak_available():
        pytest.skip("espeak-ng not installed")
    terms = [t("Klarvo"), t("Clarvo"), t("Nayt"), t("store"), t("Zyxqwv")]
    report = confusable(terms, metaphone_encoder(), common_words(20000), word_frequency, espeak_phonemes if ipa else None)
    kinds = {(p.kind, p.a, p.b) for p in report.pairs}
    assert ("term-term", "Klarvo", "Clarvo") in kinds
    assert any(k == "term-word" and a == "Nayt" for k, a, _ in kinds)  # sounds like 'night' / 'neat'
    assert ("is-word", "store", "store") in kinds
    assert not any("Zyxqwv" in (a, b) for _, a, b in kinds)
    risks = [p.risk for p in report.pairs]
    assert risks == sorted(risks, reverse=True)


def test_acronyms_compared_by_letter_names():
    if not espeak_available():
        pytest.skip("espeak-ng not installed")
    report = confusable([t("KYC")], metaphone_encoder(), ["kick"], word_frequency, espeak_phonemes)
    assert report.pairs == ()  # 'kay why see' is not 'kick'


# --------------------------------------------------------------------------- history


def events():
    rows = []

    def add(term, cond, accent, outcome, n, in_force="True"):
        rows.extend({"term": term, "condition": cond, "accent_group": accent, "outcome": outcome, "in_force": in_force, "category": "product", "source": "dictionary"} for _ in range(n))

    add("Klarvo", "baseline", "us", "miss", 3, "False")
    add("Klarvo", "baseline", "us", "hit", 1, "False")
    add("Klarvo", "dictionary", "us", "hit", 4)
    add("Klarvo", "baseline", "uk", "miss", 2, "False")
    add("Klarvo", "dictionary", "uk", "hit", 1)
    add("Klarvo", "dictionary", "uk", "partial", 1)
    add("Tallyra", "baseline", "us", "hit", 2, "False")
    add("Tallyra", "dictionary", "us", "hit", 2)
    add("Tallyra", "dictionary", "us", "false_insertion", 3)
    rows.append({"term": "Tallyra", "condition": "dictionary", "accent_group": "us", "outcome": "weird"})
    return rows


def test_history_recall_deltas_and_verdicts():
    report = history(events())
    rows = {(r.term, r.condition, r.accent_group): r for r in report.rows}
    k_all = rows[("Klarvo", "dictionary", ALL)]
    assert k_all.tally.hits == 5 and k_all.tally.occurrences == 6
    assert k_all.recall_delta == pytest.approx(5 / 6 - 1 / 6)  # pooled counts, not a mean of group rates
    assert k_all.verdict == "helps"
    assert rows[("Klarvo", "dictionary", "uk")].tally.partial == 1
    ty = rows[("Tallyra", "dictionary", ALL)]
    assert ty.fi_delta == 3 and ty.recall_delta == 0 and ty.verdict == "hurts"
    assert rows[("Tallyra", "dictionary", ALL)].tally.in_force == 5
    assert report.skipped == 1 and report.baseline == "baseline"
    assert report.accent_groups == ("uk", "us")


# --------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st

event = st.fixed_dictionaries({
    "term": st.sampled_from(["Klarvo", "Tallyra"]),
    "condition": st.sampled_from(["baseline", "dictionary"]),
    "accent_group": st.sampled_from(["us", "uk", "in"]),
    "outcome": st.sampled_from(["hit", "partial", "miss", "false_insertion"]),
    "in_force": st.sampled_from(["True", "False"]),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(event, max_size=40))
def test_history_group_tallies_add_up_to_all(evts):
    report = history(evts)
    totals, parts = {}, {}
    for r in report.rows:
        key = (r.term, r.condition)
        if r.accent_group == ALL:
            totals[key] = r.tally
        else:
            parts[key] = parts[key] + r.tally if key in parts else r.tally
    assert totals.keys() == parts.keys()
    assert all(totals[k].astuple() == parts[k].astuple() for k in totals)
    assert sum(t.occurrences + t.false_insertions for t in totals.values()) == len(evts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["PayNimbus", "PayNimbus Wallet", "Klarvo", "the", "wallet", "pay", "nimbus"]), max_size=20), st.sampled_from(["us", "uk"]))
def test_coverage_per_accent_sums_to_total(tokens, accent):
    text = " ".join(tokens)
    low = text.lower()  # matching ignores case: 'PayNimbus wallet' is the Wallet term
    report = coverage(TERMS, [("u", text, "s", accent)], simple_words, word_frequency)
    for r in report.terms:
        assert sum(r.by_accent.values()) == r.occurrences
    by = {r.display: r.occurrences for r in report.terms}
    assert by["PayNimbus Wallet"] == low.count("paynimbus wallet")
    assert by["PayNimbus"] == low.count("paynimbus") - by["PayNimbus Wallet"]
