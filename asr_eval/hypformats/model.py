"""What every hypothesis reader returns, and the checked JSON access the vendor readers share.

Why one shape: scoring needs, per recording (or clip), the words of each
audio channel with their times where the engine gave them. A reader fills
``HypDoc``s; matching them to manifest clips, choosing or joining channels
and cutting recordings into segments happen once, in ``hypotheses``, for every
format alike. ``Node`` walks a parsed JSON document and raises an
``InputError`` naming the file and the JSON path (``$.results.items[3]``) of
whatever is missing or of the wrong type, so a malformed vendor file is one
readable line, never a ``KeyError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..types import InputError


@dataclass(frozen=True)
class Word:
    """One word as the engine wrote it (punctuation attached); times in seconds from the start of the audio file."""

    text: str
    start: float | None = None
    end: float | None = None

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def mid(self) -> float:
        assert self.start is not None and self.end is not None
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class Channel:
    """One audio channel's transcript: ``index`` counts from 0 (Google channelTag 1, AWS ch_0, ctm A or 1 are all 0).

    ``text`` is the engine's own transcript of the channel; ``words`` its words,
    timed where the format has times (empty when the format has no words).
    """

    index: int
    text: str
    words: tuple[Word, ...] = ()

    @property
    def timed(self) -> bool:
        return bool(self.words) and all(w.timed for w in self.words)


@dataclass(frozen=True)
class HypDoc:
    """One transcript of one audio file (or clip) read from a hypothesis file.

    ``key`` is what the file says the transcript is of: an utterance id
    (``key_kind`` 'id'), an audio file name or URI ('audio'), or None when only
    the hypothesis file's own name says it (a folder of per-clip JSON files).
    ``start``/``end`` are set when the transcript is of a segment of the audio
    (a NeMo manifest row with ``offset``). ``where`` locates it in the file
    (a JSON path or 'line N') for messages; ``line`` is its line when known.
    """

    key: str | None
    key_kind: str | None
    channels: tuple[Channel, ...]
    condition: str | None = None
    line: int | None = None
    where: str = "$"
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class HypFile:
    """A read hypothesis file: its path, the format it was read as, and its transcripts."""

    path: str
    format: str
    docs: tuple[HypDoc, ...]
    meta: dict = field(default_factory=dict, compare=False)


def join_words(words: list[Word] | tuple[Word, ...]) -> str:
    return " ".join(w.text for w in words if w.text)


def spread(text: str, start: float | None, end: float | None) -> list[Word]:
    """The words of a timed span (a subtitle cue, a phrase) with times shared out evenly across it.

    Formats that time only whole cues or phrases still let a long recording be
    cut into reference segments; the even split is an approximation, good to
    within a cue, and is documented as such in docs/formats.md.
    """
    tokens = text.split()
    if not tokens:
        return []
    if start is None or end is None:
        return [Word(t) for t in tokens]
    step = (end - start) / len(tokens) if end > start else 0.0
    return [Word(t, start + i * step, start + (i + 1) * step) for i, t in enumerate(tokens)]


def fill_missing_times(words: list[Word], start: float | None, end: float | None) -> list[Word]:
    """Words some of which lack times (WhisperX leaves numbers unaligned) get their neighbours' bounds.

    A word without a time takes the end of the previous timed word (or the
    span's start) and the start of the next (or the span's end), so its midpoint
    lies between its neighbours' and it is assigned where they are.
    """
    if all(w.timed for w in words) or start is None or end is None:
        return words
    out: list[Word] = []
    for i, w in enumerate(words):
        if w.timed:
            out.append(w)
            continue
        prev_end = next((x.end for x in reversed(out) if x.end is not None), start)
        next_start = next((x.start for x in words[i + 1:] if x.start is not None), end)
        out.append(Word(w.text, prev_end, max(prev_end, next_start)))
    return out


# --------------------------------------------------------------------------- checked JSON access


_TYPES = {dict: "an object", list: "an array", str: "a string"}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return _TYPES.get(type(value), type(value).__name__)


class Node:
    """A value inside a parsed JSON document, with its path, for errors that say where."""

    __slots__ = ("value", "path", "file", "line")

    def __init__(self, value: Any, file: str, path: str = "$", line: int | None = None):
        self.value, self.file, self.path, self.line = value, file, path, line

    def fail(self, problem: str) -> InputError:
        return InputError(self.file, f"{self.path}: {problem}", self.line)

    def _child(self, key: str | int, value: Any) -> "Node":
        path = f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}"
        return Node(value, self.file, path, self.line)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def get(self, *keys: str, required: bool = True, kind: type | tuple[type, ...] | None = None) -> "Node | None":
        """The first of ``keys`` present (not null); a missing one is an error unless ``required`` is False."""
        if not isinstance(self.value, dict):
            raise self.fail(f"expected an object, got {json_type(self.value)}")
        for k in keys:
            if self.value.get(k) is not None:
                node = self._child(k, self.value[k])
                if kind is not None:
                    node.expect(kind)
                return node
        if required:
            raise self.fail(f"missing {' or '.join(repr(k) for k in keys)}")
        return None

    def expect(self, kind: type | tuple[type, ...]) -> "Node":
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(self.value, kinds) and not (isinstance(self.value, bool) and bool not in kinds)
        if not ok:
            names = " or ".join(dict.fromkeys(_TYPES.get(k, "a number") for k in kinds))
            raise self.fail(f"expected {names}, got {json_type(self.value)}")
        return self

    def items(self) -> Iterator["Node"]:
        self.expect(list)
        for i, v in enumerate(self.value):
            yield self._child(i, v)

    def str(self, *keys: str, required: bool = True, default: str = "") -> str:
        node = self.get(*keys, required=required, kind=str)
        return default if node is None else node.value

    def seconds(self, *keys: str, scale: float = 1.0, required: bool = True) -> float | None:
        """A time in seconds: a number (times ``scale``: 0.001 for milliseconds, 1e-7 for ticks),
        a numeric string ("4.86"), a protobuf Duration string ("1.300s") or object ({"seconds", "nanos"})."""
        node = self.get(*keys, required=required)
        if node is None:
            return None
        v = node.value
        try:
            if isinstance(v, bool):
                raise ValueError
            if isinstance(v, (int, float)):
                out = float(v) * scale
            elif isinstance(v, str):
                out = float(v[:-1]) if v.endswith("s") else float(v) * scale
            elif isinstance(v, dict):
                out = float(v.get("seconds") or 0) + float(v.get("nanos") or 0) / 1e9
            else:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise node.fail(f"expected a time, got {v!r:.40}") from None
        if not math.isfinite(out) or out < 0:
            raise node.fail(f"time must be a finite number of seconds >= 0, got {v!r:.40}")
        return out

    def int(self, *keys: str, required: bool = True) -> int | None:
        node = self.get(*keys, required=required)
        if node is None:
            return None
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, str)) or not str(v).strip().lstrip("-").isdigit():
            raise node.fail(f"expected a whole number, got {v!r:.40}")
        return int(v)
