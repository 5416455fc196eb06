"""Strength and list-size sweeps: where does biasing stop helping and start inventing terms?

Two curves answer the questions a vocabulary owner asks before shipping:

* **strength sweep** - one method (decoder ``boost`` strengths, or
  post-correction thresholds) over a range of values: term recall against
  false term insertions per 100 utterances, and WER, per accent group;
* **list-size sweep** - the real vocabulary plus N distractor terms (priority
  0, mixed in at seeded random positions) that are never spoken (N = 0, 10, 100, 1000 from the list shipped in
  ``asr_eval/data/distractors.txt``, see ``vocab.distractors``): how a method degrades as the list grows.
  For ``prompt``/``hotwords`` large N overflows the 223-token budget; the terms
  that did not fit are recorded (that is itself a result).

Every sweep point is a ``Condition`` (whose ``kind`` says which sweep it
belongs to) run by ``evaluate.evaluate`` in *one* run folder, in memory, so
all points share clips, the encoder pass and the scorer. The scorer is given
the distractors as vocabulary (category ``distractor``), so a distractor
written into a transcript counts as a false insertion in every condition,
the baseline included. Rates are computed only after summing the
integer counts of ``utterances.csv``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .counts import RATES, Counts, harmonic_f1
from .bias import CONTEXT_KIND
from .grouping import DEFAULT_GROUPINGS, Grouping, label_of, parse_group_by
from .types import AsrEvalError, Condition, Term
from .vocab.distractors import DISTRACTOR, distractor_terms

ALL_GROUPS = "ALL"
DEFAULT_MAX_WER_INCREASE = 0.10  # relative to the baseline; a recommendation must not wreck the transcript
STRENGTH_METHODS = ("boost", "correct")
STRENGTH, LIST_SIZE, BASELINE = "strength", "list-size", "baseline"  # the kinds of sweep point
LIST_METHODS = ("prompt", "hotwords", "boost", "correct")


# --------------------------------------------------------------------------- sweep points


def _fmt(x: float) -> str:
    return f"{x:g}"


def strength_conditions(method: str, terms: Sequence[Term], values: Sequence[float],
                        base_method: str = "none") -> list[Condition]:
    """One condition per strength (``boost``) or correction threshold (``correct`` on ``base_method``)."""
    if method == "boost":
        return [Condition(f"boost@{_fmt(v)}", "boost", tuple(terms), strength=float(v), kind=STRENGTH)
                for v in values]
    if method == "correct":
        return [Condition(f"correct@{_fmt(v)}", base_method, tuple(terms), correct=float(v), kind=STRENGTH)
                for v in values]
    raise AsrEvalError(f"strength sweeps need a method with a strength: {', '.join(STRENGTH_METHODS)} (got {method!r})")


def mix_in(terms: Sequence[Term], distractors: Sequence[Term], seed: int = 0) -> tuple[Term, ...]:
    """Insert each distractor at a seeded random position among ``terms`` (whose order is kept).

    Appending them would put every distractor behind every real term when a
    token budget forces terms out; mixed in, they compete for the budget with
    real terms of the same priority, as unrelated entries of a big company
    vocabulary would.
    """
    import random

    rng = random.Random(seed)
    mixed = list(terms)
    for d in distractors:
        mixed.insert(rng.randint(0, len(mixed)), d)
    return tuple(mixed)


def list_size_conditions(method: str, terms: Sequence[Term], distractors: Sequence[Term], sizes: Sequence[int],
                         strength: float | None = None, base_method: str = "none") -> list[Condition]:
    """The real vocabulary with the first N distractors mixed in, for each N."""
    if method not in LIST_METHODS:
        raise AsrEvalError(f"list-size sweeps support {', '.join(LIST_METHODS)} (got {method!r})")
    out = []
    for n in sizes:
        offered = mix_in(terms, distractors[:n], seed=n)
        if method == "correct":
            out.append(Condition(f"correct+{n}", base_method, offered, correct=strength, kind=LIST_SIZE))
        else:
            out.append(Condition(f"{method}+{n}", method, offered, strength=strength, kind=LIST_SIZE))
    return out


# --------------------------------------------------------------------------- aggregation (pure)


@dataclass(frozen=True)
class SweepRow:
    """Summed counts of one sweep point in one accent group, and rates computed from them."""

    sweep: str            # 'strength' | 'list-size' | 'baseline'
    condition: str
    method: str
    strength: float | None
    correct: float | None
    distractors: int
    terms_offered: int
    terms_in_force: int
    terms_dropped: int
    group: str
    utterances: int
    ref_words: int
    word_errors: int
    term_refs: int
    term_hits: int
    term_false_ins: int
    distractor_false_ins: int

    @property
    def clips(self) -> int:
        return self.utterances

    # The rates of asr_eval.counts.RATES, evaluated on the sums this row kept.
    @property
    def wer(self) -> float | None:
        return RATES["wer"].of(self)

    @property
    def recall(self) -> float | None:
        return RATES["term_recall"].of(self)

    @property
    def precision(self) -> float | None:
        return RATES["term_precision"].of(self)

    @property
    def f1(self) -> float | None:
        return harmonic_f1(self.precision, self.recall)

    @property
    def false_ins_per_100(self) -> float | None:
        return RATES["false_ins_per_100"].of(self)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("wer", "recall", "precision", "f1", "false_ins_per_100"):
            v = getattr(self, k)
            d[k] = None if v is None else round(v, 6)
        return d


@dataclass(frozen=True)
class PointInfo:
    sweep: str
    condition: str
    method: str
    strength: float | None
    correct: float | None
    distractors: int
    terms_offered: int
    terms_in_force: int
    terms_dropped: int


def aggregate(points: Sequence[PointInfo], utterance_rows: Iterable[Mapping[str, Any]],
              term_rows: Iterable[Mapping[str, Any]], groupings: Sequence[Grouping] = DEFAULT_GROUPINGS,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[SweepRow]:
    """Sum per-utterance counts per (point, group) and over all groups (pure).

    Groups are the first grouping's labels ('us', 'female'); a further
    grouping's are named 'grouping=label' ('gender=female') so the two never mix.
    """
    by_name = {p.condition: p for p in points}
    sums: dict[tuple[str, str], Counts] = {}
    clip_groups: dict[str, tuple[str, ...]] = {}

    def labels(r: Mapping[str, Any]) -> tuple[str, ...]:
        meta = metadata.get(str(r.get("utt_id"))) if metadata is not None else None
        return tuple(label_of(g, r, meta) if i == 0 else f"{g.name}={label_of(g, r, meta)}"
                     for i, g in enumerate(groupings))

    for r in utterance_rows:
        if r["condition"] not in by_name:
            continue
        c = Counts.from_record(r)
        uid = r.get("utt_id")  # rows made in memory (tests, notebooks) may carry no id: each is its own clip
        gs = clip_groups.setdefault(str(uid), labels(r)) if uid is not None else labels(r)
        for g in (*gs, ALL_GROUPS):
            key = (r["condition"], g)
            sums[key] = sums.get(key, Counts.zero()) + c
    distractor_fi: dict[tuple[str, str], int] = {}
    for t in term_rows:
        if t["condition"] in by_name and t["outcome"] == "false_insertion" and t["category"] == DISTRACTOR:
            gs = clip_groups.get(str(t.get("utt_id"))) or labels(t)
            for g in (*gs, ALL_GROUPS):
                if (t["condition"], g) in sums:
                    distractor_fi[(t["condition"], g)] = distractor_fi.get((t["condition"], g), 0) + 1
    groups = sorted({g for _, g in sums} - {ALL_GROUPS}) + [ALL_GROUPS]
    out: list[SweepRow] = []
    for p in points:
        for g in groups:
            c = sums.get((p.condition, g))
            if c is None:
                continue
            out.append(SweepRow(**asdict(p), group=g, utterances=c.clips, ref_words=c.ref_words,
                                word_errors=c.word_errors, term_refs=c.term_refs, term_hits=c.term_hits,
                                term_false_ins=c.term_false_ins, distractor_false_ins=distractor_fi.get((p.condition, g), 0)))
    return out


@dataclass(frozen=True)
class Recommendation:
    group: str
    condition: str | None
    strength: float | None
    criterion: str
    reason: str


def recommend(rows: Sequence[SweepRow], group: str = ALL_GROUPS,
              max_false_insertions: float | None = None,
              max_wer_increase: float | None = DEFAULT_MAX_WER_INCREASE) -> Recommendation:
    """Best strength-sweep point of ``group``: best F1, or best recall within the insertion limit.

    Points whose WER exceeds the group's baseline WER by more than
    ``max_wer_increase`` (relative; None = no limit) are never recommended:
    a strong boost can raise term F1 while derailing decoding into loops.
    Ties go to the lower WER, then to the weaker setting (less intervention:
    the lower boost strength, the higher correction threshold).
    """
    cands = [r for r in rows if r.sweep == "strength" and r.group == group]
    value = lambda r: r.strength if r.method == "boost" and r.correct is None else r.correct
    # less intervention first: a weaker boost, or a *higher* correction threshold
    weaker = lambda r: (value(r) or 0.0) if r.correct is None else -(value(r) or 0.0)
    limits: list[str] = []
    base = next((r for r in rows if r.sweep == "baseline" and r.group == group), None)
    if max_wer_increase is not None and base is not None and base.wer is not None:
        ceiling = base.wer * (1.0 + max_wer_increase)
        limits.append(f"WER <= {ceiling:.3f} (baseline {base.wer:.3f} + {max_wer_increase:.0%})")
        cands = [r for r in cands if r.wer is not None and r.wer <= ceiling + 1e-12]
    if max_false_insertions is not None:
        limits.append(f"false insertions <= {max_false_insertions:g} per 100 utterances")
        cands = [r for r in cands if r.false_ins_per_100 is not None and r.false_ins_per_100 <= max_false_insertions + 1e-12]
        criterion = "highest term recall"
        key = lambda r: (-(r.recall or 0.0), r.wer if r.wer is not None else 1e9, weaker(r))
    else:
        criterion = "highest term F1 (recall vs false insertions)"
        key = lambda r: (-(r.f1 or 0.0), r.wer if r.wer is not None else 1e9, weaker(r))
    if limits:
        criterion += " with " + " and ".join(limits)
    if not cands:
        return Recommendation(group, None, None, criterion, "no sweep point meets the criterion")
    best = min(cands, key=key)
    v = value(best)
    reason = (f"{best.condition}: recall {best.recall if best.recall is not None else float('nan'):.3f}, "
              f"false insertions {best.false_ins_per_100:.2f}/100 utts, F1 {best.f1 or 0.0:.3f}, "
              f"WER {best.wer if best.wer is not None else float('nan'):.3f}")
    return Recommendation(group, best.condition, v, criterion, reason)


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SweepResult:
    out_dir: Path
    run_dir: Path
    rows: tuple[SweepRow, ...]
    recommendations: tuple[Recommendation, ...]
    files: dict[str, Path]
    outcome: Any = None  # the evaluation's RunOutcome: rejected rows, failed clips, problems
    context_rows: tuple[Any, ...] = ()  # context.ProtocolRow of the distractor protocol, when it ran


def run_sweep(
    manifest: str | Path,
    out_dir: str | Path,
    *,
    dictionary: str | Path | None = None,
    directory: str | Path | None = None,
    method: str = "boost",
    strengths: Sequence[float] = (0.0, 1.0, 2.0, 4.0),
    sizes: Sequence[int] = (),
    list_method: str | None = None,
    list_strength: float | None = None,
    base_method: str = "none",
    max_false_insertions: float | None = None,
    max_wer_increase: float | None = DEFAULT_MAX_WER_INCREASE,
    config: Any = None,
    backend: Any = None,
    command: Sequence[str] | None = None,
    audio_roots: Sequence[str | Path] = (),
    allow_outside_paths: bool = False,
    manifest_options: Any = None,
    distractors: Sequence[int] = (),
    context_methods: Sequence[str] = ("prompt",),
    distractor_seed: int = 0,
) -> SweepResult:
    """Run the baseline, the strength sweep, the list-size sweep and the distractor protocol in one run folder, then summarise.

    ``distractors`` (N values) runs the contextual-biasing literature's
    protocol (``asr_eval.context``): each clip offered its own reference
    terms plus N seeded distractors, by each of ``context_methods``. Run
    alone, every clip is scored against its own list only (B-WER over the
    words of its list's terms, as the literature does); run with other sweeps,
    against the run's vocabulary and distractors as well.
    """
    from .backends import load_backend
    from .evaluate import Inputs, RunConfig, all_terms, evaluate, load_vocabularies
    from .files import claim_folder
    from .manifest import load_manifest

    config = config or RunConfig()
    out = Path(out_dir)
    vocab_problems: list = []
    dict_v, dir_v = load_vocabularies(dictionary, directory, vocab_problems.append)
    terms = all_terms(dict_v, dir_v)
    if not terms:
        raise AsrEvalError("a sweep needs a dictionary and/or a directory")
    list_method = list_method or method
    if list_strength is None and list_method in STRENGTH_METHODS and strengths:
        list_strength = max(strengths) if list_method == "boost" else min(strengths)
    man = load_manifest(manifest, audio_roots=audio_roots, allow_outside_paths=allow_outside_paths,
                        options=manifest_options)
    texts = [u.text for u in man.utterances]
    ns = sorted(set(int(n) for n in distractors))
    if any(n < 0 for n in ns):
        raise AsrEvalError(f"--distractors must be whole numbers >= 0, got {list(distractors)}")
    bad = [m for m in context_methods if m not in CONTEXT_METHODS]
    if ns and (bad or not context_methods):
        raise AsrEvalError(f"the distractor protocol supports {', '.join(CONTEXT_METHODS)} (got {list(context_methods)})")
    pool = distractor_terms(ns[-1], terms, texts) if ns and ns[-1] > 0 else ()
    distractors = distractor_terms(max(sizes), terms, texts) if sizes and max(sizes) > 0 else ()

    conditions: list[Condition] = [Condition("baseline", "none", kind=BASELINE)]
    conditions += strength_conditions(method, terms, strengths, base_method) if strengths else []
    conditions += list_size_conditions(list_method, terms, distractors, sizes, list_strength, base_method) if sizes else []
    protocol = protocol_conditions(context_methods, ns, list_strength) if ns else []
    conditions += protocol
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise AsrEvalError(f"duplicate sweep points: {names}")

    claim_folder(out, kind="sweep", force=config.force)  # refused before a model is loaded or anything written

    if backend is None:
        # boost exists only in openai-whisper; the Ray workers build their engine from the config,
        # so the config must name it, and the driver then loads no model of its own
        if "boost" in (method, list_method, *(c.method for c in protocol)):
            config = replace(config, backend="openai-whisper")
        if config.executor != "ray":
            backend = load_backend(config.backend, model=config.model, device=config.device,
                                   compute_type=config.compute_type, options=config.decode,
                                   cpu_threads=config.cpu_threads, batch_size=config.batch_size)

    # Every condition, the baseline included, is scored against the real terms plus every distractor,
    # so a distractor written anywhere counts as a false insertion. Distractors are scored as
    # dictionary entries, in the dictionary's place in the list.
    scored_distractors = tuple(replace(d, source="dictionary") for d in distractors)
    scoring = (dict_v.terms if dict_v else ()) + scored_distractors + (dir_v.terms if dir_v else ())
    lists: dict[str, Any] = {}
    clip_terms: tuple[Term, ...] = ()
    if protocol:
        if len(conditions) == 1 + len(protocol):
            scoring = ()  # the protocol alone: each clip is scored against its own list, as the literature does
        clip_terms = tuple(terms) + tuple(pool)
        from .whisper_spellings import normalizer_for

        # the scorer's own normaliser (evaluate builds the same), so own terms are the occurrences it will count
        lists = protocol_lists(terms, pool, ns, protocol, normalizer_for(config.normalizer, (*scoring, *clip_terms)),
                               distractor_seed)
    run_dir = out / "run"
    outcome = evaluate(Inputs(man, dict_v, dir_v, scoring_terms=scoring, problems=tuple(vocab_problems)), run_dir, config=config,
                       conditions=conditions, backend=backend, command=command, lists=lists, clip_terms=clip_terms)
    run = outcome.load()

    points = []
    for c in conditions:
        if c.kind == CONTEXT_KIND:
            continue  # the protocol's own table (context.csv)
        kind = c.kind or BASELINE
        n = len([t for t in c.terms if t.category == DISTRACTOR]) if kind == LIST_SIZE else 0
        plan = run.plan(c.name)
        if c.method != "none":
            in_force = len(plan.terms_in_force) if plan else 0
        else:  # post-correction alone: every offered term can be corrected to
            in_force = len(c.terms) if c.correct is not None else 0
        points.append(PointInfo(kind, c.name, c.method, c.strength, c.correct, n, len(c.terms), in_force,
                                len(plan.terms_dropped) if plan else 0))
    groupings = parse_group_by(config.group_by)
    rows = aggregate(points, run.utterances, run.terms, groupings, run.metadata)
    ctx_rows: list[Any] = []
    if protocol:
        from .context import ProtocolPoint, protocol_rows
        from .runfolder import iter_plans

        ppoints = [ProtocolPoint("baseline", "none", None)] + [
            ProtocolPoint(protocol_name(m, n), m, n) for m in dict.fromkeys(context_methods) for n in ns]
        ctx_rows = protocol_rows(ppoints, run.utterances, run.terms, iter_plans(run_dir))
    groups = sorted({r.group for r in rows} - {ALL_GROUPS}) + [ALL_GROUPS]
    recs = tuple(recommend(rows, g, max_false_insertions, max_wer_increase) for g in groups) if strengths else ()
    files = write_sweep_outputs(out, rows, recs, {
        "manifest": str(manifest), "dictionary": str(dictionary) if dictionary else None,
        "directory": str(directory) if directory else None, "method": method, "strengths": list(strengths),
        "sizes": list(sizes), "list_method": list_method, "list_strength": list_strength,
        "base_method": base_method, "max_false_insertions": max_false_insertions,
        "max_wer_increase": max_wer_increase,
        "engine": run.run.get("engine"), "run_dir": str(run_dir),
        "distractors": ns, "context_methods": list(dict.fromkeys(context_methods)) if ns else [],
        "distractor_seed": distractor_seed,
    }, ctx_rows)
    return SweepResult(out, run_dir, tuple(rows), recs, files, outcome, tuple(ctx_rows))


# --------------------------------------------------------------------------- the distractor protocol


CONTEXT_METHODS = ("prompt", "hotwords", "boost")


def protocol_name(method: str, n: int) -> str:
    return f"context-{method}+{n}"


def protocol_conditions(methods: Sequence[str], ns: Sequence[int], strength: float | None = None) -> list[Condition]:
    """One per-clip condition per method and N (its list is made per clip: ``protocol_lists``)."""
    return [Condition(protocol_name(m, n), m, (), strength=strength if m == "boost" else None, kind=CONTEXT_KIND)
            for m in dict.fromkeys(methods) for n in ns]


def protocol_lists(vocabulary: Sequence[Term], pool: Sequence[Term], ns: Sequence[int],
                   conditions: Sequence[Condition], normalizer: Any, seed: int = 0) -> dict[str, Any]:
    """Each protocol condition's per-clip lists: one seeded draw shared by every N and method."""
    from .context import ProtocolDraw, ProtocolLists
    from .scoring import build_term_index

    draw = ProtocolDraw(build_term_index(vocabulary, normalizer), pool, max(ns), seed)
    by_n = {n: ProtocolLists(draw, n) for n in ns}
    return {c.name: by_n[int(c.name.rsplit("+", 1)[1])] for c in conditions}


# --------------------------------------------------------------------------- outputs


SWEEP_COLUMNS = ("sweep", "condition", "method", "strength", "correct", "distractors", "terms_offered",
                 "terms_in_force", "terms_dropped", "group", "utterances", "ref_words", "word_errors", "wer",
                 "term_refs", "term_hits", "recall", "term_false_ins", "distractor_false_ins",
                 "false_ins_per_100", "precision", "f1")


def write_sweep_outputs(out: Path, rows: Sequence[SweepRow], recs: Sequence[Recommendation],
                        settings: Mapping[str, Any], context_rows: Sequence[Any] = ()) -> dict[str, Path]:
    """sweep.csv, sweep.json and the plots (and the protocol's context.csv/md/png), under the folder's lock."""
    import io

    from .files import RunLock, record_outputs, write_atomic

    s = io.StringIO()
    w = csv.DictWriter(s, fieldnames=list(SWEEP_COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.to_dict().items()})
    doc = {"settings": dict(settings), "recommendations": [asdict(r) for r in recs],
           "rows": [r.to_dict() for r in rows]}
    if context_rows:
        doc["context"] = [r.to_dict() for r in context_rows]
    with RunLock(out, force=True, kind="sweep"):  # claimed (or refused) when the sweep started
        write_atomic(out / "sweep.csv", s.getvalue())
        write_atomic(out / "sweep.json", json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
        files = {"csv": out / "sweep.csv", "json": out / "sweep.json"}
        files.update(plot_sweep(out, rows))
        if context_rows:
            write_atomic(out / "context.csv", _table_csv([r.to_dict() for r in context_rows], CONTEXT_COLUMNS))
            write_atomic(out / "context.md", context_markdown(context_rows))
            files.update({"context_csv": out / "context.csv", "context_md": out / "context.md"})
            files.update(plot_context(out, context_rows))
        record_outputs(out, [p.name for p in files.values()], kind="sweep")
    return files


def plot_sweep(out: Path, rows: Sequence[SweepRow]) -> dict[str, Path]:
    """Recall vs false insertions per strength (one line per accent group) and metrics vs list size."""
    from .report.plots import pyplot

    plt = pyplot()
    strength = [r for r in rows if r.sweep == "strength"]
    listsize = [r for r in rows if r.sweep == "list-size" and r.group == ALL_GROUPS]
    panels = int(bool(strength)) + int(bool(listsize))
    if not panels:
        return {}
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.8), squeeze=False)
    ax_i = 0
    if strength:
        ax = axes[0][ax_i]
        ax_i += 1
        groups = sorted({r.group for r in strength} - {ALL_GROUPS}) + [ALL_GROUPS]
        for g in groups:
            pts = [r for r in strength if r.group == g and r.recall is not None]
            if not pts:
                continue
            bold = g == ALL_GROUPS
            ax.plot([r.false_ins_per_100 for r in pts], [r.recall for r in pts], marker="o",
                    linewidth=2.5 if bold else 1.0, color="black" if bold else None, alpha=1.0 if bold else 0.6,
                    label=g)
            if bold:
                for r in pts:
                    label = r.strength if r.method == "boost" and r.correct is None else r.correct
                    ax.annotate(f"{label:g}", (r.false_ins_per_100, r.recall), textcoords="offset points", xytext=(4, 4))
        base = next((r for r in rows if r.sweep == "baseline" and r.group == ALL_GROUPS), None)
        if base is not None and base.recall is not None:
            ax.scatter([base.false_ins_per_100], [base.recall], marker="x", s=80, color="black", zorder=5,
                       label="baseline (ALL)")
        ax.set_xlabel("false term insertions per 100 utterances")
        ax.set_ylabel("term recall")
        ax.set_ylim(0.0, 1.05)
        top = max((r.false_ins_per_100 or 0.0) for r in strength)
        ax.set_xlim(-0.05 * max(top, 1.0), max(top, 1.0) * 1.1)
        ax.set_title(f"strength sweep ({strength[0].condition.split('@')[0]})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    if listsize:
        ax = axes[0][ax_i]
        xs = [r.distractors for r in listsize]
        ax.plot(xs, [r.recall for r in listsize], marker="o", label="term recall")
        ax.plot(xs, [r.wer for r in listsize], marker="s", label="WER")
        ax2 = ax.twinx()
        ax2.plot(xs, [r.false_ins_per_100 for r in listsize], marker="^", color="tab:red", label="false ins / 100 utts")
        ax2.set_ylabel("false term insertions per 100 utterances", color="tab:red")
        ax2.set_ylim(bottom=0.0, top=max(1.0, *(r.false_ins_per_100 or 0.0 for r in listsize)) * 1.1)
        ax.set_ylim(0.0, max(1.05, *((r.wer or 0.0) * 1.05 for r in listsize)))
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0, right=max(xs) * 1.3 if max(xs) > 0 else 1)
        ax.set_xlabel("distractor terms added")
        ax.set_title(f"list-size sweep ({listsize[0].condition.split('+')[0]})")
        for r in listsize:
            if r.terms_dropped:
                ax.annotate(f"{r.terms_dropped} dropped", (r.distractors, r.recall or 0), textcoords="offset points",
                            xytext=(0, -14), fontsize=7, ha="center")
        ax.grid(alpha=0.3)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7)
    fig.tight_layout()
    from .files import replace_atomic

    files = {"png": out / "sweep.png", "svg": out / "sweep.svg"}
    try:
        replace_atomic(files["png"], lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        replace_atomic(files["svg"], lambda tmp: fig.savefig(tmp, format="svg"))
    finally:
        plt.close(fig)
    return files


CONTEXT_COLUMNS = ("condition", "method", "distractors", "group", "clips", "ref_words", "word_errors", "wer",
                   "b_ref", "b_errors", "bwer", "u_ref", "u_errors", "uwer", "term_refs", "term_hits", "recall",
                   "own_in_force_refs", "own_in_force_hits", "recall_in_force", "own_dropped_refs",
                   "own_dropped_hits", "recall_dropped", "own_terms", "own_terms_dropped", "own_dropped_share",
                   "mean_offered", "mean_in_force", "mean_tokens", "term_false_ins", "false_ins_per_100")


def _table_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    import io

    s = io.StringIO()
    w = csv.DictWriter(s, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return s.getvalue()


def context_markdown(rows: Sequence[Any], group: str = ALL_GROUPS) -> str:
    """The protocol's table (all accent groups together), for pasting next to published results."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    lines = ["| condition | N | WER % | B-WER % | U-WER % | term recall % | recall in force % | recall dropped % "
             "| own terms dropped | mean list | mean in force | mean tokens | false ins/100 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.group != group:
            continue
        d = r.to_dict()
        n = "-" if r.n is None else str(r.n)
        per_clip = r.n is not None
        dropped = f"{r.own_terms_dropped}/{r.own_terms}" if per_clip else "-"
        mean = lambda k: "-" if d[k] is None else f"{d[k]:.1f}"  # noqa: E731
        lines.append(f"| {r.condition} | {n} | {pct(d['wer'])} | {pct(d['bwer'])} | {pct(d['uwer'])} "
                     f"| {pct(d['recall'])} | {pct(d['recall_in_force'])} | {pct(d['recall_dropped'])} | {dropped} "
                     f"| {mean('mean_offered')} | {mean('mean_in_force')} | {mean('mean_tokens')} "
                     f"| {'-' if d['false_ins_per_100'] is None else format(d['false_ins_per_100'], '.1f')} |")
    return "\n".join(lines) + "\n"


def plot_context(out: Path, rows: Sequence[Any]) -> dict[str, Path]:
    """B-WER, U-WER and term recall against N per method (baseline dashed), and the share of own terms dropped."""
    from .files import replace_atomic
    from .report.plots import pyplot

    plt = pyplot()
    rows = [r for r in rows if r.group == ALL_GROUPS]
    base = next((r for r in rows if r.n is None), None)
    methods = list(dict.fromkeys(r.method for r in rows if r.n is not None))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), squeeze=False)
    ax, ax2 = axes[0]
    colors = {"bwer": "tab:red", "uwer": "tab:blue", "recall": "tab:green"}
    labels = {"bwer": "B-WER", "uwer": "U-WER", "recall": "term recall"}
    styles = ["-", "--", ":", "-."]
    xs_all: list[int] = []
    for i, m in enumerate(methods):
        pts = sorted((r for r in rows if r.method == m and r.n is not None), key=lambda r: r.n)
        xs = [r.n for r in pts]
        xs_all += xs
        for k in ("bwer", "uwer", "recall"):
            ax.plot(xs, [r.to_dict()[k] for r in pts], marker="o", linestyle=styles[i % len(styles)],
                    color=colors[k], label=f"{labels[k]} ({m})")
        ax2.plot(xs, [r.to_dict()["own_dropped_share"] for r in pts], marker="o", linestyle=styles[i % len(styles)],
                 color="black", label=m)
        for r in pts:
            ax2.annotate(f"{r.own_terms_dropped}/{r.own_terms}", (r.n, r.to_dict()["own_dropped_share"] or 0.0),
                         textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
    if base is not None:
        for k in ("bwer", "uwer", "recall"):
            v = base.to_dict()[k]
            if v is not None:
                ax.axhline(v, color=colors[k], alpha=0.35, linewidth=1, label=f"{labels[k]} (no biasing)")
    for a in (ax, ax2):
        a.set_xscale("symlog", linthresh=10)
        a.set_xlabel("distractors per clip list (N)")
        a.grid(alpha=0.3)
        if xs_all:
            a.set_xlim(-0.5, max(xs_all) * 1.5 if max(xs_all) > 0 else 1)
    ax.set_ylabel("rate")
    ax.set_ylim(0.0, max(1.05, *((r.to_dict()[k] or 0.0) * 1.05 for r in rows for k in ("bwer", "uwer"))))
    ax.set_title("per-clip lists: own reference terms + N distractors")
    ax.legend(fontsize=7, ncol=2)
    ax2.set_ylabel("share of the clips' own terms dropped by the budget")
    ax2.set_ylim(0.0, 1.05)
    ax2.set_title("own terms that did not fit the token budget")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    files = {"context_png": out / "context.png", "context_svg": out / "context.svg"}
    try:
        replace_atomic(files["context_png"], lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        replace_atomic(files["context_svg"], lambda tmp: fig.savefig(tmp, format="svg"))
    finally:
        plt.close(fig)
    return files
