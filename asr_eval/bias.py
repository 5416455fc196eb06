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

Per-clip lists (``ClipPlans``): a ``context`` condition offers each clip its
own list (a manifest's ``context_terms``; ``asr_eval.context``), and
``context+dictionary`` that list first, then the dictionary/directory terms,
in the same budget, clip by clip. Within the clip's list the same priority
order applies; the distractor protocol's lists are a seeded shuffle and keep
their order. Each clip's plan says which of its terms were in force and which
the budget dropped (``plans.jsonl`` in the run folder).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from .fold import fold
from .types import BiasPlan, Condition, Term, Utterance, Vocabulary

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
    terms: Sequence[Term], count_tokens: Callable[[str], int], budget: int, *, presorted: bool = False
) -> tuple[list[Term], list[Term], int]:
    """First-fit whole terms into ``budget`` tokens; returns (kept, dropped, tokens).

    ``presorted``: ``terms`` are already in budget order (a per-clip list puts
    the clip's own terms first, or is a seeded shuffle); otherwise they are
    put in ``ordered_terms`` order.

    Each trial is counted without re-tokenizing the whole prompt: Whisper's
    byte-level BPE never merges across the pre-token boundary between the
    separator's comma and the space after it, so the tokens of
    "A, B, C, D" are those of "A, B," plus those of " C, D". The sum is
    checked against one exact count of the final text, and on any mismatch
    (a tokenizer that merges differently) the slow exact fit is used instead,
    so the result is always the exact first-fit. A 1,000-term per-clip list
    then costs 1,000 short encodes, not 1,000 encodes of a 223-token prompt.
    """
    seq = list(terms) if presorted else ordered_terms(terms)
    kept, dropped, used = _fit_incremental(seq, count_tokens, budget)
    if kept and count_tokens(bias_text(kept)) != used:
        kept, dropped, used = _fit_exact(seq, count_tokens, budget)
    return kept, dropped, used


def _fit_exact(seq: Sequence[Term], count_tokens: Callable[[str], int], budget: int) -> tuple[list[Term], list[Term], int]:
    kept: list[Term] = []
    dropped: list[Term] = []
    used = 0
    for term in seq:
        n = count_tokens(bias_text([*kept, term]))
        if n <= budget:
            kept.append(term)
            used = n
        else:
            dropped.append(term)
    return kept, dropped, used


def _fit_incremental(seq: Sequence[Term], count_tokens: Callable[[str], int], budget: int,
                     ) -> tuple[list[Term], list[Term], int]:
    kept: list[Term] = []
    dropped: list[Term] = []
    head = 0     # tokens of the kept text up to and including the comma before its last term
    lead = ""    # what precedes the last kept term after that comma ("" for the first term)
    used = 0
    comma = PROMPT_SEPARATOR.rstrip()
    for term in seq:
        if not kept:
            n = count_tokens(term.display)
        else:
            n = head + count_tokens(lead + kept[-1].display + PROMPT_SEPARATOR + term.display)
        if n <= budget:
            if kept:
                head += count_tokens(lead + kept[-1].display + comma)
                lead = PROMPT_SEPARATOR[len(comma):]
            kept.append(term)
            used = n
        else:
            dropped.append(term)
    return kept, dropped, used


def plan_for(condition: Condition, count_tokens: Callable[[str], int], budget: int) -> BiasPlan:
    """The exact text and term lists a condition hands to the decoder."""
    return plan_terms(condition.name, condition.method, condition.strength, condition.terms, count_tokens, budget)


def plan_terms(name: str, method: str, strength: float | None, terms: Sequence[Term],
               count_tokens: Callable[[str], int], budget: int, *, presorted: bool = False) -> BiasPlan:
    """The plan of ``terms`` offered by ``method`` (a condition's list, or one clip's)."""
    if method == "none" or not terms:
        return BiasPlan(condition=name, method="none" if not terms else method, text=None, budget=budget,
                        strength=strength)
    return plan_of_fit(name, method, strength, fit_terms(terms, count_tokens, budget, presorted=presorted), budget)


def plan_of_fit(name: str, method: str, strength: float | None, fit: tuple[list[Term], list[Term], int],
                budget: int) -> BiasPlan:
    """The plan of terms already fitted (``fit_terms``'s result): one fit may serve several methods."""
    kept, dropped, used = fit
    return BiasPlan(
        condition=name,
        method=method,
        text=bias_text(kept) if kept else None,
        terms_in_force=tuple(t.display for t in kept),
        terms_dropped=tuple(t.display for t in dropped),
        tokens=used,
        budget=budget,
        strength=strength,
    )


def build_conditions(
    dictionary: Vocabulary | None,
    directory: Vocabulary | None,
    method: str = "prompt",
    only: Sequence[str] | None = None,
    context: bool = False,
) -> list[Condition]:
    """baseline plus every biased condition the inputs allow, in a fixed order.

    ``context``: the clips carry their own lists (a manifest's
    ``context_terms``), which adds ``context`` and, with a dictionary or
    directory, ``context+dictionary``; their terms are made per clip
    (``ClipPlans``), ``Condition.terms`` holding only what follows the clip's list.
    """
    candidates: list[Condition] = [Condition("baseline", "none")]
    if dictionary is not None:
        candidates.append(Condition("dictionary", method, dictionary.terms))
    if directory is not None:
        candidates.append(Condition("directory", method, directory.terms))
    if dictionary is not None and directory is not None:
        candidates.append(Condition("dictionary+directory", method, interleave(dictionary.terms, directory.terms)))
    if context:
        candidates.append(Condition(CONTEXT, method, (), kind=CONTEXT_KIND))
        tail = interleave(dictionary.terms if dictionary else (), directory.terms if directory else ())
        if tail:
            candidates.append(Condition(CONTEXT_DICTIONARY, method, tail, kind=CONTEXT_KIND))
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


