"""NIST sclite ``trn`` files: ``words of the utterance (speaker-uttid)``, one per line.

Why: any asr-eval run can be exported and re-scored with the field's reference
scorer (``sctk sclite -r ref.trn trn -h hyp.trn trn -i spu_id``). sclite's
``spu_id`` takes the speaker as everything before the first ``-`` (or the first
``_`` when there is no ``-``), so ids are written ``<speaker>-<utterance>`` with
each ``-`` in the speaker replaced by ``_``; whitespace and parentheses, which
would end the id or the text, are replaced by ``_`` in ids; parentheses
become spaces in the text. sclite's alternations (``{ a / b / @ }``) are kept in
a reference written with ``alternations=True`` (well-formed groups only, in
sclite's spacing) and are read back as written; elsewhere braces become spaces.
Formatting and parsing are pure; ``write_trn``/``read_trn`` are the only I/O.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

from asr_eval.alternatives import has_alternatives, parse, render
from asr_eval.tabular import DEFAULT_LIMITS, Limits, check_line, check_rows, read_text, split_lines
from asr_eval.types import InputError

_ID_BAD = re.compile(r"[\s()]")
_SPK_BAD = re.compile(r"[\s()\-]")
_TEXT_BAD = re.compile(r"[(){}]")  # id delimiters and sclite's alternation braces


def trn_id(speaker: str, utt_id: str) -> str:
    """A sclite spu_id for this utterance: ``<speaker>-<utterance>``."""
    spk = _SPK_BAD.sub("_", speaker) or "spk"
    return f"{spk}-{_ID_BAD.sub('_', utt_id)}"


def utt_from_trn_id(trn: str) -> str:
    """The utterance part of an id written by ``trn_id``."""
    return trn.split("-", 1)[1] if "-" in trn else trn


def format_trn_line(text: str, speaker: str, utt_id: str, alternations: bool = False) -> str:
    """One trn line; with ``alternations`` a reference keeps its ``{ a / b / @ }`` groups."""
    pieces = parse(text) if alternations and has_alternatives(text) else None
    if pieces is not None:
        body = render([p if isinstance(p, str) else tuple(" ".join(_TEXT_BAD.sub(" ", a).split()) for a in p)
                       for p in (x if isinstance(x, tuple) else " ".join(_TEXT_BAD.sub(" ", x).split()) for x in pieces)])
    else:
        body = " ".join(_TEXT_BAD.sub(" ", text).split())
    return f"{body} ({trn_id(speaker, utt_id)})" if body else f"({trn_id(speaker, utt_id)})"


def parse_trn_lines(lines: Iterable[str], path: str = "<trn>", limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[int, str, str]]:
    """Yield (line number, id, text); blank lines and ';;' comments are skipped; ``limits`` bound lines and rows."""
    count = 0
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        check_line(path, line, n, limits)  # before the regex, whose cost grows with the line
        if not line.strip() or line.lstrip().startswith(";;"):
            continue
        count += 1
        check_rows(path, count, n, limits)
        parsed = _split_trn_line(line)
        if parsed is None:
            raise InputError(path, "a trn line must end with the utterance id in parentheses, e.g. 'hello world (spk-utt1)'", n)
        yield n, parsed[0], " ".join(parsed[1].split())


def _split_trn_line(line: str) -> tuple[str, str] | None:
    """(id, text before it), or None; read from the end so that the cost is one pass (a regex backtracked per space)."""
    body = line.rstrip()
    if not body.endswith(")"):
        return None
    open_at = body.rfind("(")
    ident = body[open_at + 1:-1]
    if open_at < 0 or not ident or ")" in ident or any(c.isspace() for c in ident):
        return None
    return ident, body[:open_at]


def write_trn(path: str | Path, rows: Iterable[tuple[str, str, str]], alternations: bool = False) -> int:
    """Write (speaker, utt_id, text) rows; returns the number of lines written. ``alternations``: references keep their groups."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for speaker, utt_id, text in rows:
            f.write(format_trn_line(text, speaker, utt_id, alternations) + "\n")
            count += 1
    return count


def read_trn(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> list[tuple[int, str, str]]:
    """(line, id, text) for every utterance in a trn file (read like every other input: ``tabular``, within ``limits``)."""
    return list(parse_trn_lines(split_lines(read_text(path, "trn file", limits)), str(path), limits))
