"""Groupings: which clips each per-group number covers (``--group-by``).

A report's per-group tables, intervals, fairness verdicts and gains were once
per accent group only. A grouping is any clip attribute: a manifest column
kept as metadata (gender, first language, age band, channel), the speaker,
the accent group, a band asr-eval derives (``duration_band``), or the
intersection of several (``accent_group,gender``). Each grouping is reported
on its own, with its own small-group flags and its own Holm family, while the
ALL rows (and so the overall verdicts) never depend on the groupings asked for.

Pure: labels come from values handed in (a utterances.csv row, the clip's
metadata from the run folder's metadata.csv), so the report, sweeps and any
other caller (``groups_of``) group alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from .types import InputError

DEFAULT = "accent_group"
UNKNOWN = "unknown"
ALL = "ALL"
DURATION_BAND = "duration_band"
#: columns every run folder has for every clip (utterances.csv), whatever its manifest held
BUILTIN = ("accent_group", "speaker")
#: columns asr-eval makes itself from what a run recorded
DERIVED = (DURATION_BAND,)
#: clip duration bands: (upper bound in seconds, exclusive; label). Whisper decodes 30 s windows, so >30 s is long-form.
DURATION_BANDS: tuple[tuple[float, str], ...] = ((5.0, "<5 s"), (15.0, "5-15 s"), (30.0, "15-30 s"),
                                                 (math.inf, ">30 s"))
MAX_GROUPINGS = 16      # --group-by options on one command
MAX_COLUMNS = 4         # columns in one intersection
MAX_GROUPS = 200        # distinct groups of one grouping: more is an id or a measurement, not a grouping
#: metadata kept per clip in the run folder (metadata.csv): columns, and characters per value
MAX_META_COLUMNS = 64
MAX_META_CHARS = 200
#: keys the report's rows already use: a grouping of that name is keyed "group_<name>" instead
RESERVED = frozenset({
    "condition", "clips", "speakers", "words", "term_occurrences", "small", "small_reason", "too_few_speakers",
    "stratified", "counts", "metrics", "baseline", "metric", "base", "cond", "diff", "low", "high",
    "ci_excludes_zero", "improved", "n_speakers", "n_segments", "n_clips", "mapsswe_unit", "significance",
    "decided_by", "decision_p", "verdict_note", "verdict_reason", "gain", "relative_gain", "value", "speech_clips",
    "nonspeech_clips", "utt_id", "term", "outcome", "groups", "group", "label",
})


@dataclass(frozen=True)
class Grouping:
    """One ``--group-by``: a column, or the intersection of several (each clip's values joined as its label)."""

    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        """'gender', or 'accent_group+gender' for an intersection: the file-name and CSV-header form."""
        return "+".join(self.columns)

    @property
    def key(self) -> str:
        """The key of the group label in the report's rows (and the CSV column): the name, unless a row uses it already."""
        return self.name if self.name not in RESERVED else f"group_{self.name}"

    @property
    def noun(self) -> str:
        """'accent group', 'first language', 'accent group × gender': for headings."""
        return " × ".join(c.replace("_", " ") for c in self.columns)

    @property
    def plural(self) -> str:
        """'accent groups', 'gender groups': what the groups of this grouping are called in sentences."""
        n = self.noun
        return n + "s" if n.endswith("group") else n + " groups"

    def label(self, value: Callable[[str], str]) -> str:
        """A clip's group: its value of each column (``value(column)``), joined by ' / '."""
        return " / ".join(value(c) for c in self.columns)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "columns": list(self.columns), "key": self.key, "noun": self.noun}


DEFAULT_GROUPINGS = (Grouping((DEFAULT,)),)


def parse_group_by(specs: Sequence[str] | None) -> tuple[Grouping, ...]:
    """``--group-by`` values -> groupings, in order, duplicates dropped; none given -> the accent group.

    'a,b' is the intersection of a and b; the option repeats for several
    groupings ('--group-by a --group-by b --group-by a,b': a table each).
    """
    if not specs:
        return DEFAULT_GROUPINGS
    out: list[Grouping] = []
    for spec in specs:
        cols = tuple(c.strip() for c in str(spec).split(","))
        if any(not c for c in cols):
            raise InputError("--group-by", f"empty column name in {spec!r}: write 'a' or 'a,b'")
        if len(set(cols)) != len(cols):
            raise InputError("--group-by", f"column repeated in {spec!r}")
        if len(cols) > MAX_COLUMNS:
            raise InputError("--group-by", f"{spec!r} intersects {len(cols)} columns; at most {MAX_COLUMNS}")
        g = Grouping(cols)
        if g not in out:
            out.append(g)
    if len(out) > MAX_GROUPINGS:
        raise InputError("--group-by", f"{len(out)} groupings; at most {MAX_GROUPINGS}")
    return tuple(out)


def is_default(groupings: Sequence[Grouping]) -> bool:
    """Grouped as asr-eval always did (by accent group alone): the outputs are then exactly the earlier ones."""
    return tuple(groupings) == DEFAULT_GROUPINGS


def check_columns(groupings: Sequence[Grouping], available: Iterable[str], where: str) -> None:
    """Refuse a grouping column ``where`` (a manifest, a run folder) does not have, naming those it does have."""
    have = list(dict.fromkeys([*BUILTIN, *available]))
    for g in groupings:
        for c in g.columns:
            if c not in have and c not in DERIVED:
                raise InputError("--group-by", f"no column {c!r} to group by in {where}; columns available: "
                                 f"{', '.join(have)}; derived by asr-eval: {', '.join(DERIVED)}")


