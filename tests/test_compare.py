"""asr-eval compare: runs made by `score` on generated hypotheses whose true differences are known."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.evaluate import score_hypotheses
from asr_eval.runfolder import load_run

import compare_data as cd

runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A, a B that changes only a few non-term words, a B that loses terms in 'south', and that B scored
    against a dictionary without one term (as a dictionary v2 run would be)."""
    d = tmp_path_factory.mktemp("runs")
    manifest = cd.write_manifest(d)
    v1 = cd.write_dictionary(d)
    v2 = cd.write_dictionary(d, [t for t in cd.TERMS if t != "Klarvo"], "dictionary-v2.csv")
    out = {"dir": d, "manifest": manifest, "v1": v1}
    for name, hyps, dic in (("a", cd.hypotheses(), v1), ("good", cd.hypotheses(seed=2, word_noise=0.0), v1),
                            ("bad", cd.hypotheses(seed=2, lose_group="south"), v1),
                            ("bad_v2", cd.hypotheses(seed=2, lose_group="south"), v2)):
        hyp = cd.write_hyps(d, hyps, name=f"{name}.jsonl")
        score_hypotheses(manifest, [hyp], d / name, dictionary=dic, reports=False)
        out[name] = d / name
    return out


def _compare(tmp_path, *args):
    return runner.invoke(app, ["compare", *map(str, args), "--n-boot", "400"])


def _one_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_compare_writes_every_output_and_agrees_with_each_runs_own_numbers(runs, tmp_path):
    out = tmp_path / "cmp"
    r = _compare(tmp_path, runs["a"], runs["bad"], "--out", out)
    assert r.exit_code == 0, r.output
    for name in ("compare.json", "compare.md", "compare.html", "summary.csv", "comparison.csv", "terms.csv",
                 "changed.csv", "paired.csv", ".asr-eval-run.json"):
        assert (out / name).is_file(), name
    index = json.loads((out / ".asr-eval-run.json").read_text())
    assert index["kind"] == "compare" and "compare.html" in index["files"]
    model = json.loads((out / "compare.json").read_text())
    (pair,) = model["pairs"]
    assert pair["name"] == "B:prompt vs A:prompt"
    # The values of each side are the runs' own: summed counts of their utterances.csv.
    for label, run_dir in (("A:prompt", runs["a"]), ("B:prompt", runs["bad"])):
        run = load_run(run_dir)
        errors = sum(u["subs"] + u["dels"] + u["ins"] for u in run.utterances)
        words = sum(u["ref_words"] for u in run.utterances)
        row = next(s for s in pair["summary"] if s["condition"] == label and s["accent_group"] == "ALL")
        assert row["metrics"]["wer"]["value"] == pytest.approx(errors / words)
    wer = next(c for c in pair["comparisons"] if c["accent_group"] == "ALL" and c["metric"] == "wer")
    assert wer["diff"] == pytest.approx(wer["cond"] - wer["base"])
    assert wer["low"] <= wer["diff"] <= wer["high"]
    # The loss is in 'south' only: its recall falls, north's does not move.
    rec = {c["accent_group"]: c for c in pair["comparisons"] if c["metric"] == "term_recall"}
    assert rec["south"]["diff"] < -0.3 and rec["south"]["high"] < 0
    assert rec["north"]["diff"] == pytest.approx(0.0)
    # B widens the gap between groups, and says so with an interval above zero.
    gap = next(g for g in pair["gap_changes"] if g["metric"] == "term_recall")
    assert gap["b_worst"] == "south" and gap["verdict"] == "widens" and gap["low"] > 0


