"""Everything a report shows, gathered in one pass over a run's clips: count sums and bounded samples.

A report over a million clips must not hold a million rows. The statistics
need only per-speaker sums of integer counts (per accent group and condition,
and for each condition paired with the baseline) plus, for the paired
segment-level test, one small integer per clip; the pages show a bounded
number of utterances, failed terms and worst clips. ``collect`` keeps exactly
that while the clips go past, so memory grows with speakers, vocabulary terms
and conditions, not with clips.

The clips come as ``ClipBlock`` values: each clip's utterances.csv rows (one
per condition), its terms.csv rows and its alignments. ``runfolder.iter_clips``
streams them from a folder; ``blocks_of`` groups an in-memory ``Run`` the same
way, so both give the same report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..counts import FIELDS, field_weights, record_values
from ..grouping import (ALL, DEFAULT_GROUPINGS, DURATION_BAND, MAX_GROUPS, UNKNOWN, Grouping, clip_value,
                        empty_value_note, too_many_groups, sort_labels)
from ..redact import Redactor
from ..runfolder import ClipBlock, Run
from ..scoring import term_columns
from ..stats import METRICS, PAIRED_METRICS, PairedCounts, ZMoments, mapsswe_segments

MAX_UTTERANCE_VIEWS = 1500
N_WORST = 8
MAX_EXPLANATIONS = 2000
CONTEXT_WORDS = 3
_FLUSH_ROWS = 20_000

Display = Callable[[str, str], str]


def blocks_of(run: Run) -> list[ClipBlock]:
    """An in-memory run's rows grouped per clip, clips in the order utterances.csv first names them."""
    blocks: dict[str, ClipBlock] = {}
    for u in run.utterances:
        blocks.setdefault(str(u["utt_id"]), ClipBlock(str(u["utt_id"]))).utterances.append(u)
    for t in run.terms:
        blocks.setdefault(str(t["utt_id"]), ClipBlock(str(t["utt_id"]))).terms.append(t)
    for (uid, cond), pairs in run.alignments.items():
        if uid in blocks:
            blocks[uid].alignments[cond] = pairs
    for uid, meta in (getattr(run, "metadata", None) or {}).items():
        if uid in blocks:
            blocks[uid].meta = dict(meta)
    return list(blocks.values())


class _Smallest:
    """The ``k`` items with the smallest keys seen so far, in key order; memory about 2k items.

    ``wants(key)`` says whether an item with this key could still make the cut,
    so callers build the (costly) item only when it can.
    """

    def __init__(self, k: int):
        self.k = k
        self.items: list[tuple[Any, Any]] = []
        self.cut: Any = None

    def wants(self, key: Any) -> bool:
        return self.cut is None or key < self.cut

    def add(self, key: Any, item: Any) -> None:
        if not self.wants(key):
            return
        self.items.append((key, item))
        if len(self.items) > 2 * self.k:
            self._prune()

    def _prune(self) -> None:
        self.items.sort(key=lambda kv: kv[0])
        del self.items[self.k:]
        if len(self.items) >= self.k:
            self.cut = self.items[-1][0]

    def result(self) -> list[Any]:
        self._prune()
        return [item for _, item in self.items]


class _SpeakerSums:
    """Per-speaker count sums for many cells (a group x condition, a paired comparison) in one growing matrix.

    A cell's speakers keep the order in which its rows first name them, which is
    the order the bootstrap draws them in.
    """

    def __init__(self) -> None:
        self.slot: dict[tuple[Any, str], int] = {}
        self.cells: dict[Any, list[str]] = {}
        self.cell_slots: dict[Any, list[int]] = {}
        self.mat = np.zeros((1024, len(FIELDS)), dtype=np.int64)
        self.rows: list[tuple[int, ...]] = []
        self.at_row: list[int] = []
        self.at_slot: list[int] = []

    def row(self, values: tuple[int, ...]) -> int:
        self.rows.append(values)
        return len(self.rows) - 1

    def add(self, cell: Any, speaker: str, row: int) -> None:
        key = (cell, speaker)
        s = self.slot.get(key)
        if s is None:
            s = self.slot[key] = len(self.slot)
            self.cells.setdefault(cell, []).append(speaker)
            self.cell_slots.setdefault(cell, []).append(s)
        self.at_row.append(row)
        self.at_slot.append(s)

    def flush(self) -> None:
        if not self.rows:
            return
        n = len(self.slot)
        if n > self.mat.shape[0]:
            grown = np.zeros((max(n, 2 * self.mat.shape[0]), len(FIELDS)), dtype=np.int64)
            grown[: self.mat.shape[0]] = self.mat
            self.mat = grown
        vals = np.array(self.rows, dtype=np.int64)
        np.add.at(self.mat, np.array(self.at_slot, dtype=np.int64), vals[np.array(self.at_row, dtype=np.int64)])
        self.rows, self.at_row, self.at_slot = [], [], []

    def matrix(self, cell: Any) -> tuple[list[str], np.ndarray]:
        """(speakers, speakers x fields as floats) of one cell; empty when the cell has no rows."""
        self.flush()
        slots = self.cell_slots.get(cell, [])
        return list(self.cells.get(cell, [])), self.mat[np.array(slots, dtype=np.int64)].astype(float) if slots \
            else np.zeros((0, len(FIELDS)))

    def has(self, cell: Any) -> bool:
        return cell in self.cells


