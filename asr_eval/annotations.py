"""Entity spans annotated in manifest references.

Two ways to tag names that are in no vocabulary: inline markup in the reference,
``Please call [Siobhan Nguyen](person) back``, or a JSON column holding
``[{"text": "Siobhan Nguyen", "label": "person"}]``. Either way the scorer treats
each span as a term (source 'annotation', category = label). Pure functions;
problems raise ``ValueError`` with a message the manifest loader prefixes with
file and line.
"""

from __future__ import annotations

import json
import re

from asr_eval.types import EntitySpan

# [text](label): text without brackets, label a simple identifier
_MARKUP_RE = re.compile(r"\[([^\[\]]+)\]\(([^()\s]*)\)")
_LABEL_RE = re.compile(r"^[A-Za-z][\w.\-]*$")


def parse_entity_markup(text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Plain reference text plus the spans marked ``[words](label)``.

    Brackets that are not markup (e.g. "[inaudible]" with no label after it) are
    left in the text for the normaliser; an opened span that is never closed, an
    empty span or an empty/odd label is an error, since it is almost certainly a typo.
    """
    spans: list[EntitySpan] = []

    def repl(m: re.Match) -> str:
        words = " ".join(m.group(1).split())
        label = m.group(2)
        if not words:
            raise ValueError(f"empty entity text in {m.group(0)!r}")
        if not _LABEL_RE.match(label):
            raise ValueError(
                f"entity label {label!r} in {m.group(0)!r} must start with a letter and contain only letters, digits, '_', '-' or '.'"
            )
        spans.append(EntitySpan(words, label))
        return words

    plain = _MARKUP_RE.sub(repl, text)
    leftover = re.search(r"\[[^\]]*\]\(|\]\([^)]*$", plain)
    if leftover:
        raise ValueError(f"unbalanced entity markup near {plain[max(0, leftover.start() - 10): leftover.end() + 10]!r}; expected [words](label)")
    return " ".join(plain.split()), tuple(spans)


def entities_from_json(value: str) -> tuple[EntitySpan, ...]:
    """Spans from a JSON list of ``{"text": ..., "label": ...}``; an empty cell means none."""
    if value is None or not str(value).strip():
        return ()
    try:
        data = json.loads(value)
    except json.JSONDecodeError as e:
        raise ValueError(f"entities column is not valid JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(data, list):
        raise ValueError(f"entities column must be a JSON list of objects, got {type(data).__name__}")
    out: list[EntitySpan] = []
    for k, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"entity #{k + 1} must be an object with 'text' and 'label', got {item!r}")
        text, label = item.get("text"), item.get("label")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"entity #{k + 1} needs a non-empty string 'text', got {text!r}")
        if not isinstance(label, str) or not _LABEL_RE.match(label):
            raise ValueError(f"entity #{k + 1} needs a 'label' such as \"person\", got {label!r}")
        out.append(EntitySpan(" ".join(text.split()), label))
    return tuple(out)
