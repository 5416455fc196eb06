"""The faster-whisper backend with the real bundled model: one encoder pass, batching, reproducible fallback.

Small on purpose (two 4-second clips): every test compares transcripts that
must be identical, so a few clips decoded several ways are enough.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("faster_whisper")

from asr_eval.audio import load_audio
from asr_eval.backends.faster_whisper import FasterWhisperBackend
from asr_eval.backends.host import cgroup_cpu_quota, cpu_threads_for, resolve_device
from asr_eval.types import BiasPlan, DecodeOptions, ModelError

from test_resume import real_clips

pytestmark = pytest.mark.model

TERMS = "Zentrix Cloud, PayNimbus, Siobhan Nguyen, Chidi Okonkwo"
PLANS = [
    BiasPlan("baseline", "none", None),
    BiasPlan("dictionary", "prompt", "Zentrix Cloud, PayNimbus, Klarvo"),
    BiasPlan("directory", "prompt", "Siobhan Nguyen, Chidi Okonkwo"),
    BiasPlan("hotwords", "hotwords", TERMS),
]


@pytest.fixture(scope="module")
def audios(tmp_path_factory):
    manifest = real_clips(tmp_path_factory.mktemp("clips"), n=2)
    return [load_audio(manifest.parent / f"real{i}.wav") for i in range(2)]


@pytest.fixture(scope="module")
def backend():
    return FasterWhisperBackend(batch_size=1)


def _flat(results):
    return [(r.text, dict(r.extra)) for r in results]


def test_one_encoder_pass_equals_decoding_each_condition_alone(backend, audios):
    for audio in audios:
        shared = backend.transcribe(audio, PLANS)
        alone = [backend.transcribe(audio, [p])[0] for p in PLANS]
        assert _flat(shared) == _flat(alone)
    assert any(r.text for r in shared)


def test_batched_equals_sequential(backend, audios):
    batched = FasterWhisperBackend(batch_size=2)
    together = batched.transcribe_batch(audios, [PLANS] * len(audios))
    for audio, res in zip(audios, together):
        assert _flat(res) == _flat(backend.transcribe(audio, PLANS))


def test_fallback_is_reproducible_whatever_ran_before(audios):
    # log_prob_threshold 0 fails every window at T=0, so every clip samples at T=0.6
    options = DecodeOptions(beam_size=2, temperatures=(0.0, 0.6), log_prob_threshold=0.0, no_speech_threshold=None)
    seq = FasterWhisperBackend(options=options)
    plans = PLANS[1:2]
    first = [seq.transcribe(a, plans) for a in audios]
    assert all(r.extra["windows"][0]["temperature"] == 0.6 for res in first for r in res)
    again_reversed = [seq.transcribe(a, plans) for a in reversed(audios)][::-1]
    batched = FasterWhisperBackend(options=options, batch_size=2).transcribe_batch(audios, [plans] * 2)
    assert [_flat(r) for r in first] == [_flat(r) for r in again_reversed] == [_flat(r) for r in batched]


def test_cache_relevant_settings_are_described(backend):
    d = backend.describe()
    assert d["decode"]["beam_size"] == 5 and d["compute_type"] == "int8" and len(d["weights_sha256"]) == 64
    other = FasterWhisperBackend(options=replace(DecodeOptions(), beam_size=1))
    assert other.describe()["decode"] != d["decode"]
    assert "batch_size" not in d  # batching does not change transcripts, so it must not split the cache
    assert d["decoder_version"] >= 2  # transcripts from an older decoding loop are never served


def test_cuda_without_gpu_is_a_clear_model_error():
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        assert resolve_device("auto") == "cuda"
        pytest.skip("a GPU is present")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ModelError, match="--device cuda .* no CUDA device"):
        FasterWhisperBackend(device="cuda")
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device("tpu")


def test_sampling_from_the_first_temperature_is_reproducible_too(audios):
    options = DecodeOptions(beam_size=1, temperatures=(0.8,), no_speech_threshold=None)
    a = FasterWhisperBackend(options=options).transcribe(audios[0], PLANS[:1])
    b = FasterWhisperBackend(options=options, batch_size=2).transcribe_batch(audios[::-1], [PLANS[:1]] * 2)[1]
    assert _flat(a) == _flat(b) and a[0].extra["windows"][0]["temperature"] == 0.8


def test_parallel_cpu_decoders_equal_one_thread(audios):
    # every window falls back (log_prob_threshold 0), so seeded samplers start in parallel threads:
    # each must still draw from its own seed, and replicas must not change a beam search
    options = DecodeOptions(beam_size=2, temperatures=(0.0, 0.6, 1.0), log_prob_threshold=0.0, no_speech_threshold=None)
    one = FasterWhisperBackend(options=options, cpu_threads=1)
    many = FasterWhisperBackend(options=options, cpu_threads=3, batch_size=2)
    assert (one.threads, many.threads) == (1, 3)
    expected = [_flat(one.transcribe(a, PLANS)) for a in audios]
    assert all(r[1]["windows"][0]["temperature"] > 0 for res in expected for r in res)
    for _ in range(2):
        assert [_flat(r) for r in many.transcribe_batch(audios, [PLANS] * 2)] == expected
    assert many.decoder is not many.model.model and one.decoder is one.model.model


def test_cpu_thread_count_prefers_the_flag_then_omp_then_the_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads_for(5) == 5 and cpu_threads_for(0) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    import os

    assert cpu_threads_for(0) == min(len(os.sched_getaffinity(0)), cgroup_cpu_quota() or 10**6)


def test_container_cpu_quota_is_read_from_cgroup_v2_and_v1(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(v2) == 2  # 1.5 CPUs -> 2 threads
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(v2) is None
    v1 = tmp_path / "v1" / "cpu"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("400000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(v1.parent) == 4
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(v1.parent) is None and cgroup_cpu_quota(tmp_path / "none") is None


def test_description_is_pinned_key_for_key(backend):
    """describe() is in every cache key: a changed key, value or order would re-decode every user's cache."""
    import ctranslate2
    import faster_whisper

    d = backend.describe()
    assert list(d) == ["backend", "model", "model_path", "weights_sha256", "multilingual", "device", "compute_type",
                       "decode", "without_timestamps", "window_seconds", "decoder_version", "faster_whisper", "ctranslate2"]
    assert {k: v for k, v in d.items() if k not in ("model_path", "weights_sha256")} == {
        "backend": "faster-whisper", "model": "tiny.en", "multilingual": False, "device": "cpu", "compute_type": "int8",
        "decode": {"beam_size": 5, "temperatures": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "compression_ratio_threshold": 2.4,
                   "log_prob_threshold": -1.0, "no_speech_threshold": 0.6, "condition_on_previous_text": True,
                   "language": "en", "seed": 0},
        "without_timestamps": True, "window_seconds": 30, "decoder_version": 3,
        "faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
    }
    assert list(d["decode"]) == list(DecodeOptions().to_dict())