def make_plans(conditions: Sequence[Condition], backend: Any,
               lists: Mapping[str, "ClipLists"] | None = None) -> Mapping[str, BiasPlan]:
    """Fit each condition's terms into the backend's budget, with its own tokenizer.

    With ``lists`` (condition name -> where its clips' lists come from) the
    result is a ``ClipPlans``: those conditions are fitted clip by clip.
    """
    if lists:
        return ClipPlans(conditions, lists, backend.count_tokens, backend.prompt_budget)
    return {c.name: plan_for(c, backend.count_tokens, backend.prompt_budget(c.method)) for c in conditions}


# --------------------------------------------------------------------------- per-clip lists

CONTEXT, CONTEXT_DICTIONARY = "context", "context+dictionary"
CONTEXT_KIND = "context"  # Condition.kind of a condition whose list is made clip by clip


class ClipLists(Protocol):
    """Where a per-clip condition's own list comes from: a manifest column, or the distractor protocol.

    ``ordered``: the list's own order is its budget order (the protocol's
    seeded shuffle, so a budget keeps a random part of it, as it would of an
    unordered set); otherwise the priority rules of ``ordered_terms`` apply.
    """

    ordered: bool

    def terms_for(self, utt: Utterance) -> tuple[Term, ...]: ...


def _key(t: Term) -> str:
    return _fold_key(t.display)


@lru_cache(maxsize=1 << 16)
def _fold_key(display: str) -> str:
    """Two spellings of one term (case, accents, spacing) are one term: a per-clip list offers it once."""
    return fold(" ".join(display.split()))


def clip_sequence(own: Sequence[Term], tail: Sequence[Term], ordered: bool = False) -> list[Term]:
    """A clip's terms in budget order: its own list first, then ``tail`` (the dictionary), each once.

    The clip's own terms go first whatever their priority: they are the ones
    this call is about (the caller's accounts, the agent's team), and the
    dictionary may fill what budget they leave. A dictionary term the clip
    already lists is not offered twice.
    """
    head: list[Term] = []
    seen: set[str] = set()
    for t in (own if ordered else ordered_terms(own)):
        k = _key(t)
        if k not in seen:
            seen.add(k)
            head.append(t)
    if not tail:
        return head
    return head + [t for t in ordered_terms(tail) if _key(t) not in seen]


class ClipPlans(Mapping[str, BiasPlan]):
    """A run's plans when some conditions make their list per clip.

    As a mapping it gives each condition's run-level plan: the fitted plan of
    a condition with one list, and for a per-clip condition a template (its
    method and budget, no terms). ``for_clip`` gives every condition's plan for
    one clip, fitting the per-clip ones to that clip's list with the same
    budget and ordering rules as any other condition. The plans depend only on
    the clip, so decoding, reading back and merging all recompute the same
    ones; the last few clips' plans are kept, since each stage asks for a clip
    several times in a row.
    """

    def __init__(self, conditions: Sequence[Condition], lists: Mapping[str, ClipLists],
                 count_tokens: Callable[[str], int], budget_of: Callable[[str], int], keep: int = 64):
        unknown = [n for n in lists if n not in {c.name for c in conditions}]
        if unknown:
            raise ValueError(f"per-clip lists for unknown condition(s): {', '.join(unknown)}")
        self.conditions = {c.name: c for c in conditions}
        self.lists = dict(lists)
        self._count = count_tokens
        self._plans: dict[str, BiasPlan] = {}
        for c in conditions:
            budget = budget_of(c.method)
            self._plans[c.name] = (BiasPlan(c.name, c.method, None, budget=budget, strength=c.strength)
                                   if c.name in self.lists else plan_for(c, count_tokens, budget))
        self._memo: "OrderedDict[str, dict[str, BiasPlan]]" = OrderedDict()
        self._keep = keep

    def __getitem__(self, name: str) -> BiasPlan:
        return self._plans[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._plans)

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def per_clip(self) -> tuple[str, ...]:
        return tuple(n for n in self._plans if n in self.lists)

    def offered(self, utt: Utterance, name: str) -> list[Term]:
        """The terms ``name`` offers this clip, in budget order (before the budget)."""
        c = self.conditions[name]
        if name not in self.lists:
            return list(c.terms)
        src = self.lists[name]
        return clip_sequence(src.terms_for(utt), c.terms, ordered=src.ordered)

    def for_clip(self, utt: Utterance) -> dict[str, BiasPlan]:
        """Every condition's plan for this clip (a fresh dict; the plans are shared values)."""
        got = self._memo.get(utt.id)
        if got is not None:
            self._memo.move_to_end(utt.id)
            return dict(got)
        out = dict(self._plans)
        fits: dict[tuple[int, int, int], tuple[list[Term], list[Term], int]] = {}  # prompt and hotwords share a list
        for name in self.per_clip:
            c, tpl = self.conditions[name], self._plans[name]
            seq = self.offered(utt, name)
            if c.method == "none" or not seq:
                out[name] = plan_terms(name, c.method, c.strength, seq, self._count, tpl.budget)
                continue
            key = (id(self.lists[name]), id(c.terms), tpl.budget)
            if key not in fits:
                fits[key] = fit_terms(seq, self._count, tpl.budget, presorted=True)
            out[name] = plan_of_fit(name, c.method, c.strength, fits[key], tpl.budget)
        self._memo[utt.id] = out
        if len(self._memo) > self._keep:
            self._memo.popitem(last=False)
        return dict(out)