# integer error weights per paired metric, for each clip's condition-minus-baseline error difference
_ERR_WEIGHTS = {name: [(FIELDS.index(f), w) for f, w in field_weights(METRICS[name].errors).items()]
                for name in PAIRED_METRICS if METRICS[name].errors is not None}


@dataclass
class _Pairs:
    """One condition against the baseline: the moments of its per-clip error differences and of its WER segments.

    Keyed by cell: ``(i, group code)`` under grouping ``i``, ``(None, 0)`` for
    ALL. MAPSSWE needs only each cell's count, sum and sum of squares
    (``stats.ZMoments``), so memory is per group, not per clip.
    """

    n_groupings: int = 1
    clips: dict[tuple[int | None, int], int] = field(default_factory=dict)
    errors: dict[tuple[int | None, int], dict[str, list[int]]] = field(default_factory=dict)
    segments: dict[tuple[int | None, int], list[int]] = field(default_factory=dict)
    no_segments: set[tuple[int | None, str]] = field(default_factory=set)  # (grouping, group), (None, ALL): an alignment lacks

    def add_clip(self, cells: Sequence[tuple[int | None, int]], errors: Mapping[str, int]) -> None:
        for cell in cells:
            self.clips[cell] = self.clips.get(cell, 0) + 1
            got = self.errors.setdefault(cell, {})
            for k, z in errors.items():
                m = got.setdefault(k, [0, 0, 0])
                m[0] += 1
                m[1] += z
                m[2] += z * z

    def add_segment(self, cells: Sequence[tuple[int | None, int]], z: int) -> None:
        for cell in cells:
            m = self.segments.setdefault(cell, [0, 0, 0])
            m[0] += 1
            m[1] += z
            m[2] += z * z


@dataclass
class Collected:
    """What the report model is built from (``collect``'s result); ``view(i)`` is grouping ``i``'s cells.

    The methods take a group label of the first grouping (or ALL); other
    groupings are reached through ``view``, which has the same methods.
    """

    conditions: list[str]
    baseline: str
    groups: list[str]
    sums: _SpeakerSums
    strata: dict[str, dict[str, str]]            # condition -> speaker -> accent group (last row wins)
    pairs: dict[str, _Pairs]
    group_code: dict[str, int]
    term_agg: dict[tuple[str, str], dict[str, Any]]
    directory_terms: set[str]
    explanations: list[dict[str, Any]]
    explanations_total: int
    causes: dict[tuple[str, str], dict[str, int]]
    views: list[dict[str, Any]]
    views_total: int
    worst: list[dict[str, Any]]
    groupings: tuple[Grouping, ...] = DEFAULT_GROUPINGS
    grouping_groups: list[list[str]] = field(default_factory=list)      # per grouping: its group labels, sorted
    grouping_codes: list[dict[str, int]] = field(default_factory=list)  # per grouping: label -> code
    notes: list[str] = field(default_factory=list)                      # warnings about the groupings (empty values)
    index: int = 0                                                      # the grouping this view's methods use

    def view(self, i: int) -> "Collected":
        """The same collection seen through grouping ``i`` (``groups``, ``group_code`` and the methods)."""
        from dataclasses import replace

        return replace(self, index=i, groups=self.grouping_groups[i], group_code=self.grouping_codes[i])

    def _key(self, group: str) -> tuple[int | None, str]:
        return (None, ALL) if group == ALL else (self.index, group)

    def cell(self, group: str, cond: str) -> tuple[list[str], np.ndarray]:
        return self.sums.matrix(("c", *self._key(group), cond))

    def has_cell(self, group: str, cond: str) -> bool:
        return self.sums.has(("c", *self._key(group), cond))

    def paired(self, group: str, cond: str) -> PairedCounts | None:
        """Baseline and ``cond`` on the clips of ``group`` (or ALL) that both hold; None when there are none."""
        key = self._key(group)
        if not self.sums.has(("pb", *key, cond)):
            return None
        speakers, b = self.sums.matrix(("pb", *key, cond))
        _, c = self.sums.matrix(("pc", *key, cond))
        p = self.pairs[cond]
        cell = self._cell(group)
        errs = {k: ZMoments(*m) for k, m in p.errors.get(cell, {}).items()}
        return PairedCounts(speakers, b, c, errs, p.clips.get(cell, 0))

    def _cell(self, group: str) -> tuple[int | None, int]:
        return (None, 0) if group == ALL else (self.index, self.group_code[group])

    def segments(self, group: str, cond: str) -> ZMoments | None:
        """The moments of the WER segments' condition-minus-baseline errors; None when an alignment is missing."""
        p = self.pairs.get(cond)
        if p is None or self._key(group) in p.no_segments:
            return None
        return ZMoments(*p.segments.get(self._cell(group), (0, 0, 0)))


