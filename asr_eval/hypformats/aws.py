"""Amazon Transcribe batch job output (the transcript JSON a job writes to S3).

Schema (docs/formats.md cites the pages): ``results.transcripts[0].transcript``
is the text; ``results.items[]`` are ``pronunciation`` items (a word, with
``start_time``/``end_time`` as decimal strings) and ``punctuation`` items (no
times, attached to the word before); each item's ``alternatives[0].content``
is the best hypothesis. With channel identification, ``results.channel_labels.
channels[]`` holds each channel's items (``channel_label`` 'ch_0', 'ch_1') and
the one transcript is channel 0's text followed by channel 1's, so channels
are rebuilt from their items. ``speaker_labels`` change no words and are ignored.
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node, Word, join_words


def detect(obj: dict) -> bool:
    res = obj.get("results")
    return isinstance(res, dict) and ("transcripts" in res or "items" in res)


def _words(items: Node) -> list[Word]:
    words: list[Word] = []
    for item in items.items():
        kind = item.str("type")
        alts = list(item.get("alternatives", kind=list).items())
        if not alts:
            raise item.fail("'alternatives' is empty")
        content = alts[0].str("content")
        if kind == "punctuation":
            if words:
                last = words[-1]
                words[-1] = Word(last.text + content, last.start, last.end)
            continue
        if kind != "pronunciation":
            raise item.get("type").fail(f"expected 'pronunciation' or 'punctuation', got {kind!r:.40}")
        start, end = item.seconds("start_time"), item.seconds("end_time")
        words.append(Word(content, start, end))
    return words


def _channel_index(label: str, node: Node) -> int:
    if label.startswith("ch_") and label[3:].isdigit():
        return int(label[3:])
    raise node.fail(f"channel label must look like 'ch_0', got {label!r:.40}")


def read(root: Node, **_: object) -> list[HypDoc]:
    results = root.get("results", kind=dict)
    transcripts = list(results.get("transcripts", kind=list).items())
    if not transcripts:
        raise results.get("transcripts").fail("no transcript (empty array)")
    text = transcripts[0].str("transcript")
    labels = results.get("channel_labels", required=False, kind=dict)
    if labels is not None:
        channels = []
        for ch in labels.get("channels", kind=list).items():
            label = ch.str("channel_label")
            words = _words(ch.get("items", kind=list))
            channels.append(Channel(_channel_index(label, ch.get("channel_label")), join_words(words), tuple(words)))
        channels.sort(key=lambda c: c.index)
        return [HypDoc(None, None, tuple(channels), where=root.path, line=root.line)]
    items = results.get("items", required=False, kind=list)
    words = _words(items) if items is not None else []
    return [HypDoc(None, None, (Channel(0, text, tuple(words)),), where=root.path, line=root.line)]
