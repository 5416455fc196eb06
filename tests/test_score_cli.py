"""`asr-eval score`: vendor transcripts scored like a run (no model involved)."""

import csv
import json

import soundfile as sf
from typer.testing import CliRunner

from asr_eval.cli import app

from conftest import tone


def _setup(tmp_path):
    for i in range(3):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    (tmp_path / "m.csv").write_text(
        "id,audio,text,speaker,accent_group\n"
        "u0,c0.wav,Please ask Siobhan Nguyen about Klarvo,s1,ie\n"
        "u1,c1.wav,Klarvo is down again,s2,ie\n"
        "u2,c2.wav,the invoice is late,s3,us\n"
    )
    (tmp_path / "dict.csv").write_text("term,category\nKlarvo,product\n")
    (tmp_path / "people.csv").write_text("first,last\nSiobhan,Nguyen\n")
    rows = [
        ("baseline", "u0", "please ask shivaun new win about clarvo"),
        ("baseline", "u1", "clarvo is down again"),
        ("baseline", "u2", "the invoice is late"),
        ("vendor_vocab", "u0", "Please ask Siobhan Nguyen about Klarvo"),
        ("vendor_vocab", "u1", "Klarvo is down again"),
        ("vendor_vocab", "u2", "the Klarvo invoice is late"),
    ]
    with open(tmp_path / "hyps.jsonl", "w") as f:
        for cond, uid, text in rows:
            f.write(json.dumps({"id": uid, "text": text, "condition": cond}) + "\n")


def test_score_vendor_transcripts(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "hyps.jsonl"),
                                 "--dictionary", str(tmp_path / "dict.csv"), "--directory", str(tmp_path / "people.csv"),
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = {(x["utt_id"], x["condition"]): x for x in csv.DictReader(open(out / "utterances.csv"))}
    # baseline u0: "siobhan nguyen" -> "shivaun new win" (1 sub + 1 sub + 1 ins), "klarvo" -> "clarvo" (1 sub)
    b0 = rows[("u0", "baseline")]
    assert (int(b0["ref_words"]), int(b0["subs"]) + int(b0["dels"]) + int(b0["ins"])) == (6, 4)
    assert int(rows[("u2", "baseline")]["subs"]) == 0
    v2 = rows[("u2", "vendor_vocab")]
    assert (int(v2["ins"]), int(v2["term_false_ins"])) == (1, 1)  # over-biasing: Klarvo where nobody said it
    terms = list(csv.DictReader(open(out / "terms.csv")))
    base_hits = [t for t in terms if t["condition"] == "baseline" and t["outcome"] == "hit"]
    vend_hits = [t for t in terms if t["condition"] == "vendor_vocab" and t["outcome"] == "hit"]
    assert len(base_hits) == 0 and len(vend_hits) == 3
    run = json.loads((out / "run.json").read_text())
    assert run["baseline"] == "baseline" and [c["name"] for c in run["conditions"]] == ["baseline", "vendor_vocab"]
    assert (out / "report.md").exists() and (out / "trn" / "vendor_vocab.trn").exists()


def test_score_rejects_unknown_ids_naming_the_file(tmp_path):
    _setup(tmp_path)
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "nope", "text": "x"}) + "\n")
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "bad.jsonl"),
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "bad.jsonl" in r.output and "nope" in r.output


