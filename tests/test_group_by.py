"""--group-by: per-group numbers by any manifest column, intersections, derived bands, regrouping a finished run.

Runs are made with ``asr-eval score`` on hypothesis files (no model), so the
report's plumbing is tested end to end in seconds; the numbers themselves are
checked against counts summed here from utterances.csv.
"""

from __future__ import annotations

from asr_eval import stats as st

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.grouping import (DURATION_BANDS, Grouping, check_columns, duration_band, groups_of, label_of,
                               parse_group_by)
from asr_eval.runfolder import load_run, read_metadata
from asr_eval.types import InputError

WORDS = "please send the quarterly invoice to the finance team before friday".split()


def _hyp(words: list[str], n_errors: int) -> str:
    """The reference with its first ``n_errors`` words replaced: a known number of substitutions."""
    return " ".join(("zzz" if i < n_errors else w) for i, w in enumerate(words))


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    """12 speakers x 2 clips: accent us/in, gender female/male, age bands; errors depend on gender and accent."""
    rows, hyps = [], []
    for s in range(12):
        accent = "us" if s % 2 == 0 else "in"
        gender = "female" if s < 6 else "male"
        age = "18-30" if s % 3 == 0 else "31-50"
        for k in range(2):
            uid = f"s{s}c{k}"
            rows.append({"id": uid, "audio": f"{uid}.wav", "text": " ".join(WORDS), "speaker": f"spk{s}",
                         "accent_group": accent, "gender": gender, "age_band": age, "channel": "8k" if k else "16k"})
            base_err = 3 if gender == "male" else 1
            base_err += 1 if accent == "in" else 0
            hyps.append({"id": uid, "condition": "baseline", "text": _hyp(WORDS, base_err)})
            hyps.append({"id": uid, "condition": "vocab", "text": _hyp(WORDS, max(0, base_err - 1 - s % 2))})
    man = tmp_path / "m.csv"
    with open(man, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    hyp = tmp_path / "hyps.jsonl"
    hyp.write_text("".join(json.dumps(h) + "\n" for h in hyps))
    return man, hyp


def _empty_gender_setup(tmp_path: Path) -> tuple[Path, Path]:
    man, hyp = _setup(tmp_path)
    lines = man.read_text().splitlines()
    header = lines[0].split(",")
    gi = header.index("gender")
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        if i < 3:
            cells[gi] = ""
        out.append(",".join(cells))
    man.write_text("\n".join(out) + "\n")
    return man, hyp


def _score(tmp_path: Path, man: Path, hyp: Path, *extra: str, out: str = "out"):
    r = CliRunner().invoke(app, ["score", str(man), "--hyp", str(hyp), "--out", str(tmp_path / out), *extra])
    return r, tmp_path / out


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(open(path, encoding="utf-8")))


# --------------------------------------------------------------------------- pure


def test_parse_group_by():
    assert parse_group_by(None) == (Grouping(("accent_group",)),)
    gs = parse_group_by(["accent_group", "gender", "accent_group, gender", "gender"])
    assert [g.name for g in gs] == ["accent_group", "gender", "accent_group+gender"]
    assert gs[2].noun == "accent group × gender" and gs[1].plural == "gender groups" and gs[0].plural == "accent groups"
    assert Grouping(("condition",)).key == "group_condition"  # never overwrites a report column
    for bad in ("a,,b", "a,a", "a,b,c,d,e"):
        with pytest.raises(InputError, match="--group-by"):
            parse_group_by([bad])


def test_duration_bands():
    assert [duration_band(s) for s in (0.5, 4.99, 5.0, 14.9, 15.0, 29.9, 30.0, 300.0)] == \
        ["<5 s", "<5 s", "5-15 s", "5-15 s", "15-30 s", "15-30 s", ">30 s", ">30 s"]
    assert duration_band(None) == duration_band(0.0) == "unknown"
    assert [label for _, label in DURATION_BANDS] == ["<5 s", "5-15 s", "15-30 s", ">30 s"]


def test_missing_column_names_the_available_ones():
    with pytest.raises(InputError) as e:
        check_columns(parse_group_by(["gendr"]), ["gender", "age_band"], "manifest m.csv")
    msg = str(e.value)
    assert "'gendr'" in msg and "gender, age_band" in msg and "accent_group" in msg and "duration_band" in msg


