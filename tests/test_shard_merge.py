"""--shard i/n runs merged with ``merge_runs`` equal one unsharded run; bad shard sets are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr_eval.merge import MergeError, merge_runs
from asr_eval.shard import in_shard, parse_shard
from asr_eval.evaluate import RunConfig, run_evaluation

from test_executor import FakeTranscriber, make_fixture
from test_resume import run_outputs

N = 10


def _run(fx, out, shard=None, backend=None, cache=None):
    config = RunConfig(progress=False, reports=False, shard=shard, cache_dir=str(cache) if cache else None)
    return run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=config,
                          backend=backend or FakeTranscriber())


@pytest.fixture
def shards(tmp_path):
    fx = make_fixture(tmp_path / "data", n=N)
    _run(fx, tmp_path / "single")
    for i in range(3):
        _run(fx, tmp_path / f"s{i}", shard=f"{i}/3")
    return fx, tmp_path


def test_every_clip_lands_in_exactly_one_shard():
    ids = [f"utt{i}" for i in range(500)]
    for n in (1, 2, 3, 7):
        owners = [[i for i in range(n) if in_shard(u, (i, n))] for u in ids]
        assert all(len(o) == 1 for o in owners)


def test_merged_shards_equal_a_single_run(shards):
    fx, tmp = shards
    sizes = [len(json.loads((tmp / f"s{i}" / "run.json").read_text())["conditions"]) for i in range(3)]
    assert sizes == [2, 2, 2]
    outcome = merge_runs([tmp / "s2", tmp / "s0", tmp / "s1"], tmp / "merged", reports=False)  # any order
    assert outcome.scored == N and outcome.failed == 0
    assert run_outputs(tmp / "merged") == run_outputs(tmp / "single")
    run = json.loads((tmp / "merged" / "run.json").read_text())
    assert [m["shard"] for m in run["merged_from"]] == ["2/3", "0/3", "1/3"] and run["shard"] is None


def test_two_shard_split_equals_single_run(tmp_path):
    fx = make_fixture(tmp_path / "data", n=6)
    _run(fx, tmp_path / "single")
    _run(fx, tmp_path / "a", shard="0/2")
    _run(fx, tmp_path / "b", shard="1/2")
    merge_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "m", reports=False)
    assert run_outputs(tmp_path / "m") == run_outputs(tmp_path / "single")


def test_missing_shard_is_named(shards):
    _, tmp = shards
    with pytest.raises(MergeError, match=r"shard\(s\) 1/3 missing"):
        merge_runs([tmp / "s0", tmp / "s2"], tmp / "m", reports=False)


def test_duplicate_and_missing_clips_are_listed(shards):
    fx, tmp = shards
    # a transcript moved from shard 0 to shard 1: duplicated there, and one removed from shard 2
    s0 = (tmp / "s0" / "transcripts" / "baseline.jsonl").read_text().splitlines()
    with open(tmp / "s1" / "transcripts" / "baseline.jsonl", "a") as f:
        f.write(s0[0] + "\n")
    s2 = tmp / "s2" / "transcripts" / "dictionary.jsonl"
    lines = s2.read_text().splitlines()
    gone = json.loads(lines[0])["utt_id"]
    s2.write_text("".join(l + "\n" for l in lines[1:]))
    dup = json.loads(s0[0])["utt_id"]
    with pytest.raises(MergeError) as err:
        merge_runs([tmp / "s0", tmp / "s1", tmp / "s2"], tmp / "m", reports=False)
    msg = str(err.value)
    assert f"{dup} [baseline]" in msg and "more than once" in msg
    assert f"{gone} [dictionary]" in msg and "missing" in msg


def test_shards_of_different_settings_are_refused(shards):
    fx, tmp = shards
    _run(fx, tmp / "other1", shard="1/3", backend=FakeTranscriber(beam_size=1))
    with pytest.raises(MergeError, match="engine differs"):
        merge_runs([tmp / "s0", tmp / "other1", tmp / "s2"], tmp / "m", reports=False)


def test_changed_manifest_is_refused(shards):
    fx, tmp = shards
    with open(fx["manifest"], "a") as f:
        f.write("\n")
    with pytest.raises(MergeError, match="manifest .* changed"):
        merge_runs([tmp / "s0", tmp / "s1", tmp / "s2"], tmp / "m", reports=False)


def test_failed_clip_recorded_by_its_shard_is_carried_not_refused(tmp_path):
    fx = make_fixture(tmp_path / "data", n=6)
    victim = "clip003"
    owner = next(i for i in range(2) if in_shard(victim, parse_shard(f"{i}/2")))
    wav = tmp_path / "data" / f"{victim}.wav"
    good = wav.read_bytes()
    wav.write_bytes(b"not audio at all")  # undecodable while its shard runs
    try:
        outcome = _run(fx, tmp_path / f"s{owner}", shard=f"{owner}/2")
        assert outcome.failed == 1
    finally:
        wav.write_bytes(good)
    _run(fx, tmp_path / f"s{1 - owner}", shard=f"{1 - owner}/2")
    outcome = merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m", reports=False)
    assert outcome.failed == 1 and outcome.scored == 5
    assert victim in (tmp_path / "m" / "skipped.csv").read_text()


def test_merge_command_exit_codes(shards):
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    from asr_eval.cli.merge import merge

    app = typer.Typer()
    app.command()(merge)
    fx, tmp = shards
    ok = CliRunner().invoke(app, [str(tmp / "s0"), str(tmp / "s1"), str(tmp / "s2"), "--out", str(tmp / "m"),
                                  "--no-reports"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(app, [str(tmp / "s0"), "--out", str(tmp / "m2")])
    assert bad.exit_code == 1 and "missing" in bad.output


def test_merge_writes_the_reports_when_available(tmp_path):
    pytest.importorskip("asr_eval.report")
    fx = make_fixture(tmp_path / "data", n=4)
    _run(fx, tmp_path / "a", shard="0/2")
    _run(fx, tmp_path / "b", shard="1/2")
    outcome = merge_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    assert outcome.reports and all(p.exists() for p in outcome.reports.values())
    assert (tmp_path / "m" / "summary.csv").exists()


def test_rows_the_shards_rejected_at_load_merge_like_a_single_run(tmp_path):
    """Merge reads no audio: rows whose audio was missing or outside the manifest's folder are known from the
    shards' skipped.csv (by manifest line), not reported as transcripts missing from every shard."""
    fx = make_fixture(tmp_path / "data", n=6)
    with open(fx["manifest"], "a", encoding="utf-8") as f:
        f.write(_row_like(fx["manifest"], "gone.wav"))
        f.write(_row_like(fx["manifest"], "../outside.wav"))
    clip = next((tmp_path / "data").glob("*.wav"))
    (tmp_path / "outside.wav").write_bytes(clip.read_bytes())  # a real clip: rejected for where it is
    _run(fx, tmp_path / "single")
    _run(fx, tmp_path / "a", shard="0/2")
    _run(fx, tmp_path / "b", shard="1/2")
    outcome = merge_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "m", reports=False)
    assert outcome.rejected == 2 and outcome.scored == 6
    assert run_outputs(tmp_path / "m")["utterances.csv"] == run_outputs(tmp_path / "single")["utterances.csv"]
    skipped = (tmp_path / "m" / "skipped.csv").read_text(encoding="utf-8")
    assert "gone.wav" in skipped and "outside the allowed folders" in skipped


def _row_like(manifest, audio):
    import csv

    with open(manifest, encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    row = {**first, "audio": audio, "text": "please call stella", "id": Path(audio).stem}
    return ",".join(str(row[h]) for h in first) + "\n"
