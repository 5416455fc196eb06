"""What the HTML and Markdown show beyond the tables: failed terms in context, aligned
utterances, the worst clips, and how the run was made.

Every excerpt that leaves this module is redacted (``Redactor``); a term's
aligned columns come from ``scoring.term_columns``, the scorer's own mapping of
word positions onto the alignment.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..counts import Counts
from ..redact import Redactor
from ..runfolder import RunData
from ..scoring import term_columns
from .verdicts import cause, reason

MAX_UTTERANCE_VIEWS = 1500
N_WORST = 8
MAX_EXPLANATIONS = 2000
CONTEXT_WORDS = 3

#: (term, source) -> the name a view shows (a pseudonym when names are redacted).
Display = Callable[[str, str], str]


def _term_span(t: Mapping[str, Any]) -> tuple[str, int | None, int]:
    """(side, first word, number of words) of a terms.csv event: where its words are.

    A false insertion's words are in the hypothesis, every other outcome's in the
    reference; at least one word is looked for.
    """
    side = "hyp" if t["outcome"] == "false_insertion" or t.get("ref_start") is None else "ref"
    return side, t.get(f"{side}_start"), max(1, len(str(t.get(f"{side}_text") or "").split()))


def _ops(pairs: Sequence[Sequence[Any]]) -> str:
    return "".join(p[0] for p in pairs)


def redact_pairs(pairs: Sequence[Sequence[Any]], red: Redactor) -> list[list[Any]]:
    refs = red.tokens([p[1] for p in pairs])
    hyps = red.tokens([p[2] for p in pairs])
    return [[p[0], r, h] for p, r, h in zip(pairs, refs, hyps)]


def explanations(run: RunData, red: Redactor, display: Display) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    """Every missed, partial or falsely inserted term with what was heard around it and why.

    Returns (the first ``MAX_EXPLANATIONS``, how many there are, counts per condition and cause).
    """
    methods = {str(c.get("name")): str(c.get("method")) for c in run.run.get("conditions") or [] if isinstance(c, Mapping)}
    meta = {(u["utt_id"], u["condition"]): u for u in run.utterances}
    out = []
    bad = [t for t in run.terms if t["outcome"] in ("miss", "partial", "false_insertion")]
    for t in bad:
        pairs = run.alignments.get((t["utt_id"], t["condition"]), [])
        side, start, n_words = _term_span(t)
        cols = term_columns(_ops(pairs), start, n_words, side)
        context: list[list[Any]] = []
        marks: list[int] = []
        if cols:
            center = cols[0]
            lo = max(0, center - CONTEXT_WORDS)
            hi = min(len(pairs), center + n_words + CONTEXT_WORDS)
            context = redact_pairs(pairs[lo:hi], red)
            # Columns of the term itself: from its first word to its last on the side it was
            # expected (or inserted) on, the other side's words in between included.
            marks = [k - lo for k in range(center, cols[-1] + 1) if k - lo < len(context)]
        u = meta.get((t["utt_id"], t["condition"]), {})
        out.append(
            {
                "utt_id": t["utt_id"],
                "condition": t["condition"],
                "accent_group": t.get("accent_group") or u.get("accent_group", ""),
                "term": display(t["term"], t.get("source", "")),
                "category": t.get("category", ""),
                "source": t.get("source", ""),
                "outcome": t["outcome"],
                "ref_text": red.text(t.get("ref_text") or ""),
                "hyp_text": red.text(t.get("hyp_text") or ""),
                "in_force": t.get("in_force"),
                "dropped": t.get("dropped"),
                "reason": reason(t, methods.get(t["condition"])),
                "cause": cause(t, methods.get(t["condition"])),
                "context": context,
                "marks": marks,
            }
        )
    causes = defaultdict(lambda: defaultdict(int))
    for e in out:
        causes[(e["condition"], e["cause"])][e["outcome"]] += 1
    cond_index = {c: i for i, c in enumerate(run.conditions)}
    cause_rows = [
        {"condition": c, "cause": cause_, "miss": n["miss"], "partial": n["partial"],
         "false_insertion": n["false_insertion"]}
        for (c, cause_), n in sorted(causes.items(), key=lambda kv: (cond_index.get(kv[0][0], 99), kv[0][1]))
    ]
    # Biased conditions first (a term that was offered and still failed is the
    # question a vocabulary author asks), the baseline last; then by term.
    cond_order = {c: i for i, c in enumerate(run.conditions)}
    out.sort(key=lambda e: (e["condition"] == run.baseline, cond_order.get(e["condition"], 99), e["term"], e["utt_id"]))
    return out[:MAX_EXPLANATIONS], len(out), cause_rows


def utterance_views(run: RunData, red: Redactor, display: Display) -> tuple[list[dict[str, Any]], int]:
    """Each clip with every condition's hypothesis aligned word by word and its terms' columns marked."""
    by_utt: dict[str, dict[str, Any]] = {}
    for u in run.utterances:
        v = by_utt.setdefault(
            u["utt_id"],
            {"utt_id": u["utt_id"], "accent_group": u["accent_group"], "speaker": u["speaker"],
             "ref": red.text(u["ref"]), "conditions": {}, "terms": []},
        )
        pairs = run.alignments.get((u["utt_id"], u["condition"]), [])
        counts = Counts.from_record(u)
        v["conditions"][u["condition"]] = {
            "hyp": red.text(u["hyp"]),
            "errors": counts.word_errors,
            "ref_words": u["ref_words"],
            "wer": counts.rate("wer"),
            "pairs": redact_pairs(pairs, red),
            "term_marks": [],
        }
    for t in run.terms:
        v = by_utt.get(t["utt_id"])
        if v is None or t["condition"] not in v["conditions"]:
            continue
        disp = display(t["term"], t.get("source", ""))
        if disp not in v["terms"]:
            v["terms"].append(disp)
        pairs = run.alignments.get((t["utt_id"], t["condition"]), [])
        side, start, n_words = _term_span(t)
        cols = term_columns(_ops(pairs), start, n_words, side)
        v["conditions"][t["condition"]]["term_marks"].append({"term": disp, "outcome": t["outcome"], "cols": cols})
    views = list(by_utt.values())
    views.sort(key=lambda v: (v["accent_group"], v["speaker"], v["utt_id"]))
    return views[:MAX_UTTERANCE_VIEWS], len(views)


def worst(views: list[dict[str, Any]], conditions: Sequence[str]) -> list[dict[str, Any]]:
    """The clips with the most errors in any condition, every condition's hypothesis beside the reference."""
    def key(v: Mapping[str, Any]) -> tuple:
        errs = [c["errors"] for c in v["conditions"].values()]
        return (-max(errs, default=0), -sum(errs), v["utt_id"])
    out = []
    for v in sorted(views, key=key)[:N_WORST]:
        out.append(
            {"utt_id": v["utt_id"], "accent_group": v["accent_group"], "speaker": v["speaker"], "ref": v["ref"],
             "hyps": {c: {"hyp": v["conditions"][c]["hyp"], "errors": v["conditions"][c]["errors"],
                          "wer": v["conditions"][c]["wer"]} for c in conditions if c in v["conditions"]}}
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
        conds.append(
            {
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
        )
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
