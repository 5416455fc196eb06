"""Prompt / hotwords token budget per term (pure).

Uses the run's own policy (:func:`asr_eval.bias.build_conditions` and
:func:`asr_eval.bias.plan_for`) so the kept / dropped lists are exactly those
a run with the same vocabularies and model would record in its BiasPlans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..bias import BIASED_METHODS, bias_text, build_conditions, ordered_terms, plan_for
from ..types import BiasPlan, Vocabulary
from .text import words as folded_words

COMMON_ZIPF = 4.0  # wordfreq Zipf >= 4: at least once per 10,000 words of English
EXPENSIVE_TOKENS_PER_WORD = 3.0  # BPE pieces per word above this: a spelling the model rarely sees


@dataclass(frozen=True)
class TermCost:
    display: str
    source: str
    priority: int
    rank: int  # position in budget order, from 1
    tokens: int  # tokens of the term alone, as the prompt encodes it
    marginal: int  # tokens it adds to the combined prompt (includes the ", " separator)
    words: int
    min_zipf: float  # rarest word's wordfreq Zipf frequency
    kept: bool  # kept in the combined (dictionary+directory) condition
    suggestion: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BudgetReport:
    model: str
    budget: int
    plans: tuple[BiasPlan, ...]  # every biased condition, prompt and hotwords
    terms: tuple[TermCost, ...]
    total_tokens: int  # all terms joined, ignoring the budget

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "budget": self.budget,
            "total_tokens": self.total_tokens,
            "plans": [
                {**p.to_dict(), "kept": len(p.terms_in_force), "dropped": len(p.terms_dropped)} for p in self.plans
            ],
            "terms": [t.to_dict() for t in self.terms],
        }


def _suggest(tokens: int, n_words: int, min_zipf: float, kept: bool) -> str:
    notes = []
    if min_zipf >= COMMON_ZIPF:
        notes.append("common English words: the model already writes them, little gain per token")
    elif n_words and tokens / n_words >= EXPENSIVE_TOKENS_PER_WORD:
        notes.append(f"rare spelling, {tokens} tokens: worth it only if misrecognised without it (see vocab history)")
    if not kept:
        notes.append("dropped: raise its priority or trim other terms to keep it")
    return "; ".join(notes)


def budget_report(
    vocabularies: Sequence[Vocabulary],
    count_tokens: Callable[[str], int],
    budget: int,
    word_frequency: Callable[[str], float],
    model: str = "",
) -> BudgetReport:
    dictionary = next((v for v in vocabularies if v.kind == "dictionary"), None)
    directory = next((v for v in vocabularies if v.kind == "directory"), None)
    plans: list[BiasPlan] = []
    for method in BIASED_METHODS:
        for cond in build_conditions(dictionary, directory, method=method):
            if cond.method != "none":
                p = plan_for(cond, count_tokens, budget)
                plans.append(BiasPlan(f"{cond.name}/{method}", p.method, p.text, p.terms_in_force, p.terms_dropped, p.tokens, p.budget))
    all_terms = [t for v in (dictionary, directory) if v is not None for t in v.terms]
    # build_conditions lists the condition holding every term last
    combined = [p for p in plans if p.method == BIASED_METHODS[0]][-1]
    in_force = set(combined.terms_in_force)
    costs: list[TermCost] = []
    prefix: list = []
    prev = 0
    for rank, term in enumerate(ordered_terms(all_terms), start=1):
        prefix.append(term)
        now = count_tokens(bias_text(prefix))
        ws = folded_words(term.display)
        zipf = min((word_frequency(w) for w in ws), default=0.0)
        tokens = count_tokens(term.display)
        kept = term.display in in_force
        costs.append(TermCost(term.display, term.source, term.priority, rank, tokens, now - prev, len(ws), zipf, kept, _suggest(tokens, len(ws), zipf, kept)))
        prev = now
    return BudgetReport(model, budget, tuple(plans), tuple(costs), prev)
