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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .types import InputError

__all__ = ["Limits", "DEFAULT_LIMITS", "VOCABULARY_LIMITS", "Row", "read_text", "split_lines", "bounded_lines", "read_csv",
           "jsonl_rows", "json_array_rows", "parse_json", "read_json", "check_line", "check_rows", "check_field"]


@dataclass(frozen=True)
class Limits:
    """Bounds on one input file; an input over a bound is an ``InputError``, never a crash or a hang.

    A shared service reads files it did not write, so every cost of a file is
    capped before it is paid: its bytes are read up to ``max_bytes`` and no
    further (a device or a pipe with no end included), and no line, cell, row
    or header may grow past its bound. The defaults are generous (far beyond any
    manifest or transcript file seen so far) and only stop runaway inputs.
    ``VOCABULARY_LIMITS`` are tighter: a vocabulary is hand-made, and every term
    is compared with every other by ``vocab check``. A CSV cell is also bounded
    by the csv module's own limit (``csv.field_size_limit()``, 131072 characters
    by default), whichever is smaller.
    """

    max_bytes: int = 2 * 1024**3  # whole file
    max_rows: int = 10_000_000  # data rows (CSV records after the header, JSONL objects, array entries, trn lines)
    max_line_chars: int = 16 * 1024**2  # one line (a CSV record: all its cells together)
    max_field_chars: int = 1024**2  # one CSV cell, or one string value of a JSON row
    max_columns: int = 1000  # cells in a CSV header or record
    max_depth: int = 32  # nesting of YAML lists and mappings (JSON stops at Python's recursion limit)
    max_nodes: int = 1_000_000  # YAML values (scalars, lists, mappings) in one file


DEFAULT_LIMITS = Limits()
# A vocabulary is hand-made and far smaller than any engine's list would take
# (Google keeps 5,000 phrases, AWS a 50 KB file); ``vocab check`` compares every
# pair of terms, so the number of entries bounds its time as well.
VOCABULARY_LIMITS = Limits(max_bytes=8 * 1024**2, max_rows=50_000, max_line_chars=64 * 1024,
                           max_field_chars=4096, max_columns=100, max_nodes=500_000)


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
    """The file's text: UTF-8, a leading BOM removed. ``what`` names the file in "not found".

    At most ``limits.max_bytes`` are read, whatever the file claims to hold: a
    device or pipe reports no size, and a file may grow while it is read.
    """
    path = Path(path)
    try:
        if path.stat().st_size > limits.max_bytes:  # refused before a byte is read
            raise _too_big(path, limits)
        with open(path, "rb") as f:
            raw = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise InputError(str(path), f"{what} not found") from None
    except IsADirectoryError:
        raise InputError(str(path), f"is a folder, not a {what}") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > limits.max_bytes:
        raise _too_big(path, limits)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(str(path), f"not UTF-8 text (byte {exc.start})", line) from None


def _too_big(path: Path, limits: Limits) -> InputError:
    return InputError(str(path), f"larger than {_bytes(limits.max_bytes)}, the most this input may hold")


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


_LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines without their endings, split only at ``\\n``, ``\\r\\n`` and ``\\r`` (``str.splitlines`` also splits at U+2028 and friends)."""
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def bounded_lines(path: str | Path, text: str, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """``split_lines``, refusing a line longer than ``limits.max_line_chars`` (formats read line by line: TXT, YAML, trn)."""
    lines = split_lines(text)
    for n, line in enumerate(lines, start=1):
        check_line(path, line, n, limits)
    return lines


def check_line(path: str | Path, line: str, n: int, limits: Limits) -> None:
    if len(line) > limits.max_line_chars:
        raise InputError(str(path), f"line of {len(line)} characters is longer than {limits.max_line_chars}", n)


def check_rows(path: str | Path, count: int, line: int | None, limits: Limits) -> None:
    """Raise once ``count`` data rows exceed ``limits.max_rows``."""
    if count > limits.max_rows:
        raise InputError(str(path), f"more than {limits.max_rows} rows", line)


def check_field(path: str | Path, name: str, value: str, line: int | None, limits: Limits) -> None:
    if len(value) > limits.max_field_chars:
        raise InputError(str(path), f"field {name!r}: {len(value)} characters is longer than {limits.max_field_chars}", line)


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
    if len(first) > limits.max_columns:
        raise InputError(path, f"header has {len(first)} cells, more than {limits.max_columns} columns", reader.line_num)
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
        check_rows(path, count, reader.line_num, limits)
        if len(cells) > limits.max_columns:
            raise InputError(path, f"record has {len(cells)} cells, more than {limits.max_columns} columns", reader.line_num)
        if sum(map(len, cells)) + len(cells) - 1 > limits.max_line_chars:
            raise InputError(path, f"record is longer than {limits.max_line_chars} characters", reader.line_num)
        for name, cell in zip(header, cells):
            check_field(path, name, cell, reader.line_num, limits)
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
        check_line(path, line, n, limits)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not a JSON object ({exc.msg} at column {exc.colno})", n) from None
        except (RecursionError, ValueError) as exc:
            raise InputError(path, _json_bound(exc), n) from None
        if not isinstance(row, dict):
            raise InputError(path, f"each line must be a JSON object, got {_json_type(row)}", n)
        count += 1
        check_rows(path, count, n, limits)
        _check_fields(path, row, n, limits)
        yield Row(n, row)


def parse_json(path: str | Path, text: str) -> Any:
    """One JSON document; a syntax error names its line, and nesting or a number too big to read is an ``InputError`` too."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        raise InputError(str(path), _json_bound(exc)) from None


def read_json(path: str | Path, what: str = "file", limits: Limits = DEFAULT_LIMITS) -> Any:
    """``parse_json`` of ``read_text``: a whole-file JSON document (run.json, a vocabulary snapshot) within ``limits``."""
    return parse_json(path, read_text(path, what, limits))


def _json_bound(exc: Exception) -> str:
    """The message for a JSON text that parses but costs too much: nesting past the stack, or a huge number."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return f"a JSON number with more than {sys.get_int_max_str_digits()} digits"


def _check_fields(path: str, row: dict[str, Any], line: int, limits: Limits) -> None:
    for name, value in row.items():
        if isinstance(value, str):
            check_field(path, name, value, line, limits)


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
        except (RecursionError, ValueError) as exc:
            raise fail(_json_bound(exc), i) from None
        if not isinstance(item, dict):
            raise fail(f"each entry must be a JSON object, got {_json_type(item)}", i)
        count += 1
        check_rows(path, count, line_of(i), limits)
        _check_fields(path, item, line_of(i), limits)
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


# --------------------------------------------------------------------------- streaming


def _open_stream(path: Path, limits: Limits) -> Any:
    """The file opened as UTF-8 text (BOM dropped, line ends untouched), refused up front when over ``limits.max_bytes``."""
    try:
        if path.stat().st_size > limits.max_bytes:
            raise _too_big(path, limits)
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None


def _bounded(path: Path, fh: Any, limits: Limits) -> Iterator[str]:
    """The file's characters in blocks, stopping with an ``InputError`` past ``limits.max_bytes`` or at bad UTF-8."""
    total = 0
    while True:
        try:
            block = fh.read(1 << 16)
        except UnicodeDecodeError:
            raise _not_utf8(path, limits) from None
        except OSError as exc:
            raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
        if not block:
            return
        total += len(block)
        if total > limits.max_bytes:  # characters <= bytes: a file that grew while it was read
            raise _too_big(path, limits)
        yield block


