"""Rev.ai transcripts (``GET /jobs/{id}/transcript`` with ``Accept: application/vnd.rev.transcript.v1.0+json``).

Schema: ``monologues[]`` (one per speaker turn; ``speaker``), each with
``elements[]`` of ``type`` 'text' (a word, ``value`` with ``ts``/``end_ts`` in
seconds), 'punct' (punctuation or the spaces between words, untimed) or
'unknown' (an inaudible stretch, no words). Text is the elements' values in
order; punctuation attaches to the word before it.
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node, Word, join_words


def detect(obj: dict) -> bool:
    return isinstance(obj.get("monologues"), list)


def read(root: Node, **_: object) -> list[HypDoc]:
    words: list[Word] = []
    for mono in root.get("monologues", kind=list).items():
        for el in mono.get("elements", kind=list).items():
            kind = el.str("type")
            value = el.str("value", required=kind != "unknown")
            if kind == "text":
                words.append(Word(value, el.seconds("ts"), el.seconds("end_ts")))
            elif kind == "punct":
                if value.strip() and words:
                    last = words[-1]
                    words[-1] = Word(last.text + value.strip(), last.start, last.end)
            elif kind != "unknown":
                raise el.get("type").fail(f"expected 'text', 'punct' or 'unknown', got {kind!r:.40}")
    return [HypDoc(None, None, (Channel(0, join_words(words), tuple(words)),), where=root.path, line=root.line)]
