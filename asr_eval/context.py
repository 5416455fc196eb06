"""Per-clip biasing lists: a clip's own terms (a manifest column) and the literature's distractor protocol.

Real calls are biased per call: the caller's account names, the agent's
team. A manifest's ``context_terms`` column gives each clip that list
(``ManifestLists``). The contextual-biasing literature measures the same
thing with a fixed recipe (Le et al. 2021, trie-based deep biasing on
LibriSpeech; followed by most later work): each utterance's list is its own
reference terms plus N distractors drawn at random from a large pool of rare
words, with N = 100, 500, 1000, reported as B-WER / U-WER and term recall
against N (``ProtocolLists``). Here the own terms are the vocabulary terms the
reference contains, and the distractors are drawn from the rest of the
vocabulary and the shipped never-spoken pool (``vocab.distractors``).

Everything is seeded by the clip's id, not its position, so a clip's list is
the same in every run, shard and order; the lists for different N are
nested (the first N of one seeded draw), so a larger N only adds terms.

Pure: no I/O. The pool and the vocabulary come in as values.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .counts import Counts
from .fold import fold
from .types import Term, Utterance

COLUMN = "context_terms"
SEPARATOR = "|"
MAX_TERMS = 5000        # terms in one clip's list: a bound on what one manifest row may make us fit and score
MAX_TERM_CHARS = 200    # characters of one term
CONTEXT = "context"     # category and source of a listed term that is in no vocabulary


def parse_context_terms(value: Any) -> tuple[str, ...]:
    """One manifest cell as a list of terms: ``a|b|c``, or a JSON list (JSONL, or a CSV cell starting with ``[``).

    Blank entries are dropped and repeats (same spelling once accents and
    case are folded) kept once, first first. ValueError says what is wrong.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"field {COLUMN!r} starts with '[' but is not a JSON list ({exc.msg})") from None
        else:
            value = text.split(SEPARATOR)
    if not isinstance(value, list):
        raise ValueError(f"field {COLUMN!r} must be a list of strings or a '|'-separated string, "
                         f"got {type(value).__name__}")
    out: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(f"field {COLUMN!r}: item {i + 1} must be a string, got {type(item).__name__}")
        term = " ".join(item.split())
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS:
            raise ValueError(f"field {COLUMN!r}: item {i + 1} is {len(term)} characters long "
                             f"(at most {MAX_TERM_CHARS})")
        key = fold(term)
        if key not in seen:
            seen.add(key)
            out.append(term)
        if len(out) > MAX_TERMS:
            raise ValueError(f"field {COLUMN!r} lists more than {MAX_TERMS} terms")
    return tuple(out)


def _key(display: str) -> str:
    return fold(" ".join(display.split()))


class ManifestLists:
    """Each clip's ``context_terms``, as terms: a listed term the vocabulary holds is that term.

    Taking the vocabulary's entry keeps its aliases (accepted spellings) and
    sounds-like hints, so "Zentrix" listed for a call is scored exactly as the
    dictionary's Zentrix would be.
    """

    ordered = False

    def __init__(self, vocabulary: Sequence[Term] = ()):
        self._vocab: dict[str, Term] = {}
        for t in vocabulary:
            self._vocab.setdefault(_key(t.display), t)
        self._made: dict[str, Term] = {}

    def term(self, display: str) -> Term:
        k = _key(display)
        got = self._vocab.get(k) or self._made.get(k)
        if got is None:
            got = self._made[k] = Term(display=display, category=CONTEXT, source=CONTEXT)
        return got

    def terms_for(self, utt: Utterance) -> tuple[Term, ...]:
        return tuple(self.term(d) for d in utt.meta.get(COLUMN, ()))

    def all_terms(self, utterances: Sequence[Utterance]) -> tuple[Term, ...]:
        """Every term any clip lists, once (the scorer protects them all)."""
        seen: dict[str, Term] = {}
        for u in utterances:
            for t in self.terms_for(u):
                seen.setdefault(_key(t.display), t)
        return tuple(seen.values())


def has_context(utterances: Sequence[Utterance]) -> bool:
    """Does any clip carry a (non-empty) list of its own?"""
    return any(u.meta.get(COLUMN) for u in utterances)