def test_groups_of_and_labels():
    rows = [{"utt_id": "a", "accent_group": "us", "speaker": "s1", "audio_seconds": 3.0},
            {"utt_id": "b", "accent_group": "in", "speaker": "s2", "audio_seconds": 20.0},
            {"utt_id": "c", "accent_group": "us", "speaker": "s3", "audio_seconds": 0.0}]
    meta = {"a": {"gender": "female"}, "b": {"gender": "male"}, "c": {"gender": ""}}
    by = groups_of(rows, "accent_group,gender", meta)
    assert list(by) == ["in / male", "us / female", "us / unknown"]
    assert {k: [r["utt_id"] for r in v] for k, v in groups_of(rows, "duration_band").items()} == \
        {"15-30 s": ["b"], "<5 s": ["a"], "unknown": ["c"]}
    assert label_of(Grouping(("speaker",)), rows[0]) == "s1"


# --------------------------------------------------------------------------- end to end


def test_group_by_gender_numbers_match_the_counts(tmp_path):
    man, hyp = _setup(tmp_path)
    r, out = _score(tmp_path, man, hyp, "--group-by", "gender")
    assert r.exit_code == 0, r.output
    summary = _csv(out / "summary.csv")
    assert list(summary[0])[0] == "gender"
    assert {(x["gender"], x["condition"]) for x in summary} == {
        (g, c) for g in ("female", "male", "ALL") for c in ("baseline", "vocab")}
    # WER of each gender group = summed errors / summed words over its clips (counted here from utterances.csv)
    utts = _csv(out / "utterances.csv")
    meta = read_metadata(out)
    for row in summary:
        if row["gender"] == "ALL":
            continue
        mine = [u for u in utts if u["condition"] == row["condition"] and meta[u["utt_id"]]["gender"] == row["gender"]]
        errs = sum(int(u["subs"]) + int(u["dels"]) + int(u["ins"]) for u in mine)
        assert float(row["wer"]) == pytest.approx(errs / sum(int(u["ref_words"]) for u in mine))
        assert int(row["speakers"]) == 6 and int(row["clips"]) == 12
    comp = _csv(out / "comparison.csv")
    assert list(comp[0])[0] == "gender" and {x["gender"] for x in comp} == {"ALL", "female", "male"}
    assert list(_csv(out / "harms.csv")[0])[0] == "gender"
    model = json.loads((out / "report.json").read_text())
    assert model["group_by"][0]["name"] == "gender" and model["groups"] == ["female", "male"]
    assert {g["gender"] for g in model["fairness"]["gains"]} == {"female", "male"}
    md = (out / "report.md").read_text()
    assert "## Summary per gender and condition" in md and "## Fairness across gender groups" in md
    html = (out / "report.html").read_text()
    assert "Summary per gender and condition" in html and 'data-group="male"' in html
    assert json.loads((out / "run.json").read_text())["group_by"] == ["gender"]


