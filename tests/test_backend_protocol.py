"""Every backend is a whole ``Transcriber``, so callers use the protocol and never probe a backend.

Checked two ways: each class defines every protocol method with the protocol's
parameters (no model, no Ray needed), and a built faster-whisper backend (it
loads no weights until it decodes) passes ``isinstance``. The openai-whisper
instance and the Ray proxy are checked where they are built anyway
(test_openai_backend.py, test_ray.py).
"""

from __future__ import annotations

import inspect

import pytest

from asr_eval.backends.base import Transcriber

from test_executor import BatchingFake, FakeTranscriber

DATA = ("name", "model_id", "batch_size")
METHODS = sorted(n for n, v in vars(Transcriber).items() if inspect.isfunction(v) and not n.startswith("_"))


def _classes():
    from asr_eval.backends.faster_whisper import FasterWhisperBackend
    from asr_eval.ray_executor import RayBackendProxy

    out = [FasterWhisperBackend, RayBackendProxy, FakeTranscriber, BatchingFake]
    try:
        from asr_eval.backends.openai_whisper import OpenAIWhisperBackend
    except ImportError:
        pass
    else:
        out.append(OpenAIWhisperBackend)
    return out


def test_the_protocol_is_complete():
    assert METHODS == ["count_tokens", "describe", "load", "prompt_budget", "transcribe", "transcribe_batch"]
    assert set(DATA) <= set(Transcriber.__annotations__)


@pytest.mark.parametrize("cls", _classes(), ids=lambda c: c.__name__)
def test_every_backend_class_defines_every_protocol_method(cls):
    for name in METHODS:
        method = getattr(cls, name, None)
        assert callable(method), f"{cls.__name__} lacks {name}"
        expected = list(inspect.signature(getattr(Transcriber, name)).parameters)
        assert list(inspect.signature(method).parameters) == expected, f"{cls.__name__}.{name}"


def test_a_faster_whisper_backend_and_the_fakes_are_transcribers():
    pytest.importorskip("faster_whisper")
    from asr_eval.backends.faster_whisper import FasterWhisperBackend

    backend = FasterWhisperBackend()
    assert isinstance(backend, Transcriber) and backend._model is None  # checking it loaded nothing
    assert isinstance(FakeTranscriber(), Transcriber) and isinstance(BatchingFake(), Transcriber)
