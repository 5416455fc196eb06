import pytest

from asr_eval.bias import bias_text, build_conditions, fit_terms, plan_for
from asr_eval.types import AsrEvalError, Condition, Term, Vocabulary


def T(name, priority=0, source="dictionary"):
    return Term(display=name, category="x", source=source, priority=priority)


def words(text):  # a stand-in tokenizer: one token per character, easy to hand-check
    return len(text)


def test_first_fit_by_priority_then_file_order():
    terms = [T("aaaa"), T("bb", priority=1), T("cccccccc"), T("d")]
    kept, dropped, used = fit_terms(terms, words, budget=10)
    # order: bb (prio 1), aaaa, cccccccc, d  ->  "bb, aaaa" = 8; + cccccccc too long; + d -> "bb, aaaa, d" = 11 > 10
    assert [t.display for t in kept] == ["bb", "aaaa"]
    assert [t.display for t in dropped] == ["cccccccc", "d"]
    assert used == len("bb, aaaa")


def test_plan_records_text_in_force_and_dropped():
    c = Condition("dictionary", "prompt", (T("Klarvo"), T("PayNimbus"), T("Zentrix Cloud")))
    p = plan_for(c, words, budget=len("Klarvo, PayNimbus"))
    assert p.text == "Klarvo, PayNimbus" == bias_text(c.terms[:2])
    assert p.terms_in_force == ("Klarvo", "PayNimbus") and p.terms_dropped == ("Zentrix Cloud",)
    assert p.tokens == len(p.text) and p.budget == len(p.text)


def test_baseline_plan_is_empty():
    p = plan_for(Condition("baseline", "none"), words, 223)
    assert p.text is None and p.method == "none" and p.terms_in_force == ()


def test_real_tokenizer_budget_never_exceeded():
    from asr_eval.backends.models import load_tokenizer, resolve_model

    tok = load_tokenizer(resolve_model("tiny.en"))
    count = lambda s: len(tok.encode(" " + s.strip()))
    terms = [T(f"Termname{i} Xq{i}z") for i in range(200)]
    p = plan_for(Condition("dictionary", "prompt", tuple(terms)), count, 223)
    assert 200 < p.tokens + 20 and p.tokens <= 223
    assert count(p.text) == p.tokens
    assert len(p.terms_in_force) + len(p.terms_dropped) == 200 and p.terms_dropped


def _vocab(kind, names):
    return Vocabulary(kind, f"{kind}.csv", kind, tuple(T(n, source=kind) for n in names))


def test_conditions_follow_inputs():
    d, r = _vocab("dictionary", ["A", "C", "E"]), _vocab("directory", ["B"])
    assert [c.name for c in build_conditions(d, r)] == ["baseline", "dictionary", "directory", "dictionary+directory"]
    assert [c.name for c in build_conditions(d, None)] == ["baseline", "dictionary"]
    assert [c.name for c in build_conditions(None, None)] == ["baseline"]
    both = build_conditions(d, r)[3]
    assert [t.display for t in both.terms] == ["A", "B", "C", "E"]  # alternating, so names are not crowded out
    with pytest.raises(AsrEvalError, match="directory"):
        build_conditions(d, None, only=["directory"])
