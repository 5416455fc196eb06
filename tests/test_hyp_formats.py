"""Hypotheses from every engine: the same transcripts written in each vendor's format score identically.

Fixtures are written by tests/hypgen.py from each vendor's documented schema
(docs/formats.md cites the pages); openai-whisper's own writers make the
srt/vtt/tsv/txt/json files. Malformed files must fail as one line naming the
file and, for JSON, the path inside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

import hypgen as g
from asr_eval.cli import app
from asr_eval.hypformats import read_hyp_file
from asr_eval.hypotheses import HypOptions, load_for_manifest, load_hypotheses
from asr_eval.tabular import Limits
from asr_eval.types import InputError, Utterance
from conftest import tone

REFS = {
    "u0": ("calls/c0.wav", "Please ask Siobhan Nguyen about Klarvo"),
    "u1": ("calls/c1.wav", "Klarvo is down again"),
    "u2": ("calls/c2.wav", "the invoice is late"),
}
HYPS: dict[str, g.Words] = {
    "u0": [("Please", 0.50, 0.80), ("ask", 0.80, 1.00), ("Siobhan", 1.00, 1.40), ("new", 1.40, 1.60),
           ("win", 1.60, 1.90), ("about", 1.90, 2.10), ("Klarvo.", 2.10, 2.60)],
    "u1": [("Clarvo", 0.30, 0.70), ("is", 0.70, 0.85), ("down", 0.85, 1.10), ("again?", 1.10, 1.50)],
    "u2": [("The", 0.20, 0.35), ("invoice,", 0.35, 0.90), ("is", 0.90, 1.00), ("late.", 1.00, 1.40)],
}


def _manifest(tmp_path: Path) -> Path:
    (tmp_path / "calls").mkdir(exist_ok=True)
    for uid, (audio, _) in REFS.items():
        sf.write(tmp_path / audio, tone(0.2), 16000)
    m = tmp_path / "m.csv"
    m.write_text("id,audio,text,speaker,accent_group\n" + "".join(
        f"{uid},{audio},{text},s{i},ie\n" for i, (uid, (audio, text)) in enumerate(REFS.items())), encoding="utf-8")
    (tmp_path / "dict.csv").write_text("term,category\nKlarvo,product\n", encoding="utf-8")
    return m


def _per_clip(root: Path, make, ext: str = "json") -> Path:
    folder = root / "vendor"
    for uid, words in HYPS.items():
        g.write_json(folder / f"{uid}.{ext}", make(words))
    return folder


def _whisper_files(root: Path, fmt: str, **options) -> Path:
    from whisper.utils import get_writer

    folder = root / "vendor"
    folder.mkdir(parents=True)
    opts = {"highlight_words": False, "max_line_count": None, "max_line_width": None, "max_words_per_line": None}
    opts.update(options)
    for uid, words in HYPS.items():
        get_writer(fmt, str(folder))(g.whisper_result(words), f"{uid}.wav", opts)
    return folder


def _one_file(root: Path, name: str, lines: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    p = root / name
    p.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return p


def _stem(uid: str) -> str:
    return Path(REFS[uid][0]).stem


WRITERS = {
    "jsonl": lambda r: _one_file(r, "vendor.jsonl", [json.dumps({"id": u, "text": g.text_of(w)}) for u, w in HYPS.items()]),
    "csv": lambda r: _one_file(r, "vendor.csv", ["id,text"] + [f'{u},"{g.text_of(w)}"' for u, w in HYPS.items()]),
    "trn": lambda r: _one_file(r, "vendor.trn", [f"{g.text_of(w)} (s-{u})" for u, w in HYPS.items()]),
    "aws": lambda r: _per_clip(r, g.aws),
    "aws-jsonl": lambda r: _one_file(r, "vendor.jsonl", [json.dumps({"id": u, "response": g.aws(w)}) for u, w in HYPS.items()]),
    "google-v1": lambda r: _per_clip(r, g.google_v1),
    "google-v2-batch": lambda r: g.write_json(r / "vendor.json", g.google_v2_batch(
        {f"gs://bucket/calls/{_stem(u)}.wav": w for u, w in HYPS.items()})),
    "azure-batch": lambda r: _per_clip(r, g.azure_batch),
    "azure-fast": lambda r: _per_clip(r, g.azure_fast),
    "deepgram": lambda r: _per_clip(r, lambda w: g.deepgram([w])),
    "assemblyai": lambda r: _per_clip(r, g.assemblyai),
    "revai": lambda r: _per_clip(r, g.revai),
    "nemo": lambda r: _one_file(r, "vendor.json", [json.dumps({"audio_filepath": f"/data/{REFS[u][0]}", "duration": 3.0,
                                                               "pred_text": g.text_of(w)}) for u, w in HYPS.items()]),
    "whisperx": lambda r: _per_clip(r, g.whisperx),
    "whisper-json": lambda r: _whisper_files(r, "json"),
    "srt": lambda r: _whisper_files(r, "srt"),
    "srt-highlighted": lambda r: _whisper_files(r, "srt", highlight_words=True),
    "vtt": lambda r: _whisper_files(r, "vtt"),
    "whisper-tsv": lambda r: _whisper_files(r, "tsv"),
    "txt": lambda r: _whisper_files(r, "txt"),
    "ctm": lambda r: _one_file(r, "vendor.ctm", [";; written by hypgen"] + [
        line for u, w in HYPS.items() for line in g.ctm_lines(_stem(u), w)]),
}
DETECTED = {"aws-jsonl": "jsonl:aws", "google-v2-batch": "google-v2", "srt-highlighted": "srt", "nemo": "jsonl:nemo"}


def _score(tmp_path: Path, manifest: Path, hyp: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["score", str(manifest), "--hyp", str(hyp), "--dictionary", str(tmp_path / "dict.csv"),
                                    "--out", str(out), *extra])


def test_every_format_scores_the_same_transcripts_identically(tmp_path):
    manifest = _manifest(tmp_path)
    results = {}
    for name, write in WRITERS.items():
        hyp = write(tmp_path / "hyp" / name)
        out = tmp_path / "out" / name
        r = _score(tmp_path, manifest, hyp, out)
        assert r.exit_code == 0, (name, r.output)
        results[name] = (out / "utterances.csv").read_text(encoding="utf-8")
        source = json.loads((out / "run.json").read_text())["provenance"]["hypotheses"][0] \
            if "provenance" in json.loads((out / "run.json").read_text()) else \
            json.loads((out / "run.json").read_text())["hypotheses"][0]
        assert source["format"] == DETECTED.get(name, name), (name, source)
    reference = results["jsonl"]
    rows = list(csv.DictReader(reference.splitlines()))
    assert {r["condition"] for r in rows} == {"vendor"} and len(rows) == 3
    # the scores are not trivially perfect: u0 has Nguyen -> "new" + "win" inserted
    u0 = next(r for r in rows if r["utt_id"] == "u0")
    assert (int(u0["subs"]), int(u0["ins"]), int(u0["dels"])) == (1, 1, 0)
    for name, text in results.items():
        assert text == reference, f"{name} scored differently from id,text JSONL"


def _utts(**segs) -> list[Utterance]:
    return [Utterance(uid, f"/data/{audio}", "x", "s", "g", start=s, end=e, meta=meta)
            for uid, (audio, s, e, meta) in segs.items()]


def test_a_recording_is_cut_into_segments_by_word_midpoints(tmp_path):
    words = [("hello", 0.2, 0.6), ("there", 0.6, 1.0), ("um", 1.3, 1.6),   # 'um' mid 1.45: in the gap -> next segment
             ("good", 2.0, 2.4), ("morning", 2.4, 2.7), ("bye", 5.1, 5.3)]  # 'bye' after the last segment -> the last
    ctm = _one_file(tmp_path, "sys.ctm", g.ctm_lines("rec1", words))
    utts = _utts(a=("rec1.wav", 0.0, 1.2, {}), b=("rec1.wav", 1.9, 3.0, {}))
    loaded = load_for_manifest([ctm], utts)
    assert loaded.hyps == {"sys": {"a": "hello there", "b": "um good morning bye"}}
    [warning] = loaded.problems
    assert warning.severity == "warning" and "2 word(s)" in warning.problem and "'um' at 1.30-1.60 s -> b" in warning.problem
    assert loaded.sources[0]["words_outside_segments"] == 2 and loaded.sources[0]["matched"] == {"stem": 1}


def test_segments_by_channel_from_the_manifest_and_from_the_option(tmp_path):
    left = [("hi", 0.1, 0.4), ("there", 0.4, 0.8)]
    right = [("hello", 0.5, 0.9), ("back", 3.0, 3.4)]
    dg = g.write_json(tmp_path / "call.json", g.deepgram([left, right]))
    utts = _utts(a=("call.wav", 0.0, 2.0, {"channel": "A"}), b=("call.wav", 0.0, 4.0, {"channel": "B"}))
    assert load_for_manifest([dg], utts).hyps == {"call": {"a": "hi there", "b": "hello back"}}
    # one clip of the whole call: channels joined in time order, or one picked
    whole = [Utterance("w", "/data/call.wav", "x", "s", "g")]
    assert load_for_manifest([dg], whole).hyps == {"call": {"w": "hi there hello back"}}
    assert load_for_manifest([dg], whole, HypOptions(channel=1)).hyps == {"call": {"w": "hello back"}}
    with pytest.raises(InputError, match=r"no channel 2 \(channels here: 0, 1"):
        load_for_manifest([dg], whole, HypOptions(channel=2))


def test_multichannel_vendor_channels_are_counted_from_zero(tmp_path):
    a, b = [("yes", 1.0, 1.2)], [("no", 0.5, 0.7)]
    whole = [Utterance("w", "/data/x.wav", "x", "s", "g")]
    aws = g.write_json(tmp_path / "x.json", g.aws_channels([a, b]))
    assert load_for_manifest([aws], whole).hyps == {"x": {"w": "no yes"}}  # time order, not channel order
    assert load_for_manifest([aws], whole, HypOptions(channel=0)).hyps == {"x": {"w": "yes"}}
    google = {"results": g.google_v1(a, 1)["results"] + g.google_v1(b, 2)["results"]}
    gpath = g.write_json(tmp_path / "g" / "x.json", google)
    assert load_for_manifest([gpath], whole, HypOptions(channel=1)).hyps == {"x": {"w": "no"}}
    ctm = _one_file(tmp_path, "x.ctm", g.ctm_lines("x", a, "A") + g.ctm_lines("x", b, "B"))
    assert load_for_manifest([ctm], whole, HypOptions(channel=1)).hyps == {"x": {"w": "no"}}


def test_untimed_transcript_of_a_segmented_recording_is_an_error(tmp_path):
    p = _one_file(tmp_path / "v", "rec1.txt", ["hello there good morning"])
    utts = _utts(a=("rec1.wav", 0.0, 1.2, {}), b=("rec1.wav", 1.9, 3.0, {}))
    with pytest.raises(InputError, match="covers 2 segment\\(s\\) of 'rec1' but has no word times"):
        load_for_manifest([p], utts)


def test_nemo_rows_with_offsets_match_their_segment(tmp_path):
    rows = [{"audio_filepath": "/x/rec1.wav", "offset": 0.0, "duration": 1.2, "pred_text": "hello there"},
            {"audio_filepath": "/x/rec1.wav", "offset": 1.9, "duration": 1.1, "pred_text": "good morning"}]
    p = _one_file(tmp_path, "nemo.json", [json.dumps(r) for r in rows])
    utts = _utts(a=("rec1.wav", 0.0, 1.2, {}), b=("rec1.wav", 1.9, 3.0, {}))
    assert load_for_manifest([p], utts).hyps == {"nemo": {"a": "hello there", "b": "good morning"}}
    bad = _one_file(tmp_path, "bad.json", [json.dumps(rows[0]), json.dumps({**rows[1], "offset": 7.0})])
    with pytest.raises(InputError, match="no manifest clip of 'rec1' starts at offset 7 s") as err:
        load_for_manifest([bad], utts)
    assert err.value.line == 2


def test_matching_by_id_stem_and_column(tmp_path):
    utts = [Utterance("u1", "/d/a1.wav", "x", "s", "g", meta={"call_id": "C-9"}),
            Utterance("u2", "/d/a2.wav", "x", "s", "g", meta={"call_id": "C-10"})]
    folder = tmp_path / "sys"
    g.write_json(folder / "u1.json", g.deepgram([[("one", 0, 1)]]))
    g.write_json(folder / "a2.json", g.deepgram([[("two", 0, 1)]]))
    loaded = load_for_manifest([folder], utts)  # auto: u1 by id, a2 by audio stem
    assert loaded.hyps == {"sys": {"u1": "one", "u2": "two"}} and loaded.sources[0]["matched"] == {"id": 1, "stem": 1}
    assert loaded.sources[0]["kind"] == "folder" and loaded.sources[0]["files"] == 2
    with pytest.raises(InputError, match=r"1 id\(s\) not in the manifest \(matched by id\): a2"):
        load_for_manifest([folder], utts, HypOptions(match="id"))
    col = _one_file(tmp_path, "by_call.jsonl", [json.dumps({"id": "C-10", "text": "ten"})])
    assert load_for_manifest([col], utts, HypOptions(match="column:call_id")).hyps == {"by_call": {"u2": "ten"}}
    with pytest.raises(InputError, match="the manifest has no column 'nope'"):
        load_for_manifest([col], utts, HypOptions(match="column:nope"))
    with pytest.raises(InputError, match="unknown matching"):
        HypOptions(match="fuzzy")


def test_rejected_rows_are_dropped_and_duplicates_refused(tmp_path):
    utts = [Utterance("u1", "/d/a1.wav", "x", "s", "g")]
    p = _one_file(tmp_path, "v.jsonl", [json.dumps({"id": "u1", "text": "a"}), json.dumps({"id": "bad", "text": "b"})])
    assert load_for_manifest([p], utts, rejected=["bad"]).hyps == {"v": {"u1": "a"}}
    # the same clip by id and by its audio name in one folder
    folder = tmp_path / "dup"
    g.write_json(folder / "u1.json", g.assemblyai([("a", 0, 1)]))
    g.write_json(folder / "a1.json", g.assemblyai([("b", 0, 1)]))
    with pytest.raises(InputError, match="utterance 'u1' of condition 'dup' is given twice"):
        load_for_manifest([folder], utts)


def test_whisper_output_folder_needs_a_format_and_then_reads_one(tmp_path):
    from whisper.utils import get_writer

    folder = tmp_path / "whisper"
    folder.mkdir()
    get_writer("all", str(folder))(g.whisper_result(HYPS["u1"]), "u1.wav",
                                   {"highlight_words": False, "max_line_count": None, "max_line_width": None,
                                    "max_words_per_line": None})
    utts = [Utterance("u1", "/d/c1.wav", "x", "s", "g")]
    with pytest.raises(InputError, match="given twice"):
        load_for_manifest([folder], utts)
    for fmt in ("srt", "vtt", "txt", "whisper-tsv", "whisper-json"):
        loaded = load_for_manifest([folder], utts, HypOptions(fmt=fmt))
        assert loaded.hyps == {"whisper": {"u1": "Clarvo is down again?"}}, fmt
        assert loaded.sources[0]["format"] == fmt


def test_azure_field_choice(tmp_path):
    words = [("Order", 0.1, 0.4), ("25", 0.4, 0.9), ("now.", 0.9, 1.2)]
    obj = g.azure_batch(words)
    obj["combinedRecognizedPhrases"][0]["lexical"] = "order twenty five now"
    p = g.write_json(tmp_path / "u.json", obj)
    assert read_hyp_file(p).docs[0].channels[0].text == "Order 25 now."
    assert read_hyp_file(p, azure_field="lexical").docs[0].channels[0].text == "order twenty five now"
    fast = g.write_json(tmp_path / "f.json", g.azure_fast(words))
    with pytest.raises(InputError, match="writes only the display form"):
        read_hyp_file(fast, azure_field="lexical")


def test_google_diarization_summary_is_not_counted_twice(tmp_path):
    words = [("hello", 0.1, 0.5), ("world", 0.5, 0.9)]
    obj = g.google_v1(words)
    summary = {"alternatives": [{"words": [{"startTime": "0.1s", "endTime": "0.5s", "word": "hello", "speakerTag": 1},
                                           {"startTime": "0.5s", "endTime": "0.9s", "word": "world", "speakerTag": 1}]}]}
    obj["results"].append(summary)
    ch = read_hyp_file(g.write_json(tmp_path / "u.json", obj)).docs[0].channels[0]
    assert ch.text == "hello world" and [w.text for w in ch.words] == ["hello", "world"]


def test_whisperx_words_without_times_take_their_neighbours(tmp_path):
    obj = g.whisperx([("pay", 1.0, 1.2), ("25", 0, 0), ("dollars", 2.0, 2.4)])
    del obj["segments"][0]["words"][1]["start"], obj["segments"][0]["words"][1]["end"]
    ch = read_hyp_file(g.write_json(tmp_path / "u.json", obj), "whisperx").docs[0].channels[0]
    assert [(w.text, w.start, w.end) for w in ch.words][1] == ("25", 1.2, 2.0)


def _err(path: Path, fmt=None) -> InputError:
    with pytest.raises(InputError) as err:
        read_hyp_file(path, fmt)
    assert err.value.path == str(path)
    return err.value


BAD_JSON = [
    ("aws", {"results": {"items": []}}, "$.results: missing 'transcripts'"),
    ("aws", {"results": {"transcripts": [{"transcript": "a"}], "items": [
        {"type": "pronunciation", "start_time": "x", "end_time": "1", "alternatives": [{"content": "a"}]}]}},
     "$.results.items[0].start_time: expected a time"),
    ("aws", {"results": {"transcripts": [{"transcript": "a"}], "items": [{"type": "word", "alternatives": [{"content": "a"}]}]}},
     "$.results.items[0].type: expected 'pronunciation' or 'punctuation'"),
    ("google", {"results": [{"alternatives": [{"transcript": "a", "words": {"w": 1}}]}]},
     "$.results[0].alternatives[0].words: expected an array, got an object"),
    ("google", {"results": [{"alternatives": [{"transcript": "a", "words": [{"word": "a", "startTime": "-1s", "endTime": "1s"}]}]}]},
     "$.results[0].alternatives[0].words[0].startTime: time must be"),
    ("azure-batch", {"recognizedPhrases": [{"recognitionStatus": "Success", "channel": 0}]},
     "$.recognizedPhrases[0]: missing 'nBest'"),
    ("azure-fast", {"combinedPhrases": [{"channel": 0}], "durationMilliseconds": 5}, "$.combinedPhrases[0]: missing 'text'"),
    ("deepgram", {"results": {"channels": [{"alternatives": [{"transcript": 5}]}]}},
     "$.results.channels[0].alternatives[0].transcript: expected a string, got a number"),
    ("assemblyai", {"status": "error", "error": "Download error", "text": None, "words": []}, "the transcript failed: 'Download error'"),
    ("revai", {"monologues": [{"elements": [{"type": "text", "value": "a", "ts": 1}]}]},
     "$.monologues[0].elements[0]: missing 'end_ts'"),
    ("whisper-json", {"text": "a", "segments": [{"start": "soon", "end": 1, "text": "a"}]},
     "$.segments[0].start: expected a time"),
    (None, {"transcription": "a"}, "$: not a transcript this tool reads"),
]


@pytest.mark.parametrize("fmt,obj,message", BAD_JSON)
def test_malformed_vendor_json_names_the_json_path(tmp_path, fmt, obj, message):
    p = g.write_json(tmp_path / "bad.json", obj)
    assert message in _err(p).problem
    if fmt is not None and fmt != "assemblyai":  # a forced format reports the same place
        assert message in _err(p, fmt).problem


BAD_TEXT = [
    ("bad.json", '{"results": {"transcripts": [\n  {"transcript": "a"}\n  {"x": 1}]}}', 3, "not valid JSON"),
    ("bad.jsonl", '{"id": "u1", "response": {"results": {"channels": []}}}\n{"id": "u2", "response": {"results": {"channels": 7}}}\n',
     2, "$.response.results.channels: expected an array, got a number"),
    ("bad.ctm", "rec 1 0.0 0.5 hello\nrec 1 0.5 hello\n", 2, "needs <file> <channel> <begin> <duration> <word>"),
    ("bad.ctm", "rec 1 0.0 abc hello\n", 1, "must be numbers of seconds"),
    ("bad.ctm", "rec 1 * * <ALT_BEGIN>\nrec 1 0 1 a\n", None, "<ALT_BEGIN> without <ALT_END>"),
    ("bad.srt", "1\n00:00:02,000 --> 00:00:01,000\nhello\n", 2, "ends (00:00:01,000) before it starts"),
    ("bad.srt", "hello there\n", 1, "no subtitle cues found"),
    ("bad.vtt", "00:01.000 --> 00:02.000\nhello\n", 1, "must start with 'WEBVTT'"),
    ("bad.tsv", "start\tend\ttext\n0\tlate\thello\n", 2, "whole milliseconds"),
    ("bad.trn", "hello world\n", 1, "must end with the utterance id"),
    ("bad.docx", "x", None, "unknown transcript format '.docx'"),
]


@pytest.mark.parametrize("name,content,line,message", BAD_TEXT)
def test_malformed_text_formats_name_file_and_line(tmp_path, name, content, line, message):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    err = _err(p)
    assert message in err.problem and err.line == line


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    p = g.write_json(tmp_path / "big.json", g.aws(HYPS["u0"]))
    with pytest.raises(InputError, match="larger than 100 bytes"):
        read_hyp_file(p, limits=Limits(max_bytes=100))
    ctm = _one_file(tmp_path, "many.ctm", g.ctm_lines("r", HYPS["u0"]))
    with pytest.raises(InputError, match="more than 3 rows"):
        read_hyp_file(ctm, limits=Limits(max_rows=3))


def test_cli_errors_are_one_line_and_options_are_checked(tmp_path):
    manifest = _manifest(tmp_path)
    bad = g.write_json(tmp_path / "bad" / "u0.json", {"results": {"channels": [{"alternatives": [{"transcript": 5}]}]}})
    r = _score(tmp_path, manifest, bad.parent, tmp_path / "o1")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "u0.json" in r.output and "$.results.channels[0].alternatives[0].transcript" in r.output
    good = WRITERS["deepgram"](tmp_path / "hyp")
    for args, message in ((["--hyp-format", "mp3"], "unknown format 'mp3'"), (["--azure-field", "shout"], "unknown field"),
                          (["--hyp-match", "fuzzy"], "unknown matching"),
                          (["--channel", "3"], "no channel 3")):
        r = _score(tmp_path, manifest, good, tmp_path / "o2", *args)
        assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, (args, r.output)


def test_load_hypotheses_without_a_manifest_reads_every_format(tmp_path):
    folder = _per_clip(tmp_path / "x", g.revai)
    assert load_hypotheses(folder) == {"vendor": {u: g.text_of(w) for u, w in HYPS.items()}}


def test_real_test_set_scored_from_vendor_json_and_ctm_alike(tmp_path):
    """The shared Speech Accent Archive manifest (read from ../shared, never copied): per-clip Deepgram JSON named
    after each audio file and one ctm keyed by audio stem give the same utterances.csv."""
    from conftest import require_saa

    from asr_eval.manifest import load_manifest

    saa = require_saa()
    utts = load_manifest(saa / "manifest.csv", check_audio=False).utterances
    folder, lines = tmp_path / "dg" / "vendor", []
    for k, u in enumerate(utts):
        spoken = u.text.split()
        if k % 3 == 0:
            spoken = [w for w in spoken if w.strip(".,:").lower() != "stella"] + ["indeed"]
        words = [(w, 0.4 * i, 0.4 * i + 0.3) for i, w in enumerate(spoken)]
        stem = Path(u.audio).stem
        g.write_json(folder / f"{stem}.json", g.deepgram([words]))
        lines += g.ctm_lines(stem, words, "A")
    ctm = _one_file(tmp_path / "ctm", "vendor.ctm", lines)
    got = []
    for hyp, extra in ((folder, ()), (ctm, ("--hyp-match", "stem"))):
        out = tmp_path / "out" / hyp.name
        r = CliRunner().invoke(app, ["score", str(saa / "manifest.csv"), "--hyp", str(hyp), "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        got.append((out / "utterances.csv").read_text(encoding="utf-8"))
    assert got[0] == got[1]
    rows = list(csv.DictReader(got[0].splitlines()))
    assert len(rows) == len(utts)
    assert sum(int(r["dels"]) for r in rows) == len(range(0, len(utts), 3))  # 'Stella' left out every third clip
    assert sum(int(r["ins"]) for r in rows) == len(range(0, len(utts), 3))  # and "indeed" added


def test_score_cuts_a_recording_into_stm_segments(tmp_path):
    """End to end once test sets can be stm (asr_eval.formats, the manifest-formats work): ctm of the whole file."""
    import asr_eval.manifest

    if not (Path(asr_eval.manifest.__file__).parent / "formats" / "stm.py").exists():  # this checkout's own package
        pytest.skip("stm test sets are not in this checkout yet (asr_eval/formats, the manifest-formats work)")
    sf.write(tmp_path / "rec1.wav", tone(4.0), 16000)
    (tmp_path / "ref.stm").write_text("rec1 A spk1 0.00 1.20 hello there\nrec1 A spk2 1.90 3.00 good morning all\n")
    words = [("hello", 0.2, 0.6), ("there", 0.6, 1.0), ("so", 1.3, 1.6), ("good", 2.0, 2.4), ("morning", 2.4, 2.7)]
    ctm = _one_file(tmp_path, "sys.ctm", g.ctm_lines("rec1", words, "A"))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["score", str(tmp_path / "ref.stm"), "--hyp", str(ctm), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = {x["hyp"]: x for x in csv.DictReader(open(out / "utterances.csv", encoding="utf-8"))}
    assert set(rows) == {"hello there", "so good morning"}
    b = rows["so good morning"]
    assert (int(b["hits"]), int(b["subs"]), int(b["dels"]), int(b["ins"])) == (2, 0, 1, 1)
    assert "outside every reference segment" in (out / "skipped.csv").read_text(encoding="utf-8")


def test_silence_and_shared_audio(tmp_path):
    silent = g.write_json(tmp_path / "s" / "u1.json", {"totalBilledTime": "5s", "requestId": "42"})
    assert read_hyp_file(silent).format == "google-v1"
    utts = [Utterance("u1", "/d/a.wav", "x", "s", "g"), Utterance("u2", "/d/a.wav", "y", "s", "g")]
    assert load_for_manifest([silent.parent], utts).hyps == {"s": {"u1": ""}}
    by_audio = _one_file(tmp_path, "x.ctm", g.ctm_lines("a", [("hi", 0, 1)]))
    with pytest.raises(InputError, match="2 manifest clips share the audio 'a'"):
        load_for_manifest([by_audio], utts)


def test_the_cli_lists_every_format():
    from asr_eval.cli.score import HYP_FORMATS
    from asr_eval.hypformats import FORMATS

    assert set(HYP_FORMATS) == set(FORMATS)
