"""Which reference segment each timed hypothesis word belongs to, as sclite does with stm and ctm.

A long recording is transcribed whole by an engine, while its reference comes
in segments (stm, Kaldi segments, NeMo offsets). sclite chops the hypothesis
to the segments by word midpoint: each segment takes the words "whose times
occur before the end of" the segment, the midpoint deciding (sclite.htm,
"Reference Segment Time Mark to Hypothesis Word Time Mark"). So a word whose
midpoint lies inside a segment belongs to it, and a word in a gap between
segments is taken by the next segment, where the alignment will usually count
it an insertion: the engine said something where the reference says nothing,
and scoring it is honest, dropping it would flatter the engine. A word after
the last segment has no next segment; it is charged to the last one, for the
same reason. Every word outside all segments is also returned, so the caller
can list them.

Segments may overlap (cross-talk); a word inside several goes to the one that
ends first, which is sclite's rule. Pure: numbers in, assignment out.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Segment:
    """A reference segment of one audio channel: ``id`` and [start, end) in seconds (None: from 0 / to the end)."""

    id: str
    start: float | None
    end: float | None


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    end: float

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class Outside:
    """A word whose midpoint is in no segment, and the segment it was charged to."""

    word: TimedWord
    charged_to: str


@dataclass(frozen=True)
class Assignment:
    words: dict[str, tuple[str, ...]]  # segment id -> its words, in time order
    outside: tuple[Outside, ...]


def assign_words(words: Sequence[TimedWord], segments: Sequence[Segment]) -> Assignment:
    """Give every word to a segment: the one holding its midpoint, else the next one, else the last."""
    if not segments:
        raise ValueError("no segments to assign words to")
    order = sorted(segments, key=lambda s: (_end(s), _start(s)))
    ends = [_end(s) for s in order]
    min_start = [_start(s) for s in order]  # min_start[i]: earliest start among order[i:]
    for i in range(len(order) - 2, -1, -1):
        min_start[i] = min(min_start[i], min_start[i + 1])
    got: dict[str, list[TimedWord]] = {s.id: [] for s in segments}
    outside: list[Outside] = []
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        m = w.mid
        i = bisect.bisect_right(ends, m)  # first segment ending after the midpoint
        holder = None
        if i < len(order) and min_start[i] <= m:  # some later-ending segment starts in time: find the first
            holder = next(order[j] for j in range(i, len(order)) if _start(order[j]) <= m)
        if holder is not None:
            got[holder.id].append(w)
            continue
        target = order[i] if i < len(order) else order[-1]
        got[target.id].append(w)
        outside.append(Outside(w, target.id))
    return Assignment({k: tuple(x.text for x in v) for k, v in got.items()}, tuple(outside))


def _start(s: Segment) -> float:
    return -math.inf if s.start is None else s.start


def _end(s: Segment) -> float:
    return math.inf if s.end is None else s.end
