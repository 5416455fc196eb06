"""Resource bounds a shared service relies on: memory flat in clip length, big manifests load in seconds.

(a) A 20-minute clip through ``run`` peaks at no more memory than a 1-minute clip
    plus a margin: peak RSS(20 min) <= 1.25 x peak RSS(1 min) + 150 MB. Each is
    measured in its own process tree (``ru_maxrss`` of a wrapper's children).
(b) A 100,000-row manifest loads and validates (``load_manifest``, every audio
    path checked) in seconds, and ``score`` runs end to end on it with JSONL
    hypotheses.

The measured figures are in each assertion's message, printed (``pytest -s``),
attached as test properties (``--junitxml``) and recorded in docs/security.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import soundfile as sf

from . import corpus as C
from .harness import ROOT, cli, common_checks

MB = 1024 * 1024
RSS_RATIO, RSS_MARGIN_MB = 1.25, 150
MANIFEST_ROWS = 100_000
LOAD_BOUND_S = 20.0      # load_manifest on 100k rows, in process (measured ~4.5 s on 2 shared cores)
SCORE_BOUND_S = 300.0    # `asr-eval score` end to end on 100k rows (measured ~65 s on 2 shared cores)

def peak_rss_run(tmp: Path, warm_cache: Path, seconds: float):
    """``asr-eval run`` on one clip of quiet noise lasting ``seconds``; the result carries its peak RSS."""
    name = f"clip{int(seconds)}"
    C.long_clip(tmp / f"{name}.wav", seconds)
    manifest = C.write_csv(tmp / f"{name}.csv", ("id", "audio", "text", "speaker", "accent_group"),
                           [(name, f"{name}.wav", "hello there", "s1", "g1")])
    out = tmp / f"out-{name}"
    return cli(tmp, ["run", manifest, "--out", out, "--condition", "baseline", "--no-progress"], out=out, cache_seed=warm_cache,
               timeout=900, measure_rss=True)


@pytest.mark.model
@pytest.mark.slow
def test_peak_memory_flat_in_clip_length(tmp_path, warm_cache, record_property) -> None:
    res1 = peak_rss_run(tmp_path, warm_cache, 60)
    res20 = peak_rss_run(tmp_path, warm_cache, 20 * 60)
    for res in (res1, res20):
        assert res.rc == 0 and res.peak_rss, res.describe()
        common_checks(res)
    one, twenty, wall1, wall20 = res1.peak_rss, res20.peak_rss, res1.seconds, res20.seconds
    bound = RSS_RATIO * one + RSS_MARGIN_MB * MB
    figures = (f"peak RSS: 1-min clip {one / MB:.0f} MB ({wall1:.0f} s), 20-min clip {twenty / MB:.0f} MB "
               f"({wall20:.0f} s); bound {RSS_RATIO} x 1-min + {RSS_MARGIN_MB} MB = {bound / MB:.0f} MB")
    print(figures)
    record_property("peak_rss_1min_mb", round(one / MB))
    record_property("peak_rss_20min_mb", round(twenty / MB))
    assert twenty <= bound, figures


@pytest.fixture(scope="module")
def big_manifest(tmp_path_factory) -> tuple[Path, Path]:
    """100,000 rows over three small clips inside the set's folder, and a hypothesis for each row."""
    tmp = tmp_path_factory.mktemp("big")
    for i in range(3):
        sf.write(tmp / f"c{i}.wav", C.tone(0.2), C.SR)
    rows = [C.row(f"u{i:06d}", f"please reset the password number {i % 97} for account {i % 13}",
                  audio=f"c{i % 3}.wav", speaker=f"s{i % 500}", group=f"g{i % 7}") for i in range(MANIFEST_ROWS)]
    manifest = C.write_jsonl(tmp / "big.jsonl", rows)
    hyps = C.write_jsonl(tmp / "hyp.jsonl", [{"id": r["id"], "text": r["text"].replace("reset", "rest"),
                                              "condition": "baseline"} for r in rows])
    return manifest, hyps


@pytest.mark.slow
def test_100k_manifest_loads_in_seconds(big_manifest, record_property) -> None:
    import asr_eval
    from asr_eval.manifest import load_manifest

    assert Path(asr_eval.__file__).resolve().is_relative_to(ROOT), f"run from the checkout's root: {asr_eval.__file__}"
    manifest, _ = big_manifest
    t0 = time.perf_counter()
    m = load_manifest(manifest)
    seconds = time.perf_counter() - t0
    figures = f"load_manifest: {MANIFEST_ROWS} rows (audio checked) in {seconds:.1f} s; bound {LOAD_BOUND_S} s"
    print(figures)
    record_property("manifest_100k_load_s", round(seconds, 2))
    assert len(m.utterances) == MANIFEST_ROWS and not m.problems, m.problems[:3]
    assert seconds < LOAD_BOUND_S, figures


@pytest.mark.slow
def test_100k_manifest_scores_end_to_end(big_manifest, tmp_path, warm_cache, record_property) -> None:
    manifest, hyps = big_manifest
    out = tmp_path / "out"
    res = cli(tmp_path, ["score", manifest, "--hyp", hyps, "--out", out], out=out, cache_seed=warm_cache, timeout=900,
              measure_rss=True)
    figures = (f"asr-eval score: {MANIFEST_ROWS} rows end to end in {res.seconds:.1f} s (peak RSS "
               f"{(res.peak_rss or 0) / MB:.0f} MB); bound {SCORE_BOUND_S} s")
    print(figures)
    record_property("manifest_100k_score_s", round(res.seconds, 1))
    record_property("manifest_100k_score_peak_rss_mb", round((res.peak_rss or 0) / MB))
    assert res.rc == 0, res.describe()
    common_checks(res)
    run = json.loads((out / "run.json").read_text())
    assert run["manifest"]["utterances"] == MANIFEST_ROWS
    assert res.seconds < SCORE_BOUND_S, figures
