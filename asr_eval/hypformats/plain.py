"""asr-eval's own id,text transcripts: JSONL or a JSON array of objects, CSV/TSV with a header, sclite trn.

* JSON rows: ``id`` or ``utt_id``, ``text`` or ``hypothesis``, optional ``condition``;
* CSV/TSV: a header naming ``id`` (or ``utt_id``), ``text`` (or ``hypothesis``) and optionally ``condition``;
* trn: ``words (speaker-uttid)``; ids written by asr-eval's own trn export map back to manifest ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..tabular import Limits, Row, read_csv, split_lines
from ..trn import parse_trn_lines
from ..types import InputError
from .model import Channel, HypDoc, Node

ID_KEYS = ("id", "utt_id")
TEXT_KEYS = ("text", "hypothesis")


def detect(obj: dict) -> bool:
    return any(obj.get(k) is not None for k in ID_KEYS) and any(k in obj for k in TEXT_KEYS)


def read_object(node: Node) -> HypDoc:
    obj = node.value
    utt = next((obj[k] for k in ID_KEYS if obj.get(k) is not None), None)
    if utt is None or str(utt).strip() == "":
        raise InputError(node.file, "missing utterance id ('id' or 'utt_id')", node.line)
    hyp = next((obj[k] for k in TEXT_KEYS if obj.get(k) is not None), None)
    if hyp is None:
        raise InputError(node.file, "missing transcript ('text' or 'hypothesis')", node.line)
    if not isinstance(hyp, str):
        raise InputError(node.file, f"transcript must be a string, got {type(hyp).__name__}", node.line)
    cond = obj.get("condition")
    return HypDoc(str(utt).strip(), "id", (Channel(0, hyp),), condition=str(cond) if cond else None,
                  line=node.line, where=node.path)


def read_table(path: str, text: str, delimiter: str, limits: Limits) -> list[HypDoc]:
    fields, records = read_csv(path, text, delimiter=delimiter, lower_header=True, limits=limits)
    return list(table_docs(path, fields, records))


def table_columns(path: str, fields: list[str]) -> tuple[str, str]:
    """(id column, text column) of a transcript table's lower-cased header, or the error naming what is missing."""
    id_col = next((k for k in ID_KEYS if k in fields), None)
    text_col = next((k for k in TEXT_KEYS if k in fields), None)
    if id_col is None or text_col is None:
        raise InputError(path, f"header must name an id column (id or utt_id) and a text column (text or hypothesis); found {fields}", 1)
    return id_col, text_col


def table_docs(path: str, fields: list[str], records: Iterable[Row]) -> Iterator[HypDoc]:
    """A transcript per record of an id,text table (``fields``: its lower-cased header)."""
    id_col, text_col = table_columns(path, fields)
    for row in records:
        if row.problem:
            raise row.error(path)
        utt = row.fields[id_col].strip()
        if not utt:
            if not any(v.strip() for v in row.fields.values()):
                continue
            raise InputError(path, f"empty {id_col!r}", row.line)
        cond = row.fields.get("condition", "").strip() or None
        yield HypDoc(utt, "id", (Channel(0, row.fields[text_col]),), condition=cond, line=row.line,
                     where=f"line {row.line}")


def read_trn(path: str, text: str, limits: Limits) -> list[HypDoc]:
    return [HypDoc(ident, "trn", (Channel(0, words),), line=n, where=f"line {n}")
            for n, ident, words in parse_trn_lines(split_lines(text), path, limits)]
