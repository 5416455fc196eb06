"""Score a run's transcripts: align and count every clip under every condition (pure).

Shared by ``run``, ``score`` (imported transcripts), ``merge`` (shards) and
``sweep``, so every path from transcripts to counts is the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .types import Term, Transcript, Utterance


@dataclass(frozen=True)
class ScoredRun:
    utterance_rows: tuple[dict[str, Any], ...]
    term_rows: tuple[dict[str, Any], ...]
    alignment_rows: tuple[dict[str, Any], ...]
    excluded: tuple[str, ...]  # utt ids left out because some condition has no transcript


def score_transcripts(
    utterances: Sequence[Utterance],
    transcripts: Mapping[tuple[str, str], Transcript],
    conditions: Sequence[str],
    terms: Sequence[Term],
    normalizer: Any,
) -> ScoredRun:
    """Align and count every clip under every condition (pure).

    Every vocabulary term is scored in every condition, the baseline included,
    so a biased condition's gain is measured against the same opportunities.
    Clips lacking a transcript in any condition are excluded from all of them,
    keeping comparisons paired.
    """
    from .scoring import score_many

    urows: list[dict[str, Any]] = []
    trows: list[dict[str, Any]] = []
    arows: list[dict[str, Any]] = []
    excluded: list[str] = []
    jobs: list[tuple[Utterance, str, Transcript]] = []
    for utt in utterances:
        ts = [transcripts.get((utt.id, c)) for c in conditions]
        if any(t is None or t.error for t in ts):
            excluded.append(utt.id)
            continue
        jobs.extend((utt, cond, t) for cond, t in zip(conditions, ts))
    scores = score_many([(u.text, t.text) for u, _, t in jobs], terms, normalizer, [u.entities for u, _, _ in jobs])
    plan_sets: dict[str, tuple[set[str], set[str]]] = {}  # a condition has one plan (transcribe and merge ensure it)
    for (utt, cond, t), s in zip(jobs, scores):
        base = {"utt_id": utt.id, "condition": cond, "speaker": utt.speaker, "accent_group": utt.accent_group}
        urows.append({
            **base, "audio_seconds": round(t.audio_seconds, 3), "decode_seconds": round(t.decode_seconds, 4),
            "node": t.node,
            "ref": utt.text, "hyp": t.text, "ref_norm": s.ref_norm, "hyp_norm": s.hyp_norm, **s.counts_row(),
        })
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
    return ScoredRun(tuple(urows), tuple(trows), tuple(arows), tuple(excluded))
