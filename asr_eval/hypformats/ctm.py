"""NIST ctm: ``<file> <channel> <begin> <duration> <word> [<confidence>]``, one word a line.

As sclite reads it: ``;;`` lines are comments, blank lines are skipped, the
file id has no path or extension, the channel is any token ('A'/'B', '1'/'2').
One ctm holds every file of a test set; each file id is one transcript, each
channel one of its channels (A or 1 is channel 0, B or 2 channel 1; another
token counts in order of first appearance after those). Alternations
(``<ALT_BEGIN>`` ... ``<ALT>`` ... ``<ALT_END>``, a reference-side extension)
are read as their first alternative.
"""

from __future__ import annotations

import math

from ..tabular import Limits, check_line, check_rows, split_lines
from ..types import InputError
from .model import Channel, HypDoc, Word, join_words

_KNOWN = {"a": 0, "1": 0, "b": 1, "2": 1}


def _channel(token: str, others: dict[str, int]) -> int:
    t = token.lower()
    if t in _KNOWN:
        return _KNOWN[t]
    if t.isdigit():
        return int(t) - 1 if int(t) > 0 else 0
    return others.setdefault(t, 2 + len(others))


def read(path: str, text: str, limits: Limits) -> list[HypDoc]:
    files: dict[str, dict[int, list[Word]]] = {}
    first_line: dict[str, int] = {}
    others: dict[str, int] = {}
    alt = 0  # 0 outside an alternation, 1 in its first alternative, 2 in a later one
    rows = 0
    for n, raw in enumerate(split_lines(text), start=1):
        check_line(path, raw, n, limits)
        line = raw.strip()
        if not line or line.startswith(";;"):
            continue
        rows += 1
        check_rows(path, rows, n, limits)
        cells = line.split()
        if len(cells) < 5:
            raise InputError(path, f"a ctm line needs <file> <channel> <begin> <duration> <word> [<confidence>], got {len(cells)} field(s)", n)
        if len(cells) > 6:
            raise InputError(path, f"a ctm line has at most 6 fields (the word may not contain spaces), got {len(cells)}", n)
        fid, chan, begin, dur, word = cells[:5]
        if word == "<ALT_BEGIN>":
            alt = 1
            continue
        if word == "<ALT>":
            if not alt:
                raise InputError(path, "<ALT> outside an alternation", n)
            alt = 2
            continue
        if word == "<ALT_END>":
            if not alt:
                raise InputError(path, "<ALT_END> without <ALT_BEGIN>", n)
            alt = 0
            continue
        if alt == 2:
            continue
        try:
            start, length = float(begin), float(dur)
        except ValueError:
            raise InputError(path, f"begin and duration must be numbers of seconds, got {begin[:20]!r} and {dur[:20]!r}", n) from None
        if not (math.isfinite(start) and math.isfinite(length)) or start < 0 or length < 0:
            raise InputError(path, f"begin and duration must be >= 0, got {begin} and {dur}", n)
        if len(cells) == 6:
            try:
                float(cells[5])
            except ValueError:
                raise InputError(path, f"confidence must be a number, got {cells[5][:20]!r}", n) from None
        first_line.setdefault(fid, n)
        files.setdefault(fid, {}).setdefault(_channel(chan, others), []).append(Word(word, start, start + length))
    if alt:
        raise InputError(path, "<ALT_BEGIN> without <ALT_END> before the end of the file")
    docs = []
    for fid, chans in files.items():
        channels = []
        for idx, words in sorted(chans.items()):
            words.sort(key=lambda w: w.start or 0.0)  # sclite requires sorted files; accept unsorted ones
            channels.append(Channel(idx, join_words(words), tuple(words)))
        docs.append(HypDoc(fid, "audio", tuple(channels), line=first_line[fid], where=f"file {fid!r}"))
    return docs
