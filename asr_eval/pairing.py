"""Two runs paired clip by clip: which conditions meet, whether the clips are the same clips, what changed.

``asr-eval compare`` sets run B against run A (model A vs model B, dictionary
v1 vs v2, vendor X vs vendor Y) on the clips both scored. Everything that
decides whether that is a fair comparison, and the per-clip and per-term
differences a report shows, is computed here from the rows of the two run
folders; the statistics themselves (intervals, tests, Holm) are the ones a
single run's report uses (``asr_eval.stats``, ``asr_eval.report.numbers``).

Pure: rows in, values out; no files.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .counts import Counts
from .stats.bootstrap import _ratio_boot, _se, bootstrap_weights, speaker_matrix, stable_seed, studentized_interval
from .stats.metrics import METRICS

#: Run labels as the command line names them (``--pair A:baseline=B:prompt``): A is the reference run.
LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PAIR = re.compile(r"^(?P<ar>[A-Z]):(?P<ac>[^=]+)=(?P<br>[A-Z]):(?P<bc>.+)$")
N_CHANGED = 30  # utterances that changed most, per pair


# --------------------------------------------------------------------------- condition pairs


@dataclass(frozen=True)
class ConditionPair:
    """One paired comparison: condition ``a_cond`` of run ``a_run`` against ``b_cond`` of run ``b_run``.

    The labels (``a_label``, ``b_label``) are the names the report's tables give the two sides; they
    stay distinct even when both runs call the condition ``baseline``.
    """

    a_run: str
    a_cond: str
    b_run: str
    b_cond: str

    @property
    def a_label(self) -> str:
        return f"{self.a_run}:{self.a_cond}"

    @property
    def b_label(self) -> str:
        return f"{self.b_run}:{self.b_cond}"

    @property
    def name(self) -> str:
        return f"{self.b_label} vs {self.a_label}"


def parse_pair(text: str) -> tuple[str, str, str, str]:
    """``A:cond=B:cond`` -> (A, cond, B, cond); ValueError naming the expected shape otherwise."""
    m = _PAIR.match(text.strip())
    if not m:
        raise ValueError(f"--pair {text!r}: expected RUN:CONDITION=RUN:CONDITION with runs named A, B, C... "
                         "in the order given (e.g. A:baseline=B:dictionary)")
    return m["ar"], m["ac"].strip(), m["br"], m["bc"].strip()


def match_conditions(conditions: Mapping[str, Sequence[str]], explicit: Sequence[str] = ()) -> list[ConditionPair]:
    """Which condition of each later run meets which condition of run A.

    ``conditions``: run label -> its conditions (A first). Explicit ``--pair``
    specs win; every other run is matched with A on the condition names both
    have, in A's order. ValueError when a named run or condition does not
    exist, or a run meets A on nothing (the message says to use --pair).
    """
    labels = list(conditions)
    first = labels[0]
    pairs: list[ConditionPair] = []
    paired_runs: set[str] = set()
    for spec in explicit:
        ar, ac, br, bc = parse_pair(spec)
        for run, cond in ((ar, ac), (br, bc)):
            if run not in conditions:
                raise ValueError(f"--pair {spec!r}: there is no run {run} (runs given: {', '.join(labels)})")
            if cond not in conditions[run]:
                raise ValueError(f"--pair {spec!r}: run {run} has no condition {cond!r} "
                                 f"(it has {', '.join(conditions[run]) or 'none'})")
        if ar == br:
            raise ValueError(f"--pair {spec!r}: both sides are run {ar}; compare two runs (use 'asr-eval report' "
                             "for the conditions of one run)")
        pair = ConditionPair(ar, ac, br, bc)
        if pair in pairs:
            raise ValueError(f"--pair {spec!r} is given twice")
        pairs.append(pair)
        paired_runs.add(br)
    for run in labels[1:]:
        if run in paired_runs:
            continue
        shared = [c for c in conditions[first] if c in conditions[run]]
        if not shared:
            raise ValueError(f"runs {first} and {run} have no condition name in common ({first}: "
                             f"{', '.join(conditions[first])}; {run}: {', '.join(conditions[run])}); "
                             f"say which to compare with --pair {first}:COND={run}:COND")
        pairs += [ConditionPair(first, c, run, c) for c in shared]
    return pairs


# --------------------------------------------------------------------------- same clips?


@dataclass(frozen=True)
class Difference:
    """Why two runs are not comparable: what differs, for which clip (None: the whole run), and both values."""

    what: str
    clip: str | None
    a_value: Any
    b_value: Any

    def describe(self, a: str, b: str) -> str:
        where = f" for clip {self.clip}" if self.clip is not None else ""
        return f"{self.what} differs{where}: {a} has {_short(self.a_value)}, {b} has {_short(self.b_value)}"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The first row of each clip (every condition of a run holds the same reference, speaker and group)."""
    out: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        out.setdefault(str(r["utt_id"]), r)
    return out


