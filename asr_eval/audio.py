"""Decode any common audio file to 16 kHz mono float32, the only form Whisper takes.

soundfile (libsndfile) reads wav/flac/ogg/mp3 quickly; librosa's audioread
fallback covers the rest. Resampling uses soxr through librosa (high quality),
so 8 kHz telephony audio is upsampled rather than rejected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .types import InputError

SAMPLE_RATE = 16_000


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 at ``sample_rate``; raises InputError naming the file on any failure."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "audio file not found")
    try:
        import soundfile as sf

        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        data = data.mean(axis=1)
    except Exception as sf_exc:  # libsndfile cannot read it: try the slower decoders
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():  # librosa warns about its own fallback; we report failures ourselves
                warnings.simplefilter("ignore")
                data, sr = librosa.load(str(path), sr=None, mono=True)
        except Exception as exc:
            raise InputError(str(path), f"cannot decode audio ({sf_exc}; {exc})") from None
    if data.size == 0:
        raise InputError(str(path), "audio is empty (0 samples)")
    if not np.all(np.isfinite(data)):
        raise InputError(str(path), "audio contains NaN or infinite samples")
    if sr != sample_rate:
        import librosa

        data = librosa.resample(data, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(data, dtype=np.float32)


def duration_seconds(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    return float(len(audio)) / sample_rate
