"""Deepgram pre-recorded (``/v1/listen``) responses.

Schema: ``results.channels[]`` (one per audio channel, in channel order, when
``multichannel=true``; one otherwise), each with ``alternatives[0].transcript``
and ``words[]`` (``word``, ``start``/``end`` in seconds and, with punctuation or
smart formatting on, ``punctuated_word``, the written form the transcript uses).
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node, Word


def detect(obj: dict) -> bool:
    res = obj.get("results")
    return isinstance(res, dict) and "channels" in res


def read(root: Node, **_: object) -> list[HypDoc]:
    channels = []
    for i, ch in enumerate(root.get("results", kind=dict).get("channels", kind=list).items()):
        alts = list(ch.get("alternatives", kind=list).items())
        if not alts:
            channels.append(Channel(i, ""))
            continue
        best = alts[0]
        words = []
        wnode = best.get("words", required=False, kind=list)
        for w in (wnode.items() if wnode is not None else ()):
            text = w.str("punctuated_word", "word")
            words.append(Word(text, w.seconds("start"), w.seconds("end")))
        channels.append(Channel(i, best.str("transcript"), tuple(words)))
    return [HypDoc(None, None, tuple(channels), where=root.path, line=root.line)]
