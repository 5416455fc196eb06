"""Score a run's transcripts: align and count every clip under every condition (pure).

Shared by ``run``, ``score`` (imported transcripts), ``merge`` (shards) and
``sweep``, so every path from transcripts to counts is the same code.

``score_stream`` is the streaming form: it takes one clip at a time (with its
transcript under each condition) and yields that clip's rows as soon as a
chunk of clips is scored, so a caller that writes them out as they come
(``runfolder.RunWriter``) holds one chunk, never the whole test set.
``score_transcripts`` collects the same rows for callers that want them all
in memory (sweeps, tests, notebooks).

A new per-utterance column goes in ``_utterance_row`` (and in
``runfolder.UTTERANCE_COLUMNS``); the writer and the readers take the columns
from there.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .types import Term, Transcript, Utterance

#: Clips scored per ``score_many`` call in ``score_stream``: big enough for the
#: batched aligner to pay off, small enough that a chunk's rows are a few MB.
CHUNK = 1024


@dataclass(frozen=True)
class ClipRows:
    """One clip's transcripts and rows under every condition, in condition order.

    ``excluded`` when some condition lacks a transcript: no rows then, but
    the transcripts it has are still the run's (transcripts/<condition>.jsonl).
    """

    utt: Utterance
    transcripts: tuple[Transcript | None, ...] = ()
    utterance_rows: tuple[dict[str, Any], ...] = ()
    term_rows: tuple[dict[str, Any], ...] = ()
    alignment_rows: tuple[dict[str, Any], ...] = ()
    excluded: bool = False
    harm_rows: tuple[dict[str, Any], ...] = ()  # one per harm event (asr_eval.harms), for harms.jsonl


@dataclass(frozen=True)
class ScoredRun:
    utterance_rows: tuple[dict[str, Any], ...]
    term_rows: tuple[dict[str, Any], ...]
    alignment_rows: tuple[dict[str, Any], ...]
    excluded: tuple[str, ...]  # utt ids left out because some condition has no transcript
    harm_rows: tuple[dict[str, Any], ...] = ()  # one per harm event (asr_eval.harms), for harms.jsonl


def score_stream(
    clips: Iterable[tuple[Utterance, Sequence[Transcript | None]]],
    conditions: Sequence[str],
    terms: Sequence[Term],
    normalizer: Any,
    chunk: int = CHUNK,
    per_clip: Iterable[str] = (),
    pool: Mapping[str, Term] | None = None,
) -> Iterator[ClipRows]:
    """Align and count each clip under every condition, yielding its rows in input order.

    ``clips`` gives each utterance with its transcripts in ``conditions``
    order (None where there is none). Every vocabulary term is scored in every
    condition, the baseline included, so a biased condition's gain is measured
    against the same opportunities. A clip lacking a transcript (or holding a
    failed one) in any condition is yielded ``excluded``, with no rows, keeping
    comparisons paired.

    ``per_clip`` names conditions whose list was made for each clip
    (``bias.ClipPlans``): a clip is then scored, in *every* condition, against
    ``terms`` plus every term those conditions' plans offered it (in force or
    dropped), read back by display form from ``pool``. So the clip's own list
    decides which of its words are biased (B-WER) and which terms count, and
    the baseline is measured against the same opportunities as the list that
    tried to help it. ``normalizer`` should already protect every pool term,
    so that all clips are normalised alike.
    """
    from .scoring import build_term_index

    index = build_term_index(terms, normalizer)  # once for the run; its normaliser also splits the prompts
    scopes = _ClipIndexes(index, per_clip, pool or {})
    plan_sets: dict[str, tuple[set[str], set[str]]] = {}  # a condition has one plan (transcribe and merge ensure it)
    prompts: dict[str, Any] = {}  # each condition's prompt words, for prompt echo (asr_eval.harms)
    batch: list[tuple[Utterance, Sequence[Transcript | None]]] = []
    for item in clips:
        batch.append(item)
        if len(batch) >= chunk:
            yield from _score_chunk(batch, conditions, scopes, normalizer, plan_sets, prompts)
            batch = []
    if batch:
        yield from _score_chunk(batch, conditions, scopes, normalizer, plan_sets, prompts)


class _ClipIndexes:
    """Which term index scores a clip: the run's, or the run's extended by the clip's own lists.

    Indexes are kept for the last few distinct lists (clips of one team, or
    one account, share theirs), and each term's normalised forms once for the
    run, so a 1,000-term list per clip costs a phrase-index build, not 1,000
    normalisations.
    """

    def __init__(self, base: Any, per_clip: Iterable[str], pool: Mapping[str, Term], keep: int = 64):
        self.base = base
        self.per_clip = frozenset(per_clip)
        self.pool = pool
        self.base_displays = {t.display for t in base.terms}
        self._forms: dict[Term, frozenset[tuple[str, ...]]] = {}
        self._protected: set[Term] = set()  # terms the run's normaliser was checked to protect
        # a prompt's words, term by term: per-clip prompts repeat the same terms clip after clip
        self.prompt_words_of = lru_cache(maxsize=1 << 16)(lambda s: tuple(base.normalizer.words(s)))
        self._indexes: "OrderedDict[tuple[str, ...], Any]" = OrderedDict()
        self._keep = keep

    def for_clip(self, conditions: Sequence[str], ts: Sequence[Transcript | None]) -> Any:
        if not self.per_clip:
            return self.base
        extra: dict[str, None] = {}
        for cond, t in zip(conditions, ts):
            if cond in self.per_clip and t is not None:
                for d in (*t.plan.terms_in_force, *t.plan.terms_dropped):
                    if d not in self.base_displays:
                        extra[d] = None
        if not extra:
            return self.base
        key = tuple(sorted(extra))
        got = self._indexes.get(key)
        if got is None:
            got = self._indexes[key] = self._build(list(extra))
            if len(self._indexes) > self._keep:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(key)
        return got

    def _build(self, displays: Sequence[str]) -> Any:
        from .context import CONTEXT
        from .matching import PhraseIndex
        from .normalize import protected_forms
        from .scoring import TermIndex, build_term_index

        extra = tuple(self.pool.get(d) or Term(display=d, category=CONTEXT, source=CONTEXT) for d in displays)
        norm = self.base.normalizer
        unchecked = [t for t in extra if t not in self._protected]
        if unchecked and norm.with_terms(protected_forms(unchecked)) is not norm:  # the run's normaliser lacks some
            return build_term_index(self.base.terms + extra, norm)
        self._protected.update(unchecked)
        for t in extra:
            if t not in self._forms:
                self._forms[t] = frozenset(tuple(norm.words(f)) for f in t.written_forms) - {()}
        terms = self.base.terms + extra
        forms_of = self.base.forms_of + tuple(self._forms[t] for t in extra)
        phrases = PhraseIndex.build((toks, k) for k, forms in enumerate(forms_of) for toks in sorted(forms))
        return TermIndex(norm, terms, phrases, forms_of)


def _score_chunk(batch: Sequence[tuple[Utterance, Sequence[Transcript | None]]], conditions: Sequence[str],
                 scopes: _ClipIndexes, normalizer: Any, plan_sets: dict[str, tuple[set[str], set[str]]],
                 prompts: dict[str, Any]) -> Iterator[ClipRows]:
    from .harms import is_nonspeech, prompt_words
    from .scoring import score_harms, score_many

    complete: list[bool] = []
    groups: list[tuple[Any, list[tuple[Utterance, str, Transcript]]]] = []  # runs of clips sharing a term index
    for utt, ts in batch:
        ok = len(ts) == len(conditions) and not any(t is None or t.error for t in ts)
        complete.append(ok)
        if ok:
            index = scopes.for_clip(conditions, ts)
            if not groups or groups[-1][0] is not index:
                groups.append((index, []))
            groups[-1][1].extend((utt, cond, t) for cond, t in zip(conditions, ts))  # type: ignore[misc]
    scored: list[tuple[Any, Any]] = []
    for index, jobs in groups:
        got = score_many([(u.text, t.text) for u, _, t in jobs], index, normalizer, [u.entities for u, _, _ in jobs])
        scored.extend((index, s) for s in got)
    scores = iter(scored)
    for (utt, ts), ok in zip(batch, complete):
        if not ok:
            yield ClipRows(utt, tuple(ts), excluded=True)
            continue
        urows, trows, arows, hrows = [], [], [], []
        for cond, t in zip(conditions, ts):
            index, s = next(scores)
            assert t is not None
            base = {"utt_id": utt.id, "condition": cond, "speaker": utt.speaker, "accent_group": utt.accent_group}
            own_plan = cond in scopes.per_clip  # this clip's plan, not the condition's
            if own_plan or cond not in prompts:
                split = scopes.prompt_words_of if index.normalizer is scopes.base.normalizer else index.normalizer.words
                prompts[cond] = prompt_words(t.plan.text, t.plan.terms_in_force, split)
            s, harms = score_harms(s, t.text, prompts[cond], is_nonspeech(utt.meta))
            hrows.extend({**base, **e.to_dict()} for e in harms.events)
            urows.append(_utterance_row(base, utt, t, s))
            if own_plan or cond not in plan_sets:
                plan_sets[cond] = (set(t.plan.terms_in_force), set(t.plan.terms_dropped))
            in_force, dropped = plan_sets[cond]
            for ev in s.terms:
                trows.append({
                    **base, "term": ev.term, "category": ev.category, "source": ev.source, "outcome": ev.outcome,
                    "ref_text": ev.ref_text, "hyp_text": ev.hyp_text, "display_exact": ev.display_exact,
                    "in_force": ev.term in in_force, "dropped": ev.term in dropped,
                    "ref_start": ev.ref_start, "hyp_start": ev.hyp_start,
                })
            arows.append({"utt_id": utt.id, "condition": cond,
                          "pairs": [[p.op, p.ref, p.hyp] for p in s.alignment.pairs]})
        yield ClipRows(utt, tuple(ts), tuple(urows), tuple(trows), tuple(arows), harm_rows=tuple(hrows))


def _utterance_row(base: Mapping[str, Any], utt: Utterance, t: Transcript, s: Any) -> dict[str, Any]:
    return {
        **base, "audio_seconds": round(t.audio_seconds, 3), "decode_seconds": round(t.decode_seconds, 4),
        "node": t.node,
        "ref": utt.text, "hyp": t.text, "ref_norm": s.ref_norm, "hyp_norm": s.hyp_norm, **s.counts_row(),
    }


def score_transcripts(
    utterances: Sequence[Utterance],
    transcripts: Mapping[tuple[str, str], Transcript],
    conditions: Sequence[str],
    terms: Sequence[Term],
    normalizer: Any,
    per_clip: Iterable[str] = (),
    pool: Mapping[str, Term] | None = None,
) -> ScoredRun:
    """Every clip's rows at once (``score_stream`` collected), for callers that keep them in memory."""
    urows: list[dict[str, Any]] = []
    trows: list[dict[str, Any]] = []
    arows: list[dict[str, Any]] = []
    hrows: list[dict[str, Any]] = []
    excluded: list[str] = []
    clips = ((u, [transcripts.get((u.id, c)) for c in conditions]) for u in utterances)
    for clip in score_stream(clips, conditions, terms, normalizer, chunk=max(1, len(utterances)),
                             per_clip=per_clip, pool=pool):
        if clip.excluded:
            excluded.append(clip.utt.id)
        urows += clip.utterance_rows
        trows += clip.term_rows
        arows += clip.alignment_rows
        hrows += clip.harm_rows
    return ScoredRun(tuple(urows), tuple(trows), tuple(arows), tuple(excluded), tuple(hrows))
