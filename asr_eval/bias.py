"""Build biasing conditions and fit their term lists into the engine's token budget.

Whisper gives the previous-text prompt at most ``n_text_ctx // 2 - 1`` = 223
tokens and faster-whisper cuts ``hotwords`` at the same length *silently*, in
the middle of a term. asr-eval never lets the engine cut: it decides which
whole terms fit, in a documented order, and records what was dropped so every
report can say which terms were really in force.

Ordering policy (deterministic): higher ``priority`` first, then the order the
terms appear in their files; a combined condition alternates dictionary and
directory terms (so a long dictionary cannot crowd every name out of the
budget). Terms are added first-fit: a term that does not fit is dropped and
shorter terms after it may still fit.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .types import BiasPlan, Condition, Term, Vocabulary

PROMPT_SEPARATOR = ", "
BIASED_METHODS = ("prompt", "hotwords")  # methods whose terms go through the token budget


def ordered_terms(terms: Sequence[Term]) -> list[Term]:
    """Terms in budget order: priority desc, then original order (stable sort)."""
    return sorted(terms, key=lambda t: -t.priority)


def interleave(a: Sequence[Term], b: Sequence[Term]) -> tuple[Term, ...]:
    """a0, b0, a1, b1, ... then the rest of the longer list."""
    out: list[Term] = []
    for i in range(max(len(a), len(b))):
        out.extend(x[i] for x in (a, b) if i < len(x))
    return tuple(out)


def bias_text(terms: Sequence[Term]) -> str:
    """The literal string handed to the engine: display forms joined by commas."""
    return PROMPT_SEPARATOR.join(t.display for t in terms)


def fit_terms(
    terms: Sequence[Term], count_tokens: Callable[[str], int], budget: int
) -> tuple[list[Term], list[Term], int]:
    """First-fit whole terms into ``budget`` tokens; returns (kept, dropped, tokens)."""
    kept: list[Term] = []
    dropped: list[Term] = []
    used = 0
    for term in ordered_terms(terms):
        trial = bias_text([*kept, term])
        n = count_tokens(trial)
        if n <= budget:
            kept.append(term)
            used = n
        else:
            dropped.append(term)
    return kept, dropped, used


def plan_for(condition: Condition, count_tokens: Callable[[str], int], budget: int) -> BiasPlan:
    """The exact text and term lists a condition hands to the decoder."""
    if condition.method == "none" or not condition.terms:
        return BiasPlan(condition=condition.name, method="none" if not condition.terms else condition.method,
                        text=None, budget=budget, strength=condition.strength)
    kept, dropped, used = fit_terms(condition.terms, count_tokens, budget)
    return BiasPlan(
        condition=condition.name,
        method=condition.method,
        text=bias_text(kept) if kept else None,
        terms_in_force=tuple(t.display for t in kept),
        terms_dropped=tuple(t.display for t in dropped),
        tokens=used,
        budget=budget,
        strength=condition.strength,
    )


def build_conditions(
    dictionary: Vocabulary | None,
    directory: Vocabulary | None,
    method: str = "prompt",
    only: Sequence[str] | None = None,
) -> list[Condition]:
    """baseline plus every biased condition the inputs allow, in a fixed order."""
    candidates: list[Condition] = [Condition("baseline", "none")]
    if dictionary is not None:
        candidates.append(Condition("dictionary", method, dictionary.terms))
    if directory is not None:
        candidates.append(Condition("directory", method, directory.terms))
    if dictionary is not None and directory is not None:
        candidates.append(Condition("dictionary+directory", method, interleave(dictionary.terms, directory.terms)))
    if only:
        names = {c.name for c in candidates}
        unknown = [n for n in only if n not in names]
        if unknown:
            from .types import AsrEvalError

            raise AsrEvalError(
                f"unknown or unavailable condition(s) {', '.join(unknown)}; available: {', '.join(c.name for c in candidates)}"
            )
        candidates = [c for c in candidates if c.name in only]
    return candidates


def make_plans(conditions: Sequence[Condition], backend: Any) -> dict[str, BiasPlan]:
    """Fit each condition's terms into the backend's budget, with its own tokenizer."""
    return {c.name: plan_for(c, backend.count_tokens, backend.prompt_budget(c.method)) for c in conditions}
