"""Writers of hypothesis files in each vendor's documented schema, for the tests (docs/formats.md cites the pages).

Each takes a clip's words as (written word, start s, end s), punctuation
attached to the word as engines write it, and returns what the engine's
response or output file would hold for those words. They are the project's
own fixtures written from the schema, not vendor output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

Words = list[tuple[str, float, float]]


def text_of(words: Words) -> str:
    return " ".join(w for w, _, _ in words)


def bare(word: str) -> str:
    return re.sub(r"[^\w'-]", "", word)


def _punct(word: str) -> str:
    return word[len(word.rstrip(".,?!")):]


def aws(words: Words) -> dict:
    items = []
    for w, s, e in words:
        items.append({"type": "pronunciation", "start_time": f"{s:.3f}", "end_time": f"{e:.3f}",
                      "alternatives": [{"confidence": "0.99", "content": w.rstrip(".,?!")}]})
        if _punct(w):
            items.append({"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": _punct(w)}]})
    return {"jobName": "job", "accountId": "1", "status": "COMPLETED",
            "results": {"transcripts": [{"transcript": text_of(words)}], "items": items}}


def aws_channels(channels: list[Words]) -> dict:
    chans = []
    for i, words in enumerate(channels):
        items = aws(words)["results"]["items"]
        for it in items:
            it["channel_label"] = f"ch_{i}"
        chans.append({"channel_label": f"ch_{i}", "items": items})
    return {"jobName": "job", "results": {"transcripts": [{"transcript": " ".join(text_of(c) for c in channels)}],
                                          "channel_labels": {"channels": chans, "number_of_channels": len(channels)}}}


def _dur(x: float) -> str:
    return f"{x:.3f}s"


def google_v1(words: Words, channel_tag: int | None = None) -> dict:
    result = {"alternatives": [{"transcript": text_of(words), "confidence": 0.9,
                                "words": [{"startTime": _dur(s), "endTime": _dur(e), "word": w} for w, s, e in words]}],
              "resultEndTime": _dur(words[-1][2] if words else 0), "languageCode": "en-us"}
    if channel_tag is not None:
        result["channelTag"] = channel_tag
    return {"results": [result], "totalBilledTime": "15s"}


def google_v2_results(words: Words) -> list:
    return [{"alternatives": [{"transcript": text_of(words), "confidence": 0.9,
                               "words": [{"startOffset": _dur(s), "endOffset": _dur(e), "word": w, "confidence": 0.9}
                                         for w, s, e in words]}],
             "resultEndOffset": _dur(words[-1][2] if words else 0), "languageCode": "en-US"}]


def google_v2_batch(per_uri: dict[str, Words]) -> dict:
    return {"results": {uri: {"inlineResult": {"transcript": {"results": google_v2_results(w)}}}
                        for uri, w in per_uri.items()}, "totalBilledDuration": "20s"}


TICKS = 10_000_000


def azure_batch(words: Words, channel: int = 0) -> dict:
    display = text_of(words)
    lexical = " ".join(bare(w).lower() for w, _, _ in words)
    start, end = (words[0][1], words[-1][2]) if words else (0.0, 0.0)
    phrase = {"recognitionStatus": "Success", "channel": channel, "offset": f"PT{start}S", "duration": f"PT{end - start}S",
              "offsetInTicks": start * TICKS, "durationInTicks": (end - start) * TICKS,
              "nBest": [{"confidence": 0.9, "lexical": lexical, "itn": lexical, "maskedITN": lexical, "display": display,
                         "displayWords": [{"displayText": w, "offset": f"PT{s}S", "duration": f"PT{e - s}S",
                                           "offsetInTicks": s * TICKS, "durationInTicks": (e - s) * TICKS}
                                          for w, s, e in words],
                         "words": [{"word": bare(w).lower(), "offsetInTicks": s * TICKS, "durationInTicks": (e - s) * TICKS}
                                   for w, s, e in words]}]}
    return {"source": "https://example.invalid/a.wav", "timestamp": "2025-01-01T00:00:00Z",
            "durationInTicks": end * TICKS, "duration": f"PT{end}S",
            "combinedRecognizedPhrases": [{"channel": channel, "lexical": lexical, "itn": lexical, "maskedITN": lexical,
                                           "display": display}],
            "recognizedPhrases": [phrase] if words else []}


def azure_fast(words: Words) -> dict:
    ms = lambda x: int(round(x * 1000))  # noqa: E731
    return {"durationMilliseconds": ms(words[-1][2]) if words else 0,
            "combinedPhrases": [{"text": text_of(words)}],
            "phrases": [{"offsetMilliseconds": ms(words[0][1]), "durationMilliseconds": ms(words[-1][2] - words[0][1]),
                         "text": text_of(words), "locale": "en-US", "confidence": 0.9,
                         "words": [{"text": w, "offsetMilliseconds": ms(s), "durationMilliseconds": ms(e - s)}
                                   for w, s, e in words]}] if words else []}


def deepgram(channels: list[Words]) -> dict:
    return {"metadata": {"request_id": "r", "channels": len(channels)},
            "results": {"channels": [{"alternatives": [{"transcript": text_of(words), "confidence": 0.9,
                                                        "words": [{"word": bare(w).lower(), "start": s, "end": e,
                                                                   "confidence": 0.9, "punctuated_word": w}
                                                                  for w, s, e in words]}]} for words in channels]}}


def assemblyai(words: Words) -> dict:
    return {"id": "5551722-f677-48a6-9287-39c0aafd9ac1", "status": "completed", "audio_url": "https://example.invalid/a.wav",
            "text": text_of(words),
            "words": [{"text": w, "start": int(round(s * 1000)), "end": int(round(e * 1000)), "confidence": 0.9,
                       "speaker": None} for w, s, e in words]}


def revai(words: Words) -> dict:
    elements = []
    for i, (w, s, e) in enumerate(words):
        elements.append({"type": "text", "value": w.rstrip(".,?!"), "ts": s, "end_ts": e, "confidence": 0.9})
        if _punct(w):
            elements.append({"type": "punct", "value": _punct(w)})
        if i < len(words) - 1:
            elements.append({"type": "punct", "value": " "})
    return {"monologues": [{"speaker": 0, "elements": elements}]}


def whisper_result(words: Words) -> dict:
    """openai-whisper's transcribe() result with word timestamps: one segment per clip here."""
    if not words:
        return {"text": "", "segments": [], "language": "en"}
    seg = {"id": 0, "seek": 0, "start": words[0][1], "end": words[-1][2], "text": " " + text_of(words), "tokens": [],
           "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.01,
           "words": [{"word": " " + w, "start": s, "end": e, "probability": 0.9} for w, s, e in words]}
    return {"text": " " + text_of(words), "segments": [seg], "language": "en"}


def whisperx(words: Words) -> dict:
    segs = [{"start": words[0][1], "end": words[-1][2], "text": " " + text_of(words),
             "words": [{"word": w, "start": s, "end": e, "score": 0.9} for w, s, e in words]}] if words else []
    return {"segments": segs, "word_segments": [w for s in segs for w in s["words"]], "language": "en"}


def ctm_lines(file_id: str, words: Words, channel: str = "1") -> list[str]:
    return [f"{file_id} {channel} {s:.3f} {e - s:.3f} {w} 0.9" for w, s, e in words]


def write_json(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    return path
