"""Per-utterance scoring: word/char errors, B-WER/U-WER, and what happened to every term.

Pure: text in, frozen counts and events out, and no state kept between calls.
Counts are stored and summed (``asr_eval.counts.Counts``); rates are computed
only after summing. Definitions are in docs/scoring.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from asr_eval.align import (
    SCLITE_COSTS,
    Alignment,
    Costs,
    ErrorCounts,
    align,
    align_lattice,
    char_counts,
    char_counts_many,
    counts_from_ops,
    counts_many,
    counts_only,
    ops_many,
)
from asr_eval.alternatives import has_alternatives, lattice, parse
from asr_eval.counts import COUNT_COLUMNS, FIELDS, Counts, harmonic_f1
from asr_eval.formatted import formatted_tokens
from asr_eval.harms import HARM_FIELDS, ClipHarms, PromptWords, clip_harms
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


def _span(first: str) -> slice:
    """Where (hits, subs, dels, ins) starting at ``first`` sit in ``FIELDS``."""
    i = FIELDS.index(first)
    return slice(i, i + 4)


_WORDS, _CHARS, _BIASED, _UNBIASED = _span("hits"), _span("char_hits"), _span("b_hits"), _span("u_hits")
_FORMATTED = _span("fmt_hits")


@dataclass(frozen=True)
class UtteranceScore:
    """One scored pair: its counts, its term events, the word alignment and the normalised texts.

    ``count_values`` holds the counts as a plain tuple in ``asr_eval.counts.FIELDS``
    order (``counts`` gives them as ``Counts``) and ``ops`` the alignment as an op
    string (``alignment`` is built from it on access): a batch holds one score per
    clip, and tuples and strings are values the cyclic garbage collector skips.
    ``words``, ``chars``, ``biased`` and ``unbiased`` are views of the counts as
    ``ErrorCounts`` (hits, subs, dels, ins).
    """

    count_values: tuple[int, ...]
    terms: tuple[TermEvent, ...]
    ops: str
    ref_norm: str
    hyp_norm: str

    @property
    def counts(self) -> Counts:
        return Counts(*self.count_values)

    @property
    def words(self) -> ErrorCounts:
        return ErrorCounts(*self.count_values[_WORDS])

    @property
    def chars(self) -> ErrorCounts:
        return ErrorCounts(*self.count_values[_CHARS])

    @property
    def biased(self) -> ErrorCounts:
        return ErrorCounts(*self.count_values[_BIASED])

    @property
    def unbiased(self) -> ErrorCounts:
        return ErrorCounts(*self.count_values[_UNBIASED])

    @property
    def formatted(self) -> ErrorCounts:
        """Formatted-token counts (case and punctuation kept; ``asr_eval.formatted``)."""
        return ErrorCounts(*self.count_values[_FORMATTED])

    @property
    def alignment(self) -> Alignment:
        """The word alignment (built on each access)."""
        return Alignment(self.ops, tuple(self.ref_norm.split()), tuple(self.hyp_norm.split()), self.words)

    def counts_row(self) -> dict[str, int]:
        """Flat integer counts for CSV (``COUNT_COLUMNS``); every rate can be rebuilt from sums of these."""
        return dict(zip(COUNT_COLUMNS, self.count_values[1:]))


def _utterance_score(
    alignment: Alignment, chars: ErrorCounts, biased: ErrorCounts, unbiased: ErrorCounts,
    events: tuple[TermEvent, ...], ref_norm: str, hyp_norm: str, formatted: ErrorCounts,
) -> UtteranceScore:
    w, c, b, u, f = alignment.counts, chars, biased, unbiased, formatted
    t = term_tally(events) if events else _NO_TERMS
    values = (  # in FIELDS order
        1,
        w.ref_len, w.hits, w.subs, w.dels, w.ins,
        c.ref_len, c.hits, c.subs, c.dels, c.ins,
        b.ref_len, b.hits, b.subs, b.dels, b.ins,
        u.ref_len, u.hits, u.subs, u.dels, u.ins,
        t.refs, t.hits, t.partial, t.misses, t.false_ins, t.display_exact,
        *_NO_HARM_COUNTS,
        f.ref_len, f.hits, f.subs, f.dels, f.ins,
    )
    return UtteranceScore(values, events, alignment.ops, ref_norm, hyp_norm)


# --------------------------------------------------------------------------- harms

_HARMS = slice(FIELDS.index(HARM_FIELDS[0]), FIELDS.index(HARM_FIELDS[-1]) + 1)
_NO_HARM_COUNTS = (0,) * len(HARM_FIELDS)
# Word, character, B- and U-word counts, and formatted ones: what a non-speech clip must not add to.
_SPEECH_ONLY = slice(FIELDS.index("ref_words"), FIELDS.index("u_ins") + 1)
_FORMATTED_ALL = slice(FIELDS.index("fmt_ref"), FIELDS.index("fmt_ins") + 1)


def score_harms(score: UtteranceScore, hyp: str, prompt: PromptWords | None, nonspeech: bool = False,
                ) -> tuple[UtteranceScore, ClipHarms]:
    """A scored clip with its harm counts filled in (``asr_eval.harms``), and the events behind them.

    A non-speech clip (``nonspeech``: its reference is empty by design) keeps its
    term events and counts (a term written on silence is a false insertion) but
    its word and character counts become zero and its op string empty: what it
    wrote is counted as non-speech output, never as WER insertions, and no
    alignment of it reaches the segment-level test.
    """
    ref_words, hyp_words = score.ref_norm.split(), score.hyp_norm.split()
    harms = clip_harms(ref_words, hyp_words, score.ops, hyp, prompt, nonspeech)
    values = list(score.count_values)
    values[_HARMS] = harms.counts
    ops = score.ops
    if nonspeech:
        values[_SPEECH_ONLY] = (0,) * (_SPEECH_ONLY.stop - _SPEECH_ONLY.start)
        values[_FORMATTED_ALL] = (0,) * (_FORMATTED_ALL.stop - _FORMATTED_ALL.start)
        ops = ""
    return replace(score, count_values=tuple(values), ops=ops), harms


def term_columns(ops: str, start: int | None, length: int, side: str = "ref") -> list[int]:
    """The alignment columns holding words ``start`` .. ``start + length - 1`` of one side.

    ``ops`` is an alignment's op string ("CCSDI..."); ``side`` is "ref" (a word in
    every column but insertions) or "hyp" (every column but deletions). This maps
    a term event's ``ref_start`` / ``hyp_start`` and word count onto the alignment,
    as the scorer does when it finds the occurrence. Words past the end of that
    side are left out; ``start`` None gives no columns.
    """
    if side not in ("ref", "hyp"):
        raise ValueError(f"side must be 'ref' or 'hyp', not {side!r}")
    if start is None:
        return []
    other = "I" if side == "ref" else "D"  # the op whose column holds no word of this side
    end = start + length
    out: list[int] = []
    word = 0
    for col, op in enumerate(ops):
        if op == other:
            continue
        if word >= end:
            break
        if word >= start:
            out.append(col)
        word += 1
    return out


# --------------------------------------------------------------------------- term tallies


@dataclass(frozen=True)
class TermTally:
    """Term occurrences by outcome; adds up. Rates come from ``asr_eval.counts``, computed from sums."""

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

    def counts(self, clips: int = 0) -> Counts:
        """These tallies as the term fields of a ``Counts`` (over ``clips`` clips)."""
        return Counts(clips=clips, term_refs=self.refs, term_hits=self.hits, term_partial=self.partial,
                      term_misses=self.misses, term_false_ins=self.false_ins, term_display_exact=self.display_exact)

    def recall(self) -> float | None:
        """hits / reference occurrences (partials are not hits)."""
        return self.counts().rate("term_recall")

    def precision(self) -> float | None:
        """hits / (hits + false insertions): of the term occurrences the engine wrote, the share that were right."""
        return self.counts().rate("term_precision")

    def f1(self) -> float | None:
        return harmonic_f1(self.precision(), self.recall())

    def display_accuracy(self) -> float | None:
        """Reference occurrences recognised *and* written exactly as the vocabulary displays them."""
        return self.counts().rate("display_accuracy")

    def false_ins_per_100(self, utterances: int) -> float | None:
        return self.counts(clips=utterances).rate("false_ins_per_100")


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


_NO_TERMS = TermTally()


# --------------------------------------------------------------------------- term index


@dataclass(frozen=True)
class TermIndex:
    """Normalised token sequences of every written form, found with the normaliser's matcher.

    Build once per (terms, normaliser) with ``build_term_index`` and pass it to
    ``score_utterance`` when scoring pair after pair; ``score_many`` builds it once
    per call.
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