def _ops(pairs: Sequence[Sequence[Any]]) -> str:
    return "".join(p[0] for p in pairs)


def term_span(t: Mapping[str, Any]) -> tuple[str, int | None, int]:
    """(side, first word, number of words) of a terms.csv event: where its words are.

    A false insertion's words are in the hypothesis, every other outcome's in the
    reference; at least one word is looked for.
    """
    side = "hyp" if t["outcome"] == "false_insertion" or t.get("ref_start") is None else "ref"
    return side, t.get(f"{side}_start"), max(1, len(str(t.get(f"{side}_text") or "").split()))


def redact_pairs(pairs: Sequence[Sequence[Any]], red: Redactor) -> list[list[Any]]:
    refs = red.tokens([p[1] for p in pairs])
    hyps = red.tokens([p[2] for p in pairs])
    return [[p[0], r, h] for p, r, h in zip(pairs, refs, hyps)]


def collect(blocks: Iterable[ClipBlock], run_info: Mapping[str, Any], *, red: Redactor, display: Display,
            groupings: Sequence[Grouping] = DEFAULT_GROUPINGS) -> Collected:
    """One pass over the clips: speaker sums, paired differences, term tallies and the bounded samples.

    Every row goes into the cells of its group under each of ``groupings``
    and into ALL's; the ALL cells (and the speaker strata of their bootstrap,
    the accent groups) are the same whichever groupings are asked for.
    """
    from ..runfolder import run_conditions
    from .verdicts import cause

    methods = {str(c.get("name")): str(c.get("method")) for c in run_info.get("conditions") or [] if isinstance(c, Mapping)}
    _, baseline = run_conditions(run_info, ())
    listed = [str(c["name"]) for c in run_info.get("conditions") or [] if isinstance(c, Mapping) and "name" in c]
    order: dict[str, int] = {c: i for i, c in enumerate(dict.fromkeys(listed))}  # provisional: run.json's, then as seen
    sums = _SpeakerSums()
    strata: dict[str, dict[str, str]] = defaultdict(dict)
    pairs: dict[str, _Pairs] = {}
    groupings = tuple(groupings)
    ng = len(groupings)
    codes: list[dict[str, int]] = [{} for _ in groupings]
    meta_cols = sorted({c for g in groupings for c in g.columns if c not in ("accent_group", "speaker")})
    empty: dict[str, int] = {c: 0 for c in meta_cols}
    n_clips = 0
    present: dict[str, None] = {}
    term_agg: dict[tuple[str, str], dict[str, Any]] = {}
    directory_terms: set[str] = set()
    expl = _Smallest(MAX_EXPLANATIONS)
    n_expl = 0
    causes: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    views = _Smallest(MAX_UTTERANCE_VIEWS)
    worst = _Smallest(N_WORST)
    n_views = 0
    seq = 0

    for block in blocks:
        urows = block.utterances
        if urows:
            n_clips += 1
            for c in meta_cols:
                if clip_value(c, urows[0], block.meta) == UNKNOWN and not str(block.meta.get(c) or "").strip():
                    empty[c] += 1
        # ---- counts: every row into its groups' and ALL's cells; baseline rows paired with each condition's
        by_cond: dict[str, dict[str, Any]] = {}
        for u in urows:
            cond, spk = str(u["condition"]), str(u["speaker"])
            if cond not in present:
                present[cond] = None
                order.setdefault(cond, len(order))
            u["_groups"] = labels = tuple(g.label(lambda c: clip_value(c, u, block.meta)) for g in groupings)
            for i, lab in enumerate(labels):
                if lab not in codes[i]:
                    if len(codes[i]) >= MAX_GROUPS:
                        raise too_many_groups(groupings[i], len(codes[i]) + 1)
                    codes[i][lab] = len(codes[i])
            vals = record_values(u)
            u["_values"] = vals
            u["_row"] = r = sums.row(vals)
            for i, lab in enumerate(labels):
                sums.add(("c", i, lab, cond), spk, r)
            sums.add(("c", None, ALL, cond), spk, r)
            strata[cond][spk] = str(u["accent_group"])
            by_cond[cond] = u
        for b in urows:
            if str(b["condition"]) != baseline:
                continue
            labels, spk = b["_groups"], str(b["speaker"])
            clip_cells = [(None, 0), *((i, codes[i][lab]) for i, lab in enumerate(labels))]
            base_pairs = block.alignments.get(baseline)
            for cond in list(present):
                if cond == baseline:
                    continue
                p = pairs.setdefault(cond, _Pairs(ng))
                cond_pairs = block.alignments.get(cond)
                c = by_cond.get(cond)
                cells = []
                for i, lab in enumerate(labels):
                    same = c if c is not None and c["_groups"][i] == lab else _last_in_group(urows, cond, i, lab)
                    cells.append(((i, lab), same))
                cells.append(((None, ALL), c))
                for cell, other in cells:
                    if other is None:
                        continue
                    sums.add(("pb", *cell, cond), spk, b["_row"])
                    sums.add(("pc", *cell, cond), spk, other["_row"])
                    if cell[0] is None:
                        p.add_clip(clip_cells, {k: sum(w * (other["_values"][i] - b["_values"][i]) for i, w in ws)
                                                for k, ws in _ERR_WEIGHTS.items()})
                keys = {(i, lab) for i, lab in enumerate(labels)} | {(None, ALL)}
                if cond_pairs is None or base_pairs is None:
                    p.no_segments.update(keys)
                elif not (keys <= p.no_segments):
                    for ce, be in mapsswe_segments(_ops(cond_pairs), _ops(base_pairs)):
                        p.add_segment(clip_cells, ce - be)
        if len(sums.rows) >= _FLUSH_ROWS:
            sums.flush()

        # ---- terms: tallies per (term, condition), explanations of the failures
        meta = {str(u["condition"]): u for u in urows}
        for t in block.terms:
            term, cond, outcome, source = t["term"], t["condition"], t["outcome"], t.get("source", "")
            if source == "directory":
                directory_terms.add(term)
            a = term_agg.setdefault((term, cond), {
                "term": term, "category": t.get("category", ""), "source": source, "condition": cond,
                "refs": 0, "hits": 0, "partial": 0, "misses": 0, "false_ins": 0, "in_force": 0, "dropped": 0})
            if outcome != "false_insertion":
                # Of the clips where the term was said: how often the biasing offered it, or cut it.
                a["in_force"] += bool(t.get("in_force"))
                a["dropped"] += bool(t.get("dropped"))
            if outcome == "false_insertion":
                a["false_ins"] += 1
            else:
                a["refs"] += 1
                a[{"hit": "hits", "partial": "partial", "miss": "misses"}[outcome]] += 1
            if outcome not in ("miss", "partial", "false_insertion"):
                continue
            n_expl += 1
            seq += 1
            method = methods.get(cond)
            causes[(cond, cause(t, method))][outcome] += 1
            disp = display(term, source)
            key = (cond == baseline, order.get(cond, 99), disp, t["utt_id"], seq)
            if expl.wants(key):
                e = _explanation(t, block.alignments.get(cond, []), meta.get(cond, {}), method, red, disp)
                labels = meta.get(cond, {}).get("_groups")
                if labels is not None:
                    e["groups"] = dict(zip((g.name for g in groupings), labels))
                expl.add(key, e)

        # ---- the clip's view: shown if among the first by (group, speaker, id), or among the worst
        if urows:
            n_views += 1
            first = urows[0]
            errs = {}
            for u in urows:
                v = u["_values"]
                errs[str(u["condition"])] = v[3] + v[4] + v[5]  # subs + dels + ins (FIELDS order)
            vkey = (first["accent_group"], first["speaker"], first["utt_id"])
            wkey = (-max(errs.values(), default=0), -sum(errs.values()), first["utt_id"])
            if views.wants(vkey) or worst.wants(wkey):
                view = _view(block, red, display)
                view["groups"] = dict(zip((g.name for g in groupings), first["_groups"]))
                views.add(vkey, view)
                worst.add(wkey, view)
        for u in urows:
            u.pop("_values", None)
            u.pop("_row", None)
            u.pop("_groups", None)

    sums.flush()
    conditions, _ = run_conditions(run_info, present)
    notes = [empty_value_note(c, n, n_clips) + (" (no duration recorded: a run of imported transcripts decodes no "
                                                 "audio; a manifest 'duration' column stands in)"
                                                 if c == DURATION_BAND else "")
             for c, n in empty.items() if n]
    grouping_groups = [sort_labels(c) for c in codes]
    return Collected(
        conditions=conditions, baseline=baseline, groups=grouping_groups[0] if ng else [], sums=sums,
        strata=dict(strata), pairs=pairs, group_code=codes[0] if ng else {}, term_agg=term_agg,
        directory_terms=directory_terms, explanations=expl.result(), explanations_total=n_expl,
        causes={k: dict(v) for k, v in causes.items()}, views=views.result(), views_total=n_views,
        worst=worst.result(), groupings=groupings, grouping_groups=grouping_groups, grouping_codes=codes, notes=notes,
    )