class ProtocolDraw:
    """One seeded draw per clip: its own reference terms and up to ``max_n`` distractors, for every N.

    ``index`` is a ``scoring.TermIndex`` of the vocabulary (built with the
    run's normaliser): the own terms are the vocabulary terms it finds in the
    normalised reference, exactly the occurrences the scorer will count.
    Candidates are the other vocabulary terms, then ``pool``; a clip whose
    candidates are fewer than ``max_n`` is an error (a smaller N, or a larger
    pool, is needed).
    """

    def __init__(self, index: Any, pool: Sequence[Term], max_n: int, seed: int = 0, keep: int = 256):
        self.index = index
        self.vocabulary: tuple[Term, ...] = tuple(index.terms)
        vocab_keys = {_key(t.display) for t in self.vocabulary}
        self.pool = tuple(t for t in pool if _key(t.display) not in vocab_keys)
        self.max_n = max_n
        self.seed = seed
        self._memo: "OrderedDict[str, tuple[tuple[Term, ...], tuple[Term, ...]]]" = OrderedDict()
        self._keep = keep

    def own_terms(self, utt: Utterance) -> tuple[Term, ...]:
        """The vocabulary terms the reference says, each once, in order of first occurrence."""
        words = self.index.normalizer.words(utt.text) if utt.text else []
        seen: dict[int, Term] = {}
        for _, _, k in self.index.find(words):
            seen.setdefault(k, self.index.terms[k])
        return tuple(seen.values())

    def draw(self, utt: Utterance) -> tuple[tuple[Term, ...], tuple[Term, ...]]:
        """(own terms, the ``max_n`` distractors in draw order); the first N of the latter are N's distractors."""
        got = self._memo.get(utt.id)
        if got is not None:
            self._memo.move_to_end(utt.id)
            return got
        own = self.own_terms(utt)
        own_keys = {_key(t.display) for t in own}
        candidates = [t for t in self.vocabulary if _key(t.display) not in own_keys] + list(self.pool)
        if len(candidates) < self.max_n:
            raise ValueError(f"clip {utt.id}: only {len(candidates)} distractor candidates (vocabulary and pool) "
                             f"for N = {self.max_n}")
        rng = random.Random(f"{self.seed}\0{utt.id}")  # str seeds hash with sha512: the same in every process
        got = (own, tuple(rng.sample(candidates, self.max_n)))
        self._memo[utt.id] = got
        if len(self._memo) > self._keep:
            self._memo.popitem(last=False)
        return got


class ProtocolLists:
    """One N of the protocol: each clip's own terms and its first N distractors, in a seeded random order.

    The order matters only when a token budget cannot take the whole list
    (Whisper's 223-token prompt): shuffled, the budget keeps a random part of
    it, as an engine given an unordered list would, so the clip's own terms
    are dropped at the rate a real oversize list would drop them, never
    protected by being listed first.
    """

    ordered = True

    def __init__(self, draw: ProtocolDraw, n: int):
        if n > draw.max_n:
            raise ValueError(f"N = {n} exceeds the draw's {draw.max_n}")
        self.draw = draw
        self.n = n

    def terms_for(self, utt: Utterance) -> tuple[Term, ...]:
        own, distractors = self.draw.draw(utt)
        seq = list(own) + list(distractors[: self.n])
        random.Random(f"{self.draw.seed}\0{utt.id}\0{self.n}").shuffle(seq)
        return tuple(seq)


def term_pool(*groups: Sequence[Term]) -> Mapping[str, Term]:
    """Display -> term over every term a run may offer any clip (first wins), to read plans' display forms back as terms."""
    out: dict[str, Term] = {}
    for group in groups:
        for t in group:
            out.setdefault(t.display, t)
    return out


# --------------------------------------------------------------------------- the protocol's table (pure)

ALL_GROUPS = "ALL"
REFERENCE_OUTCOMES = ("hit", "partial", "miss")


@dataclass(frozen=True)
class ProtocolPoint:
    """One condition of a distractor sweep: the baseline (``method`` 'none', ``n`` None) or a method at N."""

    condition: str
    method: str
    n: int | None


