"""asr-eval gate: non-inferiority rules, the rules file, and the CI example (a dictionary change that loses
recall in one group fails the gate; one that does not passes)."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from asr_eval import gate as g
from asr_eval.cli import app
from asr_eval.evaluate import score_hypotheses
from asr_eval.rules import load_rules
from asr_eval.types import InputError

import compare_data as cd

runner = CliRunner()

RULES = """\
confidence: 0.95
rules:
  - name: recall-no-drop
    metric: term_recall
    comparison: non_inferior
    margin: 5pp          # B may lose at most 5 points of term recall in any group
    scope: each_group
    min_speakers: 3
  - name: false-insertions-cap
    metric: false_ins_per_100
    comparison: at_most
    limit: 5
    scope: all
"""


@pytest.fixture(scope="module")
def ci(tmp_path_factory):
    """The CI example: last release's run (A) and two candidate dictionary changes, compared."""
    d = tmp_path_factory.mktemp("ci")
    manifest = cd.write_manifest(d)
    dictionary = cd.write_dictionary(d)
    rules = d / "rules.yaml"
    rules.write_text(RULES)
    runs = {}
    for name, hyps in (("release", cd.hypotheses()), ("harmless", cd.hypotheses(seed=2)),
                       ("loses-south", cd.hypotheses(seed=2, lose_group="south"))):
        score_hypotheses(manifest, [cd.write_hyps(d, hyps, name=f"{name}.jsonl")], d / name, dictionary=dictionary,
                         reports=False)
        runs[name] = d / name
    return d, runs, rules


def _run(*args):
    return runner.invoke(app, [*map(str, args)])


def test_ci_example_fails_when_recall_drops_in_one_group_and_passes_otherwise(ci, tmp_path):
    d, runs, rules = ci
    bad = _run("compare", runs["release"], runs["loses-south"], "--out", tmp_path / "bad", "--rules", rules,
               "--junit", tmp_path / "bad.xml", "--summary", tmp_path / "bad.md", "--n-boot", "500")
    assert bad.exit_code == 1, bad.output
    assert "FAIL recall-no-drop" in bad.output and "south" in bad.output
    assert "B is worse by more than the margin" in bad.output
    good = _run("compare", runs["release"], runs["harmless"], "--out", tmp_path / "good", "--rules", rules,
                "--junit", tmp_path / "good.xml", "--summary", tmp_path / "good.md", "--n-boot", "500")
    assert good.exit_code == 0, good.output
    assert "2 of 2 rules passed" in good.output
    # gate on the comparison folder alone gives the same answer (what CI runs after compare)
    again = _run("gate", tmp_path / "bad", "--rules", rules)
    assert again.exit_code == 1 and "FAIL recall-no-drop" in again.output and "south" in again.output
    assert _run("gate", tmp_path / "good", "--rules", rules).exit_code == 0
    gate_json = json.loads((tmp_path / "bad" / "gate.json").read_text())
    assert gate_json["passed"] is False and [r["passed"] for r in gate_json["rules"]] == [False, True]
    failing = [c["group"] for c in gate_json["rules"][0]["checks"] if c["status"] != "pass"]
    assert failing == ["south"]  # only the group that lost recall fails


def test_junit_xml_reads_back_with_junitparser(ci, tmp_path):
    junitparser = pytest.importorskip("junitparser")
    d, runs, rules = ci
    _run("compare", runs["release"], runs["loses-south"], "--out", tmp_path / "bad", "--rules", rules,
         "--junit", tmp_path / "bad.xml", "--n-boot", "300")
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "bad.xml"))
    cases = [c for suite in xml for c in suite]
    assert [c.name.split(":")[0] for c in cases] == ["recall-no-drop", "false-insertions-cap"]
    assert not cases[0].is_passed and cases[1].is_passed
    (failure,) = cases[0].result
    assert "south" in failure.message
    summary_md = _run("gate", tmp_path / "bad", "--rules", rules, "--summary", tmp_path / "s.md")
    assert summary_md.exit_code == 1
    text = (tmp_path / "s.md").read_text()
    assert "failed" in text and "| recall-no-drop |" in text and "south" in text


def _records(n_speakers: int, clips: int, p_err: float, seed: int, group: str = "g"):
    """Per-clip WER counts of ``n_speakers`` speakers (speaker-level error rates vary around ``p_err``)."""
    rng = random.Random(seed)
    out = []
    for s in range(n_speakers):
        rate = min(0.9, max(0.0, rng.gauss(p_err, 0.03)))
        for k in range(clips):
            words = 12
            errs = sum(rng.random() < rate for _ in range(words))
            out.append({"utt_id": f"{group}{s}-{k}", "speaker": f"{group}{s}", "accent_group": group,
                        "ref_words": words, "hits": words - errs, "subs": errs, "dels": 0, "ins": 0})
    return out


def _pair(a, b):
    return g.PairRecords("B:x vs A:x", "x", "x", a, b)


