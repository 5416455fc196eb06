"""NVIDIA NeMo transcription output manifests (``transcribe_speech.py``, ``speech_to_text_eval.py``).

Schema: JSON lines, each the input manifest's row (``audio_filepath``,
``duration``, optionally ``offset`` and the reference ``text``) plus
``pred_text``, the hypothesis. A row with ``offset`` is a transcript of the
segment [offset, offset + duration) of its audio file and is matched to the
manifest clip with the same audio file and start.
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node


def detect(obj: dict) -> bool:
    return "pred_text" in obj


def read(root: Node, **_: object) -> list[HypDoc]:
    audio = root.str("audio_filepath", "audio_file", required=False)
    text = root.str("pred_text")
    offset = root.seconds("offset", required=False)
    duration = root.seconds("duration", required=False)
    end = offset + duration if offset is not None and duration is not None else None
    return [HypDoc(audio or None, "audio" if audio else None, (Channel(0, text),), where=root.path, line=root.line,
                   start=offset if root.has("offset") else None, end=end if root.has("offset") else None)]
