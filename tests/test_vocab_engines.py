"""Engine limits and export formats: each documented limit is enforced on what the engine would receive."""

from __future__ import annotations

import csv
import io
import json

import pytest

from asr_eval.bias import build_conditions, plan_for
from asr_eval.types import ModelError, Term, Vocabulary
from asr_eval.vocab import engines as eng
from asr_eval.vocab.sources import load_limits

LIMITS = load_limits()


def vocab(*terms: Term, kind: str = "dictionary") -> Vocabulary:
    return Vocabulary("v", f"{kind}.csv", kind, tuple(terms))


def term(display: str, line: int = 2, **kw) -> Term:
    return Term(display, kw.pop("category", "product"), "dictionary", line=line, **kw)


def run(engine: str, v: Vocabulary | list[Vocabulary], counter=None, **opts) -> eng.EnginePlan:
    vs = v if isinstance(v, list) else [v]
    return eng.plan(engine, eng.located(vs), LIMITS, counter, **opts)


def codes(plan: eng.EnginePlan) -> set[str]:
    return {f.code for f in plan.findings}


def letters(i: int) -> str:
    """0 -> 'aaaa', 1 -> 'aaab': distinct digit-free suffixes."""
    out = ""
    for _ in range(4):
        i, r = divmod(i, 26)
        out = chr(97 + r) + out
    return out


def many(n: int, prefix: str = "Zorb") -> Vocabulary:
    return vocab(*(term(f"{prefix}{letters(i)}", line=i + 2) for i in range(n)))


@pytest.fixture(scope="module")
def counter():
    from asr_eval.vocab.sources import token_counter

    try:
        return token_counter("tiny.en")
    except ModelError as exc:
        pytest.skip(str(exc))


def test_limits_table_has_every_engine_and_a_source():
    assert set(LIMITS) == set(eng.ENGINES)
    assert all(entry.get("source") for entry in LIMITS.values())


def test_deepgram_term_count_limit():
    limit = LIMITS["deepgram"]["max_terms"]
    assert "too-many" not in codes(run("deepgram", many(limit)))
    plan = run("deepgram", many(limit + 1))
    assert "too-many" in codes(plan) and not plan.ok
    assert json.loads(plan.text)["keyterm"][0] == "Zorbaaaa"


def test_deepgram_token_limit(counter):
    v = vocab(*(term(f"Zorbulax Quintessimo Fravendale {i}", line=i) for i in range(LIMITS["deepgram"]["max_terms"])))
    plan = run("deepgram", v, counter)
    assert "tokens" in codes(plan)


def test_assemblyai_words_per_phrase_and_formatting():
    words = LIMITS["assemblyai"]["max_words_per_term"]
    long_term = " ".join(["alpha"] * (words + 1))
    plan = run("assemblyai", vocab(term(long_term), term("S.L.A.", 3), term("e-signature", 4), term("Niamh O'Sullivan", 5), term("Model 7", 6)))
    bad = [f for f in plan.findings if f.code == "too-many-words"]
    assert [f.line for f in bad] == [2]
    entries = json.loads(plan.text)["word_boost"]
    assert "SLA" in entries and "e signature" in entries and "Niamh O'Sullivan" in entries
    assert [f.line for f in plan.findings if f.code == "digits"] == [6]


