"""Google Cloud Speech-to-Text v1 and v2 responses, as JSON (REST, or ``MessageToDict`` of the client's response).

Schema: ``results[]``, each with ``alternatives[0].transcript`` (the best
hypothesis of one stretch of audio), optional ``words[]`` (v1 ``startTime``/
``endTime``, v2 ``startOffset``/``endOffset``, as protobuf Duration strings
such as "1.300s") and ``channelTag`` (1..N for multi-channel audio; absent or
0 for mono). Field names are accepted in the JSON (camelCase) and the proto
(snake_case) spelling. A v2 ``BatchRecognize`` response keeps one result per
audio URI (``results: {uri: {transcript: {...}}}`` or ``inlineResult``); each
URI becomes one transcript keyed by that audio name.

With speaker diarization, v1 repeats every word of the audio in a final
result that has words but no transcript; that result is skipped when others
came before it, so no word counts twice.
"""

from __future__ import annotations

from .model import Channel, HypDoc, Node, Word


def _is_result_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(r, dict) and ("alternatives" in r or "channelTag" in r
                                                                   or "channel_tag" in r) for r in value)


_ENVELOPE = {"totalBilledTime", "totalBilledDuration", "requestId", "metadata", "speechAdaptationInfo",
             "usingLegacyModels", "results"}


def detect(obj: dict) -> bool:
    res = obj.get("results")
    if _is_result_list(res):
        return True
    if res is None and obj and set(obj) <= _ENVELOPE:
        return True  # no speech: Google returns the envelope without results
    return isinstance(res, dict) and bool(res) and all(
        isinstance(v, dict) and ("transcript" in v or "inlineResult" in v or "inline_result" in v
                                 or "cloudStorageResult" in v or "uri" in v or "error" in v) for v in res.values())


def version(obj: dict) -> str:
    res = obj.get("results")
    if isinstance(res, dict):
        return "google-v2"
    text = repr(res)[:200000]
    return "google-v2" if ("Offset" in text or "_offset" in text) else "google-v1"


def _results(node: Node) -> list[Channel]:
    by_channel: dict[int, tuple[list[str], list[Word]]] = {}
    seen_any = False
    for result in node.items():
        tag = result.int("channelTag", "channel_tag", required=False) or 0
        alts = result.get("alternatives", required=False, kind=list)
        alt_list = list(alts.items()) if alts is not None else []
        if not alt_list:
            continue  # a result for silence, or a channel's end
        best = alt_list[0]
        transcript = best.str("transcript", required=False)
        words_node = best.get("words", required=False, kind=list)
        if not transcript.strip() and words_node is not None and seen_any:
            continue  # v1 diarization: the last result repeats every word of the audio
        seen_any = True
        texts, words = by_channel.setdefault(max(tag - 1, 0), ([], []))
        texts.append(transcript.strip())
        if words_node is not None:
            for w in words_node.items():
                words.append(Word(w.str("word"), w.seconds("startTime", "startOffset", "start_time", "start_offset"),
                                  w.seconds("endTime", "endOffset", "end_time", "end_offset")))
    return [Channel(i, " ".join(t for t in texts if t), tuple(words)) for i, (texts, words) in sorted(by_channel.items())]


def read(root: Node, **_: object) -> list[HypDoc]:
    results = root.get("results", required=False)
    if results is None:  # nothing was said
        return [HypDoc(None, None, (), where=root.path, line=root.line)]
    if isinstance(results.value, list):
        return [HypDoc(None, None, tuple(_results(results)), where=root.path, line=root.line)]
    results.expect(dict)
    docs = []
    for uri in results.value:
        entry = results.get(uri, kind=dict)
        inline = entry.get("inlineResult", "inline_result", required=False, kind=dict)
        holder = inline if inline is not None else entry
        transcript = holder.get("transcript", required=False, kind=dict)
        if transcript is None:
            if entry.has("error"):
                raise entry.get("error").fail(f"the engine reported an error for {uri!r:.80}: {entry.value['error']!r:.120}")
            raise entry.fail("no 'transcript' here (results written to Cloud Storage must be passed as those files)")
        rs = transcript.get("results", required=False, kind=list)
        channels = _results(rs) if rs is not None else []
        docs.append(HypDoc(uri, "audio", tuple(channels), where=entry.path, line=root.line))
    return docs