def _last_in_group(urows: Sequence[Mapping[str, Any]], cond: str, i: int, group: str) -> Mapping[str, Any] | None:
    found = None
    for u in urows:
        if str(u["condition"]) == cond and u["_groups"][i] == group:
            found = u
    return found


def _explanation(t: Mapping[str, Any], pairs: Sequence[Sequence[Any]], u: Mapping[str, Any], method: str | None,
                 red: Redactor, disp: str) -> dict[str, Any]:
    from .verdicts import cause, reason

    side, start, n_words = term_span(t)
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
    return {
        "utt_id": t["utt_id"],
        "condition": t["condition"],
        "accent_group": t.get("accent_group") or u.get("accent_group", ""),
        "term": disp,
        "category": t.get("category", ""),
        "source": t.get("source", ""),
        "outcome": t["outcome"],
        "ref_text": red.text(t.get("ref_text") or ""),
        "hyp_text": red.text(t.get("hyp_text") or ""),
        "in_force": t.get("in_force"),
        "dropped": t.get("dropped"),
        "reason": reason(t, method),
        "cause": cause(t, method),
        "context": context,
        "marks": marks,
    }


def _view(block: ClipBlock, red: Redactor, display: Display) -> dict[str, Any]:
    """One clip with every condition's hypothesis aligned word by word and its terms' columns marked."""
    from ..counts import Counts

    first = block.utterances[0]
    v: dict[str, Any] = {"utt_id": first["utt_id"], "accent_group": first["accent_group"], "speaker": first["speaker"],
                         "ref": red.text(first["ref"]), "conditions": {}, "terms": []}
    for u in block.utterances:
        counts = Counts.from_record(u)
        v["conditions"][u["condition"]] = {
            "hyp": red.text(u["hyp"]),
            "errors": counts.word_errors,
            "ref_words": u["ref_words"],
            "wer": counts.rate("wer"),
            "pairs": redact_pairs(block.alignments.get(u["condition"], []), red),
            "term_marks": [],
        }
    for t in block.terms:
        if t["condition"] not in v["conditions"]:
            continue
        disp = display(t["term"], t.get("source", ""))
        if disp not in v["terms"]:
            v["terms"].append(disp)
        pairs = block.alignments.get(t["condition"], [])
        side, start, n_words = term_span(t)
        cols = term_columns(_ops(pairs), start, n_words, side)
        v["conditions"][t["condition"]]["term_marks"].append({"term": disp, "outcome": t["outcome"], "cols": cols})
    return v
