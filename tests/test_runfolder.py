"""The run folder has one owner: what ``write_run_folder`` writes, ``load_run`` and its readers give back.

No test here writes a run folder file by hand: every folder is made by a run
(with the plumbing stand-in engine), so the tests follow the format wherever
it goes.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from asr_eval.bias import build_conditions, make_plans
from asr_eval.evaluate import RunConfig, load_inputs, run_evaluation
from asr_eval.merge import MergeError, merge_runs
from asr_eval.runfolder import (
    VOCABULARY_FILE, VocabularySnapshot, condition_kind, load_run, read_transcripts,
)
from asr_eval.sweep import run_sweep
from asr_eval.types import Condition, InputError, Term
from asr_eval.vocab import load_dictionary

from test_executor import FakeTranscriber, make_fixture


def _run(fx, out, **config):
    return run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"],
                          config=RunConfig(progress=False, reports=False, **config), backend=FakeTranscriber())


def test_what_a_run_writes_reads_back_as_one_typed_run(tmp_path):
    fx = make_fixture(tmp_path / "data", n=5)
    outcome = _run(fx, tmp_path / "out")
    run = outcome.load()

    vocab = load_dictionary(fx["dictionary"])
    conditions = build_conditions(vocab, None)
    plans = make_plans(conditions, FakeTranscriber())
    assert [r.name for r in run.condition_records] == [c.name for c in conditions]
    assert [r.kind for r in run.condition_records] == ["baseline", "biased"]
    assert {r.name: r.plan for r in run.condition_records} == plans
    assert run.conditions == ["baseline", "dictionary"] and run.baseline == "baseline"

    # the snapshot gives back exactly the terms scored and offered, metadata included
    assert run.vocabulary is not None
    assert run.vocabulary.scoring == vocab.terms
    assert [dict(t.meta) for t in run.vocabulary.scoring] == [dict(t.meta) for t in vocab.terms]
    assert run.vocabulary.conditions(run.condition_records) == [replace(c, kind=condition_kind(c)) for c in conditions]

    transcripts = read_transcripts(run.path, run.conditions)
    assert len(transcripts) == 2 * 5 == len(run.utterances)
    for row in run.utterances:
        assert transcripts[(row["utt_id"], row["condition"])].text == row["hyp"]
    assert {(t["utt_id"], t["condition"]) for t in run.terms} <= set(transcripts)


def test_snapshot_round_trips_and_stores_each_term_once(tmp_path):
    a = Term("Zentrix Cloud", "product", "dictionary", aliases=("Zentrix",), sounds_like=("zen tricks",), priority=3,
             line=2, meta={"owner": "billing"})
    b = Term("Małgorzata Wójcik", "person", "directory", meta={"first": "Małgorzata", "last": "Wójcik"})
    snap = VocabularySnapshot((a, b), {"baseline": (), "dictionary": (a,), "both": (a, b)})
    doc = json.loads(snap.to_json())
    assert len(doc["terms"]) == 2 and doc["offered"]["both"] == [0, 1]
    path = tmp_path / VOCABULARY_FILE
    path.write_text(snap.to_json(), encoding="utf-8")
    back = VocabularySnapshot.read(path)
    assert back == snap
    assert dict(back.scoring[1].meta) == {"first": "Małgorzata", "last": "Wójcik"}


def test_a_damaged_snapshot_is_an_input_error_naming_the_file(tmp_path):
    fx = make_fixture(tmp_path / "data", n=2)
    _run(fx, tmp_path / "out")
    (tmp_path / "out" / VOCABULARY_FILE).write_text('{"terms": [], "scoring": [3]}', encoding="utf-8")
    with pytest.raises(InputError, match=r"vocabulary\.json: malformed vocabulary snapshot"):
        load_run(tmp_path / "out")


def test_condition_kind_comes_from_its_maker_else_from_its_method():
    assert condition_kind(Condition("baseline", "none")) == "baseline"
    assert condition_kind(Condition("dictionary", "prompt", (Term("x", "t", "dictionary"),))) == "biased"
    assert condition_kind(Condition("correct@0.8", "none", (Term("x", "t", "dictionary"),), correct=0.8)) == "biased"
    assert condition_kind(Condition("prompt+10", "prompt", kind="list-size")) == "list-size"


def test_merge_uses_the_snapshot_not_the_source_files(tmp_path):
    fx = make_fixture(tmp_path / "data", n=6)
    _run(fx, tmp_path / "single")
    for i in range(2):
        _run(fx, tmp_path / f"s{i}", shard=f"{i}/2")
    fx["dictionary"].write_text("term\nSomething Else\n", encoding="utf-8")  # the source changed since
    merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m", reports=False)
    assert load_run(tmp_path / "m").vocabulary == load_run(tmp_path / "single").vocabulary
    assert (tmp_path / "m" / "utterances.csv").read_text() == (tmp_path / "single" / "utterances.csv").read_text()


def test_merge_refuses_shards_without_a_snapshot(tmp_path):
    fx = make_fixture(tmp_path / "data", n=4)
    for i in range(2):
        _run(fx, tmp_path / f"s{i}", shard=f"{i}/2")
    (tmp_path / "s1" / VOCABULARY_FILE).unlink()
    with pytest.raises(MergeError, match=r"no vocabulary snapshot \(vocabulary\.json\) in .*s1"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m", reports=False)


def test_sweep_runs_in_memory_with_kinds_and_distractors_in_the_snapshot(tmp_path):
    fx = make_fixture(tmp_path / "data", n=4)
    result = run_sweep(fx["manifest"], tmp_path / "sweep", dictionary=fx["dictionary"], method="correct",
                       strengths=(0.8,), sizes=(0, 3), list_method="prompt",
                       config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())
    assert not list((tmp_path / "sweep").rglob("*.csv.tmp*"))
    assert not (tmp_path / "sweep" / "vocab").exists()  # no dictionary file written to be parsed back
    run = load_run(result.run_dir)
    assert [(r.name, r.kind) for r in run.condition_records] == [
        ("baseline", "baseline"), ("correct@0.8", "strength"), ("prompt+0", "list-size"), ("prompt+3", "list-size")]
    real = load_inputs(fx["manifest"], fx["dictionary"]).terms
    distractors = [t for t in run.vocabulary.scoring if t.category == "distractor"]
    assert len(distractors) == 3 and all(t.source == "dictionary" for t in distractors)
    assert run.vocabulary.scoring[: len(real)] == real
    assert len(run.vocabulary.offered["prompt+3"]) == len(real) + 3
    assert {r.sweep for r in result.rows} == {"baseline", "strength", "list-size"}


def test_text_the_vocabulary_loader_cleaned_is_reported_by_the_run(tmp_path):
    """A zero-width space in a term never reaches the prompt, and the run says it was removed."""
    fx = make_fixture(tmp_path / "data", n=2)
    fx["dictionary"].write_text("term\nZen\u200btrix\n", encoding="utf-8")
    outcome = _run(fx, tmp_path / "out")
    warnings = [p for p in outcome.problems if p.path == str(fx["dictionary"])]
    assert len(warnings) == 1 and warnings[0].severity == "warning" and warnings[0].line == 2
    assert "ZERO WIDTH SPACE" in warnings[0].problem
    run = outcome.load()
    assert "\u200b" not in (run.plan("dictionary").text or "") and "Zentrix" in run.plan("dictionary").text
    assert "ZERO WIDTH SPACE" in (tmp_path / "out" / "skipped.csv").read_text(encoding="utf-8")


def test_a_sweep_reports_rows_it_rejected(tmp_path):
    """Review finding: a sweep dropped rejected rows silently (the CLI now prints them and exits 5)."""
    fx = make_fixture(tmp_path / "data", n=3)
    with open(fx["manifest"], encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    row = {h: "" for h in header} | {"audio": "gone.wav", "text": "please call stella", "speaker": "s9",
                                     "accent_group": "g"}
    with open(fx["manifest"], "a", encoding="utf-8") as f:
        f.write(",".join(row[h] for h in header) + "\n")
    result = run_sweep(fx["manifest"], tmp_path / "sweep", dictionary=fx["dictionary"], method="correct",
                       strengths=(0.8,), config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())
    assert result.outcome.rejected == 1 and not result.outcome.complete
    assert any("gone.wav" in str(p) for p in result.outcome.problems)


@pytest.mark.parametrize("damage", ["count_inf", "count_fraction", "run_json_list", "conditions_not_list"])
def test_a_damaged_run_folder_is_an_input_error_not_a_traceback(tmp_path, damage):
    """Review finding: 'inf' counts and a run.json that is not an object gave tracebacks."""
    fx = make_fixture(tmp_path / "data", n=2)
    out = tmp_path / "out"
    _run(fx, out)
    if damage.startswith("count"):
        text = (out / "utterances.csv").read_text(encoding="utf-8").splitlines()
        header = text[0].split(",")
        cells = text[1].split(",")
        cells[header.index("ref_words")] = "inf" if damage == "count_inf" else "2.5"
        (out / "utterances.csv").write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n", encoding="utf-8")
    else:
        (out / "run.json").write_text("[1, 2]" if damage == "run_json_list" else '{"conditions": 3}', encoding="utf-8")
    with pytest.raises(InputError):
        load_run(out)
    if not damage.startswith("count"):
        with pytest.raises(MergeError):
            merge_runs([out], tmp_path / "m", reports=False)