def _not_utf8(path: Path, limits: Limits) -> InputError:
    """``read_text``'s error for a file that is not UTF-8 (the first bad byte and its line), found by a binary re-scan."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    try:
        with open(path, "rb") as f:
            while offset <= limits.max_bytes:
                chunk = f.read(1 << 16)
                pending = len(decoder.getstate()[0])  # bytes of a character split across chunks, decoded with this one
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    bad = max(0, exc.start - pending)
                    return InputError(str(path), f"not UTF-8 text (byte {offset + bad})",
                                      lines + chunk.count(b"\n", 0, bad) + 1)
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                offset += len(chunk)
    except OSError:
        pass
    return InputError(str(path), "not UTF-8 text")


def _stream_lines(path: Path, fh: Any, limits: Limits) -> Iterator[str]:
    """Lines with their endings, split only at ``\\n``, ``\\r\\n`` and ``\\r``, each bounded by ``limits.max_line_chars``."""
    rest = ""
    n = 0
    held: list[str] = []  # blocks of one long line with no line end yet: joined once, not once per block
    held_len = 0
    for block in _bounded(path, fh, limits):
        if "\n" not in block and "\r" not in block:
            held.append(block)
            held_len += len(block)
            if len(rest) + held_len > limits.max_line_chars + 1:
                raise InputError(str(path), f"line longer than {limits.max_line_chars} characters", n + 1)
            continue
        if held:
            block = "".join(held) + block
            held, held_len = [], 0
        parts = _LINE_SPLIT.split(rest + block)
        rest = parts.pop()  # after the last line end: the start of a line still to come
        if parts and not rest and parts[-1].endswith("\r"):
            rest = parts.pop()  # a '\r' at the block's end may be the first half of '\r\n'
        for line in parts:
            n += 1
            check_line(path, line.rstrip("\r\n"), n, limits)
            yield line
        if len(rest) > limits.max_line_chars + 1:
            raise InputError(str(path), f"line longer than {limits.max_line_chars} characters", n + 1)
    if held:
        rest += "".join(held)
    if rest:
        check_line(path, rest.rstrip("\r\n"), n + 1, limits)
        yield rest


_LINE_SPLIT = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def stream_csv(path: str | Path, delimiter: str = ",", limits: Limits = DEFAULT_LIMITS, *,
               lower_header: bool = False, on_header: Any = None) -> Iterator[Row]:
    """``read_csv``'s records read as the file is read: the memory is one record's, whatever the file's size.

    The header is the first record (names stripped); a file without one is an
    error. For the big tables asr-eval itself writes and reads back (a run
    folder's utterances.csv and terms.csv), which may hold millions of rows,
    and for test sets and transcripts of that size. ``on_header`` is called
    with the header (lower-cased if ``lower_header``) before the first record.
    """
    path = Path(path)
    with _open_stream(path, limits) as fh:
        reader = csv.reader(_stream_lines(path, fh, limits), delimiter=delimiter)
        try:
            first = next(reader, None)
        except csv.Error as exc:
            raise InputError(str(path), f"cannot read the CSV header: {exc}", reader.line_num or 1) from None
        if not first or not any(c.strip() for c in first):
            raise InputError(str(path), "empty file: no header row", 1)
        if len(first) > limits.max_columns:
            raise InputError(str(path), f"header has {len(first)} cells, more than {limits.max_columns} columns", 1)
        header = [h.strip().lower() if lower_header else h.strip() for h in first]
        if on_header is not None:
            on_header(header)  # may refuse the file (a missing column) before any record is read
        yield from _csv_records(str(path), reader, header, limits)


def stream_jsonl(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Row]:
    """``jsonl_rows`` read as the file is read: one JSON object per non-blank line, errors naming the line."""
    path = Path(path)
    with _open_stream(path, limits) as fh:
        count = 0
        for n, raw in enumerate(_stream_lines(path, fh, limits), start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            check_line(path, line, n, limits)
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(str(path), f"not a JSON object ({exc.msg} at column {exc.colno})", n) from None
            except (RecursionError, ValueError) as exc:
                raise InputError(str(path), _json_bound(exc), n) from None
            if not isinstance(row, dict):
                raise InputError(str(path), f"each line must be a JSON object, got {_json_type(row)}", n)
            count += 1
            check_rows(path, count, n, limits)
            _check_fields(str(path), row, n, limits)
            yield Row(n, row)
