"""Sweeps: distractor selection, count aggregation, recommendation, and one real end-to-end sweep."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import DEMO, ROOT, SAA

from asr_eval.sweep import (
    ALL_GROUPS,
    PointInfo,
    aggregate,
    list_size_conditions,
    mix_in,
    recommend,
    strength_conditions,
)
from asr_eval.vocab.distractors import DISTRACTOR, distractor_terms, load_distractors
from asr_eval.types import AsrEvalError, Term


def _csv_rows(path):
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


STELLA = Term("Stella", "name", "dictionary", sounds_like=("stel la",))


def test_shipped_distractors_are_1000_unique_and_never_in_the_bundled_audio():
    names = load_distractors()
    assert len(names) == 1000 and len({n.casefold() for n in names}) == 1000
    sentences = _csv_rows(ROOT / "audio_fixtures" / "demo" / "sentences.csv")
    texts = [r["text"] for r in sentences] + [r["say"] for r in sentences]
    if (SAA / "manifest.csv").exists():
        texts += [r["text"] for r in _csv_rows(SAA / "manifest.csv")]
    from asr_eval.vocab import load_dictionary, load_directory

    vocab = (load_dictionary(ROOT / "dictionaries" / "demo-company.csv").terms
             + load_directory(ROOT / "dictionaries" / "demo-directory.csv").terms
             + load_dictionary(ROOT / "dictionaries" / "speech-accent-archive.csv").terms)
    assert [t.display for t in distractor_terms(1000, vocab, texts)] == names  # none filtered out


def test_distractors_sharing_a_word_with_vocabulary_or_references_are_skipped():
    got = distractor_terms(2, [STELLA], ["we met Ada Lovelace"], candidates=["Stella Park", "Ada Byron", "Kemal Arslan", "Ines Duarte"])
    assert [t.display for t in got] == ["Kemal Arslan", "Ines Duarte"]
    assert all(t.category == DISTRACTOR for t in got)
    with pytest.raises(AsrEvalError, match="only 2 usable"):
        distractor_terms(3, [STELLA], [], candidates=["Stella Park", "Kemal Arslan", "Ines Duarte"])


def test_sweep_conditions():
    boost = strength_conditions("boost", [STELLA], [0, 1.5])
    assert [(c.name, c.method, c.strength) for c in boost] == [("boost@0", "boost", 0.0), ("boost@1.5", "boost", 1.5)]
    corr = strength_conditions("correct", [STELLA], [0.8], base_method="prompt")
    assert [(c.name, c.method, c.correct) for c in corr] == [("correct@0.8", "prompt", 0.8)]
    d = distractor_terms(10, [STELLA])
    sizes = list_size_conditions("prompt", [STELLA], d, [0, 10])
    assert [len(c.terms) for c in sizes] == [1, 11] and sizes[1].name == "prompt+10"
    assert set(sizes[1].terms) == {STELLA, *d}
    with pytest.raises(AsrEvalError):
        strength_conditions("prompt", [STELLA], [1])


def test_distractors_are_mixed_in_keeping_the_real_order():
    real = [Term(f"Real{i}", "product", "dictionary") for i in range(20)]
    d = distractor_terms(50, real)
    mixed = mix_in(real, d, seed=3)
    assert [t for t in mixed if t.category != DISTRACTOR] == real
    assert sorted(t.display for t in mixed if t.category == DISTRACTOR) == sorted(t.display for t in d)
    assert mixed[-len(d):] != d  # not simply appended
    assert mix_in(real, d, seed=3) == mixed


def _urow(cond, group, ref, errs, refs, hits, fi):
    return {"condition": cond, "accent_group": group, "ref_words": ref, "subs": errs, "dels": 0, "ins": 0,
            "term_refs": refs, "term_hits": hits, "term_false_ins": fi}


def _points(*names):
    return [PointInfo("strength", n, "boost", float(n.split("@")[1]), None, 0, 1, 1, 0) for n in names]


def test_aggregate_sums_counts_before_computing_rates():
    rows = [_urow("boost@1", "a", 10, 1, 1, 1, 0), _urow("boost@1", "a", 30, 0, 3, 0, 1),
            _urow("boost@1", "b", 60, 6, 4, 4, 0)]
    terms = [{"condition": "boost@1", "accent_group": "a", "outcome": "false_insertion", "category": DISTRACTOR}]
    out = {r.group: r for r in aggregate(_points("boost@1"), rows, terms)}
    assert list(out) == ["a", "b", ALL_GROUPS]
    assert out["a"].wer == pytest.approx(1 / 40) and out["a"].recall == pytest.approx(1 / 4)
    assert out["a"].false_ins_per_100 == pytest.approx(50.0) and out["a"].distractor_false_ins == 1
    total = out[ALL_GROUPS]
    assert (total.utterances, total.ref_words, total.word_errors, total.term_refs, total.term_hits) == (3, 100, 7, 8, 5)
    assert total.wer == pytest.approx(0.07)  # not the mean of per-group WERs
    assert total.precision == pytest.approx(5 / 6)


def test_recommend_best_f1_or_best_recall_under_the_insertion_limit():
    rows = aggregate(_points("boost@0", "boost@2", "boost@4"), [
        _urow("boost@0", "a", 10, 2, 10, 5, 0),
        _urow("boost@2", "a", 10, 1, 10, 8, 1),
        _urow("boost@4", "a", 10, 3, 10, 10, 9),
    ], [])
    assert recommend(rows).condition == "boost@2"
    assert recommend(rows, max_false_insertions=0.0).condition == "boost@0"
    assert recommend(rows, max_false_insertions=1000).condition == "boost@4"
    assert recommend(rows, group="a").strength == 2.0
    none = recommend(_rows_with_insertions(), max_false_insertions=0.5)
    assert none.condition is None and "no sweep point" in none.reason


def test_ties_go_to_the_weaker_setting():
    def pts(*names):
        return [PointInfo("strength", n, "none", None, float(n.split("@")[1]), 0, 1, 1, 0) for n in names]

    same = [_urow(n, "a", 10, 1, 4, 3, 0) for n in ("correct@0.7", "correct@0.9")]
    assert recommend(aggregate(pts("correct@0.7", "correct@0.9"), same, [])).condition == "correct@0.9"
    boosts = [_urow(n, "a", 10, 1, 4, 3, 0) for n in ("boost@1", "boost@3")]
    assert recommend(aggregate(_points("boost@1", "boost@3"), boosts, [])).condition == "boost@1"


def test_points_that_wreck_the_wer_are_not_recommended():
    base = PointInfo("baseline", "baseline", "none", None, None, 0, 0, 0, 0)
    rows = aggregate([base, *_points("boost@1", "boost@4")], [
        _urow("baseline", "a", 100, 20, 10, 2, 0),
        _urow("boost@1", "a", 100, 21, 10, 4, 0),
        _urow("boost@4", "a", 100, 90, 10, 6, 0),  # best F1, but decoding derailed
    ], [])
    assert recommend(rows).condition == "boost@1"
    assert "WER <= 0.220" in recommend(rows).criterion
    assert recommend(rows, max_wer_increase=None).condition == "boost@4"


def _rows_with_insertions():
    return aggregate(_points("boost@1"), [_urow("boost@1", "a", 10, 0, 1, 1, 1)], [])


def test_correction_sweep_over_three_thresholds_runs_end_to_end(tmp_path):
    """Real bundled model on two clips; the three thresholds share one decode per clip."""
    from asr_eval.evaluate import RunConfig
    from asr_eval.sweep import run_sweep
    from asr_eval.types import DecodeOptions

    if not (DEMO / "manifest.csv").exists():
        pytest.skip("demo fixtures not generated")
    rows = _csv_rows(DEMO / "manifest.csv")[:2]
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:  # the clips next to the manifest: a manifest's audio must lie in its own folder
            shutil.copy(DEMO / r["audio"], tmp_path / Path(r["audio"]).name)
            w.writerow({**r, "audio": Path(r["audio"]).name})
    config = RunConfig(decode=DecodeOptions(beam_size=1), progress=False, reports=False)
    result = run_sweep(manifest, tmp_path / "sweep", dictionary=ROOT / "dictionaries" / "demo-company.csv",
                       directory=ROOT / "dictionaries" / "demo-directory.csv", method="correct",
                       strengths=(0.7, 0.85, 1.0), sizes=(0, 10), list_method="prompt", config=config)
    names = {r.condition for r in result.rows}
    assert names == {"baseline", "correct@0.7", "correct@0.85", "correct@1", "prompt+0", "prompt+10"}
    for name in ("sweep.csv", "sweep.json", "sweep.png", "sweep.svg"):
        assert (tmp_path / "sweep" / name).stat().st_size > 0
    doc = json.loads((tmp_path / "sweep" / "sweep.json").read_text(encoding="utf-8"))
    assert doc["recommendations"][-1]["group"] == ALL_GROUPS and doc["recommendations"][-1]["condition"]
    total = {r.condition: r for r in result.rows if r.group == ALL_GROUPS}
    assert total["prompt+10"].terms_offered == total["prompt+0"].terms_offered + 10
    assert total["correct@0.7"].utterances == 2
    # post-correction only ever rewrites towards the vocabulary: recall never drops below the baseline
    assert total["correct@0.7"].recall >= total["baseline"].recall
    (path,) = (result.run_dir / "transcripts").glob("correct*0.7.jsonl")
    transcripts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert all("corrections" in t["extra"] for t in transcripts)


def test_sweep_command_reports_bad_options_as_errors(tmp_path):
    import typer
    from typer.testing import CliRunner

    from asr_eval.cli.sweep import sweep

    app = typer.Typer()
    app.command()(sweep)
    result = CliRunner().invoke(app, [str(tmp_path / "m.csv"), "--out", str(tmp_path / "o"), "--strengths", "a,b"])
    assert result.exit_code == 1 and "comma-separated numbers" in result.output
    result = CliRunner().invoke(app, [str(tmp_path / "m.csv"), "--out", str(tmp_path / "o"), "--sizes", "1.5"])
    assert result.exit_code == 1 and "non-negative integers" in result.output
