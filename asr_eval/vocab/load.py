"""Load company dictionaries and people directories into ``Vocabulary`` objects.

Formats (documented in docs/fixtures.md and the README):

* dictionary CSV or TSV: ``term`` (required), ``display``, ``aliases``, ``sounds_like``,
  ``category``, ``priority``; extra columns are kept as metadata.
* dictionary TXT: one term per line (``#`` comments, blank lines ignored).
* dictionary YAML or JSON: a list of strings or of mappings with the CSV's keys
  (``aliases``/``sounds_like`` may be lists), or ``{terms: [...]}``.
* directory CSV: ``first``, ``last`` (at least one required per row),
  ``display``, ``aliases``, ``sounds_like``, ``department``...

Multi-valued cells use ``|`` (``;`` also accepted). A ``term`` that differs
from its ``display`` is accepted as an alias: the author wrote it, so it is a
form they consider correct.

Files are read by ``asr_eval.tabular`` (UTF-8, BOM or not; header names are not
case-sensitive). Every problem raises ``InputError`` naming file and line (YAML
and JSON entries by their position), because a vocabulary is small and
hand-made: failing loudly is kinder than skipping an entry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..files import file_sha256
from ..tabular import read_csv, read_text, split_lines
from ..types import InputError, Term, Vocabulary

_MULTI_SPLIT = re.compile(r"\s*[|;]\s*")

DICTIONARY_COLUMNS = ("term", "display", "aliases", "sounds_like", "category", "priority")
DIRECTORY_COLUMNS = ("first", "last", "display", "aliases", "sounds_like", "department", "category", "priority")


def _split_multi(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        items = _MULTI_SPLIT.split(str(value).strip())
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return tuple(out)


def _priority(value: Any, path: Path, line: int | None) -> int:
    if value is None or str(value).strip() == "":
        return 0
    try:
        return int(str(value).strip())
    except ValueError:
        raise InputError(str(path), f"priority must be an integer, got {value!r}", line) from None


def _csv_rows(path: Path, text: str, delimiter: str = ",") -> tuple[list[str], Iterable[tuple[int, dict[str, str]]]]:
    """Header (lower case) and (line, stripped cells) per record; a record longer than the header is an error."""
    header, records = read_csv(path, text, delimiter=delimiter, lower_header=True)

    def rows() -> Iterable[tuple[int, dict[str, str]]]:
        for row in records:
            if row.problem:
                raise row.error(path)
            yield row.line, {k: v.strip() for k, v in row.fields.items()}

    return header, rows()


def _term_from_mapping(row: Mapping[str, Any], path: Path, line: int | None, source: str, default_category: str) -> Term:
    term = str(row.get("term") or "").strip()
    display = str(row.get("display") or "").strip() or term
    if not display:
        raise InputError(str(path), "empty term (need a 'term' or 'display' value)", line)
    aliases = list(_split_multi(row.get("aliases")))
    if term and term != display and term not in aliases:
        aliases.insert(0, term)
    known = set(DICTIONARY_COLUMNS)
    meta = {k: v for k, v in row.items() if k not in known and v not in (None, "")}
    return Term(
        display=display,
        category=str(row.get("category") or "").strip() or default_category,
        source=source,
        aliases=tuple(a for a in aliases if a != display),
        sounds_like=_split_multi(row.get("sounds_like")),
        priority=_priority(row.get("priority"), path, line),
        line=line,
        meta=meta,
    )


def _check_duplicates(terms: list[Term], path: Path) -> None:
    seen: dict[str, Term] = {}
    for t in terms:
        key = t.display.casefold()
        if key in seen:
            raise InputError(
                str(path), f"duplicate term {t.display!r} (first at line {seen[key].line})", t.line
            )
        seen[key] = t


def load_dictionary(path: str | Path, name: str | None = None) -> Vocabulary:
    """Load a company dictionary from CSV, TXT or YAML."""
    path = Path(path)
    text = read_text(path)
    suffix = path.suffix.lower()
    terms: list[Term] = []
    if suffix in (".csv", ".tsv"):
        header, rows = _csv_rows(path, text, "\t" if suffix == ".tsv" else ",")
        if "term" not in header and "display" not in header:
            raise InputError(str(path), f"missing column 'term' (header is {header})", 1)
        for line, row in rows:
            if not any(row.values()):
                continue
            terms.append(_term_from_mapping(row, path, line, "dictionary", "term"))
    elif suffix in (".txt", ""):
        for i, raw in enumerate(split_lines(text), start=1):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            terms.append(Term(display=s, category="term", source="dictionary", line=i))
    elif suffix in (".yaml", ".yml", ".json"):
        try:
            if suffix == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # parser errors carry their own line info
            mark = getattr(exc, "problem_mark", None)
            raise InputError(str(path), f"cannot parse: {exc}", mark.line + 1 if mark else None) from None
        if isinstance(data, dict):
            data = data.get("terms")
        if not isinstance(data, list):
            raise InputError(str(path), "expected a list of terms (or a mapping with key 'terms')")
        for i, item in enumerate(data, start=1):
            if isinstance(item, str):
                item = {"term": item}
            if not isinstance(item, dict):
                raise InputError(str(path), f"entry {i}: expected a string or mapping, got {type(item).__name__}")
            try:
                terms.append(_term_from_mapping(item, path, None, "dictionary", "term"))
            except InputError as exc:
                raise InputError(str(path), f"entry {i}: {exc.problem}") from None
    else:
        raise InputError(str(path), f"unsupported dictionary format {suffix!r} (use .csv, .txt or .yaml)")
    if not terms:
        raise InputError(str(path), "no terms found")
    _check_duplicates(terms, path)
    return Vocabulary(name=name or path.stem, path=str(path), kind="dictionary", terms=tuple(terms), sha256=file_sha256(path))


def load_directory(path: str | Path, name: str | None = None) -> Vocabulary:
    """Load a people directory (CSV) and turn each person into one name term."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() != ".csv":
        raise InputError(str(path), "a directory must be a CSV file with columns first,last")
    header, rows = _csv_rows(path, text)
    if "display" not in header and not ("first" in header or "last" in header):
        raise InputError(str(path), f"missing columns 'first' and 'last' (header is {header})", 1)
    terms: list[Term] = []
    for line, row in rows:
        if not any(row.values()):
            continue
        first, last = row.get("first", ""), row.get("last", "")
        display = row.get("display") or " ".join(p for p in (first, last) if p)
        if not display:
            raise InputError(str(path), "empty name (first, last and display are all empty)", line)
        aliases = [a for a in _split_multi(row.get("aliases")) if a != display]
        plain = " ".join(p for p in (first, last) if p)
        if plain and plain != display and plain not in aliases:
            aliases.insert(0, plain)
        meta = {k: v for k, v in row.items() if k not in DIRECTORY_COLUMNS[2:5] and v}
        terms.append(
            Term(
                display=display,
                category=row.get("category") or "person",
                source="directory",
                aliases=tuple(aliases),
                sounds_like=_split_multi(row.get("sounds_like")),
                priority=_priority(row.get("priority"), path, line),
                line=line,
                meta=meta,
            )
        )
    if not terms:
        raise InputError(str(path), "no people found")
    _check_duplicates(terms, path)
    return Vocabulary(name=name or path.stem, path=str(path), kind="directory", terms=tuple(terms), sha256=file_sha256(path))
