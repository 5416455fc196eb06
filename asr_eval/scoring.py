"""Per-utterance scoring: word/char errors, B-WER/U-WER, and what happened to every term.

Pure: text in, frozen counts and events out. Counts are stored and summed; rates
are computed only after summing (see ``TermTally`` and ``ErrorCounts.rate``).
Definitions are in docs/scoring.md.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from asr_eval.align import (
    SCLITE_COSTS,
    Alignment,
    Costs,
    ErrorCounts,
    align,
    char_counts,
    char_counts_many,
    counts_from_ops,
    ops_many,
)
from asr_eval.matching import PhraseIndex
from asr_eval.normalize import Normalizer, protected_forms
from asr_eval.types import EntitySpan, Term

HIT, PARTIAL, MISS, FALSE_INSERTION = "hit", "partial", "miss", "false_insertion"


@dataclass(frozen=True)
class TermEvent:
    """One term occurrence in the reference (hit/partial/miss) or an unmatched one in the hypothesis."""

    term: str
    category: str
    source: str
    outcome: str
    ref_text: str | None
    hyp_text: str | None
    display_exact: bool | None
    ref_start: int | None
    hyp_start: int | None


@dataclass(frozen=True)
class UtteranceScore:
    words: ErrorCounts
    chars: ErrorCounts
    biased: ErrorCounts
    unbiased: ErrorCounts
    terms: tuple[TermEvent, ...]
    alignment: Alignment
    ref_norm: str
    hyp_norm: str

    def counts_row(self) -> dict[str, int]:
        """Flat integer counts for CSV; every rate can be rebuilt from sums of these."""
        t = term_tally(self.terms)
        w, c, b, u = self.words, self.chars, self.biased, self.unbiased
        return {
            "ref_words": w.ref_len, "hits": w.hits, "subs": w.subs, "dels": w.dels, "ins": w.ins,
            "ref_chars": c.ref_len, "char_hits": c.hits, "char_subs": c.subs, "char_dels": c.dels, "char_ins": c.ins,
            "b_ref": b.ref_len, "b_hits": b.hits, "b_subs": b.subs, "b_dels": b.dels, "b_ins": b.ins,
            "u_ref": u.ref_len, "u_hits": u.hits, "u_subs": u.subs, "u_dels": u.dels, "u_ins": u.ins,
            "term_refs": t.refs, "term_hits": t.hits, "term_partial": t.partial, "term_misses": t.misses,
            "term_false_ins": t.false_ins, "term_display_exact": t.display_exact,
        }


# --------------------------------------------------------------------------- term tallies


@dataclass(frozen=True)
class TermTally:
    """Additive term counts; recall/precision/F1 are computed from sums, never averaged."""

    refs: int = 0
    hits: int = 0
    partial: int = 0
    misses: int = 0
    false_ins: int = 0
    display_exact: int = 0

    def __add__(self, o: "TermTally") -> "TermTally":
        if not isinstance(o, TermTally):
            return NotImplemented
        return TermTally(self.refs + o.refs, self.hits + o.hits, self.partial + o.partial,
                         self.misses + o.misses, self.false_ins + o.false_ins, self.display_exact + o.display_exact)

    def __radd__(self, o: object) -> "TermTally":
        if o == 0:
            return self
        return NotImplemented if not isinstance(o, TermTally) else o + self

    def recall(self) -> float | None:
        """hits / reference occurrences (partials are not hits)."""
        return self.hits / self.refs if self.refs else None

    def precision(self) -> float | None:
        """hits / (hits + false insertions): of the term occurrences the engine wrote, the share that were right."""
        d = self.hits + self.false_ins
        return self.hits / d if d else None

    def f1(self) -> float | None:
        p, r = self.precision(), self.recall()
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    def display_accuracy(self) -> float | None:
        """Reference occurrences recognised *and* written exactly as the vocabulary displays them."""
        return self.display_exact / self.refs if self.refs else None

    def false_ins_per_100(self, utterances: int) -> float | None:
        return 100.0 * self.false_ins / utterances if utterances else None


def term_tally(events: Iterable[TermEvent]) -> TermTally:
    refs = hits = partial = misses = fi = exact = 0
    for e in events:
        if e.outcome == HIT:
            refs += 1
            hits += 1
            exact += bool(e.display_exact)
        elif e.outcome == PARTIAL:
            refs += 1
            partial += 1
        elif e.outcome == MISS:
            refs += 1
            misses += 1
        else:
            fi += 1
    return TermTally(refs, hits, partial, misses, fi, exact)


# --------------------------------------------------------------------------- term index


@dataclass(frozen=True)
class TermIndex:
    """Normalised token sequences of every written form, found with the normaliser's matcher.

    Build once per (terms, normaliser) with ``build_term_index``; ``score_utterance``
    caches it by identity so the pipeline can simply pass the same tuple each time.
    """

    normalizer: Normalizer
    terms: tuple[Term, ...]
    phrases: PhraseIndex[int]  # written forms' normalised tokens -> term index
    forms_of: tuple[frozenset[tuple[str, ...]], ...]  # per term: its accepted token sequences

    def find(self, words: Sequence[str]) -> list[tuple[int, int, int]]:
        """Non-overlapping occurrences (start, end, term index), leftmost then longest first."""
        return self.phrases.find(words)


def build_term_index(terms: Sequence[Term], normalizer: Normalizer) -> TermIndex:
    """Protect every written form in the normaliser and index the forms' normalised tokens.

    When two terms share a written form, the occurrence is credited to the first.
    """
    terms = tuple(terms)
    norm = normalizer.with_terms(protected_forms(terms))
    forms_of = tuple(frozenset(tuple(norm.words(f)) for f in term.written_forms) - {()} for term in terms)
    # sorted within a term so the index does not depend on set order
    phrases = PhraseIndex.build((toks, k) for k, forms in enumerate(forms_of) for toks in sorted(forms))
    return TermIndex(norm, terms, phrases, forms_of)


_INDEX_CACHE: dict[tuple[int, int], tuple[object, object, TermIndex]] = {}


def _cached_index(terms: Sequence[Term], normalizer: Normalizer) -> TermIndex:
    key = (id(terms), id(normalizer))
    hit = _INDEX_CACHE.get(key)
    if hit is not None and hit[0] is terms and hit[1] is normalizer:
        return hit[2]
    index = build_term_index(terms, normalizer)
    if len(_INDEX_CACHE) > 64:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[key] = (terms, normalizer, index)
    return index


_ENTITY_CACHE: dict[tuple[int, tuple[EntitySpan, ...]], tuple[TermIndex, TermIndex]] = {}


def _with_entities(index: TermIndex, entities: tuple[EntitySpan, ...]) -> TermIndex:
    """Annotated spans are scored like terms; cached because the same manifest row is scored per condition."""
    key = (id(index), entities)
    hit = _ENTITY_CACHE.get(key)
    if hit is not None and hit[0] is index:
        return hit[1]
    extended = build_term_index(index.terms + entity_terms(entities), index.normalizer)
    if len(_ENTITY_CACHE) > 4096:
        _ENTITY_CACHE.clear()
    _ENTITY_CACHE[key] = (index, extended)
    return extended


def entity_terms(entities: Sequence[EntitySpan]) -> tuple[Term, ...]:
    return tuple(Term(display=e.text, category=e.label, source="annotation") for e in entities)


# --------------------------------------------------------------------------- scoring


def score_utterance(
    ref: str,
    hyp: str,
    terms: Sequence[Term] | TermIndex,
    normalizer: Normalizer,
    entities: Sequence[EntitySpan] = (),
    costs: Costs = SCLITE_COSTS,
) -> UtteranceScore:
    """Score one raw reference/hypothesis pair.

    The normaliser used is ``normalizer`` extended to protect every written form
    of ``terms`` and ``entities`` (so a term is never rewritten on either side);
    when ``terms`` is a prebuilt ``TermIndex`` its own normaliser is used. Pass the
    same ``terms`` object on every call: the index is cached by identity.
    """
    index = terms if isinstance(terms, TermIndex) else _cached_index(terms, normalizer)
    if entities:
        index = _with_entities(index, tuple(entities))
    norm = index.normalizer
    ref_norm, _ = norm.normalize_with_sources(ref)
    hyp_norm, hyp_sources = norm.normalize_with_sources(hyp)
    ref_words = ref_norm.split()
    hyp_words = hyp_norm.split()
    alignment = align(ref_words, hyp_words, costs)
    chars = char_counts(ref_norm, hyp_norm, costs)
    events, biased, unbiased = _term_analysis(index, ref_words, hyp_words, alignment, hyp_sources)
    return UtteranceScore(alignment.counts, chars, biased, unbiased, events, alignment, ref_norm, hyp_norm)


def score_many(
    pairs: Sequence[tuple[str, str]],
    terms: Sequence[Term] | TermIndex,
    normalizer: Normalizer,
    entities: Sequence[Sequence[EntitySpan]] | None = None,
    costs: Costs = SCLITE_COSTS,
) -> list[UtteranceScore]:
    """``score_utterance`` for many (ref, hyp) pairs; same results, several times faster.

    Alignments run in one compiled call, and each distinct text is normalised once
    (a reference scored under several conditions is normalised once).
    ``entities``, when given, holds one sequence of spans per pair.
    """
    # The objects built here hold no reference cycles, but there are many of them:
    # the cyclic collector's repeated passes over the growing result cost ~30 %.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _score_many(pairs, terms, normalizer, entities, costs)
    finally:
        if was_enabled:
            gc.enable()


def _score_many(
    pairs: Sequence[tuple[str, str]],
    terms: Sequence[Term] | TermIndex,
    normalizer: Normalizer,
    entities: Sequence[Sequence[EntitySpan]] | None,
    costs: Costs,
) -> list[UtteranceScore]:
    base = terms if isinstance(terms, TermIndex) else _cached_index(terms, normalizer)
    if entities is not None and len(entities) != len(pairs):
        raise ValueError(f"entities has {len(entities)} entries for {len(pairs)} pairs")
    indexes = [base if not e else _with_entities(base, tuple(e)) for e in entities] if entities is not None else [base] * len(pairs)
    memo: dict[tuple[int, str], tuple[str, tuple[tuple[int, int, str], ...]]] = {}

    def norm(index: TermIndex, text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        key = (id(index.normalizer), text)
        got = memo.get(key)
        if got is None:
            got = memo[key] = index.normalizer.normalize_with_sources(text)
        return got

    refs = [norm(ix, r) for ix, (r, _) in zip(indexes, pairs)]
    hyps = [norm(ix, h) for ix, (_, h) in zip(indexes, pairs)]
    words = [(r[0].split(), h[0].split()) for r, h in zip(refs, hyps)]
    all_ops = ops_many(words, costs)
    all_chars = char_counts_many([(r[0], h[0]) for r, h in zip(refs, hyps)], costs)
    out = []
    for ix, (ref_norm, _), (hyp_norm, hyp_sources), (rw, hw), ops, chars in zip(indexes, refs, hyps, words, all_ops, all_chars):
        alignment = Alignment(ops, tuple(rw), tuple(hw), counts_from_ops(ops))
        events, biased, unbiased = _term_analysis(ix, rw, hw, alignment, hyp_sources)
        out.append(UtteranceScore(alignment.counts, chars, biased, unbiased, events, alignment, ref_norm, hyp_norm))
    return out


def _term_analysis(
    index: TermIndex,
    ref_words: list[str],
    hyp_words: list[str],
    alignment: Alignment,
    hyp_sources: tuple[tuple[int, int, str], ...],
) -> tuple[tuple[TermEvent, ...], ErrorCounts, ErrorCounts]:
    """Term events and the B/U split, working on the op string (no per-column objects).

    Hypothesis words in a run of columns [a, b) are contiguous, from
    ``a - (D columns before a)`` on, so windows are slices, not scans.
    """
    ops = alignment.ops
    ref_occ = index.find(ref_words)
    hyp_occ = index.find(hyp_words) if hyp_words else []
    if not ref_occ and not hyp_occ:
        return (), ErrorCounts(), alignment.counts

    ncol = len(ops)
    count = ops.count

    def hpos(p: int) -> int:  # index of the first hypothesis word at or after column p
        return p - count("D", 0, p)

    ref_col = [p for p, op in enumerate(ops) if op != "I"] if ref_occ else []
    occ_of_col: dict[int, int] = {}  # column -> ref occurrence, for ref-side columns of term words
    events: list[TermEvent] = []
    hit_windows: list[tuple[int, int, int]] = []  # (hyp start, hyp end, term) of recognised occurrences
    bc = {"C": 0, "S": 0, "D": 0, "I": 0}
    for o, (s, e, k) in enumerate(ref_occ):
        term = index.terms[k]
        p0, p1 = ref_col[s], ref_col[e - 1] + 1
        for i in range(s, e):
            c = ref_col[i]
            occ_of_col[c] = o
            bc[ops[c]] += 1
        h0, h1 = hpos(p0), hpos(p1)
        forms = index.forms_of[k]
        a, b = p0, p1
        while a > 0 and ops[a - 1] == "I":
            a -= 1
        while b < ncol and ops[b] == "I":
            b += 1
        lo, hi = hpos(a), hpos(b)
        core_hit = tuple(hyp_words[h0:h1]) in forms
        # Insertions beside the occurrence may hold the term too: equal-cost alignments
        # can put "postgres" next to the reference word instead of on it, and a longer
        # written form ("Quorvi Insights" for "Quorvi") spills into inserted words.
        found = _form_within(lo, hi, hyp_words, forms) if (lo, hi) != (h0, h1) else None
        if found is not None and (not core_hit or (found[1] - found[0] > h1 - h0 and found[0] < h1 and h0 < found[1])):
            outcome, (lo, hi) = HIT, found
        elif core_hit:
            outcome, lo, hi = HIT, h0, h1
        elif e - s > 1 and "C" in ops[p0:p1]:
            outcome = PARTIAL
        else:
            outcome = MISS
        hyp_start = lo if hi > lo else None
        exact: bool | None = None
        if outcome == HIT:
            exact = _display_exact(term, hyp_start, hi - lo, hyp_sources)
            if hi > lo:
                hit_windows.append((lo, hi, k))
        events.append(TermEvent(term.display, term.category, term.source, outcome,
                                " ".join(ref_words[s:e]), " ".join(hyp_words[lo:hi]), exact, s, hyp_start))

    hyp_term_words: set[int] = set()
    if hyp_occ:
        hyp_col = [p for p, op in enumerate(ops) if op != "D"]
        for a, b, k in hyp_occ:
            hyp_term_words.update(range(a, b))
            if any(k == hk and a < he and hs < b for hs, he, hk in hit_windows):
                continue
            term = index.terms[k]
            said = [ref_words[hyp_col[j] - count("I", 0, hyp_col[j])] for j in range(a, b) if ops[hyp_col[j]] != "I"]
            events.append(TermEvent(term.display, term.category, term.source, FALSE_INSERTION,
                                    " ".join(said), " ".join(hyp_words[a:b]), None, None, a))

    # B-WER / U-WER: one decision per alignment column; biased columns are counted
    # above (reference side) and here (insertions); the rest is unbiased.
    p = ops.find("I")
    while p >= 0:
        if hpos(p) in hyp_term_words or _insertion_touches_term(p, ops, occ_of_col):
            bc["I"] += 1
        p = ops.find("I", p + 1)
    biased = ErrorCounts(bc["C"], bc["S"], bc["D"], bc["I"])
    t = alignment.counts
    unbiased = ErrorCounts(t.hits - biased.hits, t.subs - biased.subs, t.dels - biased.dels, t.ins - biased.ins)
    return tuple(events), biased, unbiased


def _form_within(lo: int, hi: int, hyp_words: list[str], forms: frozenset[tuple[str, ...]]) -> tuple[int, int] | None:
    """The longest run of hypothesis words in [lo, hi) that is a written form of the term."""
    for size in sorted({len(f) for f in forms}, reverse=True):
        for start in range(lo, hi - size + 1):
            if tuple(hyp_words[start : start + size]) in forms:
                return start, start + size
    return None


def _insertion_touches_term(p: int, ops: str, occ_of_col: Mapping[int, int]) -> bool:
    """An insertion run is a term error if it sits inside a term occurrence or next to a misrecognised term word."""
    a = p
    while a > 0 and ops[a - 1] == "I":
        a -= 1
    b = p
    n = len(ops)
    while b < n and ops[b] == "I":
        b += 1
    left = occ_of_col.get(a - 1, -1)
    right = occ_of_col.get(b, -1)
    if left >= 0 and (left == right or ops[a - 1] in "SD"):
        return True
    return right >= 0 and ops[b] in "SD"


_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def _display_form(text: str) -> str:
    """Whitespace collapsed; punctuation at either end dropped ("S.L.A." at a sentence end)."""
    return _EDGE_PUNCT.sub("", " ".join(text.split()))


def _display_exact(term: Term, hyp_start: int | None, length: int, hyp_sources: tuple[tuple[int, int, str], ...]) -> bool:
    """Did the raw hypothesis write this occurrence exactly as a written form (case, spelling, diacritics)?"""
    if hyp_start is None:
        return False
    for start, count, raw in hyp_sources:
        if start == hyp_start and count == length:
            return _display_form(raw) in {_display_form(f) for f in term.written_forms}
    return False
