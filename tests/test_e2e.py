"""End to end with the real bundled model (Whisper tiny.en) on a few project-made clips."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_eval.cli import app

from conftest import DEMO, ROOT

pytestmark = pytest.mark.model
DEMO_ROOT = ["--audio-root", str(DEMO)]  # the subset manifest names the demo clips where they lie


def _subset_manifest(tmp_path: Path, per_group: int = 1) -> Path:
    src = DEMO / "manifest.csv"
    if not src.exists():
        pytest.skip("demo fixtures not generated")
    rows = list(csv.DictReader(open(src, encoding="utf-8")))
    picked, seen = [], {}
    for r in rows:
        if seen.get(r["accent_group"], 0) < per_group:
            seen[r["accent_group"]] = seen.get(r["accent_group"], 0) + 1
            r = dict(r, audio=str((DEMO / r["audio"]).resolve()))
            picked.append(r)
    out = tmp_path / "subset.csv"
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(picked[:3])
    return out


def test_run_writes_every_output_and_reruns_from_cache(tmp_path):
    manifest = _subset_manifest(tmp_path)
    out = tmp_path / "run"
    args = ["run", str(manifest), "--dictionary", str(ROOT / "dictionaries/demo-company.csv"),
            "--directory", str(ROOT / "dictionaries/demo-directory.csv"), "--out", str(out), "--no-progress",
            *DEMO_ROOT]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    conditions = ["baseline", "dictionary", "directory", "dictionary+directory"]
    for name in ["run.json", "utterances.csv", "terms.csv", "alignments.jsonl", "skipped.csv", "summary.csv",
                 "comparison.csv", "report.md", "trn/ref.trn", *[f"transcripts/{c}.jsonl" for c in conditions]]:
        assert (out / name).exists(), name
    run = json.loads((out / "run.json").read_text())
    assert run["engine"]["model"] == "tiny.en" and run["engine"]["compute_type"] == "int8"
    assert [c["name"] for c in run["conditions"]] == conditions
    assert run["normalizer"] and run["manifest"]["sha256"] and run["dictionary"]["sha256"]
    assert run["manifest"]["audio_roots"] == [str(tmp_path.resolve()), str(DEMO.resolve())]
    assert run["manifest"]["allow_outside_paths"] is False
    plan = run["conditions"][1]["plan"]
    assert plan["text"] and plan["terms_in_force"] and plan["tokens"] <= plan["budget"] == 223
    rows = list(csv.DictReader(open(out / "utterances.csv", encoding="utf-8")))
    assert len(rows) == 3 * len(conditions)
    assert all(int(r["ref_words"]) > 0 for r in rows)
    # a biased transcript records its prompt exactly
    t = json.loads((out / "transcripts/dictionary.jsonl").read_text().splitlines()[0])
    assert t["bias"]["text"] == plan["text"] and t["bias"]["terms_dropped"] == plan["terms_dropped"]
    first = (out / "utterances.csv").read_text()

    r2 = CliRunner().invoke(app, args)
    assert r2.exit_code == 0, r2.output
    run2 = json.loads((out / "run.json").read_text())
    assert run2["timing"]["decoded"] == 0 and run2["timing"]["cached"] == 3 * len(conditions)
    assert (out / "utterances.csv").read_text() == first


def test_bad_clip_is_reported_and_the_rest_is_scored(tmp_path):
    manifest = _subset_manifest(tmp_path)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    fields = next(csv.reader(open(manifest, encoding="utf-8")))
    with open(manifest, "a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=fields).writerow(
            {k: "" for k in fields} | {"id": "bad1", "audio": str(broken), "text": "Hello there",
                                        "speaker": "spk", "accent_group": "us-espeak"})
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(manifest), "--out", str(out), "--no-progress", *DEMO_ROOT,
                                 "--dictionary", str(ROOT / "dictionaries/demo-company.csv")])
    assert r.exit_code == 5, r.output  # finished, but a clip failed
    skipped = (out / "skipped.csv").read_text()
    assert "broken.wav" in skipped and "failed" in skipped
    rows = list(csv.DictReader(open(out / "utterances.csv", encoding="utf-8")))
    assert len(rows) == 3 * 2


def test_bad_dictionary_exits_2_naming_file_and_line(tmp_path):
    manifest = _subset_manifest(tmp_path)
    bad = tmp_path / "dict.csv"
    bad.write_text("term,priority\nKlarvo,high\n")
    r = CliRunner().invoke(app, ["run", str(manifest), "--out", str(tmp_path / "o"), "--dictionary", str(bad), *DEMO_ROOT])
    assert r.exit_code == 2
    assert f"{bad}:2" in r.output and "priority" in r.output


def test_real_run_refuses_audio_outside_and_scores_the_rest(tmp_path):
    """Two clips inside the manifest's folder and one reached by '..': exit 5, the two scored by tiny.en."""
    import shutil

    rows = list(csv.DictReader(open(DEMO / "manifest.csv", encoding="utf-8")))[:3]
    data = tmp_path / "data"
    data.mkdir()
    for r in rows:
        shutil.copy(DEMO / r["audio"], tmp_path / Path(r["audio"]).name)
    rows = [dict(r, audio=Path(r["audio"]).name) for r in rows]
    rows[2]["audio"] = "../" + rows[2]["audio"]
    for r in rows[:2]:
        shutil.move(str(tmp_path / r["audio"]), data / r["audio"])
    manifest = data / "m.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(manifest), "--out", str(out), "--no-progress"])
    assert r.exit_code == 5, r.output
    assert f"{manifest}:4: error: audio path {rows[2]['audio']!r} is outside the allowed folders" in r.output
    scored = {x["utt_id"] for x in csv.DictReader(open(out / "utterances.csv", encoding="utf-8"))}
    assert scored == {rows[0]["id"], rows[1]["id"]}
    r = CliRunner().invoke(app, ["run", str(manifest), "--out", str(tmp_path / "run2"), "--no-progress",
                                 "--allow-outside-paths"])
    assert r.exit_code == 0, r.output