def run_differences(a_info: Mapping[str, Any], b_info: Mapping[str, Any]) -> list[Difference]:
    """What makes two runs' scores incomparable as a whole: the normaliser and the test set's bytes."""
    out = []
    if a_info.get("normalizer") != b_info.get("normalizer"):
        out.append(Difference("normaliser version", None, a_info.get("normalizer"), b_info.get("normalizer")))
    sha = [(i.get("manifest") or {}).get("sha256") if isinstance(i.get("manifest"), Mapping) else None
           for i in (a_info, b_info)]
    if sha[0] != sha[1]:
        out.append(Difference("manifest sha256", None, sha[0], sha[1]))
    return out


def clip_differences(a_rows: Mapping[str, Mapping[str, Any]], b_rows: Mapping[str, Mapping[str, Any]],
                     group_by: str) -> list[Difference]:
    """For the clips both runs hold: the first clip (in A's order) whose reference, speaker or group differs.

    One difference per field at most: the message names the first clip, and
    the count of clips that differ follows in ``count_differences``.
    """
    out: dict[str, Difference] = {}
    fields = (("ref", "reference text"), ("speaker", "speaker"), (group_by, f"group ({group_by})"))
    for uid, a in a_rows.items():
        b = b_rows.get(uid)
        if b is None:
            continue
        for key, what in fields:
            if what not in out and str(a.get(key, "")) != str(b.get(key, "")):
                out[what] = Difference(what, uid, a.get(key), b.get(key))
    return list(out.values())


def count_differences(a_rows: Mapping[str, Mapping[str, Any]], b_rows: Mapping[str, Mapping[str, Any]],
                      key: str) -> int:
    return sum(1 for uid, a in a_rows.items() if uid in b_rows and str(a.get(key, "")) != str(b_rows[uid].get(key, "")))


@dataclass(frozen=True)
class ClipSets:
    """The clips two runs share (A's order) and those only one of them scored."""

    shared: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]


def clip_sets(a_ids: Sequence[str], b_ids: Sequence[str]) -> ClipSets:
    bs, as_ = set(b_ids), set(a_ids)
    return ClipSets(tuple(u for u in a_ids if u in bs), tuple(u for u in a_ids if u not in bs),
                    tuple(u for u in b_ids if u not in as_))


# --------------------------------------------------------------------------- paired records


def relabel(rows: Sequence[Mapping[str, Any]], condition: str, label: str, keep: set[str], group_by: str,
            speakers: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows of one condition on the clips in ``keep``, renamed to ``label`` and grouped by ``group_by``.

    The report's tables group by the ``accent_group`` key, so the chosen
    column's value is put there (the original stays as ``_accent_group``).
    ``speakers`` (clip -> speaker of run A) makes both sides resample the same
    speakers when a forced comparison has clips whose speakers differ.
    """
    out = []
    for r in rows:
        uid = str(r["utt_id"])
        if r["condition"] != condition or uid not in keep:
            continue
        rec = dict(r)
        rec["condition"] = label
        rec["_accent_group"] = r.get("accent_group")
        rec["accent_group"] = str(r.get(group_by, ""))
        if speakers is not None:
            rec["speaker"] = speakers.get(uid, rec["speaker"])
        out.append(rec)
    return out


# --------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class TermChange:
    """One term's occurrences on the shared clips, as A and B heard them."""

    term: str
    category: str
    source: str
    occurrences: int  # in the references of the shared clips
    both_hit: int
    gained: int  # B recognised it where A did not
    lost: int  # A recognised it where B did not
    both_missed: int
    a_hits: int
    b_hits: int
    a_false_ins: int
    b_false_ins: int

    @property
    def a_recall(self) -> float | None:
        return self.a_hits / self.occurrences if self.occurrences else None

    @property
    def b_recall(self) -> float | None:
        return self.b_hits / self.occurrences if self.occurrences else None

    @property
    def net(self) -> int:
        return self.gained - self.lost

    def as_dict(self) -> dict[str, Any]:
        return {"term": self.term, "category": self.category, "source": self.source, "occurrences": self.occurrences,
                "both_hit": self.both_hit, "gained": self.gained, "lost": self.lost, "both_missed": self.both_missed,
                "a_hits": self.a_hits, "b_hits": self.b_hits, "a_recall": self.a_recall, "b_recall": self.b_recall,
                "recall_change": None if self.occurrences == 0 else (self.b_hits - self.a_hits) / self.occurrences,
                "net": self.net, "a_false_ins": self.a_false_ins, "b_false_ins": self.b_false_ins,
                "false_ins_change": self.b_false_ins - self.a_false_ins}


def _occurrences(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, Any], str]:
    """(clip, term, reference position) -> outcome, for the said occurrences of one side."""
    out: dict[tuple[str, str, Any], str] = {}
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for t in rows:
        if t["outcome"] == "false_insertion":
            continue
        pos = t.get("ref_start")
        if pos is None:  # no position recorded: the n-th occurrence of the term in the clip
            k = (str(t["utt_id"]), str(t["term"]))
            pos, seen[k] = f"#{seen[k]}", seen[k] + 1
        out[(str(t["utt_id"]), str(t["term"]), pos)] = str(t["outcome"])
    return out


