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

from dataclasses import dataclass
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
) -> Iterator[ClipRows]:
    """Align and count each clip under every condition, yielding its rows in input order.

    ``clips`` gives each utterance with its transcripts in ``conditions``
    order (None where there is none). Every vocabulary term is scored in every
    condition, the baseline included, so a biased condition's gain is measured
    against the same opportunities. A clip lacking a transcript (or holding a
    failed one) in any condition is yielded ``excluded``, with no rows, keeping
    comparisons paired.
    """
    from .scoring import build_term_index

    index = build_term_index(terms, normalizer)  # once for the run; its normaliser also splits the prompts
    plan_sets: dict[str, tuple[set[str], set[str]]] = {}  # a condition has one plan (transcribe and merge ensure it)
    prompts: dict[str, Any] = {}  # each condition's prompt words, for prompt echo (asr_eval.harms)
    batch: list[tuple[Utterance, Sequence[Transcript | None]]] = []
    for item in clips:
        batch.append(item)
        if len(batch) >= chunk:
            yield from _score_chunk(batch, conditions, index, normalizer, plan_sets, prompts)
            batch = []
    if batch:
        yield from _score_chunk(batch, conditions, index, normalizer, plan_sets, prompts)


def _score_chunk(batch: Sequence[tuple[Utterance, Sequence[Transcript | None]]], conditions: Sequence[str],
                 index: Any, normalizer: Any, plan_sets: dict[str, tuple[set[str], set[str]]],
                 prompts: dict[str, Any]) -> Iterator[ClipRows]:
    from .harms import is_nonspeech, prompt_words
    from .scoring import score_harms, score_many

    jobs: list[tuple[Utterance, str, Transcript]] = []
    complete: list[bool] = []
    for utt, ts in batch:
        ok = len(ts) == len(conditions) and not any(t is None or t.error for t in ts)
        complete.append(ok)
        if ok:
            jobs.extend((utt, cond, t) for cond, t in zip(conditions, ts))  # type: ignore[misc]
    scores = iter(score_many([(u.text, t.text) for u, _, t in jobs], index, normalizer,
                             [u.entities for u, _, _ in jobs]))
    for (utt, ts), ok in zip(batch, complete):
        if not ok:
            yield ClipRows(utt, tuple(ts), excluded=True)
            continue
        urows, trows, arows, hrows = [], [], [], []
        for cond, t in zip(conditions, ts):
            s = next(scores)
            assert t is not None
            base = {"utt_id": utt.id, "condition": cond, "speaker": utt.speaker, "accent_group": utt.accent_group}
            if cond not in prompts:
                prompts[cond] = prompt_words(t.plan.text, t.plan.terms_in_force, index.normalizer.words)
            s, harms = score_harms(s, t.text, prompts[cond], is_nonspeech(utt.meta))
            hrows.extend({**base, **e.to_dict()} for e in harms.events)
            urows.append(_utterance_row(base, utt, t, s))
            if cond not in plan_sets:
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
) -> ScoredRun:
    """Every clip's rows at once (``score_stream`` collected), for callers that keep them in memory."""
    urows: list[dict[str, Any]] = []
    trows: list[dict[str, Any]] = []
    arows: list[dict[str, Any]] = []
    hrows: list[dict[str, Any]] = []
    excluded: list[str] = []
    clips = ((u, [transcripts.get((u.id, c)) for c in conditions]) for u in utterances)
    for clip in score_stream(clips, conditions, terms, normalizer, chunk=max(1, len(utterances))):
        if clip.excluded:
            excluded.append(clip.utt.id)
        urows += clip.utterance_rows
        trows += clip.term_rows
        arows += clip.alignment_rows
        hrows += clip.harm_rows
    return ScoredRun(tuple(urows), tuple(trows), tuple(arows), tuple(excluded), tuple(hrows))
