"""kill -9 at random moments, resume, and end with exactly an uninterrupted run's outputs.

The fast tests drive ``run_evaluation`` in a subprocess with the deterministic
``FakeTranscriber`` (plumbing only); one test repeats the kill/resume cycle
with the real bundled Whisper model on two short clips.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asr_eval.evaluate import RunConfig, run_evaluation
from asr_eval.types import RunLockedError

from test_executor import FakeTranscriber, make_fixture

TESTS = Path(__file__).resolve().parent
TIMING_COLUMNS = ("decode_seconds", "node")  # wall-clock measurements and where they ran: differ between runs
COMPARED = ("utterances.csv", "terms.csv", "alignments.jsonl", "skipped.csv", "transcripts", "trn")

DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from test_executor import FakeTranscriber
from asr_eval.evaluate import RunConfig, run_evaluation
run_evaluation({manifest!r}, {out!r}, dictionary={dictionary!r},
               config=RunConfig(progress=False, reports=False, batch_size={batch}),
               backend=FakeTranscriber(delay={delay}))
"""


def _drop_timing_csv(text: str) -> str:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        return text
    cols = [c for c in rows[0] if c not in TIMING_COLUMNS]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _drop_timing_jsonl(text: str) -> str:
    out = []
    for line in text.splitlines():
        row = json.loads(line)
        for c in TIMING_COLUMNS:
            row.pop(c, None)
        out.append(json.dumps(row, sort_keys=True))
    return "\n".join(out)


def run_outputs(folder: Path) -> dict[str, str]:
    """Every output file's content with the timing columns removed (byte-exact otherwise)."""
    out: dict[str, str] = {}
    for name in COMPARED:
        p = folder / name
        for f in sorted(p.rglob("*") if p.is_dir() else [p]):
            if not f.is_file():
                continue
            text = f.read_text(encoding="utf-8")
            if f.suffix == ".csv":
                text = _drop_timing_csv(text)
            elif f.parent.name == "transcripts":
                text = _drop_timing_jsonl(text)
            out[str(f.relative_to(folder))] = text
    return out


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def cache_keys(folder: Path) -> list[str]:
    return [json.loads(l)["key"] for l in (folder / "cache" / "transcripts.jsonl").read_text().splitlines()]


def _driver(fx: dict[str, Path], out: Path, delay: float, batch: int = 1) -> list[str]:
    code = DRIVER.format(tests=str(TESTS), manifest=str(fx["manifest"]), out=str(out),
                         dictionary=str(fx["dictionary"]), delay=delay, batch=batch)
    return [sys.executable, "-c", code]


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 4])
def test_kill_at_random_points_then_resume_equals_uninterrupted(tmp_path, batch):
    fx = make_fixture(tmp_path / "data", n=24)
    clean = tmp_path / "clean"
    subprocess.run(_driver(fx, clean, delay=0.0), check=True, timeout=120)
    expected = run_outputs(clean)
    assert len(cache_keys(clean)) == 24 * 2  # baseline + dictionary

    rng = random.Random(batch)
    killed = tmp_path / "killed"
    store = killed / "cache" / "transcripts.jsonl"
    kills = 0
    for _ in range(6):
        # Kill once the store has grown by a random number of transcripts (plus a random
        # few ms, to land mid-write too): the kill count does not depend on machine speed.
        start = _lines(store)
        target = start + rng.randint(1, 6)
        proc = subprocess.Popen(_driver(fx, killed, delay=0.02, batch=batch))
        deadline = time.monotonic() + 60
        while proc.poll() is None and _lines(store) < target and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.02))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    assert kills >= 3, "the run finished before most kills"
    subprocess.run(_driver(fx, killed, delay=0.0, batch=batch), check=True, timeout=120)

    keys = cache_keys(killed)
    assert len(keys) == len(set(keys)) == 24 * 2  # nothing lost, nothing duplicated
    assert run_outputs(killed) == expected


def test_rerun_with_same_settings_decodes_nothing(tmp_path):
    fx = make_fixture(tmp_path / "data", n=4)
    config = RunConfig(progress=False, reports=False)
    first = run_evaluation(fx["manifest"], tmp_path / "o", dictionary=fx["dictionary"], config=config,
                           backend=FakeTranscriber())
    before = run_outputs(tmp_path / "o")
    again = run_evaluation(fx["manifest"], tmp_path / "o", dictionary=fx["dictionary"], config=config,
                           backend=FakeTranscriber())
    assert (first.decoded, first.cached) == (8, 0)
    assert (again.decoded, again.cached) == (0, 8)
    assert run_outputs(tmp_path / "o") == before


