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

Two readings of one file. ``read_dictionary``/``read_directory`` read it whole
and report every defective entry (``vocab check`` lists them all);
``load_dictionary``/``load_directory`` are what a run uses: a vocabulary is
small and hand-made, so its first error (file and line) stops the load, since
failing loudly is kinder than scoring without an entry. Both read within
``VOCABULARY_LIMITS`` and remove invisible characters (``text.remove_invisible``)
from every field, so no zero-width space or bidi override reaches a prompt: a
run warns, ``vocab check`` reports an error until the file is fixed.

YAML is read as plain text: every scalar stays the string the author wrote
(``No``, ``1.50`` and ``0x1F`` are terms, not a boolean and numbers), and an
alias (``*name``) is refused at its line, since nested aliases expand a file of
a few hundred bytes into billions of entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..files import file_sha256
from ..tabular import VOCABULARY_LIMITS, Limits, bounded_lines, check_field, check_rows, parse_json, read_csv, read_text
from ..types import InputError, Problem, Term, Vocabulary
from .findings import ERROR, Finding
from .lint import duplicates
from .text import describe_characters, invisible_characters, remove_invisible

_MULTI_SPLIT = re.compile(r"\s*[|;]\s*")

DICTIONARY_COLUMNS = ("term", "display", "aliases", "sounds_like", "category", "priority")
DIRECTORY_COLUMNS = ("first", "last", "display", "aliases", "sounds_like", "department", "category", "priority")
_LISTS = ("aliases", "sounds_like")  # fields a YAML or JSON entry may give as a list


