"""Test sets in the field's formats: the demo set written in each (lhotse and datasets write their own) scores exactly as the CSV does."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.formats import ReadOptions, detect
from asr_eval.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from make_format_fixtures import write_all  # noqa: E402

WHOLE = ["nemo", "hf", "hf-disk", "kaldi", "commonvoice", "lhotse-cuts", "lhotse-pair"]
SEGMENTS = ["nemo-segments", "kaldi-segments", "lhotse-segments"]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    pytest.importorskip("lhotse")
    pytest.importorskip("datasets")
    out = tmp_path_factory.mktemp("formats")
    return write_all(ROOT / "audio_fixtures/demo/manifest.csv", out)


def _hyps(path: Path, ids: list[str], texts: list[str]) -> Path:
    """Two conditions: the reference with its last word dropped and lowercased, and the reference itself."""
    with open(path, "w", encoding="utf-8") as f:
        for uid, text in zip(ids, texts):
            f.write(json.dumps({"id": uid, "condition": "baseline", "text": " ".join(text.split()[:-1]).lower()}) + "\n")
            f.write(json.dumps({"id": uid, "condition": "vendor", "text": text}) + "\n")
    return path


def _score(manifest: Path, hyps: Path, out: Path, *extra: str) -> str:
    res = CliRunner().invoke(app, ["score", str(manifest), "--hyp", str(hyps), "-o", str(out),
                                   "-d", str(ROOT / "dictionaries/demo-company.csv"),
                                   "--directory", str(ROOT / "dictionaries/demo-directory.csv"), *extra])
    assert res.exit_code == 0, res.output
    return (out / "utterances.csv").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(fixtures, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    man = load_manifest(fixtures["asr-eval"], check_audio=False)
    hyps = _hyps(tmp / "hyps.jsonl", [u.id for u in man.utterances], [u.text for u in man.utterances])
    return hyps, _score(fixtures["asr-eval"], hyps, tmp / "out"), man


@pytest.mark.parametrize("fmt", WHOLE + SEGMENTS)
def test_score_on_each_format_is_byte_identical_to_the_csv(fixtures, reference, tmp_path, fmt):
    hyps, expected, _ = reference
    got = _score(fixtures[fmt], hyps, tmp_path / "out")
    assert got == expected
    run = json.loads((tmp_path / "out/run.json").read_text())
    assert run["manifest"]["format"] == ("lhotse" if fmt.startswith("lhotse") else fmt.replace("-segments", ""))


def test_named_format_and_speaker_column(fixtures, reference, tmp_path):
    hyps, expected, _ = reference
    assert _score(fixtures["kaldi"], hyps, tmp_path / "k", "--format", "kaldi") == expected
    # Common Voice's speaker is client_id; naming it gives the same rows
    assert _score(fixtures["commonvoice"], hyps, tmp_path / "cv", "--format", "commonvoice",
                  "--speaker-column", "client_id") == expected


def test_stm_scores_as_the_csv(fixtures, reference, tmp_path):
    """An stm has no utterance ids (they are file-channel-times) nor accents: the same scores, row for row."""
    _, expected, man = reference
    stm = load_manifest(fixtures["stm"], check_audio=False)
    assert [u.text for u in stm.utterances] == [u.text for u in man.utterances]
    hyps = _hyps(tmp_path / "h.jsonl", [u.id for u in stm.utterances], [u.text for u in man.utterances])
    got = list(csv.DictReader(io.StringIO(_score(fixtures["stm"], hyps, tmp_path / "out"))))
    want = list(csv.DictReader(io.StringIO(expected)))
    assert len(got) == len(want) == 2 * len(man.utterances)
    for g, w in zip(got, want):
        assert {k: v for k, v in g.items() if k not in ("utt_id", "accent_group")} == \
               {k: v for k, v in w.items() if k not in ("utt_id", "accent_group")}


@pytest.mark.parametrize("fmt", SEGMENTS + ["stm"])
def test_segment_variants_are_segments_of_one_recording_per_group(fixtures, fmt):
    man = load_manifest(fixtures[fmt])
    assert all(u.start is not None and u.end is not None for u in man.utterances)
    groups = {u.accent_group for u in load_manifest(fixtures["asr-eval"]).utterances}
    assert len({u.audio for u in man.utterances}) == len(groups)  # one recording per accent group of the demo


@pytest.mark.parametrize("fmt, expected", [
    ("asr-eval", "asr-eval"), ("nemo", "nemo"), ("hf", "hf"), ("hf-disk", "hf-disk"), ("kaldi", "kaldi"),
    ("commonvoice", "commonvoice"), ("lhotse-cuts", "lhotse"), ("lhotse-pair", "lhotse"), ("stm", "stm")])
def test_detection(fixtures, fmt, expected):
    assert detect(Path(fixtures[fmt]))[0] == expected


def test_lhotse_pair_from_its_supervisions_file(fixtures):
    sups = Path(fixtures["lhotse-pair"]) / "demo_supervisions_test.jsonl.gz"
    kind, paths = detect(sups)
    assert kind == "lhotse" and [p.name for p in paths] == ["demo_recordings_test.jsonl.gz", sups.name]
    assert len(load_manifest(sups).utterances) == len(load_manifest(fixtures["asr-eval"]).utterances)


def test_manifest_fingerprint_covers_every_file_of_a_folder(fixtures, tmp_path):
    import shutil

    d = tmp_path / "k"
    shutil.copytree(fixtures["kaldi"], d)
    before = load_manifest(d, check_audio=False).sha256
    (d / "utt2spk").write_text((d / "utt2spk").read_text().replace("joe-ls100", "someone", 1))
    assert load_manifest(d, check_audio=False).sha256 != before


def test_metadata_keeps_grouping_fields(fixtures):
    cv = load_manifest(fixtures["commonvoice"]).utterances[0]
    assert cv.meta["locale"] == "en" and cv.speaker == "joe-ls100" and cv.accent_group == "us-neural"
    lh = load_manifest(fixtures["lhotse-cuts"]).utterances[0]
    assert lh.meta["language"] == "English" and lh.meta["voice"].startswith("piper")


def test_hf_disk_audio_is_extracted_into_the_cache_folder(fixtures, tmp_path, monkeypatch):
    from asr_eval.audio import load_audio

    monkeypatch.setenv("ASR_EVAL_CACHE", str(tmp_path / "cache"))
    disk = load_manifest(fixtures["hf-disk"])
    csv_m = load_manifest(fixtures["asr-eval"])
    u = disk.utterances[0]
    assert Path(u.audio).is_relative_to(tmp_path / "cache")
    assert (load_audio(u.audio) == load_audio(csv_m.utterances[0].audio)).all()


def test_segments_decode_to_exactly_their_clips(fixtures):
    """Concatenated int16 samples, read back by seeking: each segment is its clip, sample for sample."""
    from asr_eval.audio import load_audio

    seg = {u.id: u for u in load_manifest(fixtures["kaldi-segments"]).utterances}
    for u in load_manifest(fixtures["asr-eval"]).utterances[::7]:
        s = seg[u.id]
        assert (load_audio(s.audio, start=s.start, end=s.end) == load_audio(u.audio)).all(), u.id


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["kaldi-segments", "nemo"])
def test_run_on_a_format_equals_the_csv_run(tmp_path, fmt):
    """Six clips (two per group of three groups, the telephony one included), baseline only: the same transcripts and rows."""
    pytest.importorskip("lhotse")
    pytest.importorskip("datasets")
    src = ROOT / "audio_fixtures/demo"
    rows = list(csv.DictReader(open(src / "manifest.csv", encoding="utf-8")))
    keep = [r for g in ("us-neural", "us-neural-telephony", "scottish-espeak") for r in [x for x in rows if x["accent_group"] == g][:2]]
    sub = tmp_path / "demo"
    for r in keep:
        (sub / r["audio"]).parent.mkdir(parents=True, exist_ok=True)
        os.link(src / r["audio"], sub / r["audio"])
    with open(sub / "manifest.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    made = write_all(sub / "manifest.csv", tmp_path / "formats")
    outs = {}
    for name in ("asr-eval", fmt):
        res = CliRunner().invoke(app, ["run", str(made[name]), "-o", str(tmp_path / name), "--no-progress",
                                       "--beam-size", "1", "--cache", str(tmp_path / f"cache-{name}")])
        assert res.exit_code == 0, res.output
        outs[name] = (tmp_path / name / "utterances.csv").read_text(encoding="utf-8")
    assert outs[fmt] == outs["asr-eval"]