@dataclass(frozen=True)
class ProtocolRow:
    """Summed counts of one protocol point in one accent group; every rate from the sums.

    ``own_*``: reference occurrences of the clip's own terms (every reference
    term occurrence is one: the list holds all of them), split by whether
    the budget kept the term in force or dropped it. ``own_terms`` and
    ``own_terms_dropped`` count distinct (clip, term) pairs: how many of the
    clips' own terms the budget cut, the protocol's finding for prompts.
    """

    condition: str
    method: str
    n: int | None
    group: str
    counts: Counts
    own_in_force_refs: int = 0
    own_in_force_hits: int = 0
    own_dropped_refs: int = 0
    own_dropped_hits: int = 0
    own_terms: int = 0
    own_terms_dropped: int = 0
    plans: int = 0           # clips with a plan (per-clip conditions)
    offered: int = 0         # terms offered, summed over clips
    in_force: int = 0        # terms in force, summed over clips
    tokens: int = 0          # prompt tokens used, summed over clips

    def rate(self, name: str) -> float | None:
        return self.counts.rate(name)

    @staticmethod
    def _ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        r = lambda v: None if v is None else round(v, 6)  # noqa: E731
        return {
            "condition": self.condition, "method": self.method, "distractors": self.n, "group": self.group,
            "clips": c.clips, "ref_words": c.ref_words, "word_errors": c.word_errors, "wer": r(c.rate("wer")),
            "b_ref": c.b_ref, "b_errors": c.b_errors, "bwer": r(c.rate("bwer")),
            "u_ref": c.u_ref, "u_errors": c.u_errors, "uwer": r(c.rate("uwer")),
            "term_refs": c.term_refs, "term_hits": c.term_hits, "recall": r(c.rate("term_recall")),
            "own_in_force_refs": self.own_in_force_refs, "own_in_force_hits": self.own_in_force_hits,
            "recall_in_force": r(self._ratio(self.own_in_force_hits, self.own_in_force_refs)),
            "own_dropped_refs": self.own_dropped_refs, "own_dropped_hits": self.own_dropped_hits,
            "recall_dropped": r(self._ratio(self.own_dropped_hits, self.own_dropped_refs)),
            "own_terms": self.own_terms, "own_terms_dropped": self.own_terms_dropped,
            "own_dropped_share": r(self._ratio(self.own_terms_dropped, self.own_terms)),
            "mean_offered": r(self._ratio(self.offered, self.plans)),
            "mean_in_force": r(self._ratio(self.in_force, self.plans)),
            "mean_tokens": r(self._ratio(self.tokens, self.plans)),
            "term_false_ins": c.term_false_ins, "false_ins_per_100": r(c.rate("false_ins_per_100")),
        }


def protocol_rows(points: Sequence[ProtocolPoint], utterance_rows: Iterable[Mapping[str, Any]],
                  term_rows: Iterable[Mapping[str, Any]],
                  plans: Iterable[tuple[str, Any, int]] = ()) -> list[ProtocolRow]:
    """Per (point, accent group) and over all groups: counts summed, own terms split by the budget.

    ``plans`` are plans.jsonl's (clip id, plan, offered) rows; a plan's group
    is its clip's, taken from ``utterance_rows``.
    """
    names = {p.condition for p in points}
    counts: dict[tuple[str, str], Counts] = {}
    group_of: dict[str, str] = {}
    for r in utterance_rows:
        if r["condition"] not in names:
            continue
        group_of[r["utt_id"]] = r["accent_group"]
        c = Counts.from_record(r)
        for g in (r["accent_group"], ALL_GROUPS):
            counts[(r["condition"], g)] = counts.get((r["condition"], g), Counts.zero()) + c
    own: dict[tuple[str, str], list[int]] = {}       # refs/hits in force, refs/hits dropped
    pairs: dict[tuple[str, str], set[tuple[str, str]]] = {}
    dropped_pairs: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for t in term_rows:
        if t["condition"] not in names or t["outcome"] not in REFERENCE_OUTCOMES:
            continue
        hit = t["outcome"] == "hit"
        for g in (t["accent_group"], ALL_GROUPS):
            key = (t["condition"], g)
            acc = own.setdefault(key, [0, 0, 0, 0])
            pairs.setdefault(key, set()).add((t["utt_id"], t["term"]))
            if _true(t.get("in_force")):
                acc[0] += 1
                acc[1] += hit
            elif _true(t.get("dropped")):
                acc[2] += 1
                acc[3] += hit
                dropped_pairs.setdefault(key, set()).add((t["utt_id"], t["term"]))
    plan_sums: dict[tuple[str, str], list[int]] = {}
    for utt_id, plan, offered in plans:
        if plan.condition not in names or utt_id not in group_of:
            continue
        for g in (group_of[utt_id], ALL_GROUPS):
            acc = plan_sums.setdefault((plan.condition, g), [0, 0, 0, 0])
            acc[0] += 1
            acc[1] += offered
            acc[2] += len(plan.terms_in_force)
            acc[3] += plan.tokens
    groups = sorted({g for _, g in counts} - {ALL_GROUPS}) + [ALL_GROUPS]
    out: list[ProtocolRow] = []
    for p in points:
        for g in groups:
            key = (p.condition, g)
            if key not in counts:
                continue
            o = own.get(key, [0, 0, 0, 0])
            ps = plan_sums.get(key, [0, 0, 0, 0])
            out.append(ProtocolRow(p.condition, p.method, p.n, g, counts[key], o[0], o[1], o[2], o[3],
                                   len(pairs.get(key, ())), len(dropped_pairs.get(key, ())), *ps))
    return out


def _true(v: Any) -> bool:
    return v is True or str(v).strip().lower() in ("true", "1", "yes")