def _index(terms: Sequence[Term] | TermIndex, normalizer: Normalizer) -> TermIndex:
    return terms if isinstance(terms, TermIndex) else build_term_index(terms, normalizer)


def _with_entities(index: TermIndex, entities: tuple[EntitySpan, ...]) -> TermIndex:
    """Annotated spans are scored like terms: the index extended with them."""
    return build_term_index(index.terms + entity_terms(entities), index.normalizer)


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
    when ``terms`` is a prebuilt ``TermIndex`` its own normaliser is used. Building
    the index is the costly part: to score pair after pair, build it once with
    ``build_term_index`` and pass it here, or use ``score_many``.
    """
    index = _index(terms, normalizer)
    if entities:
        index = _with_entities(index, tuple(entities))
    norm = index.normalizer
    hyp_norm, hyp_sources = norm.normalize_with_sources(hyp)
    hyp_words = hyp_norm.split()
    pieces = _alternations(ref)
    if pieces is None:
        ref_norm, _ = norm.normalize_with_sources(ref)
        ref_words = ref_norm.split()
        alignment = align(ref_words, hyp_words, costs)
        formatted = counts_only(formatted_tokens(ref), formatted_tokens(hyp), costs)
    else:
        alignment = align_lattice(lattice(pieces, norm.words), hyp_words, costs)
        ref_words = list(alignment.ref)
        ref_norm = " ".join(ref_words)
        formatted = align_lattice(lattice(pieces, formatted_tokens), formatted_tokens(hyp), costs).counts
    chars = char_counts(ref_norm, hyp_norm, costs)
    events, biased, unbiased = _term_analysis(index, ref_words, hyp_words, alignment, hyp_sources)
    return _utterance_score(alignment, chars, biased, unbiased, events, ref_norm, hyp_norm, formatted)


def _alternations(ref: str) -> tuple | None:
    """The reference's pieces when it holds sclite alternations (``asr_eval.alternatives``), else None.

    A malformed group (which the readers reject with file and line) is scored
    as plain text, so one bad reference never stops a run.
    """
    if not has_alternatives(ref):
        return None
    pieces = parse(ref)
    return pieces if pieces and any(isinstance(p, tuple) for p in pieces) else None


def score_many(
    pairs: Sequence[tuple[str, str]],
    terms: Sequence[Term] | TermIndex,
    normalizer: Normalizer,
    entities: Sequence[Sequence[EntitySpan]] | None = None,
    costs: Costs = SCLITE_COSTS,
) -> list[UtteranceScore]:
    """``score_utterance`` for many (ref, hyp) pairs; same results, several times faster.

    The term index is built once, alignments run in compiled batches, and each
    distinct text is normalised once per set of entities (a reference scored
    under several conditions is normalised once). ``entities``, when given,
    holds one sequence of spans per pair. Nothing outlives the call: no caches,
    and the garbage collector is left as it was.
    """
    if entities is not None and len(entities) != len(pairs):
        raise ValueError(f"entities has {len(entities)} entries for {len(pairs)} pairs")
    base = _index(terms, normalizer)
    # One index per distinct set of entity spans (the same manifest row recurs once per condition).
    variants: dict[tuple[EntitySpan, ...], TermIndex] = {(): base}
    keys = [tuple(e) for e in entities] if entities is not None else [()] * len(pairs)
    for key in keys:
        if key not in variants:
            variants[key] = _with_entities(base, key)
    memo: dict[tuple[EntitySpan, ...], dict[str, tuple[str, tuple[tuple[int, int, str], ...]]]] = {k: {} for k in variants}

    def norm(key: tuple[EntitySpan, ...], text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        seen = memo[key]
        got = seen.get(text)
        if got is None:
            got = seen[text] = variants[key].normalizer.normalize_with_sources(text)
        return got

    ftoks: dict[str, tuple[str, ...]] = {}

    def fmt(text: str) -> tuple[str, ...]:
        got = ftoks.get(text)
        if got is None:
            got = ftoks[text] = tuple(formatted_tokens(text))
        return got

    out: list[UtteranceScore] = []
    # In slices, so that the intermediate lists stay small and short-lived: the
    # results are many objects, and the cyclic collector's passes over everything
    # alive cost more the more there is.
    for lo in range(0, len(pairs), _SLICE):
        hi = lo + _SLICE
        ks = keys[lo:hi]
        chunk = pairs[lo:hi]
        alts = [_alternations(r) for r, _ in chunk]
        hyps = [norm(k, h) for k, (_, h) in zip(ks, chunk)]
        # References with alternations align against their network, one by one;
        # the plain ones (nearly all) in compiled batches.
        nets: dict[int, Alignment] = {}
        fnets: dict[int, ErrorCounts] = {}
        for i, pieces in enumerate(alts):
            if pieces is not None:
                k, h = ks[i], chunk[i][1]
                nets[i] = align_lattice(lattice(pieces, lambda t, k=k: norm(k, t)[0].split()), hyps[i][0].split(), costs)
                fnets[i] = align_lattice(lattice(pieces, fmt), fmt(h), costs).counts
        refs = [norm(k, r) if i not in nets else (" ".join(nets[i].ref), ())
                for i, (k, (r, _)) in enumerate(zip(ks, chunk))]
        words = [(tuple(r[0].split()), tuple(h[0].split())) for r, h in zip(refs, hyps)]
        plain = [i for i in range(len(chunk)) if i not in nets]
        plain_ops = iter(ops_many([words[i] for i in plain], costs))
        plain_fmt = iter(counts_many([(fmt(chunk[i][0]), fmt(chunk[i][1])) for i in plain], costs))
        all_chars = char_counts_many([(r[0], h[0]) for r, h in zip(refs, hyps)], costs)
        for i, (key, (ref_norm, _), (hyp_norm, hyp_sources), (rw, hw), chars) in enumerate(
                zip(ks, refs, hyps, words, all_chars)):
            if i in nets:
                alignment, formatted = nets[i], fnets[i]
            else:
                ops = next(plain_ops)
                alignment, formatted = Alignment(ops, rw, hw, counts_from_ops(ops)), next(plain_fmt)
            events, biased, unbiased = _term_analysis(variants[key], rw, hw, alignment, hyp_sources)
            out.append(_utterance_score(alignment, chars, biased, unbiased, events, ref_norm, hyp_norm, formatted))
    return out


_SLICE = 256


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
