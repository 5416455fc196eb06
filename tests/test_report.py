"""Report writers on a synthetic run folder (no model): files, numbers, consistency."""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from pathlib import Path

import pytest

from asr_eval import stats as st
from asr_eval.counts import COUNT_COLUMNS
from asr_eval.files import file_sha256
from asr_eval.report import build_report, load_run, write_reports
from asr_eval.types import InputError

TERMS = [("Zentrix Cloud", "product", "dictionary"), ("Klarvo", "product", "dictionary"),
         ("Siobhan Nguyen", "person", "directory"), ("PayNimbus", "product", "dictionary")]
FILLER = ["please", "check", "the", "account", "for", "the", "customer", "today", "and", "call", "back", "later"]

COUNT_COLS = list(COUNT_COLUMNS)
UTT_COLS = ["utt_id", "condition", "speaker", "accent_group", "audio_seconds", "decode_seconds", "ref", "hyp",
            "ref_norm", "hyp_norm", *COUNT_COLS]
TERM_COLS = ["utt_id", "condition", "speaker", "accent_group", "term", "category", "source", "outcome", "ref_text",
             "hyp_text", "display_exact", "in_force", "dropped", "ref_start", "hyp_start"]


def _decode(rng: random.Random, ref: list[str], term_span: tuple[int, int], p_err: float, p_term: float,
            false_term: str | None):
    """Pairs (op, ref, hyp) built op by op, so counts and alignment agree by construction."""
    pairs = []
    for i, w in enumerate(ref):
        in_term = term_span[0] <= i < term_span[1]
        p = p_term if in_term else p_err
        x = rng.random()
        if x < p * 0.6:
            pairs.append(["S", w, w[::-1] + "x"])
        elif x < p:
            pairs.append(["D", w, None])
        else:
            pairs.append(["C", w, w])
        if not in_term and rng.random() < p_err * 0.2:
            pairs.append(["I", None, "uh"])
    if false_term:
        pairs.append(["I", None, false_term])
    return pairs