def term_changes(a_terms: Sequence[Mapping[str, Any]], b_terms: Sequence[Mapping[str, Any]]) -> list[TermChange]:
    """Per term, occurrence by occurrence: which B recognised that A missed, and the reverse.

    ``a_terms``/``b_terms``: terms.csv rows of the two paired conditions on the
    shared clips. An occurrence is a term said at one position of one clip's
    reference; a partial hit counts as not recognised, as in term recall. An
    occurrence scored on one side only (a term the other run's vocabulary did
    not score) counts as missed there. Sorted by net change, losses first.
    """
    a_occ, b_occ = _occurrences(a_terms), _occurrences(b_terms)
    info: dict[str, tuple[str, str]] = {}
    for t in (*a_terms, *b_terms):
        info.setdefault(str(t["term"]), (str(t.get("category") or ""), str(t.get("source") or "")))
    tally: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    for key in {**a_occ, **b_occ}:
        a_hit, b_hit = a_occ.get(key) == "hit", b_occ.get(key) == "hit"
        t = tally[key[1]]
        t[0] += 1
        t[1 + (0 if a_hit and b_hit else 1 if b_hit else 2 if a_hit else 3)] += 1
        t[5] += a_hit
        t[6] += b_hit
    fi: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for side, rows in ((0, a_terms), (1, b_terms)):
        for r in rows:
            if r["outcome"] == "false_insertion":
                fi[str(r["term"])][side] += 1
    out = []
    for term in sorted({*tally, *fi}):  # a term only ever inserted, never said, gets a row too
        t = tally[term] if term in tally else [0] * 7
        cat, src = info.get(term, ("", ""))
        out.append(TermChange(term, cat, src, t[0], t[1], t[2], t[3], t[4], t[5], t[6], fi[term][0], fi[term][1]))
    out.sort(key=lambda c: (c.net - (c.b_false_ins - c.a_false_ins), -c.lost, c.term))
    return out


# --------------------------------------------------------------------------- utterances


@dataclass(frozen=True)
class ClipChange:
    """One shared clip's word errors under A and under B."""

    utt_id: str
    group: str
    speaker: str
    a_errors: int
    b_errors: int
    ref_words: int

    @property
    def change(self) -> int:
        return self.b_errors - self.a_errors


def clip_changes(a_rows: Sequence[Mapping[str, Any]], b_rows: Sequence[Mapping[str, Any]],
                 limit: int = N_CHANGED) -> tuple[list[ClipChange], int, int]:
    """The clips whose word errors changed most (both directions, largest change first), and how many got
    better and worse in all. Rows are one condition per side, already paired and relabelled."""
    b_by = {str(r["utt_id"]): r for r in b_rows}
    changes = []
    for a in a_rows:
        b = b_by.get(str(a["utt_id"]))
        if b is None:
            continue
        ca, cb = Counts.from_record(a), Counts.from_record(b)
        changes.append(ClipChange(str(a["utt_id"]), str(a["accent_group"]), str(a["speaker"]), ca.word_errors,
                                  cb.word_errors, ca.ref_words))
    better = sum(c.change < 0 for c in changes)
    worse = sum(c.change > 0 for c in changes)
    moved = sorted((c for c in changes if c.change), key=lambda c: (-abs(c.change), -c.change, c.utt_id))
    return moved[:limit], better, worse


# --------------------------------------------------------------------------- fairness: the gap, A vs B