@dataclass(frozen=True)
class Loaded:
    """A vocabulary file read whole.

    ``vocabulary`` holds every entry that could be read, in file order, cleaned,
    duplicates included (``vocab check`` reports them; a run refuses them).
    ``errors`` are entries left out ("malformed") or an empty file ("no-terms");
    ``cleaned`` says where invisible characters were removed.
    """

    vocabulary: Vocabulary
    errors: tuple[Finding, ...]
    cleaned: tuple[Finding, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.errors + self.cleaned


class _BadEntry(Exception):
    """An entry that cannot become a term; ``vocab check`` reports it and reads on."""


def _split_multi(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value if v is not None]
    else:
        items = _MULTI_SPLIT.split(str(value).strip())
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return tuple(out)


def _priority(value: Any) -> int:
    if value is None or str(value).strip() == "":
        return 0
    try:
        return int(str(value).strip())
    except ValueError:
        raise _BadEntry(f"priority must be an integer, got {value!r}") from None


def _text(row: Mapping[str, Any], key: str) -> str:
    return str(row.get(key) or "").strip()


def _term_from_mapping(row: Mapping[str, Any], line: int | None) -> Term:
    term = _text(row, "term")
    display = _text(row, "display") or term
    if not display:
        raise _BadEntry("empty term (need a 'term' or 'display' value)")
    aliases = list(_split_multi(row.get("aliases")))
    if term and term != display and term not in aliases:
        aliases.insert(0, term)
    known = set(DICTIONARY_COLUMNS)
    meta = {k: v for k, v in row.items() if k not in known and v not in (None, "")}
    return Term(
        display=display,
        category=_text(row, "category") or "term",
        source="dictionary",
        aliases=tuple(a for a in aliases if a != display),
        sounds_like=_split_multi(row.get("sounds_like")),
        priority=_priority(row.get("priority")),
        line=line,
        meta=meta,
    )


def _person_from_mapping(row: Mapping[str, Any], line: int | None) -> Term:
    first, last = _text(row, "first"), _text(row, "last")
    display = _text(row, "display") or " ".join(p for p in (first, last) if p)
    if not display:
        raise _BadEntry("empty name (first, last and display are all empty)")
    aliases = [a for a in _split_multi(row.get("aliases")) if a != display]
    plain = " ".join(p for p in (first, last) if p)
    if plain and plain != display and plain not in aliases:
        aliases.insert(0, plain)
    meta = {k: v for k, v in row.items() if k not in DIRECTORY_COLUMNS[2:5] and v}
    return Term(
        display=display,
        category=_text(row, "category") or "person",
        source="directory",
        aliases=tuple(aliases),
        sounds_like=_split_multi(row.get("sounds_like")),
        priority=_priority(row.get("priority")),
        line=line,
        meta=meta,
    )


class _Reader:
    """Turns a file's entries into terms, collecting what was wrong with each instead of stopping."""

    def __init__(self, path: Path, make: Callable[[Mapping[str, Any], int | None], Term]):
        self.path = path
        self.make = make
        self.terms: list[Term] = []
        self.errors: list[Finding] = []
        self.cleaned: list[Finding] = []

    def bad(self, message: str, line: int | None) -> None:
        self.errors.append(Finding(ERROR, "malformed", message, str(self.path), line))

    def add(self, row: Mapping[str, Any], line: int | None, where: str = "", skip_blank: bool = False) -> None:
        """One entry: its text cleaned, then made a term (a CSV row or TXT line left blank is skipped)."""
        removed: list[tuple[str, str, list[str]]] = []
        clean = {key: self._clean(key, value, removed) for key, value in row.items()}
        if skip_blank and not any(clean.values()):
            term = None
        else:
            try:
                term = self.make(clean, line)
            except _BadEntry as exc:
                self.bad(f"{where}{exc}", line)
                term = None
        if term is not None:
            self.terms.append(term)
        for key, value, chars in removed:
            self.cleaned.append(Finding(
                ERROR, "unspeakable", f"{where}{key} {value!r}: removed {describe_characters(chars)}, which no speech engine outputs",
                str(self.path), line, term.display if term is not None else None))

    @staticmethod
    def _clean(key: str, value: Any, removed: list[tuple[str, str, list[str]]]) -> Any:
        if isinstance(value, str):
            chars = invisible_characters(value)
            if not chars:
                return value
            out = remove_invisible(value).strip()
            removed.append((key, out, chars))
            return out
        if isinstance(value, list):
            chars = sorted({c for v in value if isinstance(v, str) for c in invisible_characters(v)})
            if not chars:
                return value
            out = [remove_invisible(v).strip() if isinstance(v, str) else v for v in value]
            removed.append((key, " | ".join(map(str, out)), chars))
            return out
        return value

    def loaded(self, kind: str, name: str | None, empty: str) -> Loaded:
        if not self.terms:
            self.errors.append(Finding(ERROR, "no-terms", empty, str(self.path)))
        vocab = Vocabulary(name=name or self.path.stem, path=str(self.path), kind=kind, terms=tuple(self.terms),
                           sha256=file_sha256(self.path))
        return Loaded(vocab, tuple(self.errors), tuple(self.cleaned))


def _csv_entries(reader: _Reader, text: str, delimiter: str, required: Callable[[list[str]], str | None],
                 limits: Limits) -> None:
    header, records = read_csv(reader.path, text, delimiter=delimiter, lower_header=True, limits=limits)
    missing = required(header)
    if missing:
        raise InputError(str(reader.path), f"{missing} (header is {header})", 1)
    for row in records:
        if row.problem:
            reader.bad(row.problem, row.line)
            continue
        reader.add({k: v.strip() for k, v in row.fields.items()}, row.line, skip_blank=True)


def read_dictionary(path: str | Path, name: str | None = None, limits: Limits = VOCABULARY_LIMITS) -> Loaded:
    """Every entry of a dictionary file (CSV, TSV, TXT, YAML, JSON) and every defect; only an unreadable file raises."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt", "", ".yaml", ".yml", ".json"):
        raise InputError(str(path), f"unsupported dictionary format {suffix!r} (use .csv, .txt or .yaml)")
    text = read_text(path, "dictionary", limits)
    reader = _Reader(path, _term_from_mapping)
    if suffix in (".csv", ".tsv"):
        _csv_entries(reader, text, "\t" if suffix == ".tsv" else ",",
                     lambda h: None if "term" in h or "display" in h else "missing column 'term'", limits)
    elif suffix in (".txt", ""):
        count = 0
        for i, raw in enumerate(bounded_lines(path, text, limits), start=1):
            if not raw.strip() or remove_invisible(raw).strip().startswith("#"):
                continue
            count += 1
            check_rows(path, count, i, limits)
            check_field(path, "term", raw, i, limits)
            reader.add({"term": raw.strip()}, i, skip_blank=True)
    else:
        entries = _json_entries(path, text) if suffix == ".json" else _yaml_entries(path, text, limits)
        for count, (i, line, item) in enumerate(entries, start=1):
            check_rows(path, count, line, limits)
            where = "" if line is not None else f"entry {i}: "
            if isinstance(item, str):
                item = {"term": item}
            if not isinstance(item, dict):
                reader.bad(f"{where}expected a string or mapping, got {_kind(item)}", line)
                continue
            problem = _field_problem(path, item, line, limits)
            if problem:
                reader.bad(f"{where}{problem}", line)
                continue
            reader.add(item, line, where)
    return reader.loaded("dictionary", name, "no terms found")


def read_directory(path: str | Path, name: str | None = None, limits: Limits = VOCABULARY_LIMITS) -> Loaded:
    """Every person of a directory CSV and every defect; only an unreadable file raises."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(str(path), "a directory must be a CSV file with columns first,last")
    text = read_text(path, "directory", limits)
    reader = _Reader(path, _person_from_mapping)
    _csv_entries(reader, text, ",",
                 lambda h: None if "display" in h or "first" in h or "last" in h else "missing columns 'first' and 'last'",
                 limits)
    return reader.loaded("directory", name, "no people found")


def load_dictionary(path: str | Path, name: str | None = None,
                    on_problem: Callable[[Problem], None] | None = None) -> Vocabulary:
    """A dictionary as a run uses it: the first error raises ``InputError``; removed characters go to ``on_problem``."""
    return _strict(read_dictionary(path, name), on_problem)


def load_directory(path: str | Path, name: str | None = None,
                   on_problem: Callable[[Problem], None] | None = None) -> Vocabulary:
    """A people directory as a run uses it: each person one name term; errors and warnings as ``load_dictionary``."""
    return _strict(read_directory(path, name), on_problem)


def _strict(loaded: Loaded, on_problem: Callable[[Problem], None] | None) -> Vocabulary:
    vocab = loaded.vocabulary
    first = next(iter(loaded.errors), None) or next(
        (f for f in duplicates([(vocab, t) for t in vocab.terms]) if f.code == "duplicate"), None)
    if first is not None:
        raise InputError(first.path, first.message, first.line)
    if on_problem is not None:
        for f in loaded.cleaned:
            on_problem(Problem(f.path, f.line, f.message, "warning"))
    return vocab


# --------------------------------------------------------------------------- YAML and JSON


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), type(value).__name__)