def make_run(root: Path, *, groups=("group-a", "group-b", "group-c"), speakers_per_group=4, utts_per_speaker=3,
             seed=1, extra_text=None, group_names=None, term_override=None, same_difficulty=False,
             directory: str | None = None, dropped_term: str | None = None) -> Path:
    """Write a run folder with every file the pipeline writes, from a known error model.

    group-a is easy, group-c hard; biasing ('dictionary') lowers the term error rate
    in every group. ``extra_text`` is appended to every reference (for injection/PII
    tests); ``group_names`` renames groups; ``term_override`` replaces the first term.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    terms = list(TERMS)
    if term_override:
        terms[0] = (term_override, "product", "dictionary")
    difficulty = {g: 0.15 if same_difficulty else 0.05 + 0.15 * i for i, g in enumerate(groups)}
    utt_rows, term_rows, align_rows, trn = [], [], [], {}
    conditions = ["baseline", "dictionary"]
    for gi, g in enumerate(groups):
        gname = group_names[gi] if group_names else g
        for s in range(speakers_per_group):
            spk = f"{g}-spk{s}"
            spk_shift = rng.uniform(-0.04, 0.04)
            for u in range(utts_per_speaker):
                uid = f"{spk}-u{u}"
                term, cat, src = terms[(s + u) % len(terms)]
                tw = term.lower().split()
                pre = rng.sample(FILLER, 4)
                post = rng.sample(FILLER, 3)
                ref_words = pre + tw + post
                ref_text = " ".join(w.capitalize() if w in tw else w for w in ref_words)
                if extra_text:
                    ref_text += " " + extra_text
                span = (len(pre), len(pre) + len(tw))
                for cond in conditions:
                    biased = cond != "baseline"
                    p_err = max(0.0, difficulty[g] + spk_shift)
                    offered = biased and term != dropped_term  # a dropped term gets no help
                    p_term = p_err * (0.3 if offered else 1.5) + (0.0 if offered else 0.3)
                    false_term = terms[3][0].lower() if biased and rng.random() < 0.15 else None
                    pairs = _decode(rng, ref_words, span, p_err, min(p_term, 0.95), false_term)
                    c = {k: 0 for k in COUNT_COLS}
                    for k, (op, r, h) in enumerate(pairs):
                        ri = sum(1 for p in pairs[:k] if p[1] is not None)
                        in_term = r is not None and span[0] <= ri < span[1]
                        pre_ = "b_" if (in_term or (op == "I" and h == false_term)) else "u_"
                        key = {"C": "hits", "S": "subs", "D": "dels", "I": "ins"}[op]
                        c[key] += 1
                        c[pre_ + key] += 1
                        c["char_" + key] += len(r or h)
                    c["ref_words"] = len(ref_words)
                    c["b_ref"] = len(tw)
                    c["u_ref"] = len(ref_words) - len(tw)
                    c["ref_chars"] = sum(len(w) for w in ref_words)
                    term_ops = [p[0] for p in pairs if p[1] is not None][span[0]:span[1]]
                    n_ok = sum(op == "C" for op in term_ops)
                    outcome = "hit" if n_ok == len(tw) else ("partial" if n_ok else "miss")
                    c["term_refs"] = 1
                    c["term_hits"] = int(outcome == "hit")
                    c["term_partial"] = int(outcome == "partial")
                    c["term_misses"] = int(outcome == "miss")
                    c["term_false_ins"] = int(bool(false_term))
                    c["term_display_exact"] = int(outcome == "hit" and rng.random() < 0.8)
                    hyp_words = [h for _, _, h in pairs if h is not None]
                    heard = " ".join(h for (op, r, h) in pairs if r is not None and r in tw and h)
                    utt_rows.append({"utt_id": uid, "condition": cond, "speaker": spk, "accent_group": gname,
                                     "audio_seconds": 3.0, "decode_seconds": 0.4, "ref": ref_text,
                                     "hyp": " ".join(hyp_words), "ref_norm": " ".join(ref_words),
                                     "hyp_norm": " ".join(hyp_words), **c})
                    hyp_start = sum(1 for p in pairs[: [p[1] for p in pairs].index(ref_words[span[0]])] if p[2] is not None)
                    term_rows.append({"utt_id": uid, "condition": cond, "speaker": spk, "accent_group": gname,
                                      "term": term, "category": cat, "source": src, "outcome": outcome,
                                      "ref_text": " ".join(tw), "hyp_text": heard,
                                      "display_exact": bool(c["term_display_exact"]) if outcome == "hit" else "",
                                      "in_force": biased and term != dropped_term,
                                      "dropped": biased and term == dropped_term,
                                      "ref_start": span[0], "hyp_start": hyp_start})
                    if false_term:
                        term_rows.append({"utt_id": uid, "condition": cond, "speaker": spk, "accent_group": gname,
                                          "term": terms[3][0], "category": "product", "source": "dictionary",
                                          "outcome": "false_insertion", "ref_text": "", "hyp_text": false_term,
                                          "display_exact": "", "in_force": True, "dropped": False, "ref_start": "",
                                          "hyp_start": len(hyp_words) - 1})
                    align_rows.append({"utt_id": uid, "condition": cond, "pairs": pairs})
                    trn.setdefault(cond, []).append(f"{' '.join(hyp_words)} ({uid})")
    with open(root / "utterances.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, UTT_COLS)
        w.writeheader()
        w.writerows(utt_rows)
    with open(root / "terms.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, TERM_COLS)
        w.writeheader()
        w.writerows(term_rows)
    with open(root / "alignments.jsonl", "w", encoding="utf-8") as f:
        for r in align_rows:
            f.write(json.dumps(r) + "\n")
    with open(root / "skipped.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "line", "severity", "problem"])
        w.writerow(["manifest.csv", 7, "error", "audio file missing: clips/x.wav"])
    prompt = ", ".join(t[0] for t in terms)
    run = {
        "tool": "asr-eval", "version": "0.0-test", "created": "2026-01-01T00:00:00Z", "command": "asr-eval run test",
        "manifest": {"path": "manifest.csv", "sha256": "0" * 64, "utterances": len(utt_rows) // 2, "skipped": 1},
        "dictionary": {"path": "dict.csv", "sha256": "1" * 64, "terms": 3},
        "directory": {"path": directory, "sha256": file_sha256(directory), "terms": 4} if directory else None,
        "conditions": [
            {"name": "baseline", "method": "none", "strength": None, "correct": None,
             "plan": {"condition": "baseline", "method": "none", "text": None, "terms_in_force": [], "terms_dropped": [],
                      "tokens": 0, "budget": 223, "strength": None}},
            {"name": "dictionary", "method": "prompt", "strength": None, "correct": None,
             "plan": {"condition": "dictionary", "method": "prompt", "text": prompt,
                      "terms_in_force": [t[0] for t in terms], "terms_dropped": [], "tokens": 20, "budget": 223,
                      "strength": None}},
        ],
        "baseline": "baseline",
        "engine": {"backend": "test", "model": "none", "device": "cpu", "compute_type": "int8", "decode": {"beam_size": 5}},
        "normalizer": "test-1", "packages": {}, "timing": {"wall_seconds": 1.0, "audio_seconds": 3.0, "rtfx": 3.0},
        "shard": None,
    }
    (root / "run.json").write_text(json.dumps(run), encoding="utf-8")
    if directory:  # what a run writes: the snapshot of the directory it used (written by the one writer)
        from asr_eval.runfolder import VOCABULARY_FILE, VocabularySnapshot
        from asr_eval.vocab import load_directory

        people = load_directory(directory).terms
        (root / VOCABULARY_FILE).write_text(VocabularySnapshot(people, {}).to_json(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = make_run(tmp_path_factory.mktemp("run"))
    write_reports(d, n_boot=300, seed=0)
    return d


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_writes_every_file(run_dir: Path) -> None:
    for name in ("summary.csv", "comparison.csv", "report.md", "report.json", "report.html"):
        assert (run_dir / name).stat().st_size > 0, name


def test_summary_rates_are_ratios_of_summed_counts(run_dir: Path) -> None:
    utts = _read_csv(run_dir / "utterances.csv")
    summary = _read_csv(run_dir / "summary.csv")
    for row in summary:
        sel = [u for u in utts if u["condition"] == row["condition"]
               and (row["accent_group"] == "ALL" or u["accent_group"] == row["accent_group"])]
        errs = sum(int(u["subs"]) + int(u["dels"]) + int(u["ins"]) for u in sel)
        words = sum(int(u["ref_words"]) for u in sel)
        assert int(row["clips"]) == len(sel)
        assert int(row["speakers"]) == len({u["speaker"] for u in sel})
        assert float(row["wer"]) == pytest.approx(errs / words)
        hits = sum(int(u["term_hits"]) for u in sel)
        refs = sum(int(u["term_refs"]) for u in sel)
        fi = sum(int(u["term_false_ins"]) for u in sel)
        assert float(row["term_recall"]) == pytest.approx(hits / refs)
        assert float(row["false_ins_per_100"]) == pytest.approx(100 * fi / len(sel))
        if fi + hits:
            assert float(row["term_precision"]) == pytest.approx(hits / (hits + fi))
        assert float(row["wer_low"]) <= float(row["wer"]) <= float(row["wer_high"])
    groups = {r["accent_group"] for r in summary}
    assert groups == {"group-a", "group-b", "group-c", "ALL"}


def test_comparison_is_condition_minus_baseline(run_dir: Path) -> None:
    summary = {(r["accent_group"], r["condition"]): r for r in _read_csv(run_dir / "summary.csv")}
    comp = _read_csv(run_dir / "comparison.csv")
    # the synthetic rows carry no formatted-token counts, so formatted WER has nothing to compare
    assert {r["metric"] for r in comp} == set(st.PAIRED_METRICS) - set(st.SEPARATE_FAMILY)
    for r in comp:
        if r["metric"] != "wer":
            continue
        b = float(summary[(r["accent_group"], "baseline")]["wer"])
        c = float(summary[(r["accent_group"], r["condition"])]["wer"])
        assert float(r["diff"]) == pytest.approx(c - b)
        assert float(r["low"]) <= float(r["diff"]) <= float(r["high"])
        assert float(r["holm_wilcoxon"]) >= float(r["wilcoxon_p"])
        assert r["significance"] in (st.SIGNIFICANT, st.NOT_SIGNIFICANT)  # 4 speakers per group: always tested
        assert r["decided_by"] in (st.WILCOXON, st.SPEAKER_T)
        assert float(r["holm_decision"]) >= float(r["decision_p"])


def test_markdown_json_and_csv_carry_the_same_numbers(run_dir: Path) -> None:
    model = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    summary = _read_csv(run_dir / "summary.csv")
    for row in summary:
        j = next(r for r in model["summary"] if r["accent_group"] == row["accent_group"] and r["condition"] == row["condition"])
        assert j["metrics"]["wer"]["value"] == pytest.approx(float(row["wer"]))
        assert f"{100 * float(row['wer']):.1f}% [{100 * float(row['wer_low']):.1f}%, {100 * float(row['wer_high']):.1f}%]" in md


def test_fairness_goes_first_when_groups_differ(run_dir: Path) -> None:
    model = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert model["fairness"]["groups_differ"] is True
    gap = next(g for g in model["fairness"]["gaps"] if g["condition"] == "baseline" and g["metric"] == "wer")
    assert (gap["best"], gap["worst"]) == ("group-a", "group-c")
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert md.index("## Fairness") < md.index("## Summary per accent group")
    assert model["verdicts"][0].startswith("baseline: worst group group-c")
    gains = {g["accent_group"] for g in model["fairness"]["gains"]}
    assert gains == {"group-a", "group-b", "group-c"}


def test_fairness_follows_the_comparisons_when_groups_do_not_differ(tmp_path: Path) -> None:
    d = make_run(tmp_path / "r", groups=("g1", "g2", "g3"), same_difficulty=True, seed=3)
    write_reports(d, n_boot=300, formats=("md", "json"))
    model = json.loads((d / "report.json").read_text(encoding="utf-8"))
    assert model["fairness"]["groups_differ"] is False
    assert not model["verdicts"][0].startswith("baseline: worst group")
    md = (d / "report.md").read_text(encoding="utf-8")
    assert md.index("## Each condition vs baseline") < md.index("## Fairness")


def test_explanations_trace_each_missed_term(run_dir: Path) -> None:
    model = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    terms = _read_csv(run_dir / "terms.csv")
    bad = [t for t in terms if t["outcome"] != "hit"]
    assert model["explanations_total"] == len(bad)
    for e in model["explanations"]:
        assert e["context"], e
        if e["condition"] == "baseline":
            assert e["in_force"] is False and "no biasing" in e["reason"]
        else:
            assert e["in_force"] is True and "in the prompt" in e["reason"]
        if e["outcome"] == "miss":
            # The term's reference words are inside the aligned window and not all correct.
            ref_words = [p[1] for p in e["context"] if p[1]]
            assert e["ref_text"].split()[0] in ref_words


def test_failure_causes_count_every_explanation(tmp_path: Path) -> None:
    d = make_run(tmp_path / "r", dropped_term="Klarvo")
    model = build_report(load_run(d), n_boot=50)
    causes = {(c["condition"], c["cause"]): c for c in model["failure_causes"]}
    total = sum(c["miss"] + c["partial"] + c["false_insertion"] for c in model["failure_causes"])
    assert total == model["explanations_total"]
    assert set(causes) <= {("baseline", "no biasing"), ("dictionary", "in the prompt/hotwords"),
                           ("dictionary", "dropped by the token budget")}
    klarvo = next(t for t in model["terms"] if t["term"] == "Klarvo" and t["condition"] == "dictionary")
    assert (klarvo["in_force"], klarvo["dropped"]) == (0, klarvo["refs"])
    zentrix = next(t for t in model["terms"] if t["term"] == "Zentrix Cloud" and t["condition"] == "dictionary")
    assert (zentrix["in_force"], zentrix["dropped"]) == (zentrix["refs"], 0)
    dropped = [e for e in model["explanations"] if e["dropped"]]
    assert dropped and all(e["term"] == "Klarvo" and "token budget" in e["reason"] for e in dropped)
    assert causes[("dictionary", "dropped by the token budget")]["miss"] == sum(e["outcome"] == "miss" for e in dropped)


def test_small_groups_are_flagged_not_hidden(tmp_path: Path) -> None:
    d = make_run(tmp_path / "r", speakers_per_group=2, utts_per_speaker=2)
    write_reports(d, n_boot=100, formats=("md",))
    summary = _read_csv(d / "summary.csv")
    small = [r for r in summary if r["accent_group"] != "ALL"]
    assert small and all(r["small"] == "True" for r in small)
    assert all("2 speakers" in r["small_reason"] for r in small)
    md = (d / "report.md").read_text(encoding="utf-8")
    assert "⚠ 2 speakers" in md


def test_too_few_speakers_get_no_interval_and_no_verdict_in_any_format(tmp_path: Path) -> None:
    """Two speakers per group: values kept, intervals empty and flagged, verdict 'too few speakers' everywhere."""
    d = make_run(tmp_path / "r", speakers_per_group=2, utts_per_speaker=3)
    write_reports(d, n_boot=200)
    groups = {"group-a", "group-b", "group-c"}
    for row in _read_csv(d / "summary.csv"):
        few = row["accent_group"] != "ALL"  # ALL pools 6 speakers
        assert row["too_few_speakers"] == str(few)
        assert row["wer"] != ""
        assert (row["wer_low"] == row["wer_high"] == "") == few
    comp = _read_csv(d / "comparison.csv")
    for r in comp:
        if r["accent_group"] in groups:
            assert r["too_few_speakers"] == "True" and r["significance"] == st.TOO_FEW_SPEAKERS
            assert r["low"] == r["high"] == r["decided_by"] == r["holm_decision"] == r["holm_wilcoxon"] == ""
            assert r["diff"] != "" and r["ci_excludes_zero"] == "False"
            assert r["verdict_note"] == "too few speakers (2)"
        else:
            assert r["too_few_speakers"] == "False" and r["decided_by"] in (st.WILCOXON, st.SPEAKER_T)
            # The family is the overall comparisons only: the untested group rows take no part.
            assert int(r["holm_family"]) == len(set(st.PAIRED_METRICS) - set(st.SEPARATE_FAMILY))
    model = json.loads((d / "report.json").read_text(encoding="utf-8"))
    for r in model["summary"]:
        if r["accent_group"] in groups:
            assert all(e["low"] is None and e["high"] is None for e in r["metrics"].values())
    for g in model["fairness"]["gains"]:
        assert g["low"] is None and g["significance"] == st.TOO_FEW_SPEAKERS
    for g in model["fairness"]["gaps"]:
        assert g["diff"]["low"] is None and g["ratio"]["low"] is None and not g["differ"]
        assert g["too_few_speakers"] == [g["worst"], g["best"]]
    text = " ".join(model["verdicts"] + model["fairness"]["verdicts"])
    assert "too few speakers to tell for group-a (2 speakers)" in text
    assert "No interval or verdict for group-a, group-b, group-c" in text
    md = (d / "report.md").read_text(encoding="utf-8")
    html = (d / "report.html").read_text(encoding="utf-8")
    for page in (md, html):
        assert "n/a: 2 speakers" in page and "too few speakers (2)" in page
        assert "segment-level only" not in page
    for line in md.splitlines():  # no bracketed interval on any row of a two-speaker group
        if line.startswith("| group-"):
            assert "n/a: 2 speakers" in line and not re.search(r"\[[-+]?\d", line), line


def test_overall_verdicts_name_the_test_that_decided(run_dir: Path) -> None:
    model = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    lines = [v for v in model["verdicts"] if v.startswith("dictionary: ") and "→" in v]
    assert len(lines) == 3  # WER, term recall, false insertions
    for v in lines:
        assert ("Wilcoxon signed-rank test over speakers (12 speakers)" in v
                or "paired t-test over speakers (12 speakers)" in v), v
        assert "after Holm correction across 5 comparisons" in v
    for r in model["comparisons"]:
        if r["significance"] == st.NOT_SIGNIFICANT and r["ci_excludes_zero"]:
            assert any(w in r["verdict_reason"] for w in ("not corrected", "optimistic", "disagree")), r


def _row(**kw) -> dict:
    r = {"metric": "wer", "n_speakers": 12, "n_differ": 12, "significance": st.NOT_SIGNIFICANT,
         "decided_by": st.WILCOXON, "decision_p": 0.2, "holm_decision": 0.6, "holm_family": 5, "low": -0.03,
         "high": -0.01, "ci_excludes_zero": True, "holm_mapsswe": 0.5, "n_segments": 80}
    return {**r, **kw}


@pytest.mark.parametrize("row, says", [
    (_row(decision_p=0.02, holm_decision=0.1), "excludes zero because it is not corrected for the 5 comparisons"),
    (_row(decided_by=st.SPEAKER_T, n_speakers=4, n_differ=4), "a bootstrap over 4 speakers is optimistic"),
    (_row(), "they disagree near the boundary, and the verdict follows the test"),
    (_row(decision_p=0.001, holm_decision=0.005, low=-0.02, high=0.01, ci_excludes_zero=False,
          vetoed_by_interval=True), "so no change in the pooled rate is claimed"),
    (_row(holm_mapsswe=0.001, ci_excludes_zero=False), "MAPSSWE over 80 segments does find a difference"),
    (_row(decided_by=st.SPEAKER_T, n_speakers=8, n_differ=3, ci_excludes_zero=False),
     "the t-test decides because only 3 of the speakers changed"),
    (_row(significance=st.TOO_FEW_SPEAKERS, n_speakers=2, decided_by=None, low=None, high=None,
          ci_excludes_zero=False), "2 speakers: at least 3 are needed for an interval or a verdict"),
])
def test_verdict_reason_explains_the_deciding_test_and_the_interval(row: dict, says: str) -> None:
    from asr_eval.report.verdicts import comparison_note, decision_reason

    text = decision_reason(row)
    assert says in text, text
    if row["decided_by"]:
        assert ("Wilcoxon signed-rank test over speakers" if row["decided_by"] == st.WILCOXON
                else "paired t-test over speakers") in text
        assert row["significance"] in comparison_note(row)


def test_minimal_run_folders_still_report(tmp_path: Path) -> None:
    """Baseline only, no terms.csv, no alignments, no skipped.csv; and a run with one speaker."""
    d = make_run(tmp_path / "a")
    with open(d / "utterances.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["condition"] == "baseline"]
    with open(d / "utterances.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for name in ("terms.csv", "alignments.jsonl", "skipped.csv"):
        (d / name).unlink()
    run = json.loads((d / "run.json").read_text(encoding="utf-8"))
    run["conditions"] = run["conditions"][:1]
    (d / "run.json").write_text(json.dumps(run), encoding="utf-8")
    write_reports(d, n_boot=50)
    model = json.loads((d / "report.json").read_text(encoding="utf-8"))
    assert model["comparisons"] == [] and model["terms"] == [] and len(model["summary"]) == 4
    assert (d / "comparison.csv").read_text(encoding="utf-8").count("\n") == 1  # header only

    one = make_run(tmp_path / "b", groups=("solo",), speakers_per_group=1, utts_per_speaker=2)
    write_reports(one, n_boot=50)
    model = json.loads((one / "report.json").read_text(encoding="utf-8"))
    solo = next(r for r in model["summary"] if r["accent_group"] == "solo")
    assert solo["small"] and solo["metrics"]["wer"]["low"] is None and solo["metrics"]["wer"]["value"] is not None


def test_missing_run_json_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run.json"):
        write_reports(tmp_path)


def test_malformed_counts_name_file_and_line(tmp_path: Path) -> None:
    d = make_run(tmp_path / "r")
    text = (d / "utterances.csv").read_text(encoding="utf-8").splitlines()
    cols = text[0].split(",")
    cells = next(csv.reader([text[3]]))
    cells[cols.index("subs")] = "three"
    buf = __import__("io").StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    text[3] = buf.getvalue()
    (d / "utterances.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_run(d)
    assert e.value.line == 4 and "subs" in e.value.problem


def test_same_seed_same_report(tmp_path: Path) -> None:
    d = make_run(tmp_path / "r")
    a = build_report(load_run(d), n_boot=200, seed=3)
    b = build_report(load_run(d), n_boot=200, seed=3)
    a.pop("generated"), b.pop("generated")
    assert a == b


if __name__ == "__main__":  # build a folder to look at: python tests/test_report.py /tmp/synth
    out = make_run(Path(sys.argv[1]))
    print(write_reports(out))
