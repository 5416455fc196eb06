"""AssemblyAI transcripts (``GET /v2/transcript/{id}``).

Schema: ``text`` (the whole transcript), ``words[]`` with ``text``, ``start``
and ``end`` in milliseconds, ``speaker`` with diarization and ``channel``
("1", "2"...) with ``multichannel``; ``status`` is 'completed' or 'error'
(with ``error``). The transcript's own ``id`` names the vendor's job, not the
clip, so a file per clip is matched by its file name and a JSONL of responses
needs an id of the clip (see docs/formats.md); ``audio_url`` names the audio.
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node, Word, join_words

MS = 1e-3


def detect(obj: dict) -> bool:
    return "text" in obj and isinstance(obj.get("words"), list) and (
        "audio_url" in obj or "status" in obj or "acoustic_model" in obj or "language_model" in obj
        or any(isinstance(w, dict) and "text" in w and "start" in w for w in obj["words"][:1]))


def read(root: Node, **_: object) -> list[HypDoc]:
    status = root.str("status", required=False)
    if status == "error":
        raise root.fail(f"the transcript failed: {root.str('error', required=False, default='no error message')!r:.200}")
    if status and status != "completed" and root.value.get("text") is None:
        raise root.fail(f"the transcript is not finished (status {status!r:.40})")
    text = root.str("text")
    by_channel: dict[int, list[Word]] = {}
    wnode = root.get("words", required=False, kind=list)
    for w in (wnode.items() if wnode is not None else ()):
        ch = w.int("channel", required=False)
        idx = max(ch - 1, 0) if ch is not None else 0
        by_channel.setdefault(idx, []).append(Word(w.str("text"), w.seconds("start", scale=MS), w.seconds("end", scale=MS)))
    if len(by_channel) > 1:
        channels = tuple(Channel(i, join_words(ws), tuple(ws)) for i, ws in sorted(by_channel.items()))
    else:
        channels = (Channel(0, text, tuple(by_channel.get(0, []) or next(iter(by_channel.values()), []))),)
    url = root.str("audio_url", required=False)
    return [HypDoc(url or None, "audio" if url else None, channels, where=root.path, line=root.line)]