def test_several_groupings_and_an_intersection(tmp_path):
    man, hyp = _setup(tmp_path)
    r, out = _score(tmp_path, man, hyp, "--group-by", "accent_group", "--group-by", "gender",
                    "--group-by", "accent_group,gender")
    assert r.exit_code == 0, r.output
    # the first grouping keeps the usual files; each further one has its own
    assert list(_csv(out / "summary.csv")[0])[0] == "accent_group"
    by_gender = _csv(out / "summary_by_gender.csv")
    pair = _csv(out / "summary_by_accent_group+gender.csv")
    assert list(pair[0])[0] == "accent_group+gender"
    assert {x["accent_group+gender"] for x in pair} == {"in / female", "in / male", "us / female", "us / male", "ALL"}
    assert all(int(x["speakers"]) == 3 for x in pair if x["accent_group+gender"] != "ALL")
    # ALL rows do not depend on the grouping
    all_rows = {x["condition"]: x["wer"] for x in _csv(out / "summary.csv") if x["accent_group"] == "ALL"}
    assert all_rows == {x["condition"]: x["wer"] for x in by_gender if x["gender"] == "ALL"}
    assert (out / "comparison_by_gender.csv").exists() and (out / "harms_by_accent_group+gender.csv").exists()
    model = json.loads((out / "report.json").read_text())
    assert [g["name"] for g in model["group_by"]] == ["accent_group", "gender", "accent_group+gender"]
    sec = model["groupings"][1]
    assert sec["name"] == "accent_group+gender" and len(sec["groups"]) == 4
    # each grouping is its own Holm family: four per-group WER rows per condition in the pair's family
    fam = [c for c in sec["comparisons"] if c["accent_group+gender"] != "ALL" and c["metric"] == "wer"]
    assert len(fam) == 4 and {c["holm_family"] for c in fam} == {len([c for c in sec["comparisons"]
                                                                      if c["accent_group+gender"] != "ALL"
                                                                      and c["metric"] not in st.SEPARATE_FAMILY])}
    # groups of 3 speakers get intervals; the gender gap is real (male clips have two more errors each)
    assert any(v.startswith("By gender: ") for v in model["verdicts"])
    md = (out / "report.md").read_text()
    assert "## Grouped by gender" in md and "## Grouped by accent group × gender" in md
    html = (out / "report.html").read_text()
    assert 'class="f-extra"' in html and "Grouped by accent group × gender" in html


def test_same_grouping_same_numbers_whatever_else_is_shown(tmp_path):
    man, hyp = _setup(tmp_path)
    _, a = _score(tmp_path, man, hyp, "--group-by", "gender", out="a")
    _, b = _score(tmp_path, man, hyp, "--group-by", "age_band", "--group-by", "gender", out="b")
    assert _csv(a / "summary.csv") == _csv(b / "summary_by_gender.csv")


def test_report_regroups_a_finished_run_without_the_manifest(tmp_path):
    man, hyp = _setup(tmp_path)
    r, out = _score(tmp_path, man, hyp)
    assert r.exit_code == 0, r.output
    before = (out / "summary.csv").read_text()
    assert list(_csv(out / "summary.csv")[0])[0] == "accent_group"
    assert set(_csv(out / "metadata.csv")[0]) == {"utt_id", "gender", "age_band", "channel"}
    man.unlink()
    r = CliRunner().invoke(app, ["report", str(out), "--group-by", "channel", "--group-by", "age_band,gender"])
    assert r.exit_code == 0, r.output
    assert {x["channel"] for x in _csv(out / "summary.csv")} == {"8k", "16k", "ALL"}
    assert (out / "summary_by_age_band+gender.csv").exists()
    # and back: without --group-by, the run's own grouping (accent group), byte for byte as first written;
    # the regrouped tables of the report before go with it
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "summary.csv").read_text() == before
    assert not list(out.glob("*_by_*.csv"))


def test_missing_column_is_a_clear_error_before_scoring(tmp_path):
    man, hyp = _setup(tmp_path)
    r, out = _score(tmp_path, man, hyp, "--group-by", "sex")
    assert r.exit_code == 2
    assert "no column 'sex'" in r.output and "gender" in r.output and "age_band" in r.output
    assert not (out / "utterances.csv").exists()
    r, out = _score(tmp_path, man, hyp)
    r = CliRunner().invoke(app, ["report", str(out), "--group-by", "native_language"])
    assert r.exit_code == 2 and "no column 'native_language'" in r.output and "channel" in r.output


def test_empty_values_become_unknown_with_a_warning(tmp_path):
    man, hyp = _empty_gender_setup(tmp_path)
    r, out = _score(tmp_path, man, hyp, "--group-by", "gender")
    assert r.exit_code == 0, r.output
    assert "3 of 24 clips have no value" in r.output and "'unknown'" in r.output
    rows = {x["gender"]: x for x in _csv(out / "summary.csv") if x["condition"] == "baseline"}
    assert set(rows) == {"female", "male", "unknown", "ALL"} and rows["unknown"]["clips"] == "3"
    # the three clips are of two speakers: the 'unknown' group gets its own small-group flag
    assert (rows["unknown"]["speakers"], rows["unknown"]["too_few_speakers"]) == ("2", "True")
    md = (out / "report.md").read_text()
    assert "3 of 24 clips have no value" in md
    r = CliRunner().invoke(app, ["report", str(out)])
    assert "3 of 24 clips have no value" in r.output


