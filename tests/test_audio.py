import numpy as np
import pytest
import soundfile as sf

from asr_eval.audio import SAMPLE_RATE, load_audio
from asr_eval.types import InputError

from conftest import tone


@pytest.mark.parametrize("sr, channels, fmt", [(8000, 1, "wav"), (16000, 2, "wav"), (44100, 2, "flac"), (22050, 1, "ogg")])
def test_any_rate_and_channels_to_16k_mono(tmp_path, sr, channels, fmt):
    p = tmp_path / f"x.{fmt}"
    sf.write(p, tone(1.0, sr, channels), sr)
    a = load_audio(p)
    assert a.ndim == 1 and a.dtype == np.float32
    assert abs(len(a) - SAMPLE_RATE) <= 16
    # the 440 Hz tone survives resampling: dominant frequency bin is right
    spec = np.abs(np.fft.rfft(a))
    assert abs(np.argmax(spec) * SAMPLE_RATE / len(a) - 440) < 3


def test_stereo_is_downmixed_by_averaging(tmp_path):
    p = tmp_path / "s.wav"
    left = tone(0.5)
    sf.write(p, np.stack([left, np.zeros_like(left)], axis=1), 16000)
    a = load_audio(p)
    assert np.allclose(a, left / 2, atol=1e-3)


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really audio")
    with pytest.raises(InputError) as e:
        load_audio(bad)
    assert str(bad) in str(e.value)


def test_empty_audio_is_rejected(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(p, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(InputError):
        load_audio(p)
