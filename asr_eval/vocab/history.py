"""Per-term recall and false insertions from a run's terms.csv (pure aggregation).

Counts are summed per (term, condition, accent group) and rates computed only
afterwards, so a group with few clips weighs what its events weigh. Each biased
condition is compared with the baseline on the same term: a term whose recall
does not rise while its false insertions do is hurting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

OUTCOMES = ("hit", "partial", "miss", "false_insertion")
ALL = "(all)"


@dataclass(frozen=True)
class Tally:
    hits: int = 0
    partial: int = 0
    misses: int = 0
    false_insertions: int = 0
    in_force: int = 0  # events where the term was in the prompt / hotwords
    dropped: int = 0  # events where the budget dropped it
    exact: int = 0  # hits written exactly in the display form (case, diacritics, spacing)

    def __add__(self, o: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(self.astuple(), o.astuple())))

    def astuple(self) -> tuple[int, ...]:
        return (self.hits, self.partial, self.misses, self.false_insertions, self.in_force, self.dropped, self.exact)

    @property
    def occurrences(self) -> int:
        return self.hits + self.partial + self.misses

    @property
    def recall(self) -> float | None:
        return self.hits / self.occurrences if self.occurrences else None


@dataclass(frozen=True)
class TermRow:
    term: str
    category: str
    source: str
    condition: str
    accent_group: str
    tally: Tally
    recall_delta: float | None  # vs baseline, same term and accent group
    fi_delta: int | None
    verdict: str

    def to_dict(self) -> dict:
        t = self.tally
        return {
            "term": self.term,
            "category": self.category,
            "source": self.source,
            "condition": self.condition,
            "accent_group": self.accent_group,
            "occurrences": t.occurrences,
            "hits": t.hits,
            "partial": t.partial,
            "misses": t.misses,
            "false_insertions": t.false_insertions,
            "in_force": t.in_force,
            "dropped": t.dropped,
            "display_exact": t.exact,
            "recall": t.recall,
            "recall_delta": self.recall_delta,
            "false_insertions_delta": self.fi_delta,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class HistoryReport:
    rows: tuple[TermRow, ...]
    conditions: tuple[str, ...]
    accent_groups: tuple[str, ...]
    baseline: str | None
    skipped: int  # rows with an unknown outcome

    def to_dict(self) -> dict:
        return {
            "baseline": self.baseline,
            "conditions": list(self.conditions),
            "accent_groups": list(self.accent_groups),
            "skipped_rows": self.skipped,
            "rows": [r.to_dict() for r in self.rows],
        }


def _truthy(v: object) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "y", "t")


def _verdict(recall_delta: float | None, fi_delta: int | None) -> str:
    if recall_delta is None and fi_delta is None:
        return ""
    if (fi_delta or 0) > 0 and (recall_delta is None or recall_delta <= 0):
        return "hurts"
    if (recall_delta or 0) > 0 and (fi_delta or 0) <= 0:
        return "helps"
    if (recall_delta or 0) > 0 and (fi_delta or 0) > 0:
        return "mixed"
    if (recall_delta or 0) < 0:
        return "hurts"
    return "no change"


def history(events: Iterable[Mapping[str, object]], baseline: str = "baseline") -> HistoryReport:
    """Aggregate term events (rows of terms.csv) per term x condition x accent group, plus all groups."""
    tallies: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    info: dict[str, tuple[str, str]] = {}
    conditions: dict[str, None] = {}
    accents: set[str] = set()
    skipped = 0
    for e in events:
        outcome = str(e.get("outcome") or "").strip().lower().replace("-", "_").replace(" ", "_")
        if outcome in ("false_insertion", "fi", "insertion"):
            outcome = "false_insertion"
        if outcome not in OUTCOMES:
            skipped += 1
            continue
        term = str(e.get("term") or "").strip()
        cond = str(e.get("condition") or "").strip()
        accent = str(e.get("accent_group") or "").strip() or "(unknown)"
        info.setdefault(term, (str(e.get("category") or ""), str(e.get("source") or "")))
        conditions.setdefault(cond)
        accents.add(accent)
        t = Tally(
            hits=outcome == "hit",
            partial=outcome == "partial",
            misses=outcome == "miss",
            false_insertions=outcome == "false_insertion",
            in_force=_truthy(e.get("in_force")),
            dropped=_truthy(e.get("dropped")),
            exact=outcome == "hit" and _truthy(e.get("display_exact")),
        )
        for group in (accent, ALL):
            tallies[(term, cond, group)] = tallies[(term, cond, group)] + t
    base = baseline if baseline in conditions else None
    rows = []
    for (term, cond, group), tally in sorted(tallies.items(), key=lambda kv: (kv[0][0].casefold(), kv[0][1] != base, kv[0][1], kv[0][2] != ALL, kv[0][2])):
        r_delta = fi_delta = None
        if base is not None and cond != base and (term, base, group) in tallies:
            b = tallies[(term, base, group)]
            if tally.recall is not None and b.recall is not None:
                r_delta = tally.recall - b.recall
            fi_delta = tally.false_insertions - b.false_insertions
        cat, src = info[term]
        rows.append(TermRow(term, cat, src, cond, group, tally, r_delta, fi_delta, _verdict(r_delta, fi_delta)))
    return HistoryReport(tuple(rows), tuple(conditions), tuple(sorted(accents)), base, skipped)
