"""--normalizer {asr-eval,whisper,none}: which normaliser scores a run, what run.json records, and
that vocabulary terms are still found under each."""

from __future__ import annotations

import csv
import json

import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.evaluate import RunConfig, run_evaluation
from asr_eval.merge import MergeError, merge_runs
from asr_eval.normalize import NORMALIZER_VERSION, NONE_VERSION, get_normalizer
from asr_eval.normalize_whisper import RULES_VERSION
from asr_eval.scoring import score_utterance
from asr_eval.types import Term
from asr_eval.whisper_spellings import load_whisper_spellings, normalizer_for

from conftest import tone
from test_executor import FakeTranscriber, make_fixture

TERMS = [Term("Q3 Insights", "product", "dictionary"), Term("PayNimbus", "product", "dictionary")]

REFS = {
    "u0": "The Q3 Insights report costs $25.50.",
    "u1": "Pay with PayNimbus, it's the first option.",
    "u2": "Call me at 3:30 about the $1.5 million deal.",
}
HYPS = {
    "u0": "the Q three insights report costs twenty-five dollars and fifty cents",
    "u1": "Pay with paynimbus it is the 1st option",
    "u2": "call me at three thirty about the one point five million dollar deal",
}


def _setup(tmp_path):
    for i, uid in enumerate(REFS):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    with open(tmp_path / "m.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "audio", "text", "speaker", "accent_group"])
        for i, (uid, text) in enumerate(REFS.items()):
            w.writerow([uid, f"c{i}.wav", text, f"s{i}", "us"])
    (tmp_path / "dict.csv").write_text("term,category\nQ3 Insights,product\nPayNimbus,product\n")
    with open(tmp_path / "hyps.jsonl", "w") as f:
        for uid, text in HYPS.items():
            f.write(json.dumps({"id": uid, "text": text, "condition": "vendor"}) + "\n")


def _score(tmp_path, *extra):
    out = tmp_path / ("out" + "".join(extra).replace("-", "_"))
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "hyps.jsonl"),
                                 "--dictionary", str(tmp_path / "dict.csv"), "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    run = json.loads((out / "run.json").read_text())
    rows = {x["utt_id"]: x for x in csv.DictReader(open(out / "utterances.csv"))}
    terms = [(t["term"], t["outcome"]) for t in csv.DictReader(open(out / "terms.csv"))]
    return run, rows, terms


def _errors(row):
    return int(row["subs"]) + int(row["dels"]) + int(row["ins"])


def test_score_records_each_normaliser_and_scores_with_it(tmp_path):
    _setup(tmp_path)
    run, rows, terms = _score(tmp_path)
    assert (run["normalizer_name"], run["normalizer"]) == ("asr-eval", NORMALIZER_VERSION)
    # the default makes numbers meet and keeps the term "q3 insights" whole: only the spoken
    # "Q three insights" (not a written form of the term) differs
    assert _errors(rows["u1"]) == 0 and _errors(rows["u2"]) == 0
    assert ("PayNimbus", "hit") in terms and ("Q3 Insights", "partial") in terms  # "insights" right

    run, rows, terms = _score(tmp_path, "--normalizer", "whisper")
    assert run["normalizer_name"] == "whisper" and run["normalizer"].startswith(RULES_VERSION + "+spellings-")
    # Whisper splits "Q3" into "q 3", so the spoken form meets the term; WER is Whisper's
    assert _errors(rows["u0"]) == 0 and ("Q3 Insights", "hit") in terms and ("PayNimbus", "hit") in terms

    run, rows, terms = _score(tmp_path, "--normalizer", "none")
    assert (run["normalizer_name"], run["normalizer"]) == ("none", NONE_VERSION)
    assert int(rows["u1"]["ref_words"]) == len("Pay with PayNimbus , it's the first option.".split())
    # case and punctuation count: "paynimbus" is not the term as written
    assert ("PayNimbus", "miss") in terms


def test_an_unknown_normaliser_is_a_usage_error(tmp_path):
    _setup(tmp_path)
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "hyps.jsonl"),
                                 "--out", str(tmp_path / "o"), "--normalizer", "jiwer"])
    assert r.exit_code == 2 and not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="unknown normaliser 'jiwer'"):
        get_normalizer("jiwer")


@pytest.mark.parametrize("name", ["asr-eval", "whisper", "none"])
def test_every_normaliser_finds_terms_and_their_display_form(name):
    norm = normalizer_for(name, TERMS)
    s = score_utterance("Our Q3 Insights data, via PayNimbus.", "our Q3 Insights data via PayNimbus", TERMS, norm)
    assert [(e.term, e.outcome, e.display_exact) for e in s.terms] == [
        ("Q3 Insights", "hit", True), ("PayNimbus", "hit", True)]
    wrong_case = score_utterance("via PayNimbus.", "via paynimbus", TERMS, norm).terms[0]
    if name == "none":
        assert wrong_case.outcome == "miss"
    else:
        assert (wrong_case.outcome, wrong_case.display_exact) == ("hit", False)


def test_whisper_choice_scores_exactly_the_real_normaliser_text():
    normalizers = pytest.importorskip("whisper.normalizers")
    real = normalizers.EnglishTextNormalizer()
    norm = normalizer_for("whisper", TERMS)
    assert load_whisper_spellings() is not None and "openai-whisper-" in norm.version
    for ref, hyp in zip(REFS.values(), HYPS.values()):
        s = score_utterance(ref, hyp, TERMS, norm)
        assert (s.ref_norm, s.hyp_norm) == (real(ref).strip(), real(hyp).strip())


def test_whisper_without_openai_whisper_says_so_in_its_version():
    n = get_normalizer("whisper")  # no map passed: asr-eval's curated list
    assert n.version.endswith("+spellings-asr-eval-curated")
    assert n("The colour of the centre") == "the color of the center"


def _run(fx, out, shard, normalizer):
    config = RunConfig(progress=False, reports=False, shard=shard, normalizer=normalizer)
    return run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=config, backend=FakeTranscriber())


def test_run_and_merge_use_the_recorded_normaliser(tmp_path):
    fx = make_fixture(tmp_path / "data", n=6)
    _run(fx, tmp_path / "a", "0/2", "whisper")
    _run(fx, tmp_path / "b", "1/2", "whisper")
    assert json.loads((tmp_path / "a" / "run.json").read_text())["normalizer_name"] == "whisper"
    merge_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "m", reports=False)
    assert json.loads((tmp_path / "m" / "run.json").read_text())["normalizer_name"] == "whisper"
    merge_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "m2", reports=False, normalizer="none")
    assert json.loads((tmp_path / "m2" / "run.json").read_text())["normalizer"] == NONE_VERSION
    _run(fx, tmp_path / "c", "1/2", "asr-eval")
    with pytest.raises(MergeError, match="different normalisers"):
        merge_runs([tmp_path / "a", tmp_path / "c"], tmp_path / "m3", reports=False)