def test_terms_gained_and_lost_are_counted_occurrence_by_occurrence(runs, tmp_path):
    out = tmp_path / "cmp"
    assert _compare(tmp_path, runs["a"], runs["bad"], "--out", out).exit_code == 0
    model = json.loads((out / "compare.json").read_text())
    terms = model["pairs"][0]["terms"]
    a = {(t["utt_id"], t["term"], t["ref_start"]): t["outcome"] for t in load_run(runs["a"]).terms
         if t["outcome"] != "false_insertion"}
    b = {(t["utt_id"], t["term"], t["ref_start"]): t["outcome"] for t in load_run(runs["bad"]).terms
         if t["outcome"] != "false_insertion"}
    lost = sum(a[k] == "hit" and b.get(k) != "hit" for k in a)
    gained = sum(b[k] == "hit" and a.get(k) != "hit" for k in b)
    assert (terms["lost_total"], terms["gained_total"]) == (lost, gained)
    assert lost > 0 and gained == 0
    with open(out / "terms.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["lost"]) for r in rows) == lost


def test_changed_clips_are_shown_side_by_side_with_their_alignments(runs, tmp_path):
    out = tmp_path / "cmp"
    assert _compare(tmp_path, runs["a"], runs["bad"], "--out", out).exit_code == 0
    ch = json.loads((out / "compare.json").read_text())["pairs"][0]["changed"]
    assert ch["worse"] > 0 and ch["clips"]
    top = ch["clips"][0]
    assert top["change"] == top["b_errors"] - top["a_errors"] and top["group"] == "south"
    assert {op for op, _, _ in top["b_pairs"]} - {"C"}  # the B side's errors are in its alignment
    html = (out / "compare.html").read_text()
    assert top["utt_id"] in html and "http://" not in html and "https://" not in html
    md = (out / "compare.md").read_text()
    assert "Clips that changed most" in md and top["utt_id"] in md


def test_different_vocabularies_are_rescored_against_their_union(runs, tmp_path):
    """A dictionary v2 without 'Klarvo' must not hide Klarvo's misses: both sides count the same terms."""
    same, v2 = tmp_path / "same", tmp_path / "v2"
    assert _compare(tmp_path, runs["a"], runs["bad"], "--out", same).exit_code == 0
    r = _compare(tmp_path, runs["a"], runs["bad_v2"], "--out", v2)
    assert r.exit_code == 0, r.output
    m_same = json.loads((same / "compare.json").read_text())
    m_v2 = json.loads((v2 / "compare.json").read_text())
    assert m_same["checks"]["rescored"] is None
    assert m_v2["checks"]["rescored"]["terms"] == len(cd.TERMS)
    assert m_v2["pairs"][0]["terms"]["rows"] == m_same["pairs"][0]["terms"]["rows"]
    rec = lambda m: [c["diff"] for c in m["pairs"][0]["comparisons"] if c["metric"] == "term_recall"]
    assert rec(m_v2) == rec(m_same)
    assert "rescored" in (v2 / "compare.md").read_text().lower()


def test_a_different_reference_is_refused_naming_the_clip_and_both_texts(runs, tmp_path):
    rows = cd.clips()
    rows[4]["text"] = rows[4]["text"].replace("today", "tomorrow")
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    other = tmp_path / "other"
    score_hypotheses(manifest, [runs["dir"] / "good.jsonl"], other, dictionary=runs["v1"], reports=False)
    r = _compare(tmp_path, runs["a"], other, "--out", tmp_path / "cmp")
    assert r.exit_code == 2
    line = _one_line(r.output)
    assert "manifest sha256 differs" in line and "--force" in line
    assert not (tmp_path / "cmp").exists()  # refused before anything is written
    r = _compare(tmp_path, runs["a"], other, "--out", tmp_path / "cmp", "--force")
    assert r.exit_code == 0, r.output
    model = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    diffs = " ".join(model["checks"]["differences"])
    assert model["checks"]["forced"] and f"reference text differs for clip {rows[4]['id']}" in diffs
    assert "tomorrow" in diffs and "today" in diffs
    assert "Forced" in (tmp_path / "cmp" / "compare.md").read_text()


def test_a_different_reference_with_the_same_manifest_bytes_is_refused_per_clip(runs):
    from asr_eval.compare import check_comparable
    from asr_eval.types import InputError
    import dataclasses

    a, b = load_run(runs["a"]), load_run(runs["good"])
    rows = [dict(u) for u in b.utterances]
    rows[3]["ref"] = "something else"
    b = dataclasses.replace(b, utterances=rows)
    with pytest.raises(InputError) as e:
        check_comparable({"A": a, "B": b}, "accent_group", force=False)
    assert f"reference text differs for clip {rows[3]['utt_id']}" in str(e.value) and "'something else'" in str(e.value)


def test_clips_in_one_run_only_are_listed_not_dropped_silently(runs, tmp_path):
    subset = [c for c in cd.clips() if not c["id"].startswith("west-5")]
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(subset[0]))
        w.writeheader()
        w.writerows(subset)
    hyps = {k: v for k, v in cd.hypotheses(seed=2).items() if not k.startswith("west-5")}
    part = tmp_path / "part"
    score_hypotheses(manifest, [cd.write_hyps(tmp_path, hyps)], part, dictionary=runs["v1"], reports=False)
    out = tmp_path / "cmp"
    r = _compare(tmp_path, runs["a"], part, "--out", out, "--force")
    assert r.exit_code == 0, r.output
    ids = (out / "clips_only_in_A.txt").read_text().split()
    assert ids == [f"west-5-{k}" for k in range(4)]
    assert "4 clips only in run A" in r.output
    model = json.loads((out / "compare.json").read_text())
    assert model["checks"]["only"]["A"] == {"count": 4, "file": "clips_only_in_A.txt"}
    assert model["pairs"][0]["clips"] == len(cd.clips()) - 4


