"""Counts: the integer tallies of scored clips, and every rate computed from them.

One frozen, additive value (the model is meeteval's ``ErrorRate``): ``sum()``
over any grouping of clips gives the same ``Counts``, and every rate is a ratio
of summed counts, never a mean of per-clip rates. The field order is the column
order of ``utterances.csv`` (``COUNT_COLUMNS``, every field but ``clips``), so the
list of count columns exists once, here.

``clips`` is 1 per scored clip and is not a CSV column (each row of
``utterances.csv`` is one clip); it makes per-clip rates (false insertions per
100 clips) ratios of sums like the others.

Pure: no I/O, no numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import add, attrgetter
from typing import Any


class _Sum:
    """A derived count: the sum of some fields (``Counts(...).word_errors``).

    A descriptor rather than a property so that ``Ratio`` can expand it into
    the fields it adds up (``Counts.word_errors.names``).
    """

    def __init__(self, *names: str) -> None:
        self.names = names
        self._get = attrgetter(*names)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else sum(self._get(obj))


@dataclass(frozen=True, slots=True)
class Counts:
    """Integer counts of one clip or of any set of clips; ``+`` and ``sum()`` add them.

    Words (``hits subs dels ins``, ``ref_words = hits + subs + dels``), the same for
    characters (``char_*``), for the words of term occurrences (``b_*``, biased)
    and for all other words (``u_*``, unbiased), and term occurrences by outcome
    (``term_*``), and the harms of ``asr_eval.harms`` (``ns_*`` non-speech clips,
    ``echo_*``, ``loop_*``, ``tail_*``), and formatted tokens (``fmt_*``, case and
    punctuation kept: docs/normalization.md). Definitions: docs/scoring.md.
    """

    clips: int = 0
    ref_words: int = 0
    hits: int = 0
    subs: int = 0
    dels: int = 0
    ins: int = 0
    ref_chars: int = 0
    char_hits: int = 0
    char_subs: int = 0
    char_dels: int = 0
    char_ins: int = 0
    b_ref: int = 0
    b_hits: int = 0
    b_subs: int = 0
    b_dels: int = 0
    b_ins: int = 0
    u_ref: int = 0
    u_hits: int = 0
    u_subs: int = 0
    u_dels: int = 0
    u_ins: int = 0
    term_refs: int = 0
    term_hits: int = 0
    term_partial: int = 0
    term_misses: int = 0
    term_false_ins: int = 0
    term_display_exact: int = 0
    # Harms beyond terms (asr_eval.harms; docs/scoring.md). Non-speech clips
    # (reference empty by design) have zero word and character counts: their
    # output is counted here instead, so it never enters WER.
    ns_clips: int = 0
    ns_output_clips: int = 0
    ns_words: int = 0
    echo_clips: int = 0
    echo_words: int = 0
    loop_clips: int = 0
    loop_words: int = 0
    tail_clips: int = 0
    tail_words: int = 0
    # Formatted words (asr_eval.formatted: case kept, punctuation marks as
    # tokens), aligned on the raw texts: fstalign's formatted WER.
    fmt_ref: int = 0
    fmt_hits: int = 0
    fmt_subs: int = 0
    fmt_dels: int = 0
    fmt_ins: int = 0

    word_errors = _Sum("subs", "dels", "ins")
    char_errors = _Sum("char_subs", "char_dels", "char_ins")
    b_errors = _Sum("b_subs", "b_dels", "b_ins")
    u_errors = _Sum("u_subs", "u_dels", "u_ins")
    fmt_errors = _Sum("fmt_subs", "fmt_dels", "fmt_ins")

    @classmethod
    def zero(cls) -> Counts:
        """The neutral element: ``c + Counts.zero() == c``."""
        return _ZERO

    def __add__(self, other: object) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(*map(add, _values(self), _values(other)))

    def __radd__(self, other: object) -> Counts:
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self  # sum() starts from 0
        return NotImplemented

    def values(self) -> tuple[int, ...]:
        """The counts in field order (``FIELDS``)."""
        return _values(self)

    def as_dict(self) -> dict[str, int]:
        """Every field, ``clips`` first."""
        return dict(zip(FIELDS, _values(self)))

    def csv_row(self) -> dict[str, int]:
        """The ``COUNT_COLUMNS`` of one utterances.csv row (no ``clips``)."""
        return dict(zip(COUNT_COLUMNS, _values(self)[1:]))

    def rate(self, name: str) -> float | None:
        """``RATES[name]`` of these counts; None when its denominator is zero."""
        return RATES[name].of(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Counts:
        """The counts of one utterances.csv record (any mapping holding the count columns).

        A missing or empty count is 0, except ``clips``, which is 1 unless the
        record says otherwise: one record is one clip. Numbers may be given as
        strings; a count that is not a whole number is a ValueError.
        """
        return cls(*record_values(record))


def record_values(record: Mapping[str, Any]) -> tuple[int, ...]:
    """``Counts.from_record(record).values()`` without building the object."""
    return tuple(_count(record.get(f), f, 1 if f == "clips" else 0) for f in FIELDS)


def _count(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if type(raw) is int:
        return raw
    value = float(raw)
    if not value.is_integer():
        raise ValueError(f"count {name!r} is not a whole number: {raw!r}")
    return int(value)


#: Every count field in order, ``clips`` first.
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Counts))
#: The count columns of utterances.csv, in order: every field but ``clips``.
COUNT_COLUMNS: tuple[str, ...] = tuple(f for f in FIELDS if f != "clips")
#: Derived counts (sums of fields) by name.
DERIVED: Mapping[str, tuple[str, ...]] = {
    name: d.names for name, d in vars(Counts).items() if isinstance(d, _Sum)
}

_values = attrgetter(*FIELDS)
_ZERO = Counts()


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class Ratio:
    """A rate of summed counts: ``scale * (num . counts) / (den . counts)``.

    ``num`` and ``den`` weight count names: fields of ``Counts`` or derived sums
    (``word_errors``). ``of`` reads those names as attributes, so it evaluates a
    ``Counts`` or any summary that kept the sums a rate needs (a sweep row).
    """

    num: Mapping[str, int]
    den: Mapping[str, int]
    scale: float = 1.0

    def __post_init__(self) -> None:
        for name in (*self.num, *self.den):
            if name not in FIELDS and name not in DERIVED:
                raise ValueError(f"unknown count {name!r}; counts are {', '.join(FIELDS + tuple(DERIVED))}")

    def of(self, counts: Any) -> float | None:
        """The rate; None when the denominator is zero (or negative: counts no real clips can have)."""
        den = _dot(self.den, counts)
        if den <= 0:
            return None
        return self.scale * _dot(self.num, counts) / den


def _dot(weights: Mapping[str, int], counts: Any) -> int:
    return sum(w * getattr(counts, k) for k, w in weights.items())


def field_weights(weights: Mapping[str, int]) -> dict[str, int]:
    """``weights`` with derived counts expanded into the fields they sum."""
    out: dict[str, int] = {}
    for name, w in weights.items():
        for f in DERIVED.get(name, (name,)):
            out[f] = out.get(f, 0) + w
    return out


#: Every rate the reports, the statistics and the sweeps use, by name.
RATES: Mapping[str, Ratio] = {
    "wer": Ratio({"word_errors": 1}, {"ref_words": 1}),
    "sub_rate": Ratio({"subs": 1}, {"ref_words": 1}),
    "del_rate": Ratio({"dels": 1}, {"ref_words": 1}),
    "ins_rate": Ratio({"ins": 1}, {"ref_words": 1}),
    "cer": Ratio({"char_errors": 1}, {"ref_chars": 1}),
    "bwer": Ratio({"b_errors": 1}, {"b_ref": 1}),
    "uwer": Ratio({"u_errors": 1}, {"u_ref": 1}),
    # Formatted WER: case- and punctuation-sensitive tokens of the raw texts.
    "fwer": Ratio({"fmt_errors": 1}, {"fmt_ref": 1}),
    # A partial occurrence is not a hit.
    "term_recall": Ratio({"term_hits": 1}, {"term_refs": 1}),
    "term_partial_rate": Ratio({"term_partial": 1}, {"term_refs": 1}),
    "term_precision": Ratio({"term_hits": 1}, {"term_hits": 1, "term_false_ins": 1}),
    # F1 = 2PR/(P+R) = 2h / (h + false_ins + refs): still a ratio of sums (see harmonic_f1).
    "term_f1": Ratio({"term_hits": 2}, {"term_hits": 1, "term_false_ins": 1, "term_refs": 1}),
    "false_ins_per_100": Ratio({"term_false_ins": 1}, {"clips": 1}, scale=100.0),
    # Occurrences recognised *and* written exactly in a written form, over all occurrences.
    "display_accuracy": Ratio({"term_display_exact": 1}, {"term_refs": 1}),
    # Harms: non-speech clips with any output, and words written per non-speech clip;
    # clips with a prompt echo or a loop (any clip); clips that stopped early (speech clips).
    "ns_output_rate": Ratio({"ns_output_clips": 1}, {"ns_clips": 1}),
    "ns_words_per_clip": Ratio({"ns_words": 1}, {"ns_clips": 1}),
    "echo_rate": Ratio({"echo_clips": 1}, {"clips": 1}),
    "loop_rate": Ratio({"loop_clips": 1}, {"clips": 1}),
    "tail_rate": Ratio({"tail_clips": 1}, {"clips": 1, "ns_clips": -1}),
    "tail_word_share": Ratio({"tail_words": 1}, {"ref_words": 1}),
}


def harmonic_f1(precision: float | None, recall: float | None) -> float | None:
    """2PR/(P+R) from a precision and a recall; None unless both are defined, 0.0 when both are 0.

    The form ``TermTally.f1`` and the sweeps report. ``RATES["term_f1"]`` is the
    same quantity as a ratio of sums, which is also defined (0.0) when the
    engine wrote no term at all (precision undefined) but terms were said.
    """
    if precision is None or recall is None:
        return None
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)
