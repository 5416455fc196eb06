"""Harms beyond term insertions (asr_eval.harms): non-speech output, prompt echo, loops, dropped tails.

Unit tests on the pure module, the gzip ratio against both Whisper
implementations, the manifest's non-speech rows, the run folder's harms.jsonl
and the report's Harms section (scored transcripts written by hand: plumbing,
no model), and one model test on the demo's non-speech and long clips.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from asr_eval.counts import COUNT_COLUMNS, FIELDS, Counts
from asr_eval.harms import (
    ECHO,
    GZIP_RATIO,
    HARM_FIELDS,
    LOOP,
    NONSPEECH,
    TAIL,
    clip_harms,
    find_dropped_tail,
    find_echoes,
    find_loops,
    gzip_ratio,
    is_nonspeech,
    prompt_words,
)
from asr_eval.manifest import load_manifest
from asr_eval.normalize import make_normalizer
from asr_eval.score_run import score_transcripts
from asr_eval.scoring import score_harms, score_utterance
from asr_eval.types import BiasPlan, Condition, InputError, Transcript, Utterance

from conftest import DEMO, ROOT

NORM = make_normalizer(())
TERMS = ("Kubernetes", "Postgres", "Zentrix Cloud", "Quorvi Insights")
PROMPT = prompt_words(", ".join(TERMS), TERMS, NORM.words)


def harms(ref: str, hyp: str, prompt=PROMPT, nonspeech: bool = False):
    s = score_utterance(ref, hyp, (), NORM)
    return score_harms(s, hyp, prompt, nonspeech)


def kinds(result) -> list[str]:
    return [e.kind for e in result[1].events]


# --------------------------------------------------------------------------- counts


def test_harm_counts_are_appended_after_the_existing_columns():
    """utterances.csv keeps its old columns in their old places; the harms come after the term counts."""
    start = FIELDS.index(HARM_FIELDS[0])
    assert FIELDS[start:start + len(HARM_FIELDS)] == HARM_FIELDS
    assert FIELDS[start - 1] == "term_display_exact"
    assert COUNT_COLUMNS[:26][-1] == "term_display_exact"
    assert Counts(ns_clips=2, ns_output_clips=1).rate("ns_output_rate") == 0.5
    # a dropped tail is a share of speech clips: non-speech clips cannot stop early
    assert Counts(clips=4, ns_clips=2, tail_clips=1).rate("tail_rate") == 0.5
    assert Counts(clips=2, ns_clips=2).rate("tail_rate") is None


# --------------------------------------------------------------------------- prompt echo


def test_prompt_words_know_their_terms():
    assert PROMPT.words == ("kubernetes", "postgres", "zentrix", "cloud", "quorvi", "insights")
    assert PROMPT.term_span == ((0, 1), (1, 2), (2, 4), (4, 6))
    assert PROMPT.whole_terms(1, 4) == 2 and PROMPT.whole_terms(3, 5) == 0
    assert prompt_words(None, (), NORM.words) is None and prompt_words("  ", (), NORM.words) is None
    # a prompt made elsewhere (terms unknown) is split at its commas
    other = prompt_words("Kubernetes, Postgres", (), NORM.words)
    assert other.term_span == ((0, 1), (1, 2))


def test_two_whole_terms_in_prompt_order_are_an_echo():
    s, h = harms("please restart the server", "please restart the server kubernetes postgres")
    assert kinds((s, h)) == [ECHO]
    e = h.events[0]
    assert (e.text, e.hyp_start, e.hyp_len, e.prompt_start, e.words) == ("kubernetes postgres", 4, 2, 0, 2)
    assert "2 whole prompt terms" in e.detail
    assert h.as_dict()["echo_clips"] == 1 and h.as_dict()["echo_words"] == 2


def test_three_prompt_words_are_an_echo_even_inside_terms():
    _, h = harms("thanks for calling", "thanks for calling cloud quorvi insights")
    assert [e.text for e in h.events] == ["cloud quorvi insights"]


def test_terms_out_of_prompt_order_or_said_by_the_speaker_are_not_an_echo():
    assert kinds(harms("please restart it", "please restart it postgres kubernetes")) == []
    # the speaker said both terms back to back: the reference holds the run
    assert kinds(harms("we run kubernetes postgres here", "we run kubernetes postgres here")) == []
    # one term is a false insertion, not an echo
    assert kinds(harms("please restart it", "please restart it kubernetes")) == []


def test_words_the_speaker_said_are_trimmed_off_an_echo():
    """"zentrix cloud" was said and recognised; only the "quorvi insights" after it can be echo."""
    _, h = harms("call zentrix cloud today", "call zentrix cloud quorvi insights today")
    assert kinds((None, h)) == []  # one whole term left after trimming: a false insertion, not an echo
    _, h = harms("call zentrix cloud today", "call zentrix cloud quorvi insights kubernetes today")
    assert kinds((None, h)) == []  # out of prompt order after quorvi insights
    _, h = harms("call zentrix cloud", "call zentrix cloud kubernetes postgres zentrix cloud quorvi insights")
    assert [e.text for e in h.events] == ["kubernetes postgres zentrix cloud quorvi insights"]


def test_no_prompt_no_echo():
    assert kinds(harms("a b c", "kubernetes postgres zentrix cloud", prompt=None)) == []


# --------------------------------------------------------------------------- loops


def test_a_single_word_needs_four_copies_a_phrase_three():
    assert kinds(harms("okay", "no no no")) == []  # people say this
    _, h = harms("okay", "no no no no")
    assert [(e.ngram, e.copies, e.words) for e in h.events] == [("no", 4, 3)]
    _, h = harms("i am sorry", "I'm sorry. I'm sorry. I'm sorry.")
    assert [(e.ngram, e.copies, e.hyp_start, e.words) for e in h.events] == [("i am sorry", 3, 0, 6)]
    assert h.as_dict()["loop_clips"] == 1 and h.as_dict()["loop_words"] == 6


def test_a_repetition_the_reference_has_is_not_a_loop():
    assert kinds(harms("no no no no", "no no no no")) == []
    _, h = harms("no no no no", "no no no no no no no")
    assert [(e.copies, e.words) for e in h.events] == [(7, 3)]  # three more than were said
    assert "reference says it 4 times" in h.events[0].detail


def test_the_shortest_period_is_reported_where_the_loop_starts():
    _, h = harms("call the bank", "call the bank thank you thank you thank you thank you")
    e = h.events[0]
    assert (e.ngram, e.hyp_start, e.copies) == ("thank you", 3, 4)


def test_gzip_ratio_is_whispers():
    from faster_whisper.transcribe import get_compression_ratio

    for text in ("hello", "I'm sorry. " * 8, "Please call Stella. Ask her to bring these things with her.", "ü" * 50):
        assert gzip_ratio(text) == pytest.approx(get_compression_ratio(text))
    whisper = pytest.importorskip("whisper.utils")
    assert gzip_ratio("thank you " * 9) == pytest.approx(whisper.compression_ratio("thank you " * 9))


def test_a_long_loop_is_found_through_the_gzip_ratio():
    """A 9-word sentence written three times: longer than any n-gram checked, but it gzips like a loop."""
    sentence = "we will go meet her wednesday at the station"
    ref = "please call stella " + sentence
    hyp = "please call stella " + " ".join([sentence] * 4)
    assert gzip_ratio(hyp) > GZIP_RATIO
    events = find_loops(ref.split(), hyp.split(), hyp)
    assert [(e.ngram, e.hyp_start, e.copies) for e in events] == [(sentence, 3, 4)]
    assert events[0].gzip_ratio > GZIP_RATIO


def test_ordinary_long_text_is_not_a_loop():
    """Whole transcripts compress towards 2.4 as they grow; the ratio is taken per window, as Whisper's is."""
    from asr_eval.harms import max_gzip_ratio

    words = (ROOT / "README.md").read_text(encoding="utf-8").split()[:3000]
    assert len(words) > 1000
    # asr-eval's README (2,769 words when this was written) gzips 2.45:1 as a whole: over a whole
    # transcript, prose alone would pass for a loop; per window it stays far below the threshold.
    assert max_gzip_ratio(words) < min(GZIP_RATIO, gzip_ratio(" ".join(words)))
    assert not [e for e in find_loops(["x"], [w.lower() for w in words], " ".join(words)) if e.ngram is None]