@pytest.mark.parametrize("change", ["beam_size", "model", "prompt", "audio"])
def test_cache_never_serves_a_transcript_made_with_other_settings(tmp_path, change):
    fx = make_fixture(tmp_path / "data", n=3)
    config = RunConfig(progress=False, reports=False, cache_dir=str(tmp_path / "shared-cache"))
    run_evaluation(fx["manifest"], tmp_path / "a", dictionary=fx["dictionary"], config=config, backend=FakeTranscriber())
    backend = FakeTranscriber()
    if change == "beam_size":
        backend = FakeTranscriber(beam_size=1)
    elif change == "model":
        backend = FakeTranscriber(model="fake-2")
    elif change == "prompt":
        fx["dictionary"].write_text("term,category\nKlarvo,product\nStella,name\n", encoding="utf-8")
    elif change == "audio":
        import numpy as np
        import soundfile as sf

        first = Path(fx["manifest"]).parent / "clip000.wav"
        sf.write(first, np.zeros(4800, np.float32) + 0.01, 16000, subtype="FLOAT")  # same path, new content
    out = run_evaluation(fx["manifest"], tmp_path / "b", dictionary=fx["dictionary"], config=config, backend=backend)
    expected_decodes = {"beam_size": 6, "model": 6, "prompt": 3, "audio": 2}[change]
    assert out.decoded == expected_decodes and out.cached == 6 - expected_decodes
    # and what was decoded is what the new settings produce, not the old transcript
    fresh = run_evaluation(fx["manifest"], tmp_path / "c", dictionary=fx["dictionary"],
                           config=RunConfig(progress=False, reports=False), backend=backend)
    assert fresh.decoded == 6
    assert run_outputs(tmp_path / "b") == run_outputs(tmp_path / "c")


def test_two_runs_into_one_folder_are_refused(tmp_path):
    fx = make_fixture(tmp_path / "data", n=30)
    out = tmp_path / "o"
    proc = subprocess.Popen(_driver(fx, out, delay=0.05))
    try:
        deadline = time.time() + 30
        while not (out / ".asr-eval.lock").exists() or not (out / ".asr-eval.lock").read_text().strip():
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.05)
        with pytest.raises(RunLockedError, match=f"{out}.*in use by pid {proc.pid}"):
            run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"],
                           config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())
    finally:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- real model


def real_clips(folder: Path, n: int = 2, seconds: float = 4.0) -> Path:
    """A manifest over n short real-speech clips: the demo fixtures, else cut from the shared archive."""
    import numpy as np
    import soundfile as sf

    demo = Path(__file__).resolve().parents[1] / "audio_fixtures" / "demo" / "manifest.csv"
    saa = Path("/work/shared/data/speech-accent-archive/manifest.csv")
    source = demo if demo.exists() else saa if saa.exists() else None
    if source is None:
        pytest.skip("no real speech available (audio_fixtures/demo or the shared accent archive)")
    rows = list(csv.DictReader(open(source, encoding="utf-8")))[:n]
    folder.mkdir(parents=True, exist_ok=True)
    out_rows = []
    for i, r in enumerate(rows):
        audio, sr = sf.read(source.parent / r["audio"], dtype="float32", always_2d=True)
        clip = folder / f"real{i}.wav"
        sf.write(clip, np.ascontiguousarray(audio[: int(sr * seconds)]), sr)  # a temporary excerpt, never in the repo
        out_rows.append({"audio": clip.name, "text": r["text"], "speaker": r.get("speaker") or f"s{i}",
                         "accent_group": r.get("accent_group") or "unknown"})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(out_rows[0]))
        w.writeheader()
        w.writerows(out_rows)
    return manifest


REAL_DRIVER = """
from asr_eval.evaluate import RunConfig, run_evaluation
run_evaluation({manifest!r}, {out!r}, dictionary={dictionary!r}, config=RunConfig(progress=False, reports=False))
"""


@pytest.mark.model
@pytest.mark.slow
def test_real_model_killed_after_first_transcript_resumes_to_identical_outputs(tmp_path):
    pytest.importorskip("faster_whisper")
    manifest = real_clips(tmp_path / "data", n=2)
    dictionary = tmp_path / "dict.csv"
    dictionary.write_text("term,category\nStella,name\nWednesday,day\n", encoding="utf-8")
    code = lambda out: [sys.executable, "-c", REAL_DRIVER.format(manifest=str(manifest), out=str(out),
                                                                  dictionary=str(dictionary))]
    subprocess.run(code(tmp_path / "clean"), check=True, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(code(killed))
    cache = killed / "cache" / "transcripts.jsonl"
    deadline = time.time() + 240
    while not (cache.exists() and cache.read_text().count("\n") >= 1) and proc.poll() is None:
        assert time.time() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(cache_keys(killed))
    assert 1 <= partial < 4, "kill landed after the run had finished decoding"
    subprocess.run(code(killed), check=True, timeout=300)

    keys = cache_keys(killed)
    assert len(keys) == len(set(keys)) == 4
    assert run_outputs(killed) == run_outputs(tmp_path / "clean")
    run = json.loads((killed / "run.json").read_text())
    assert run["timing"]["cached"] == partial and run["timing"]["decoded"] == 4 - partial