def duration_band(seconds: float | None) -> str:
    """The band of a clip's duration ('<5 s', '5-15 s', '15-30 s', '>30 s'); unknown when none was recorded."""
    if seconds is None or not seconds > 0 or math.isinf(seconds):
        return UNKNOWN
    return next(label for upper, label in DURATION_BANDS if seconds < upper)


def label_sort_key(label: str) -> tuple:
    """How group labels are listed: duration bands shortest first, 'unknown' last, others alphabetically.

    An intersection ('<5 s / female') orders by each part in turn, so the
    bands stay in duration order within it.
    """
    bands = {lab: i for i, (_, lab) in enumerate(DURATION_BANDS)}
    parts = label.split(" / ") if " / " in label else [label]
    key = []
    for part in parts:
        key.append((2, 0, part) if part == UNKNOWN else (0, bands[part], "") if part in bands else (1, 0, part))
    return tuple(key)


def sort_labels(labels: Iterable[str]) -> list[str]:
    """Group labels in listing order (``label_sort_key``)."""
    return sorted(labels, key=label_sort_key)


def _seconds(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v > 0 and math.isfinite(v) else None


def clip_value(column: str, row: Mapping[str, Any], meta: Mapping[str, Any] | None) -> str:
    """A clip's value of ``column``: from its utterances.csv row (accent group, speaker, duration) or its metadata.

    The duration is the audio asr-eval decoded (``audio_seconds``); a run of
    imported transcripts decoded none, so a manifest's own ``duration`` (NeMo)
    or segment bounds stand in. An empty or absent value is ``unknown``.
    """
    if column == DURATION_BAND:
        secs = _seconds(row.get("audio_seconds"))
        if secs is None and meta:
            secs = _seconds(meta.get("duration"))
        return duration_band(secs)
    if column in BUILTIN:
        v = row.get(column)
    else:
        v = (meta or {}).get(column)
        if v is None:
            v = row.get(column)
    text = "" if v is None else str(v).strip()
    return text or UNKNOWN


def label_of(grouping: Grouping, row: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """The group of one clip (a utterances.csv row and the clip's metadata) under ``grouping``."""
    return grouping.label(lambda c: clip_value(c, row, meta))


def groups_of(rows: Iterable[Mapping[str, Any]], grouping: Grouping | str,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, list[Mapping[str, Any]]]:
    """Rows (utterances.csv or terms.csv rows) by group label, labels sorted: the one grouping function to call.

    ``grouping`` is a ``Grouping`` or a ``--group-by`` string ('gender',
    'accent_group,gender'); ``metadata`` maps utt_id to the clip's metadata
    (``runfolder.read_metadata``) for columns utterances.csv does not hold.
    """
    g = grouping if isinstance(grouping, Grouping) else parse_group_by([grouping])[0]
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        meta = metadata.get(str(r.get("utt_id"))) if metadata is not None else None
        out.setdefault(label_of(g, r, meta), []).append(r)
    return {k: out[k] for k in sort_labels(out)}


def metadata_columns(metas: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The metadata columns a run folder keeps (first-seen order, at most ``MAX_META_COLUMNS``)."""
    seen: dict[str, None] = {}
    for m in metas:
        for k in m:
            if k not in seen and k not in BUILTIN and len(seen) < MAX_META_COLUMNS:
                seen[str(k)] = None
    return tuple(seen)


def stored_value(v: Any) -> str:
    """A metadata value as metadata.csv keeps it: text, at most ``MAX_META_CHARS`` (longer is free text, not a group)."""
    if v is None:
        return ""
    if isinstance(v, (tuple, list)):  # a list column (context_terms): as a manifest writes it, '|'-separated
        v = "|".join(str(x) for x in v)
    text = v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
    text = text.replace("\r", " ").replace("\n", " ").strip()
    return text if len(text) <= MAX_META_CHARS else ""


def empty_value_note(grouping_column: str, n_empty: int, n_clips: int) -> str:
    return (f"--group-by {grouping_column}: {n_empty} of {n_clips} clips have no value; grouped as {UNKNOWN!r}")


def too_many_groups(grouping: Grouping, n: int) -> InputError:
    return InputError("--group-by", f"{grouping.name!r} has more than {MAX_GROUPS} distinct groups ({n} so far): "
                      "an id or a measurement rather than a grouping; group by a band of it instead "
                      f"(e.g. {DURATION_BAND}) or a coarser column")


def manifest_problems(groupings: Sequence[Grouping], utterances: Sequence[Any], where: str) -> list[str]:
    """Check groupings against a loaded manifest before anything is decoded; returns the warnings (empty values).

    A missing column or too many groups raises ``InputError``; a column some
    clips leave empty is a warning (those clips are grouped as 'unknown').
    """
    columns = metadata_columns(u.meta for u in utterances)
    check_columns(groupings, columns, where)
    notes: list[str] = []
    for c in dict.fromkeys(c for g in groupings for c in g.columns):
        if c in BUILTIN or c in DERIVED:
            continue
        empty = sum(1 for u in utterances if not stored_value(u.meta.get(c)))
        if empty:
            notes.append(empty_value_note(c, empty, len(utterances)))
    for g in groupings:
        labels = {label_of(g, {"accent_group": u.accent_group, "speaker": u.speaker,
                               "audio_seconds": (u.end - (u.start or 0.0)) if u.end is not None else None},
                           {k: stored_value(v) for k, v in u.meta.items()}) for u in utterances}
        if len(labels) > MAX_GROUPS:
            raise too_many_groups(g, len(labels))
    return notes