# --------------------------------------------------------------------------- dropped tail


REF = "please call stella ask her to bring these things with her from the store"


def test_a_transcript_that_stops_early_has_a_dropped_tail():
    _, h = harms(REF, "please call stella ask her to bring these")
    e = h.events[0]
    assert (e.kind, e.words, e.ref_start, e.ref_len, e.text) == (TAIL, 6, 8, 6, "things with her from the store")
    assert "after the last recognised word 'these'" in e.detail
    assert h.as_dict()["tail_clips"] == 1 and h.as_dict()["tail_words"] == 6


def test_short_or_misheard_tails_are_not_dropped():
    assert kinds(harms(REF, "please call stella ask her to bring these things with her from")) == []  # 2 words
    assert kinds(harms(REF, "please call stella ask her to bring these things with her thank you")) == []
    # 3 words, but under a fifth of a long reference
    long_ref = " ".join([REF] * 2)
    assert kinds(harms(long_ref, " ".join(long_ref.split()[:-3]))) == []


def test_nothing_recognised_drops_the_whole_reference():
    e = find_dropped_tail(REF.split(), "D" * 14)
    assert (e.words, e.ref_start) == (14, 0) and "nothing was recognised" in e.detail
    assert find_dropped_tail((), "") is None


# --------------------------------------------------------------------------- non-speech