def test_small_groups_are_flagged_per_grouping(tmp_path):
    man, hyp = _setup(tmp_path)
    r, out = _score(tmp_path, man, hyp, "--group-by", "speaker", "--group-by", "gender")
    assert r.exit_code == 0, r.output
    per_speaker = [x for x in _csv(out / "summary.csv") if x["speaker"] != "ALL"]
    assert per_speaker and all(x["too_few_speakers"] == "True" and x["wer_low"] == "" for x in per_speaker)
    assert all(x["too_few_speakers"] == "False" for x in _csv(out / "summary_by_gender.csv"))
    model = json.loads((out / "report.json").read_text())
    assert any("No interval or verdict for spk0" in v for v in model["verdicts"])


def test_duration_band_from_the_manifest_duration_when_nothing_was_decoded(tmp_path):
    man, hyp = _setup(tmp_path)
    text = man.read_text().splitlines()
    man.write_text("\n".join([text[0] + ",duration"] + [line + f",{3 + 10 * (i % 3)}" for i, line in enumerate(text[1:])]) + "\n")
    r, out = _score(tmp_path, man, hyp, "--group-by", "duration_band")
    assert r.exit_code == 0, r.output
    assert {x["duration_band"] for x in _csv(out / "summary.csv")} == {"<5 s", "5-15 s", "15-30 s", "ALL"}


def test_too_many_groups_is_refused(tmp_path, monkeypatch):
    man, hyp = _setup(tmp_path)
    r, _ = _score(tmp_path, man, hyp, "--group-by", "speaker,gender,age_band")  # 12 groups: fine
    assert r.exit_code == 0, r.output
    from asr_eval import grouping

    monkeypatch.setattr(grouping, "MAX_GROUPS", 5)
    r, _ = _score(tmp_path, man, hyp, "--group-by", "speaker", out="o2")
    assert r.exit_code == 2 and "more than 5 distinct groups" in r.output


def test_default_report_json_has_no_grouping_keys(tmp_path):
    man, hyp = _setup(tmp_path)
    r, out = _score(tmp_path, man, hyp)
    model = json.loads((out / "report.json").read_text())
    assert "group_by" not in model and "groupings" not in model
    assert all("groups" not in u for u in model["utterances"])
    run = load_run(out)
    assert run.metadata_columns == ("gender", "age_band", "channel") and run.metadata["s0c0"]["gender"] == "female"


def test_vocab_coverage_and_history_by_any_column(tmp_path):
    man, hyp = _setup(tmp_path)
    (tmp_path / "dict.csv").write_text("term,category\ninvoice,finance\nquarterly,finance\n")
    r = CliRunner().invoke(app, ["vocab", "coverage", str(tmp_path / "dict.csv"), str(man), "--group-by", "gender",
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["accent_groups"] == ["female", "male"]
    r = CliRunner().invoke(app, ["vocab", "coverage", str(tmp_path / "dict.csv"), str(man), "--group-by", "sex"])
    assert r.exit_code == 2 and "no column 'sex'" in r.output
    r, out = _score(tmp_path, man, hyp, "--dictionary", str(tmp_path / "dict.csv"))
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["vocab", "history", str(out), "--group-by", "age_band", "--json"])
    assert r.exit_code == 0, r.output
    assert {row["accent_group"] for row in json.loads(r.stdout)["rows"]} == {"18-30", "31-50", "(all)"}


def test_group_labels_list_duration_bands_shortest_first_and_unknown_last():
    from asr_eval.grouping import sort_labels

    assert sort_labels([">30 s", "unknown", "5-15 s", "<5 s", "15-30 s"]) == ["<5 s", "5-15 s", "15-30 s", ">30 s", "unknown"]
    assert sort_labels(["unknown", "scottish", "american"]) == ["american", "scottish", "unknown"]
    assert sort_labels(["15-30 s / f", "<5 s / m", "<5 s / f"]) == ["<5 s / f", "<5 s / m", "15-30 s / f"]
