"""What the HTML and Markdown show beyond the tables: failed terms in context, aligned
utterances, the worst clips, and how the run was made.

The bounded samples themselves (which clips and failed terms are shown) are
chosen while the run's clips stream past (``collect``); every excerpt in them is
redacted there (``Redactor``), and a term's aligned columns come from
``scoring.term_columns``, the scorer's own mapping of word positions onto the
alignment.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import Any

from ..redact import Redactor
from ..runfolder import RunData
from .collect import CONTEXT_WORDS, MAX_EXPLANATIONS, MAX_UTTERANCE_VIEWS, N_WORST, Collected, redact_pairs

__all__ = ["CONTEXT_WORDS", "MAX_EXPLANATIONS", "MAX_UTTERANCE_VIEWS", "N_WORST", "explanations", "redact_pairs",
           "run_info", "skipped", "utterance_views", "worst"]

#: (term, source) -> the name a view shows (a pseudonym when names are redacted).
Display = Callable[[str, str], str]


def explanations(col: Collected) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    """Every missed, partial or falsely inserted term with what was heard around it and why.

    Returns (the first ``MAX_EXPLANATIONS``, how many there are, counts per condition and cause).
    Biased conditions come first (a term that was offered and still failed is
    the question a vocabulary author asks), the baseline last; then by term.
    ``collect`` kept only the first ``MAX_EXPLANATIONS`` in that order.
    """
    cond_index = {c: i for i, c in enumerate(col.conditions)}
    cause_rows = [
        {"condition": c, "cause": cause_, "miss": n.get("miss", 0), "partial": n.get("partial", 0),
         "false_insertion": n.get("false_insertion", 0)}
        for (c, cause_), n in sorted(col.causes.items(), key=lambda kv: (cond_index.get(kv[0][0], 99), kv[0][1]))
    ]
    return col.explanations, col.explanations_total, cause_rows


def utterance_views(col: Collected) -> tuple[list[dict[str, Any]], int]:
    """The first ``MAX_UTTERANCE_VIEWS`` clips by (accent group, speaker, id), each condition aligned word by word."""
    return col.views, col.views_total


def worst(col: Collected) -> list[dict[str, Any]]:
    """The clips with the most errors in any condition, every condition's hypothesis beside the reference."""
    out = []
    for v in col.worst:
        out.append(
            {"utt_id": v["utt_id"], "accent_group": v["accent_group"], "speaker": v["speaker"], "ref": v["ref"],
             "hyps": {c: {"hyp": v["conditions"][c]["hyp"], "errors": v["conditions"][c]["errors"],
                          "wer": v["conditions"][c]["wer"]} for c in col.conditions if c in v["conditions"]}}
        )
    return out


def run_info(run: RunData, red: Redactor) -> dict[str, Any]:
    """How the run was made, from run.json: command, engine, inputs, timing, each condition's plan."""
    r = run.run
    conds = []
    for c in r.get("conditions") or []:
        if not isinstance(c, Mapping):
            continue
        plan = c.get("plan") or {}
        entry = {
            "name": c.get("name"),
            "method": c.get("method"),
            "strength": c.get("strength"),
            "correct": c.get("correct"),
            "prompt": red.text(plan.get("text")),
            "terms_in_force": len(plan.get("terms_in_force") or []),
            "terms_dropped": len(plan.get("terms_dropped") or []),
            "tokens": plan.get("tokens"),
            "budget": plan.get("budget"),
        }
        per_clip = c.get("per_clip")
        if isinstance(per_clip, Mapping) and per_clip.get("clips"):  # one plan per clip: means, and the largest prompt
            n = per_clip["clips"]
            entry.update(prompt=f"one list per clip ({per_clip.get('file', 'plans.jsonl')})",
                         terms_in_force=round(per_clip.get("in_force", 0) / n, 1),
                         terms_dropped=round(per_clip.get("dropped", 0) / n, 1),
                         tokens=per_clip.get("tokens_max"), per_clip=dict(per_clip))
        conds.append(entry)
    def src(key: str) -> Any:
        v = r.get(key)
        return {k: v.get(k) for k in ("path", "sha256", "terms", "utterances", "skipped") if k in v} if isinstance(v, Mapping) else None
    command = r.get("command")
    if isinstance(command, (list, tuple)):
        command = shlex.join(str(c) for c in command)
    timing = r.get("timing") if isinstance(r.get("timing"), Mapping) else {}
    rtfx = timing.get("rtfx", timing.get("rtfx_this_run"))
    return {
        "tool": r.get("tool", "asr-eval"),
        "version": r.get("version"),
        "created": r.get("created"),
        "command": red.text(command) if isinstance(command, str) else None,
        "manifest": src("manifest"),
        "dictionary": src("dictionary"),
        "directory": src("directory"),
        "engine": r.get("engine"),
        "normalizer": r.get("normalizer"),
        "timing": dict(timing) or None,
        "timing_summary": {"wall_seconds": timing.get("wall_seconds"), "audio_seconds": timing.get("audio_seconds"),
                           "rtfx": rtfx} if timing else None,
        "shard": r.get("shard"),
        "packages": r.get("packages"),
        "conditions": conds,
    }


def skipped(run: RunData, red: Redactor) -> list[dict[str, Any]]:
    """skipped.csv's rows, their messages redacted."""
    return [{k: (red.text(v) if k == "problem" else v) for k, v in s.items()} for s in run.skipped]