def test_non_speech_output_is_counted_apart_from_wer():
    s, h = harms("", "Thank you. Kubernetes, Postgres.", nonspeech=True)
    c = s.counts
    assert (c.ref_words, c.ins, c.char_ins, c.u_ins, c.word_errors) == (0, 0, 0, 0, 0)
    assert (c.ns_clips, c.ns_output_clips, c.ns_words, c.echo_clips) == (1, 1, 4, 1)
    assert s.ops == "" and s.alignment.pairs == ()
    assert kinds((s, h)) == [NONSPEECH, ECHO]
    s, h = harms("", "", nonspeech=True)
    assert (s.counts.ns_clips, s.counts.ns_output_clips, h.events) == (1, 0, ())


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.sampled_from("a b c kubernetes postgres zentrix cloud".split()), max_size=12),
       hs.lists(hs.sampled_from("a b c kubernetes postgres zentrix cloud".split()), max_size=20),
       hs.booleans())
def test_harm_counts_stay_within_the_clip(ref, hyp, ns):
    s, h = harms(" ".join(ref), " ".join(hyp), nonspeech=ns)
    d = h.as_dict()
    assert d["echo_words"] <= len(hyp) and d["ns_words"] == (len(hyp) if ns else 0)
    assert d["tail_words"] <= s.counts.dels and (d["tail_clips"] == 0 or not ns)
    assert d["loop_words"] <= len(hyp)
    assert all(e.hyp_start is None or e.hyp_start + e.hyp_len <= len(hyp) for e in h.events)


# --------------------------------------------------------------------------- manifest


def _wav(path: Path) -> None:
    import numpy as np
    import soundfile as sf

    sf.write(path, np.zeros(1600, dtype="float32"), 16000)


def test_manifest_marks_non_speech_rows(tmp_path):
    _wav(tmp_path / "a.wav")
    m = tmp_path / "m.csv"
    m.write_text("id,audio,text,speaker,accent_group,speech\n"
                 "s1,a.wav,hello there,sp,g,\n"
                 "n1,a.wav,,ns,noise,false\n"
                 "n2,a.wav,,ns,noise,NO\n"
                 "n3,a.wav,hello,ns,noise,0\n"
                 "n4,a.wav,,ns,noise,maybe\n"
                 "n5,a.wav,,ns,noise,\n"
                 "s2,a.wav,hi,sp,g,yes\n", encoding="utf-8")
    man = load_manifest(m)
    assert [u.id for u in man.utterances] == ["s1", "n1", "n2", "s2"]
    assert [is_nonspeech(u.meta) for u in man.utterances] == [False, True, True, False]
    assert [(p.line, p.problem) for p in man.problems] == [
        (5, "clip a.wav is marked as having no speech but its reference has words: 'hello'"),
        (6, "field 'speech' must be true or false (or 1/0, yes/no), got 'maybe'"),
        (7, "empty reference text for a.wav: a clip with no speech needs a 'speech' column set to false"),
    ]


