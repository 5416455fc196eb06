"""Load transcripts produced elsewhere (a vendor's engine) for ``asr-eval score --hyp FILE``.

Formats, chosen by extension (or ``fmt``):

* JSONL (``.jsonl``/``.ndjson``/``.json``): one object per line with ``id`` or
  ``utt_id``, ``text`` or ``hypothesis``, and optionally ``condition``; a file
  starting with ``[`` holds one JSON array of such objects instead;
* CSV/TSV (``.csv``/``.tsv``): a header with ``id`` (or ``utt_id``), ``text`` (or
  ``hypothesis``) and optionally ``condition``;
* sclite trn (``.trn``): ``words (speaker-uttid)``; ids written by asr-eval's own
  trn export are mapped back to manifest ids.

Rows without a condition get ``condition`` (default: the file's stem), so a vendor's
run with and without its custom vocabulary can be two files or one file with a
condition column. Files are read by ``asr_eval.tabular`` (UTF-8, BOM or not);
every problem is an ``InputError`` naming file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from asr_eval.tabular import DEFAULT_LIMITS, Limits, json_array_rows, jsonl_rows, read_csv, read_text, split_lines
from asr_eval.trn import parse_trn_lines, utt_from_trn_id
from asr_eval.types import InputError, Problem

ID_KEYS = ("id", "utt_id")
TEXT_KEYS = ("text", "hypothesis")
FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".trn": "trn"}

Hypotheses = dict[str, dict[str, str]]  # condition -> utt_id -> text


def _pick(row: Mapping[str, object], keys: tuple[str, ...]) -> object:
    for k in keys:
        if k in row and row[k] is not None:
            return row[k]
    return None


def _add(out: Hypotheses, path: Path, line: int, condition: str, utt_id: str, text: str, seen: dict) -> None:
    key = (condition, utt_id)
    if key in seen:
        raise InputError(str(path), f"utterance {utt_id!r} appears twice for condition {condition!r} (first on line {seen[key]})", line)
    seen[key] = line
    out.setdefault(condition, {})[utt_id] = text


def load_hypotheses(
    path: str | Path,
    condition: str | None = None,
    fmt: str | None = None,
    known_ids: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Hypotheses:
    """condition -> {utt_id: hypothesis text} from one file.

    ``known_ids`` (the manifest's ids) lets trn ids of the form ``speaker-utt`` map
    back to ``utt``; other ids are kept as written and reported by ``check_ids``.
    """
    path = Path(path)
    kind = fmt or FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(str(path), f"unknown transcript format {path.suffix!r}: use .jsonl, .csv, .tsv or .trn")
    default = condition or path.stem
    text = read_text(path, "transcript file", limits)
    out: Hypotheses = {}
    seen: dict[tuple[str, str], int] = {}

    if kind == "jsonl":
        # a .json file may hold one array of objects rather than one object per line
        rows = json_array_rows(path, text, limits) if text.lstrip().startswith("[") else jsonl_rows(path, text, limits)
        for row in rows:
            n, fields = row.line, row.fields
            utt, hyp, cond = _pick(fields, ID_KEYS), _pick(fields, TEXT_KEYS), fields.get("condition") or default
            if utt is None or str(utt).strip() == "":
                raise InputError(str(path), "missing utterance id ('id' or 'utt_id')", n)
            if hyp is None:
                raise InputError(str(path), "missing transcript ('text' or 'hypothesis')", n)
            if not isinstance(hyp, str):
                raise InputError(str(path), f"transcript must be a string, got {type(hyp).__name__}", n)
            _add(out, path, n, str(cond), str(utt).strip(), hyp, seen)

    elif kind in ("csv", "tsv"):
        fields, records = read_csv(path, text, delimiter="\t" if kind == "tsv" else ",", lower_header=True, limits=limits)
        id_col = next((k for k in ID_KEYS if k in fields), None)
        text_col = next((k for k in TEXT_KEYS if k in fields), None)
        if id_col is None or text_col is None:
            raise InputError(str(path), f"header must name an id column (id or utt_id) and a text column (text or hypothesis); found {fields}", 1)
        for row in records:
            if row.problem:
                raise row.error(path)
            n = row.line
            utt = row.fields[id_col].strip()
            if not utt:
                if not any(v.strip() for v in row.fields.values()):
                    continue
                raise InputError(str(path), f"empty {id_col!r}", n)
            cond = row.fields.get("condition", "").strip() or default
            _add(out, path, n, cond, utt, row.fields[text_col], seen)

    elif kind == "trn":
        known = set(known_ids) if known_ids is not None else None
        for n, ident, words in parse_trn_lines(split_lines(text), str(path), limits):
            utt = ident
            if known is not None and ident not in known and utt_from_trn_id(ident) in known:
                utt = utt_from_trn_id(ident)
            _add(out, path, n, default, utt, words, seen)
    else:
        raise InputError(str(path), f"unknown transcript format {kind!r}")

    if not out:
        raise InputError(str(path), "no transcripts found")
    return out


def merge(sets: Iterable[tuple[str, Hypotheses]]) -> Hypotheses:
    """Combine several files; the same (condition, id) in two files is an error."""
    out: Hypotheses = {}
    origin: dict[str, str] = {}
    for path, hyps in sets:
        for cond, rows in hyps.items():
            target = out.setdefault(cond, {})
            for utt, text in rows.items():
                if utt in target:
                    raise InputError(path, f"utterance {utt!r} of condition {cond!r} was already given in {origin[cond + chr(0) + utt]}")
                target[utt] = text
                origin[cond + chr(0) + utt] = path
    return out


def check_ids(hyps: Hypotheses, manifest_ids: Iterable[str], path: str = "<hypotheses>", show: int = 5) -> list[Problem]:
    """Warnings for manifest utterances with no transcript and errors for ids the manifest lacks."""
    ids = list(manifest_ids)
    known = set(ids)
    problems: list[Problem] = []
    for cond, rows in sorted(hyps.items()):
        extra = sorted(set(rows) - known)
        missing = [i for i in ids if i not in rows]
        if extra:
            problems.append(Problem(path, None, f"condition {cond!r}: {len(extra)} id(s) not in the manifest: "
                                    f"{', '.join(extra[:show])}{' ...' if len(extra) > show else ''}", "error"))
        if missing:
            problems.append(Problem(path, None, f"condition {cond!r}: {len(missing)} manifest utterance(s) have no transcript: "
                                    f"{', '.join(missing[:show])}{' ...' if len(missing) > show else ''}", "warning"))
    return problems