def test_conditions_pair_by_name_or_as_told(runs, tmp_path):
    r = _compare(tmp_path, runs["a"], runs["good"], "--out", tmp_path / "x", "--pair", "A:prompt=B:nothing")
    assert r.exit_code == 2 and "run B has no condition 'nothing'" in _one_line(r.output)
    r = _compare(tmp_path, runs["a"], runs["good"], "--out", tmp_path / "x", "--pair", "A-prompt")
    assert r.exit_code == 2 and "RUN:CONDITION=RUN:CONDITION" in _one_line(r.output)
    r = _compare(tmp_path, runs["a"], runs["good"], runs["bad"], "--out", tmp_path / "three",
                 "--pair", "A:prompt=C:prompt")
    assert r.exit_code == 0, r.output
    names = [p["name"] for p in json.loads((tmp_path / "three" / "compare.json").read_text())["pairs"]]
    assert names == ["C:prompt vs A:prompt", "B:prompt vs A:prompt"]


def test_group_by_names_a_column_the_runs_lack_in_one_line(runs, tmp_path):
    r = _compare(tmp_path, runs["a"], runs["good"], "--out", tmp_path / "x", "--group-by", "dialect")
    assert r.exit_code == 2
    assert "--group-by 'dialect'" in _one_line(r.output) and "accent_group" in r.output
    r = _compare(tmp_path, runs["a"], runs["good"], "--out", tmp_path / "spk", "--group-by", "speaker")
    assert r.exit_code == 0, r.output
    groups = json.loads((tmp_path / "spk" / "compare.json").read_text())["pairs"][0]["groups"]
    assert len(groups) == len(cd.GROUPS) * cd.SPEAKERS


def test_gap_change_is_zero_with_no_interval_width_when_b_equals_a(runs):
    from asr_eval.pairing import gap_change

    run = load_run(runs["a"])
    by = {}
    for u in run.utterances:
        by.setdefault(u["accent_group"], ([], []))
        by[u["accent_group"]][0].append(u)
        by[u["accent_group"]][1].append(u)
    g = gap_change(by, metric="wer", n_boot=300)
    assert g.change == pytest.approx(0.0) and g.low == pytest.approx(0.0) and g.high == pytest.approx(0.0)
    assert g.a_gap == pytest.approx(g.b_gap) and g.a_gap > 0