def test_rerun_into_the_same_folder_leaves_no_stale_condition_files(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "out"
    args = ["score", str(tmp_path / "m.csv"), "--out", str(out), "--dictionary", str(tmp_path / "dict.csv")]
    assert CliRunner().invoke(app, [*args, "--hyp", str(tmp_path / "hyps.jsonl")]).exit_code == 0
    assert (out / "transcripts" / "vendor_vocab.jsonl").exists()
    only = tmp_path / "baseline.jsonl"
    only.write_text("".join(line + "\n" for line in (tmp_path / "hyps.jsonl").read_text().splitlines()
                            if '"baseline"' in line))
    r = CliRunner().invoke(app, [*args, "--hyp", str(only)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (out / "transcripts").iterdir()) == ["baseline.jsonl"]
    assert sorted(p.name for p in (out / "trn").iterdir()) == ["baseline.trn", "ref.trn"]


def test_an_unknown_id_is_blamed_on_the_file_that_has_it(tmp_path):
    _setup(tmp_path)
    (tmp_path / "extra.jsonl").write_text(json.dumps({"id": "ghost", "text": "x", "condition": "other"}) + "\n")
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "hyps.jsonl"),
                                 "--hyp", str(tmp_path / "extra.jsonl"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "extra.jsonl" in r.output and "hyps.jsonl" not in r.output and "ghost" in r.output


def _score(tmp_path, *hyps):
    args = ["score", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out")]
    for h in hyps:
        args += ["--hyp", str(h)]
    return CliRunner().invoke(app, args)


def _one_line(output: str) -> str:
    return " ".join(output.split())  # rich wraps long lines on narrow terminals


def test_a_rejected_manifest_row_is_shown_with_its_own_error_not_as_an_unknown_id(tmp_path):
    _setup(tmp_path)
    m = tmp_path / "m.csv"
    m.write_text(m.read_text() + "u3,c2.wav,,s3,us\n")  # empty reference: rejected at line 5
    hyps = tmp_path / "hyps.jsonl"
    hyps.write_text(hyps.read_text() + json.dumps({"id": "u3", "text": "hello", "condition": "baseline"}) + "\n"
                    + json.dumps({"id": "u3", "text": "hello", "condition": "vendor_vocab"}) + "\n")
    r = _score(tmp_path, hyps)
    assert r.exit_code == 5, r.output
    out = _one_line(r.output)
    assert any(line.startswith(f"{m}:5: error: empty reference text for c2.wav") for line in r.output.splitlines())
    assert "not in the manifest" not in out and "Traceback" not in out
    scored = {x["utt_id"] for x in csv.DictReader(open(tmp_path / "out" / "utterances.csv"))}
    assert scored == {"u0", "u1", "u2"}
    skipped = list(csv.DictReader(open(tmp_path / "out" / "skipped.csv")))
    assert [(s["line"], s["severity"]) for s in skipped] == [("5", "error")]


def test_an_id_no_manifest_row_ever_had_is_still_input_error(tmp_path):
    _setup(tmp_path)
    m = tmp_path / "m.csv"
    m.write_text(m.read_text() + "u3,c2.wav,,s3,us\n")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "u9", "text": "x"}) + "\n")
    r = _score(tmp_path, tmp_path / "bad.jsonl")
    assert r.exit_code == 2 and "u9" in r.output and "not in the manifest" in _one_line(r.output)


def test_missing_hypotheses_are_scored_as_empty_and_exit_5(tmp_path):
    """A system that returned nothing for a clip made every reference word a deletion; leaving the clip out would flatter it."""
    _setup(tmp_path)
    hyps = tmp_path / "hyps.jsonl"
    hyps.write_text("".join(line + "\n" for line in hyps.read_text().splitlines()
                            if not ('"u2"' in line and "vendor_vocab" in line)))
    r = _score(tmp_path, hyps)
    assert r.exit_code == 5, r.output
    out = _one_line(r.output)
    assert "condition 'vendor_vocab': 1 manifest utterance(s) have no transcript (u2); scored as empty" in out
    rows = {(x["utt_id"], x["condition"]): x for x in csv.DictReader(open(tmp_path / "out" / "utterances.csv"))}
    assert len(rows) == 6
    v2 = rows[("u2", "vendor_vocab")]
    assert v2["hyp"] == "" and int(v2["dels"]) == int(v2["ref_words"]) == 4
    skipped = list(csv.DictReader(open(tmp_path / "out" / "skipped.csv")))
    assert [(s["path"], s["line"], s["severity"]) for s in skipped] == [(str(tmp_path / "m.csv"), "4", "warning")]
    assert "u2" in skipped[0]["problem"] and "vendor_vocab" in skipped[0]["problem"]


def test_a_rejected_row_alone_gives_exit_5_in_score(tmp_path):
    _setup(tmp_path)
    m = tmp_path / "m.csv"
    m.write_text(m.read_text() + "u4,c2.wav,...,s3,us\n")
    r = _score(tmp_path, tmp_path / "hyps.jsonl")
    assert r.exit_code == 5, r.output
    assert f"{m}:5: error: reference has no words after normalisation: '...'" in r.output.splitlines()


def test_conditions_whose_files_would_collide_are_refused_before_anything_is_written(tmp_path):
    """Review finding: a condition named 'ref' overwrote trn/ref.trn, and 'a/b' and 'a_b' shared one file."""
    import json

    from typer.testing import CliRunner

    from asr_eval.cli import app

    manifest = tmp_path / "m.csv"
    manifest.write_text("id,audio,text,speaker,accent_group\nu1,a.wav,hello there,s1,g\n", encoding="utf-8")
    for stem in ("base", "ref"):
        (tmp_path / f"{stem}.jsonl").write_text(json.dumps({"id": "u1", "text": "hello"}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["score", str(manifest), "--hyp", str(tmp_path / "base.jsonl"),
                                      "--hyp", str(tmp_path / "ref.jsonl"), "--baseline", "base", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "condition 'ref' would be written to the same file as the references" in " ".join(result.output.split())
    assert not (out / "trn").exists()


def test_two_condition_names_with_one_file_name_are_refused():
    import pytest

    from asr_eval.runfolder import check_condition_names
    from asr_eval.types import InputError

    with pytest.raises(InputError, match=r"condition 'a_b' would be written to the same file as condition 'a/b'"):
        check_condition_names(["baseline", "a/b", "a_b"])
