"""The metrics reports show: each a rate of summed counts (``asr_eval.counts.RATES``)
with what statistics and reports need to know about it.

Pure: no files, no pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..counts import DERIVED, FIELDS, RATES, Counts, Ratio, field_weights

#: The count fields in order, ``clips`` first (``asr_eval.counts.FIELDS``); the
#: columns of every count matrix in this package.
COUNT_FIELDS: tuple[str, ...] = FIELDS
_FIELD_INDEX = {f: i for i, f in enumerate(FIELDS)}


@dataclass(frozen=True)
class Metric:
    """A rate of summed counts (``ratio``) and how to read it.

    ``errors`` weights the per-clip error count the segment-level (MAPSSWE)
    test compares; None when the metric is not an error count (precision...).
    ``lower_is_better`` tells reports which direction is an improvement;
    ``percent`` whether it is shown as a percentage (WER 12.3 %) rather than a
    plain number; ``upper`` its largest possible value (1 for recall...), None
    when unbounded (WER).
    """

    name: str
    label: str
    ratio: Ratio
    lower_is_better: bool = True
    errors: Mapping[str, int] | None = None
    percent: bool = True
    upper: float | None = None

    def __post_init__(self) -> None:
        for k in self.errors or {}:
            if k not in _FIELD_INDEX and k not in DERIVED:
                raise ValueError(f"metric {self.name}: unknown count {k!r}")

    def value(self, counts: Counts) -> float | None:
        """The metric of (summed) counts; None when its denominator is zero."""
        return self.ratio.of(counts)

    @property
    def num(self) -> dict[str, int]:
        """Numerator weights over count fields (derived sums expanded)."""
        return field_weights(self.ratio.num)

    @property
    def den(self) -> dict[str, int]:
        """Denominator weights over count fields."""
        return field_weights(self.ratio.den)

    @property
    def scale(self) -> float:
        return self.ratio.scale

    @property
    def num_vec(self) -> np.ndarray:
        return _vec(self.num) * self.scale

    @property
    def den_vec(self) -> np.ndarray:
        return _vec(self.den)

    @property
    def err_vec(self) -> np.ndarray | None:
        return None if self.errors is None else _vec(field_weights(self.errors))


def _vec(weights: Mapping[str, int]) -> np.ndarray:
    """A weight per ``COUNT_FIELDS`` column."""
    v = np.zeros(len(FIELDS))
    for k, w in weights.items():
        v[_FIELD_INDEX[k]] = w
    return v


def _m(name: str, label: str, **kw: Any) -> Metric:
    return Metric(name, label, RATES[name], **kw)


_TMISS = {"term_refs": 1, "term_hits": -1}  # partial counts as not recognised

METRICS: Mapping[str, Metric] = {
    m.name: m
    for m in (
        _m("wer", "WER", errors={"word_errors": 1}),
        _m("sub_rate", "Substitutions", errors={"subs": 1}),
        _m("del_rate", "Deletions", errors={"dels": 1}),
        _m("ins_rate", "Insertions", errors={"ins": 1}),
        _m("cer", "CER", errors={"char_errors": 1}),
        # fstalign's formatted WER: case and punctuation count (asr_eval.formatted).
        _m("fwer", "Formatted WER", errors={"fmt_errors": 1}),
        _m("bwer", "B-WER", errors={"b_errors": 1}),
        _m("uwer", "U-WER", errors={"u_errors": 1}),
        _m("term_recall", "Term recall", lower_is_better=False, errors=_TMISS, upper=1.0),
        _m("term_partial_rate", "Term partial", upper=1.0),
        _m("term_precision", "Term precision", lower_is_better=False, upper=1.0),
        _m("term_f1", "Term F1", lower_is_better=False, upper=1.0),
        _m("false_ins_per_100", "False insertions /100 clips", errors={"term_false_ins": 1}, percent=False),
        _m("display_accuracy", "Display-form accuracy", lower_is_better=False, upper=1.0),
        # Harms (asr_eval.harms): shares of clips, so the per-clip error is the 0/1 indicator.
        _m("ns_output_rate", "Non-speech clips with output", errors={"ns_output_clips": 1}, upper=1.0),
        _m("ns_words_per_clip", "Words per non-speech clip", errors={"ns_words": 1}, percent=False),
        _m("echo_rate", "Clips with prompt echo", errors={"echo_clips": 1}, upper=1.0),
        _m("loop_rate", "Clips with a repetition loop", errors={"loop_clips": 1}, upper=1.0),
        _m("tail_rate", "Speech clips with a dropped tail", errors={"tail_clips": 1}, upper=1.0),
        _m("tail_word_share", "Reference words in dropped tails", errors={"tail_words": 1}, upper=1.0),
    )
}

#: Metrics compared between conditions (paired). Formatted WER is a question of
#: its own (is the display text right?): reports correct it in a Holm family of
#: its own, so it does not weaken the others' verdicts (``SEPARATE_FAMILY``).
PAIRED_METRICS: tuple[str, ...] = ("wer", "bwer", "uwer", "term_recall", "false_ins_per_100", "fwer")
SEPARATE_FAMILY: tuple[str, ...] = ("fwer",)
#: The harms, summarised and compared (paired, a Holm family of their own) in the report's Harms section.
HARM_METRICS: tuple[str, ...] = ("ns_output_rate", "ns_words_per_clip", "echo_rate", "loop_rate", "tail_rate",
                                 "tail_word_share")
