"""Read the text files users hand us: CSV/TSV with a header, JSONL, and JSON arrays of objects.

Why one reader: manifests, vendor hypotheses and vocabularies each decoded UTF-8,
dropped a byte-order mark, split lines and numbered them, and each said "bad
line" in its own words. Here that is done once, so every input file

* is UTF-8, with or without a BOM (Excel writes one);
* has lines ended by ``\\n``, ``\\r\\n`` or ``\\r`` (universal newlines, as the
  csv module and ``open()`` count them), so a line number means the same thing
  in every error; a JSON string may hold U+2028 or U+0085 without ending its line;
* fails with one message shape, ``InputError``: ``file:line: problem``;
* is read within ``Limits``, the one place that bounds what a file may cost.

What a row *means* (required columns, which problems skip a row and which stop the
load) stays with the caller: ``manifest``, ``hypotheses``, ``vocab.load``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .types import InputError

__all__ = ["Limits", "DEFAULT_LIMITS", "Row", "read_text", "split_lines", "read_csv", "jsonl_rows", "json_array_rows"]


@dataclass(frozen=True)
class Limits:
    """Bounds on one input file; an input over a bound is an ``InputError``, never a crash or a hang.

    The defaults are generous (far beyond any manifest, transcript file or vocabulary
    seen so far) and only stop runaway inputs: a wrong file passed by mistake, a
    JSONL file with no line breaks. A CSV field is also bounded by the csv module's
    own limit (``csv.field_size_limit()``, 131072 characters by default).
    """

    max_bytes: int = 2 * 1024**3  # whole file
    max_rows: int = 10_000_000  # data rows (CSV records after the header, JSONL objects, array entries)
    max_line_chars: int = 16 * 1024**2  # one JSONL line


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Row:
    """One record: its line number (1-based; for CSV, the line the record ends on) and its fields.

    ``problem`` is set when the CSV record has more cells than the header names;
    ``fields`` then holds the named cells only. The caller decides whether that
    skips the row or stops the load (``error()`` builds the exception).
    """

    line: int
    fields: dict[str, Any]
    problem: str | None = None

    def error(self, path: str | Path) -> InputError:
        return InputError(str(path), self.problem or "malformed row", self.line)


def read_text(path: str | Path, what: str = "file", limits: Limits = DEFAULT_LIMITS) -> str:
    """The file's text: UTF-8, a leading BOM removed. ``what`` names the file in "not found"."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputError(str(path), f"{size} bytes is more than the {limits.max_bytes} an input file may have")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), f"{what} not found") from None
    except IsADirectoryError:
        raise InputError(str(path), f"is a folder, not a {what}") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(str(path), f"not UTF-8 text (byte {exc.start})", line) from None


_LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines without their endings, split only at ``\\n``, ``\\r\\n`` and ``\\r`` (``str.splitlines`` also splits at U+2028 and friends)."""
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_csv(
    path: str | Path,
    text: str,
    delimiter: str = ",",
    lower_header: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[list[str], Iterator[Row]]:
    """The header (names stripped; lower-cased if asked) and an iterator over the records.

    Cells missing at the end of a record read as ``""``; records with no cells at
    all (blank lines) are skipped. An empty file (no header) is an error.
    """
    path = str(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise InputError(path, f"cannot read the CSV header: {exc}", reader.line_num or 1) from None
    if not first or not any(c.strip() for c in first):
        raise InputError(path, "empty file: no header row", 1)
    header = [h.strip().lower() if lower_header else h.strip() for h in first]
    return header, _csv_records(path, reader, header, limits)


def _csv_records(path: str, reader: Any, header: list[str], limits: Limits) -> Iterator[Row]:
    width = len(header)
    count = 0
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise InputError(path, f"cannot read this CSV record: {exc}", reader.line_num) from None
        if cells is None:
            return
        if not cells:
            continue
        count += 1
        if count > limits.max_rows:
            raise InputError(path, f"more than {limits.max_rows} rows", reader.line_num)
        problem = None
        if len(cells) > width:
            problem = f"more fields than the header: this row has {len(cells)} fields, header has {width}"
        fields = dict(zip(header, cells))
        for name in header[len(cells):]:
            fields.setdefault(name, "")
        yield Row(reader.line_num, fields, problem)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def jsonl_rows(path: str | Path, text: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Row]:
    """One JSON object per non-blank line; anything else is an error naming the line."""
    path = str(path)
    count = 0
    for n, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        if len(line) > limits.max_line_chars:
            raise InputError(path, f"line of {len(line)} characters is longer than {limits.max_line_chars}", n)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not a JSON object ({exc.msg} at column {exc.colno})", n) from None
        if not isinstance(row, dict):
            raise InputError(path, f"each line must be a JSON object, got {_json_type(row)}", n)
        count += 1
        if count > limits.max_rows:
            raise InputError(path, f"more than {limits.max_rows} rows", n)
        yield Row(n, row)


def json_array_rows(path: str | Path, text: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Row]:
    """The objects of one JSON array (``[{...}, {...}]``), each with the line it starts on."""
    path = str(path)
    decoder = json.JSONDecoder()
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    seen = [0, 1]  # (offset, line there): entries come in order, so count newlines once

    def line_of(i: int) -> int:
        if i < seen[0]:
            return text.count("\n", 0, i) + 1
        seen[1] += text.count("\n", seen[0], i)
        seen[0] = i
        return seen[1]

    def fail(msg: str, i: int) -> InputError:
        return InputError(path, msg, line_of(min(i, n)))

    i = skip(0)
    if i >= n or text[i] != "[":
        raise fail("expected a JSON array of objects", i)
    i = skip(i + 1)
    if i < n and text[i] == "]":
        i = skip(i + 1)
        if i < n:
            raise fail("text after the end of the JSON array", i)
        return
    count = 0
    while True:
        try:
            item, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
        if not isinstance(item, dict):
            raise fail(f"each entry must be a JSON object, got {_json_type(item)}", i)
        count += 1
        if count > limits.max_rows:
            raise fail(f"more than {limits.max_rows} rows", i)
        yield Row(line_of(i), item)
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == "]":
            i = skip(i + 1)
            if i < n:
                raise fail("text after the end of the JSON array", i)
            return
        raise fail("expected ',' or ']' after an entry of the JSON array", i)
