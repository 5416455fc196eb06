"""The Ray executor gives exactly the local executor's results, through the same store.

Runs on a small local Ray instance (skipped when Ray is not installed; CI
installs it with ``pip install ray``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from asr_eval.transcribe import transcribe
from asr_eval.ray_executor import BackendSpec, RayExecutor
from asr_eval.evaluate import RunConfig, run_evaluation
from asr_eval.cache import TranscriptStore

from test_executor import PLANS, FakeTranscriber, _utterances
from test_resume import real_clips, run_outputs

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def local_ray():
    """One small local instance for the module; workers can import the test fakes."""
    path = os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


def _texts(out):
    return {k: (v.text, dict(v.extra)) for k, v in out.items()}


@pytest.mark.slow
def test_ray_fake_equals_local_and_shares_the_store(local_ray, tmp_path):
    utts = _utterances(tmp_path / "a", 6)
    with TranscriptStore(tmp_path / "local.jsonl") as store:
        local, _ = transcribe(utts, PLANS, FakeTranscriber(), store)
    spec = BackendSpec(factory="test_executor:FakeTranscriber", args=(), kwargs={})
    with RayExecutor(spec, actors=2, batch_size=2) as ex:
        assert ex.backend.describe() == FakeTranscriber().describe()
        with TranscriptStore(tmp_path / "ray.jsonl") as store:
            remote, stats = transcribe(utts, PLANS, ex.backend, store, executor=ex)
        assert stats.decoded == 12 and list(remote) == list(local)
        assert _texts(remote) == _texts(local)
        with TranscriptStore(tmp_path / "ray.jsonl") as store:  # a rerun is served from the driver's store
            _, again = transcribe(utts, PLANS, ex.backend, store, executor=ex)
        assert (again.decoded, again.cached) == (0, 12)
    assert ray.is_initialized()  # an executor never shuts down a Ray it did not start


@pytest.mark.slow
def test_the_driver_side_proxy_is_a_whole_transcriber(local_ray):
    from asr_eval.backends.base import Transcriber

    spec = BackendSpec(factory="test_executor:FakeTranscriber", args=(), kwargs={})
    with RayExecutor(spec, actors=1, batch_size=3) as ex:
        assert isinstance(ex.backend, Transcriber) and ex.backend.batch_size == 3


@pytest.mark.slow
def test_ray_reports_actor_load_failures_as_model_errors(local_ray):
    from asr_eval.types import ModelError

    with pytest.raises(ModelError, match="could not load the backend"):
        RayExecutor(BackendSpec(args=("faster-whisper",), kwargs={"model": "/nonexistent/model"}), actors=1)


@pytest.mark.slow
def test_cuda_on_a_cluster_without_gpus_is_a_model_error(local_ray):
    from asr_eval.types import ModelError

    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("this cluster has a GPU")
    with pytest.raises(ModelError, match="no GPU"):
        RayExecutor(BackendSpec(), device="cuda")


@pytest.mark.slow
def test_more_cpus_per_actor_than_the_cluster_has_is_a_model_error_not_a_hang(local_ray):
    from asr_eval.types import ModelError

    with pytest.raises(ModelError, match="reserve 8 CPUs .* cluster has 2; lower --cpu-threads"):
        RayExecutor(BackendSpec(), cpus_per_actor=8)


@pytest.mark.model
@pytest.mark.slow
def test_ray_run_with_real_model_equals_local_run(local_ray, tmp_path):
    pytest.importorskip("faster_whisper")
    manifest = real_clips(tmp_path / "data", n=2)
    dictionary = tmp_path / "dict.csv"
    dictionary.write_text("term,category\nStella,name\nWednesday,day\n", encoding="utf-8")
    run_evaluation(manifest, tmp_path / "local", dictionary=dictionary,
                   config=RunConfig(progress=False, reports=False))
    outcome = run_evaluation(manifest, tmp_path / "ray", dictionary=dictionary,
                             config=RunConfig(progress=False, reports=False, executor="ray", ray_actors=1))
    assert outcome.decoded == 4
    assert run_outputs(tmp_path / "ray") == run_outputs(tmp_path / "local")


class CrashingFake(FakeTranscriber):
    """Kills its own worker process on one clip, as an out-of-memory or segfault would."""

    def transcribe(self, audio, plans):
        if self.fail_on is not None and f"{audio[0]:.6f}" == self.fail_on:
            os._exit(1)
        return super().transcribe(audio, plans)

    def transcribe_batch(self, audios, plans):
        return [self.transcribe(a, plans) for a in audios]


@pytest.mark.slow
def test_a_crashed_actor_fails_its_clips_and_the_run_goes_on(local_ray, tmp_path):
    from asr_eval.audio import load_audio

    utts = _utterances(tmp_path / "a", 6)
    bad = f"{load_audio(utts[2].audio)[0]:.6f}"
    spec = BackendSpec(factory="test_ray:CrashingFake", args=(), kwargs={"fail_on": bad})
    with RayExecutor(spec, actors=2, batch_size=1) as ex:
        with TranscriptStore(tmp_path / "ray.jsonl") as store:
            out, stats = transcribe(utts, PLANS, ex.backend, store, executor=ex)
    assert stats.failed == 1 and "Ray task failed" in stats.problems[0].problem
    assert utts[2].id in stats.problems[0].problem
    assert {u for u, _ in out} == {u.id for u in utts} - {utts[2].id}
