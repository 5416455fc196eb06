"""The code a GPU run takes, run on the CPU: windows encoded in batches, capped decoder groups, result order.

On CUDA the faster-whisper backend encodes ``batch_size`` windows per call
(one at a time on CPU) and decodes on one device (no parallel CPU replicas,
so groups are split only by the batch cap). Those paths are forced here on
the CPU, with clips of different lengths in one batch (a two-window clip
among one-window clips, so encoder batches straddle clips and streams finish
at different rounds), and must give exactly what clip-by-clip decoding gives.
What is left for a GPU run to check is speed and device handling
(benchmarks/bench_gpu.py).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faster_whisper")

from asr_eval.audio import load_audio
from asr_eval.backends.faster_whisper import FasterWhisperBackend
from asr_eval.types import BiasPlan

from test_resume import real_clips

pytestmark = pytest.mark.model

PLANS = [
    BiasPlan("baseline", "none", None),
    BiasPlan("dictionary", "prompt", "Zentrix Cloud, PayNimbus, Klarvo"),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two 4 s clips and one of 36 s (two windows: 30 s and 6 s), made from the demo speech."""
    manifest = real_clips(tmp_path_factory.mktemp("clips"), n=8, seconds=8.0)
    audios = [load_audio(manifest.parent / f"real{i}.wav") for i in range(8)]
    long = np.concatenate(audios)[: 36 * 16000]
    assert len(long) == 36 * 16000, "the demo clips are shorter than expected"
    return [audios[0][: 4 * 16000], long, audios[1][: 4 * 16000]]


def _flat(results):
    return [[(r.text, dict(r.extra)) for r in clip] for clip in results]


def _gpu_like(batch_size: int) -> FasterWhisperBackend:
    """One decoder (as on a GPU: no parallel CPU replicas) that encodes ``batch_size`` windows per call."""
    backend = FasterWhisperBackend(batch_size=batch_size, cpu_threads=1)
    backend.encode_batch_size = lambda: batch_size  # what device == "cuda" selects
    return backend


def test_windows_encoded_in_batches_land_with_their_clips(clips):
    one = FasterWhisperBackend(cpu_threads=1)
    assert one.encode_batch_size() == 1  # CPU default
    alone = one.encode_windows(clips)
    assert [len(w) for w in alone] == [1, 2, 1]
    # batches of 2 over 4 windows, each straddling two clips: (clip0 w0, clip1 w0), (clip1 w1, clip2 w0)
    batched = _gpu_like(2).encode_windows(clips)
    assert [len(w) for w in batched] == [1, 2, 1]
    for a, b in zip(alone, batched):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-3)


def test_gpu_batching_path_equals_clip_by_clip_decoding(clips):
    one = FasterWhisperBackend(cpu_threads=1)
    expected = [one.transcribe(a, PLANS) for a in clips]
    # batch cap 1 x 2 plans: the three clips' same-condition streams must be split into capped groups,
    # and the long clip's streams outlive the short ones' by a round
    got = _gpu_like(1).transcribe_batch(clips, [PLANS] * 3)
    assert _flat(got) == _flat(expected)
    got = _gpu_like(3).transcribe_batch(clips, [PLANS] * 3)
    assert _flat(got) == _flat(expected)
    assert len(expected[1][0].extra["windows"]) == 2 and all(r.text for clip in expected for r in clip)


def test_each_clip_may_carry_its_own_plans_in_any_order(clips):
    """Result [i][j] is clip i under its j-th plan, whatever mix of plans the batch holds."""
    one = FasterWhisperBackend(cpu_threads=1)
    plans = [PLANS, PLANS[::-1], PLANS[1:]]
    got = _gpu_like(3).transcribe_batch(clips, plans)
    for audio, clip_plans, res in zip(clips, plans, got):
        assert [(r.text, dict(r.extra)) for r in res] == [(r.text, dict(r.extra)) for r in one.transcribe(audio, clip_plans)]