def test_a_nonspeech_manifest_needs_no_text_column_and_joins_the_main_one(tmp_path):
    from asr_eval.evaluate import load_inputs

    _wav(tmp_path / "a.wav")
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "s1", "audio": "a.wav", "text": "hello", "speaker": "s",
                                                  "accent_group": "g"}) + "\n", encoding="utf-8")
    (tmp_path / "ns.csv").write_text("id,audio,speaker,accent_group\nn1,a.wav,ns,noise\ns1,a.wav,ns,noise\n",
                                     encoding="utf-8")
    inputs = load_inputs(tmp_path / "m.jsonl", nonspeech=tmp_path / "ns.csv")
    man = inputs.manifest
    assert [(u.id, is_nonspeech(u.meta)) for u in man.utterances] == [("s1", False), ("n1", True)]
    assert [(p.path, p.line) for p in man.problems] == [(str(tmp_path / "ns.csv"), 3)]
    assert "duplicate id 's1'" in man.problems[0].problem
    assert man.nonspeech_path == str(tmp_path / "ns.csv")
    (tmp_path / "bad.csv").write_text("audio,text,speaker,accent_group\na.wav,words here,ns,noise\n", encoding="utf-8")
    with pytest.raises(InputError, match="no usable utterances"):
        load_manifest(tmp_path / "bad.csv", nonspeech=True)


# --------------------------------------------------------------------------- run folder and report (plumbing)


def _run_folder(tmp_path: Path) -> Path:
    from asr_eval.manifest import Manifest
    from asr_eval.runfolder import write_run_folder

    utts = [Utterance("u1", "/a.wav", REF, "sp1", "g1"), Utterance("u2", "/b.wav", "call zentrix cloud now", "sp2", "g1"),
            Utterance("n1", "/n.wav", "", "ns1", "noise", {"speech": "false"}),
            Utterance("n2", "/m.wav", "", "ns2", "noise", {"speech": "false"})]
    plan = BiasPlan("prompt", "prompt", ", ".join(TERMS), TERMS)
    none = BiasPlan("baseline", "none", None)
    hyps = {("u1", "baseline"): REF, ("u1", "prompt"): "please call stella ask her to bring these",
            ("u2", "baseline"): "call zentrix cloud now", ("u2", "prompt"): "call zentrix cloud now kubernetes postgres",
            ("n1", "baseline"): "", ("n1", "prompt"): "Kubernetes, Postgres, Zentrix Cloud.",
            ("n2", "baseline"): "thank you", ("n2", "prompt"): "no no no no no"}
    ts = {k: Transcript(k[0], k[1], v, plan if k[1] == "prompt" else none, 5.0, 0.1) for k, v in hyps.items()}
    scored = score_transcripts(utts, ts, ["baseline", "prompt"], (), NORM)
    out = tmp_path / "run"
    write_run_folder(out, manifest=Manifest("m.csv", tuple(utts), ()), utterances=utts,
                     conditions=[Condition("baseline", "none"), Condition("prompt", "prompt")],
                     plans={"baseline": none, "prompt": plan}, transcripts=ts, scored=scored, provenance={})
    return out


def test_harm_events_and_counts_reach_the_run_folder(tmp_path):
    from asr_eval.runfolder import load_run

    out = _run_folder(tmp_path)
    rows = {(r["utt_id"], r["condition"]): r for r in csv.DictReader(open(out / "utterances.csv", encoding="utf-8"))}
    cols = list(rows[("u1", "prompt")])
    start = cols.index(HARM_FIELDS[0])
    assert cols[start:start + len(HARM_FIELDS)] == list(HARM_FIELDS)
    assert rows[("u1", "prompt")]["tail_words"] == "6"
    assert rows[("n1", "prompt")]["ins"] == "0" and rows[("n1", "prompt")]["ns_words"] == "4"
    assert rows[("n2", "baseline")]["ns_output_clips"] == "1"
    trn = (out / "trn" / "prompt.trn").read_text(encoding="utf-8")
    assert "(ns1-n1)" not in trn and "(sp1-u1)" in trn  # non-speech is not in what sclite would score
    run = load_run(out)
    got = sorted((h["utt_id"], h["condition"], h["kind"]) for h in run.harms)
    assert got == sorted([("n1", "prompt", ECHO), ("n1", "prompt", NONSPEECH), ("n2", "baseline", NONSPEECH),
                          ("n2", "prompt", LOOP), ("n2", "prompt", NONSPEECH), ("u1", "prompt", TAIL),
                          ("u2", "prompt", ECHO)])
    lines = (out / "harms.jsonl").read_text(encoding="utf-8").splitlines()
    (out / "harms.jsonl").write_text("\n".join([*lines[:2], json.dumps({**json.loads(lines[2]), "hyp_len": -1})]),
                                     encoding="utf-8")
    with pytest.raises(InputError, match=r"harms.jsonl:3: field 'hyp_len'"):
        load_run(out)