def test_assemblyai_limit_counts_words_not_phrases():
    limit = LIMITS["assemblyai"]["max_words"]
    assert run("assemblyai", many(limit)).ok
    assert "too-many" in codes(run("assemblyai", many(limit + 1)))
    # 400 two-word phrases are 800 words: fine; 501 of them are 1,002 words: over, though only 501 entries
    two = lambda n: vocab(*(term(f"Zorb{letters(i)} Quux", line=i + 2) for i in range(n)))
    assert run("assemblyai", two(400)).ok
    plan = run("assemblyai", two(limit // 2 + 1))
    assert "too-many" in codes(plan)
    assert f"{2 * (limit // 2 + 1)} words" in next(f.message for f in plan.findings if f.code == "too-many")


def test_azure_phrase_count():
    limit = LIMITS["azure"]["max_terms"]
    assert run("azure", many(limit)).ok
    plan = run("azure", many(limit + 1))
    assert "too-many" in codes(plan)
    assert plan.text.splitlines()[0] == "Zorbaaaa"


def test_google_boost_range_and_phrase_length():
    hi = LIMITS["google"]["boost_max"]
    v = vocab(term("Klarvo", meta={"boost": str(hi + 5)}), term("Tallyra", 3, meta={"boost": "high"}), term("x" * (LIMITS["google"]["max_chars_per_term"] + 1), 4), term("Quorvi", 5, meta={"boost": str(hi)}))
    plan = run("google", v)
    boost = sorted(f.line for f in plan.findings if f.code == "boost")
    assert boost == [2, 3]
    assert [f.line for f in plan.findings if f.code == "too-long"] == [4]
    body = json.loads(plan.text)
    assert {"value": "Quorvi", "boost": float(hi)} in body["phrases"]
    assert "boost" in codes(run("google", vocab(term("Klarvo")), boost=hi + 1))
    assert run("google", vocab(term("Klarvo")), boost=hi).ok


def test_aws_table_format():
    v = vocab(term("PCI DSS"), term("Zentrix Cloud", 3, aliases=("Zentrix", "Zentrix-cloud")), Term("Siobhán Nguyen", "person", "directory", line=4))
    plan = run("aws", v)
    assert plan.ok
    rows = list(csv.DictReader(io.StringIO(plan.text), delimiter="\t"))
    assert list(rows[0]) == ["Phrase", "SoundsLike", "IPA", "DisplayAs"]
    phrases = {r["Phrase"]: r["DisplayAs"] for r in rows}
    assert phrases["P.C.I.-D.S.S."] == "PCI DSS"
    assert phrases["Zentrix-Cloud"] == "Zentrix Cloud"
    assert phrases["Zentrix"] == "Zentrix"  # an accepted short form is not rewritten into the display form
    assert len([r for r in rows if r["DisplayAs"] == "Zentrix Cloud"]) == 1  # 'Zentrix-cloud' is the same Phrase
    assert phrases["Siobhan-Nguyen"] == "Siobhán Nguyen"
    assert all(" " not in p for p in phrases)


def test_aws_digits_need_a_spelled_alias():
    plan = run("aws", vocab(term("Model 7"), term("Zentrix 360", 3, aliases=("Zentrix three sixty",))))
    assert [f.line for f in plan.findings if f.code == "digits"] == [2]
    assert "Zentrix-three-sixty\t\t\tZentrix 360" in plan.text


def test_aws_entry_and_file_size():
    limit = LIMITS["aws"]["max_chars_per_term"]
    plan = run("aws", vocab(term("a" * (limit + 1))))
    assert "too-long" in codes(plan)
    per_row = len("Zorbfantasticalnameaaaa\t\t\tZorbfantasticalnameaaaa\n")
    n = LIMITS["aws"]["max_file_bytes"] // per_row + 10
    assert "file-size" in codes(run("aws", many(n, "Zorbfantasticalname")))


def test_whisper_keeps_and_drops_exactly_what_a_run_would(counter):
    d = vocab(*(term(f"Zorbulax{i} Quintessimo", line=i + 2, priority=i % 3) for i in range(60)))
    plan = run("whisper", d, counter)
    cond = build_conditions(d, None)[1]
    expected = plan_for(cond, counter, LIMITS["whisper"]["prompt_tokens"])
    assert plan.dropped == expected.terms_dropped and plan.dropped
    assert plan.text == expected.text
    assert "dropped" in codes(plan)


def test_whisper_term_longer_than_budget_is_an_error(counter):
    huge = " ".join(f"Zorbulax{i}" for i in range(120))
    plan = run("whisper", vocab(term(huge), term("Klarvo", 3)), counter)
    assert "term-over-budget" in codes(plan) and not plan.ok
    assert plan.text == "Klarvo"


def test_google_limits_follow_the_documented_phrase_set_figures():
    """Issue 13 §5: one PhraseSet holds at most 1,200 phrases (5,000 is per request); boost must be > 0 and <= 20."""
    assert LIMITS["google"]["max_terms"] == 1200 and LIMITS["google"]["boost_max"] == 20
    assert run("google", many(1200)).ok
    assert "too-many" in codes(run("google", many(1201)))
    assert "boost" in codes(run("google", vocab(term("Klarvo")), boost=0))
    assert "boost" in codes(run("google", vocab(term("Klarvo", meta={"boost": "0"}))))
    assert run("google", vocab(term("Klarvo")), boost=0.5).ok
