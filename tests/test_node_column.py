"""timing.csv's node column: where each clip x condition was decoded, kept through the cache, a rerun and a merge.

Plumbing only (the fake transcriber); the Ray side, with real node names, is
tests/test_ray_cluster.py.
"""

from __future__ import annotations

import csv
import json
import socket

from asr_eval.evaluate import RunConfig, run_evaluation
from asr_eval.merge import merge_runs

from test_executor import FakeTranscriber, make_fixture

CONFIG = dict(progress=False, reports=False)


def _timing(folder) -> list[dict[str, str]]:
    return list(csv.DictReader(open(folder / "timing.csv", encoding="utf-8")))


def test_a_local_run_names_this_host_in_timing_csv_the_cache_and_the_transcripts(tmp_path):
    fx = make_fixture(tmp_path / "data", n=3)
    run_evaluation(fx["manifest"], tmp_path / "out", dictionary=fx["dictionary"], config=RunConfig(**CONFIG),
                   backend=FakeTranscriber())
    rows = _timing(tmp_path / "out")
    assert list(rows[0]) == ["utt_id", "condition", "audio_seconds", "decode_seconds", "node"]
    assert len(rows) == 6 and {r["node"] for r in rows} == {socket.gethostname()}
    cache = (tmp_path / "out" / "cache" / "transcripts.jsonl").read_text().splitlines()
    assert {json.loads(line)["record"]["node"] for line in cache} == {socket.gethostname()}
    for f in (tmp_path / "out" / "transcripts").glob("*.jsonl"):
        assert {json.loads(line)["node"] for line in f.read_text().splitlines()} == {socket.gethostname()}


def test_a_cached_transcript_keeps_the_node_that_decoded_it(tmp_path):
    fx = make_fixture(tmp_path / "data", n=3)
    out = tmp_path / "out"
    run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=RunConfig(**CONFIG), backend=FakeTranscriber())
    cache = out / "cache" / "transcripts.jsonl"
    # as if another machine had decoded them: the rerun serves them from the cache and says where they were made
    cache.write_text(cache.read_text().replace(json.dumps(socket.gethostname()), '"gpu-node-7/10.0.0.7/0123456789ab"'))
    outcome = run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=RunConfig(**CONFIG),
                             backend=FakeTranscriber())
    assert outcome.decoded == 0
    assert {r["node"] for r in _timing(out)} == {"gpu-node-7/10.0.0.7/0123456789ab"}


def test_merged_shards_keep_each_shards_nodes(tmp_path):
    fx = make_fixture(tmp_path / "data", n=6)
    for i in range(2):
        run_evaluation(fx["manifest"], tmp_path / f"s{i}", dictionary=fx["dictionary"],
                       config=RunConfig(shard=f"{i}/2", **CONFIG), backend=FakeTranscriber())
        path = tmp_path / f"s{i}" / "transcripts"
        for f in path.glob("*.jsonl"):  # shard i "ran" on host-i
            f.write_text(f.read_text().replace(json.dumps(socket.gethostname()), f'"host-{i}"'))
    merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged", reports=False)
    rows = _timing(tmp_path / "merged")
    assert len(rows) == 12 and {r["node"] for r in rows} == {"host-0", "host-1"}