def _field_problem(path: Path, item: Mapping[str, Any], line: int | None, limits: Limits) -> str | None:
    """Why this YAML/JSON entry's fields cannot be read as text, or None; an over-long field is an ``InputError``."""
    for key, value in item.items():
        if isinstance(value, list) and key in _LISTS:
            if any(isinstance(v, (list, dict)) for v in value):
                return f"{key!r} must be a list of text, not of lists or mappings"
            check_field(path, key, " | ".join(map(str, value)), line, limits)
        elif isinstance(value, (list, dict)) and key in DICTIONARY_COLUMNS:
            return f"{key!r} must be text, got {_kind(value)}"
        elif isinstance(value, str):
            check_field(path, key, value, line, limits)
    return None


def _json_entries(path: Path, text: str) -> Iterator[tuple[int, int | None, Any]]:
    """(entry number, None, entry): a JSON text carries no positions once parsed, so entries are numbered."""
    for i, item in enumerate(_terms_list(path, parse_json(path, text)), start=1):
        yield i, None, item


def _terms_list(path: Path, data: Any) -> list:
    if isinstance(data, dict):
        data = data.get("terms")
    if not isinstance(data, list):
        raise InputError(str(path), "expected a list of terms (or a mapping with key 'terms')")
    return data


_NO_KEY = object()
_NULLS = ("", "~", "null", "Null", "NULL")


def _yaml_entries(path: Path, text: str, limits: Limits) -> Iterable[tuple[int, int | None, Any]]:
    """(entry number, line, entry) of a YAML dictionary, built from the parser's events.

    Built here rather than by ``yaml.safe_load`` so that an alias is refused
    where it is written, before anything is expanded, nesting stops at
    ``limits.max_depth``, scalars stay text, and each entry knows its line.
    """
    import yaml

    bounded_lines(path, text, limits)
    parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    root: Any = _NO_KEY
    lines: dict[int, list[int]] = {}  # id(list) -> line of each item
    stack: list[list[Any]] = []  # [container, pending key, line]
    values = 0

    def put(value: Any, line: int) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        frame = stack[-1]
        container = frame[0]
        if isinstance(container, list):
            container.append(value)
            lines[id(container)].append(line)
        elif frame[1] is _NO_KEY:
            if not isinstance(value, str):
                raise InputError(str(path), f"a mapping key must be text, got {_kind(value)}", line)
            frame[1] = value
        else:
            container[frame[1]] = value
            frame[1] = _NO_KEY

    try:
        for event in yaml.parse(text, Loader=parser):
            line = event.start_mark.line + 1
            if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                values += 1
                if values > limits.max_nodes:
                    raise InputError(str(path), f"more than {limits.max_nodes} YAML values", line)
            if isinstance(event, yaml.AliasEvent):
                raise InputError(str(path), f"YAML alias *{event.anchor} is not allowed in a vocabulary file "
                                            "(aliases can repeat an entry billions of times); write the entries out", line)
            if isinstance(event, yaml.ScalarEvent):
                put(None if event.implicit[0] and event.value in _NULLS else event.value, line)  # plain, untagged
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= limits.max_depth:
                    raise InputError(str(path), f"YAML nested more than {limits.max_depth} levels deep", line)
                container: Any = [] if isinstance(event, yaml.SequenceStartEvent) else {}
                if isinstance(container, list):
                    lines[id(container)] = []
                stack.append([container, _NO_KEY, line])
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                container, _, start = stack.pop()
                put(container, start)
            elif isinstance(event, yaml.DocumentStartEvent) and root is not _NO_KEY:
                raise InputError(str(path), "more than one YAML document (one list of terms expected)", line)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = "; ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        raise InputError(str(path), f"not valid YAML: {what or type(exc).__name__}", mark.line + 1 if mark else None) from None
    entries = _terms_list(path, None if root is _NO_KEY else root)
    return [(i, line, item) for i, (line, item) in enumerate(zip(lines[id(entries)], entries), start=1)]
