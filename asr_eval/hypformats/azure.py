"""Azure AI Speech: batch transcription result files and fast transcription responses.

Batch (one result file per audio file): ``combinedRecognizedPhrases[]`` holds,
per ``channel`` (0-based), the whole text in four forms: ``lexical`` (the words
recognised, lower case, numbers spelled out), ``itn`` (inverse-text-normalised:
"twenty five" -> "25"), ``maskedITN`` (itn with profanity masked) and
``display`` (itn with punctuation and capitals). ``recognizedPhrases[]`` holds
each phrase with ``offsetInTicks``/``durationInTicks`` (100 ns ticks; ISO
``offset``/``duration`` strings also exist), its ``channel`` and ``nBest[0]``
in the same four forms, with ``words[]`` (lexical words, when word-level
timestamps were asked for) and ``displayWords[]`` (display words, when
display-form word timestamps were asked for).

The field scored is ``display`` unless ``--azure-field`` says otherwise: it is
the form every other engine's transcript is compared in (punctuated, cased,
numbers as digits), the form a customer's custom display forms ("Klarvo",
"GPT-4") and phrase lists change, and the one fast transcription writes; the
normaliser folds case, punctuation and number forms on both sides, so display
loses nothing lexical would give. ``lexical`` remains available to score the
recogniser without Azure's formatting.

Fast transcription: ``combinedPhrases[]`` (``text`` per ``channel``) and
``phrases[]`` with ``offsetMilliseconds``/``durationMilliseconds``, ``text``,
``channel`` and ``words[]``. It only writes the display form.
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node, Word, join_words, spread

FIELDS = ("display", "lexical", "itn", "maskedITN")
TICK = 1e-7
MS = 1e-3


def detect_batch(obj: dict) -> bool:
    return "combinedRecognizedPhrases" in obj or "recognizedPhrases" in obj


def detect_fast(obj: dict) -> bool:
    return "combinedPhrases" in obj or ("phrases" in obj and "durationMilliseconds" in obj)


def _phrase_time(p: Node) -> tuple[float | None, float | None]:
    if p.has("offsetInTicks"):
        start = p.seconds("offsetInTicks", scale=TICK)
        dur = p.seconds("durationInTicks", scale=TICK, required=False) or 0.0
    elif p.has("offsetMilliseconds"):
        start = p.seconds("offsetMilliseconds", scale=MS)
        dur = p.seconds("durationMilliseconds", scale=MS, required=False) or 0.0
    else:
        return None, None
    return start, start + dur


def _word_list(node: Node, text_key: str) -> list[Word]:
    out = []
    for w in node.items():
        start, end = _phrase_time(w)
        out.append(Word(w.str(text_key), start, end))
    return out


def read_batch(root: Node, azure_field: str = "display", **_: object) -> list[HypDoc]:
    if azure_field not in FIELDS:
        raise root.fail(f"unknown Azure field {azure_field!r}: use one of {', '.join(FIELDS)}")
    combined = {c.int("channel", required=False) or 0: c.str(azure_field, required=False)
                for c in (root.get("combinedRecognizedPhrases", kind=list).items())} \
        if root.has("combinedRecognizedPhrases") else {}
    words: dict[int, list[Word]] = {}
    texts: dict[int, list[str]] = {}
    phrases = root.get("recognizedPhrases", required=False, kind=list)
    for p in (phrases.items() if phrases is not None else ()):
        status = p.str("recognitionStatus", required=False, default="Success")
        if status != "Success":
            continue  # NoMatch / InitialSilenceTimeout phrases hold no words
        ch = p.int("channel", required=False) or 0
        nbest = list(p.get("nBest", kind=list).items())
        if not nbest:
            continue
        best = nbest[0]
        text = best.str(azure_field)
        texts.setdefault(ch, []).append(text)
        start, end = _phrase_time(p)
        if azure_field == "display" and best.has("displayWords"):
            got = _word_list(best.get("displayWords"), "displayText")
        elif azure_field == "lexical" and best.has("words"):
            got = _word_list(best.get("words"), "word")
        else:
            got = spread(text, start, end)  # no word times for this form: shared out across the phrase
        words.setdefault(ch, []).extend(got)
    indices = sorted(set(combined) | set(texts))
    channels = tuple(Channel(i, combined[i] if i in combined else " ".join(texts.get(i, [])), tuple(words.get(i, [])))
                     for i in indices)
    return [HypDoc(None, None, channels, where=root.path, line=root.line)]


def read_fast(root: Node, azure_field: str = "display", **_: object) -> list[HypDoc]:
    if azure_field != "display":
        raise root.fail(f"Azure fast transcription writes only the display form; --azure-field {azure_field} needs a batch result")
    combined = {c.int("channel", required=False) or 0: c.str("text")
                for c in root.get("combinedPhrases", kind=list).items()} if root.has("combinedPhrases") else {}
    words: dict[int, list[Word]] = {}
    texts: dict[int, list[str]] = {}
    phrases = root.get("phrases", required=False, kind=list)
    for p in (phrases.items() if phrases is not None else ()):
        ch = p.int("channel", required=False) or 0
        text = p.str("text")
        texts.setdefault(ch, []).append(text)
        if p.has("words"):
            got = _word_list(p.get("words"), "text")
        else:
            start, end = _phrase_time(p)
            got = spread(text, start, end)
        words.setdefault(ch, []).extend(got)
    indices = sorted(set(combined) | set(texts))
    channels = tuple(Channel(i, combined[i] if i in combined else " ".join(texts.get(i, [])), tuple(words.get(i, [])))
                     for i in indices)
    return [HypDoc(None, None, channels, where=root.path, line=root.line)]


__all__ = ["FIELDS", "detect_batch", "detect_fast", "read_batch", "read_fast", "join_words"]
