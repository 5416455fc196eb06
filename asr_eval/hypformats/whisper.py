"""What Whisper tools write: openai-whisper's CLI outputs (json, txt, srt, vtt, tsv) and WhisperX's JSON.

* json: ``{"text", "segments": [{"start", "end", "text", "words"?: [{"word",
  "start", "end"}]}], "language"}`` (``words`` with ``--word_timestamps True``);
* WhisperX json: the same ``segments`` (its words carry ``score``; a word it
  could not align, often a number, has no ``start``/``end``) plus
  ``word_segments``, and no top-level ``text``;
* srt / vtt: subtitle cues; with ``--highlight_words`` every word is a cue of
  its own line with the word in ``<u>...</u>`` (between words the plain line
  is repeated), so only the underlined words are read from such a file;
* tsv: a ``start<TAB>end<TAB>text`` header, then integer milliseconds;
* txt: one segment per line, no times.

Cue and segment times are shared out evenly over their words when the file has
no word times (``spread``).
"""

from __future__ import annotations

import re

from ..tabular import Limits, check_line, check_rows, split_lines
from ..types import InputError
from .model import Channel, HypDoc, Node, Word, fill_missing_times, join_words, spread


def detect_json(obj: dict) -> bool:
    return isinstance(obj.get("segments"), list)


def json_flavour(obj: dict) -> str:
    return "whisperx" if ("word_segments" in obj or "text" not in obj) else "whisper-json"


def read_json(root: Node, **_: object) -> list[HypDoc]:
    words: list[Word] = []
    texts: list[str] = []
    for seg in root.get("segments", kind=list).items():
        text = seg.str("text", required=False)
        start, end = seg.seconds("start", required=False), seg.seconds("end", required=False)
        texts.append(text.strip())
        wnode = seg.get("words", required=False, kind=list)
        if wnode is not None:
            seg_words = [Word(w.str("word", "text").strip(), w.seconds("start", required=False),
                              w.seconds("end", required=False)) for w in wnode.items()]
            words.extend(fill_missing_times([w for w in seg_words if w.text], start, end))
        else:
            words.extend(spread(text, start, end))
    text = root.str("text", required=False) if root.has("text") else " ".join(t for t in texts if t)
    return [HypDoc(None, None, (Channel(0, text.strip(), tuple(words)),), where=root.path, line=root.line)]


# --------------------------------------------------------------------------- subtitles

_TIME = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s.*)?$")
_TAG = re.compile(r"<[^>\n]{0,200}>")
_UNDERLINED = re.compile(r"<u>(.*?)</u>", re.S)


def _clock(value: str) -> float:
    parts = value.replace(",", ".").split(":")
    seconds = float(parts[-1])
    for i, p in enumerate(reversed(parts[:-1])):
        seconds += int(p) * (60 if i == 0 else 3600)
    return seconds


def _cues(path: str, text: str, limits: Limits) -> list[tuple[int, float, float, str]]:
    """(line, start, end, text) of each cue of an srt or vtt file, in file order."""
    cues: list[tuple[int, float, float, str]] = []
    lines = split_lines(text)
    i, n = 0, len(lines)
    while i < n:
        check_line(path, lines[i], i + 1, limits)
        m = _TIME.match(lines[i]) if "-->" in lines[i] else None
        if not m:
            i += 1
            continue
        line_no = i + 1
        start, end = _clock(m.group(1)), _clock(m.group(2))
        if end < start:
            raise InputError(path, f"cue ends ({m.group(2)}) before it starts ({m.group(1)})", line_no)
        body = []
        i += 1
        while i < n and lines[i].strip():
            check_line(path, lines[i], i + 1, limits)
            body.append(lines[i])
            i += 1
        cues.append((line_no, start, end, "\n".join(body)))
        check_rows(path, len(cues), line_no, limits)
    return cues


def read_subtitles(path: str, text: str, limits: Limits, kind: str) -> list[HypDoc]:
    stripped = text.lstrip()
    if kind == "vtt" and not stripped.startswith("WEBVTT"):
        raise InputError(path, "a WebVTT file must start with 'WEBVTT'", 1)
    cues = _cues(path, text, limits)
    if not cues and stripped and not (kind == "vtt" and stripped.startswith("WEBVTT")):
        raise InputError(path, f"no subtitle cues found (expected 'start --> end' lines of an {kind} file)", 1)
    highlighted = any("<u>" in c[3] for c in cues)
    words: list[Word] = []
    for _, start, end, body in cues:
        if highlighted:
            for m in _UNDERLINED.finditer(body):  # one word per cue; the other words of the line are context
                words.extend(Word(t, start, end) for t in _TAG.sub("", m.group(1)).split())
        else:
            words.extend(spread(_TAG.sub("", body).replace("\n", " "), start, end))
    return [HypDoc(None, None, (Channel(0, join_words(words), tuple(words)),))]


def read_tsv(path: str, text: str, limits: Limits) -> list[HypDoc]:
    lines = split_lines(text)
    words: list[Word] = []
    for n, line in enumerate(lines[1:], start=2):
        check_line(path, line, n, limits)
        check_rows(path, n - 1, n, limits)
        if not line.strip():
            continue
        cells = line.split("\t", 2)
        if len(cells) < 3:
            raise InputError(path, "expected start<TAB>end<TAB>text (milliseconds)", n)
        try:
            start, end = int(cells[0]) / 1000, int(cells[1]) / 1000
        except ValueError:
            raise InputError(path, f"start and end must be whole milliseconds, got {cells[0][:20]!r} and {cells[1][:20]!r}", n) from None
        if start < 0 or end < start:
            raise InputError(path, f"segment times must satisfy 0 <= start <= end, got {cells[0]} and {cells[1]}", n)
        words.extend(spread(cells[2], start, end))
    return [HypDoc(None, None, (Channel(0, join_words(words), tuple(words)),))]


def is_whisper_tsv(text: str) -> bool:
    first = split_lines(text[:4096])[:1]
    return bool(first) and [c.strip().lower() for c in first[0].split("\t")] == ["start", "end", "text"]


def read_txt(path: str, text: str, limits: Limits) -> list[HypDoc]:
    parts = []
    for n, line in enumerate(split_lines(text), start=1):
        check_line(path, line, n, limits)
        parts.append(line.strip())
    return [HypDoc(None, None, (Channel(0, " ".join(p for p in parts if p)),))]