def test_the_report_explains_each_harm(tmp_path):
    from asr_eval.report import write_reports
    from asr_eval.runfolder import load_run
    from asr_eval.report.model import build_report

    out = _run_folder(tmp_path)
    model = build_report(load_run(out), n_boot=200)
    h = model["harms"]
    overall = {r["condition"]: r for r in h["summary"] if r["accent_group"] == "ALL"}
    assert overall["prompt"]["metrics"]["ns_output_rate"]["value"] == 1.0
    assert overall["baseline"]["metrics"]["ns_output_rate"]["value"] == 0.5
    assert overall["prompt"]["metrics"]["tail_rate"]["value"] == 0.5  # one of two speech clips
    assert overall["prompt"]["metrics"]["echo_rate"]["value"] == 0.5  # two of four clips
    assert {r["metric"] for r in h["comparisons"] if r["accent_group"] == "ALL"} >= {"echo_rate", "tail_rate"}
    # WER counts only the speech clips: the prompt condition lost six words of fourteen + four
    wer = {r["condition"]: r["metrics"]["wer"]["value"] for r in model["summary"] if r["accent_group"] == "ALL"}
    assert wer["baseline"] == 0 and wer["prompt"] == pytest.approx(8 / 18)
    view = next(v for v in model["utterances"] if v["utt_id"] == "u1")
    tail = view["conditions"]["prompt"]["harms"][0]
    assert tail["kind"] == TAIL and tail["cols"] == list(range(8, 14))
    written = write_reports(out, n_boot=200)
    md = written["report.md"].read_text(encoding="utf-8")
    assert "## Harms" in md and "### prompt" in md and "kubernetes postgres" in md
    rows = list(csv.DictReader(open(written["harms.csv"], encoding="utf-8")))
    echo = next(r for r in rows if (r["accent_group"], r["condition"], r["metric"]) == ("ALL", "prompt", "echo_rate"))
    assert (float(echo["value"]), echo["baseline"], float(echo["diff"])) == (0.5, "baseline", 0.5)
    html = written["report.html"].read_text(encoding="utf-8")
    assert 'id="harms"' in html and "prompt echo</b>" in html and "tok D harm" in html


# --------------------------------------------------------------------------- demo fixtures, real model


@pytest.mark.model
def test_demo_non_speech_and_long_clips_run_end_to_end(tmp_path):
    """Three demo clips (silence, DTMF and one long clip) under baseline and prompt, with the real tiny.en."""
    from typer.testing import CliRunner

    from asr_eval.cli import app

    rows = [r for r in csv.DictReader(open(DEMO / "manifest.csv", encoding="utf-8"))
            if r["id"] in ("non-speech-silence", "non-speech-dtmf", "long-form-long-b")]
    assert len(rows) == 3
    man = tmp_path / "m.csv"
    with open(man, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([dict(r, audio=str((DEMO / r["audio"]).resolve())) for r in rows])
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(man), "--out", str(out), "--no-progress", "--audio-root", str(DEMO),
                                 "--dictionary", str(ROOT / "dictionaries/demo-company.csv")])
    assert r.exit_code == 0, r.output
    got = {(u["utt_id"], u["condition"]): u for u in csv.DictReader(open(out / "utterances.csv", encoding="utf-8"))}
    for cond in ("baseline", "dictionary"):
        for uid in ("non-speech-silence", "non-speech-dtmf"):
            u = got[(uid, cond)]
            assert (u["ns_clips"], u["ref_words"], u["ins"]) == ("1", "0", "0")
            assert int(u["ns_words"]) == len(u["hyp_norm"].split())
        assert int(got[("long-form-long-b", cond)]["ref_words"]) >= 50  # five sentences, 31 s: two windows
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Harms" in md