def test_noise_alone_passes_and_a_real_loss_fails_with_enough_speakers():
    rule = g.Rule("wer", "wer", margin=0.02, scope=g.SCOPE_ALL)
    a = _records(60, 10, 0.10, seed=1)
    same = [{**r, "subs": r["subs"], "hits": r["hits"]} for r in _records(60, 10, 0.10, seed=1)]
    # B: the same speakers, every clip re-drawn at the same error rate (noise only)
    noise = _records(60, 10, 0.10, seed=1)
    rng = random.Random(7)
    for r in noise:
        e = min(12, max(0, r["subs"] + rng.choice((-1, 0, 0, 1))))
        r.update(subs=e, hits=12 - e)
    loss = [{**r, "subs": min(12, r["subs"] + (1 if i % 2 == 0 else 0))} for i, r in enumerate(a)]
    for r in loss:
        r["hits"] = 12 - r["subs"]
    (ok_same,), (ok_noise,), (bad,) = (g.evaluate([rule], [_pair(a, b)], n_boot=500)[0].checks
                                        for b in (same, noise, loss))
    assert ok_same.status == g.PASS and ok_noise.status == g.PASS, (ok_same.reason, ok_noise.reason)
    assert bad.status == g.FAIL and bad.diff > 0.02  # a 4-point loss against a 2-point margin


def test_too_few_speakers_cannot_show_non_inferiority_and_says_so():
    rule = g.Rule("wer", "wer", margin=0.02, scope=g.SCOPE_EACH, min_speakers=2)
    a = _records(2, 10, 0.1, seed=3, group="small") + _records(20, 5, 0.1, seed=4, group="big")
    (res,) = g.evaluate([rule], [_pair(a, a)], n_boot=300)
    by = {c.group: c for c in res.checks}
    assert by["big"].status == g.PASS
    assert by["small"].status == g.CANNOT_SHOW and "cannot show non-inferiority: 2 speakers" in by["small"].reason
    assert not res.passed
    # leaving small groups out of the rule: listed as not gated, and the rule passes
    (res,) = g.evaluate([g.Rule("wer", "wer", margin=0.02, min_speakers=3)], [_pair(a, a)], n_boot=300)
    assert res.passed and "not gated" in res.explain() and "small (2)" in res.explain()


def test_an_estimate_within_the_margin_with_a_wide_interval_is_inconclusive_not_a_loss():
    rule = g.Rule("wer", "wer", margin=0.01, scope=g.SCOPE_ALL)
    a = _records(4, 3, 0.2, seed=5)
    b = [{**r} for r in a]
    b[0].update(subs=b[0]["subs"] + 1, hits=b[0]["hits"] - 1)
    (c,) = g.evaluate([rule], [_pair(a, b)], n_boot=400)[0].checks
    assert c.status == g.CANNOT_SHOW and "too wide" in c.reason and c.diff < 0.01


@pytest.mark.parametrize("text, line, needle", [
    ("rules:\n  - metric: werr\n    margin: 1\n", 2, "unknown metric 'werr'"),
    ("rules:\n  - metric: wer\n", 2, "needs a 'margin'"),
    ("confidence: 95\nrules:\n  - metric: wer\n    margin: 1\n", 1, "write 0.95 for 95%"),
    ("rules:\n  - metric: wer\n    margin: 1\n    scop: all\n", 4, "unknown key 'scop'"),
    ("rules:\n  - metric: wer\n    margin: one\n", 3, "margin: expected a number"),
    ("rules:\n  - metric: wer\n    margin: 1\n    comparison: less\n", 4, "comparison must be one of"),
    ("rules:\n  - metric: wer\n    limit: 1\n    comparison: at_most\n    scope: all\n    min_speakers: 3\n", 6,
     "min_speakers applies to scope each_group"),
    ("rules:\n  - &r {metric: wer, margin: 1}\n  - *r\n", 3, "alias *r is not allowed"),
    ("rules: [\n", 2, "not valid YAML"),
    ("rules:\n  - {metric: wer, margin: 1, name: x}\n  - {metric: cer, margin: 1, name: x}\n", 3, "used by an earlier rule"),
])
def test_a_bad_rules_file_is_one_line_with_its_line_and_exit_2(tmp_path, text, line, needle):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        load_rules(path)
    assert e.value.line == line and needle in e.value.problem
    cmp_dir = tmp_path / "nothing"
    r = runner.invoke(app, ["gate", str(cmp_dir), "--rules", str(path)])
    assert r.exit_code == 2 and f"{path}:{line}:" in r.output and needle in r.output


def test_rules_units_percent_points_and_defaults(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("confidence: 0.9\nrules:\n  - metric: wer\n    margin: 0.5\n  - metric: term_recall\n"
                    "    margin: '2%'\n    confidence: 0.99\n  - metric: false_ins_per_100\n    comparison: at_most\n"
                    "    limit: 3\n    scope: all\n  - metric: ns_output_rate\n    margin: 0\n    conditions: [dictionary]\n")
    rules, _ = load_rules(path)
    assert [r.margin for r in rules] == [pytest.approx(0.005), pytest.approx(0.02), 0.0, 0.0]
    assert rules[2].limit == 3 and rules[0].confidence == 0.9 and rules[1].confidence == 0.99
    assert rules[3].conditions == ("dictionary",) and rules[0].scope == g.SCOPE_EACH and rules[0].line == 3


def test_gate_refuses_a_folder_that_is_not_a_comparison(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    r = runner.invoke(app, ["gate", str(tmp_path), "--rules", str(path)])
    assert r.exit_code == 2 and "compare.json" in r.output and "not found" in r.output