@dataclass(frozen=True)
class GapChange:
    """Worst-minus-best group gap under A and under B, and B's gap minus A's with a paired interval."""

    metric: str
    a_worst: str
    a_best: str
    a_gap: float
    b_worst: str
    b_best: str
    b_gap: float
    change: float
    low: float
    high: float
    groups: int

    def as_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return None if x is None or math.isnan(x) else (0.0 if abs(x) < 1e-12 else float(x))
        return {"metric": self.metric, "a_worst": self.a_worst, "a_best": self.a_best, "a_gap": f(self.a_gap),
                "b_worst": self.b_worst, "b_best": self.b_best, "b_gap": f(self.b_gap), "change": f(self.change),
                "low": f(self.low), "high": f(self.high), "groups": self.groups,
                "verdict": self.verdict}

    @property
    def verdict(self) -> str:
        if math.isnan(self.low) or math.isnan(self.high):
            return "no interval"
        if self.high < 0:
            return "narrows"
        if self.low > 0:
            return "widens"
        return "no clear change"


def gap_change(pairs: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]], *,
               metric: str = "wer", n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> GapChange | None:
    """Does B widen or narrow the gap between groups? gap = worst group minus best group, on ``metric``.

    ``pairs``: group -> (A records, B records) on the same clips. Each side's
    worst and best groups are chosen on its point estimates and held fixed in
    every draw (as ``stats.group_gap`` does). Speakers are resampled within
    each group, the same draw for both sides, so the interval of B's gap
    minus A's is paired; groups are independent, so their variances add.
    Studentized (bootstrap-t) like every other difference. None with fewer
    than two groups that have a value under both sides.
    """
    m = METRICS[metric]
    mats = {}
    for g, (a, b) in sorted(pairs.items()):
        b_by = {str(r["utt_id"]): r for r in b}
        aa = [r for r in a if str(r["utt_id"]) in b_by]
        bb = [{**b_by[str(r["utt_id"])], "speaker": r["speaker"]} for r in aa]
        if not aa:
            continue
        _, am = speaker_matrix(aa)
        _, bm = speaker_matrix(bb)
        mats[g] = (am, bm)
    values = {}
    for g, (am, bm) in mats.items():
        va, vb = m.value(Counts(*(int(x) for x in am.sum(axis=0)))), m.value(Counts(*(int(x) for x in bm.sum(axis=0))))
        if va is not None and vb is not None:
            values[g] = (va, vb)
    if len(values) < 2:
        return None

    def ends(side: int) -> tuple[str, str]:
        order = sorted(values, key=lambda g: (values[g][side], g))
        return (order[-1], order[0]) if m.lower_is_better else (order[0], order[-1])

    (aw, ab), (bw, bb_) = ends(0), ends(1)
    # coefficient of each (group, side) in (B gap - A gap); worst minus best, sign-flipped for higher-is-better
    sign = 1.0 if m.lower_is_better else -1.0
    coef: dict[tuple[str, int], float] = defaultdict(float)
    for g, side, c in ((bw, 1, 1.0), (bb_, 1, -1.0), (aw, 0, -1.0), (ab, 0, 1.0)):
        coef[(g, side)] += sign * c
    est = sum(c * values[g][side] for (g, side), c in coef.items())
    boot = np.zeros(n_boot)
    var = 0.0
    var_boot = np.zeros(n_boot)
    usable = True
    for g in sorted({g for g, _ in coef}):
        am, bm = mats[g]
        if am.shape[0] < 2:
            usable = False
        w = bootstrap_weights(am.shape[0], n_boot, np.random.default_rng(stable_seed(seed, "gapchange", g)))
        infl = np.zeros(am.shape[0])
        infl_boot = np.zeros((n_boot, am.shape[0]))
        for side, mat in ((0, am), (1, bm)):
            c = coef.get((g, side), 0.0)
            if not c:
                continue
            rb = _ratio_boot(mat, w, m)
            boot = boot + c * rb.boot
            infl = infl + c * rb.infl
            infl_boot = infl_boot + c * rb.infl_boot
        if am.shape[0] >= 2:
            var += float(_se(infl)) ** 2
            var_boot = var_boot + np.asarray(_se(infl_boot, w)) ** 2
    if usable:
        lo, hi = studentized_interval(est, math.sqrt(var), boot, np.sqrt(var_boot), alpha)
    else:
        lo, hi = math.nan, math.nan
    gap_a = sign * (values[aw][0] - values[ab][0])
    gap_b = sign * (values[bw][1] - values[bb_][1])
    return GapChange(metric, aw, ab, gap_a, bw, bb_, gap_b, est, lo, hi, len(values))
