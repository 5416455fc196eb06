"""Decode any common audio file, or a time range of it, to 16 kHz mono float32, the only form Whisper takes.

soundfile (libsndfile) reads wav/flac/ogg/mp3 quickly; librosa's audioread
fallback covers the rest. Resampling uses soxr through librosa (high quality),
so 8 kHz telephony audio is upsampled rather than rejected.

A segment (``start``/``end`` seconds: Kaldi segments, NeMo offsets, lhotse
supervisions, stm lines) is read by seeking, so a 2-hour recording cut into
1,000 segments costs about 2 hours of decoding, not 1,000 times 2 hours.
Where libsndfile cannot seek in a file, and for the formats only the
fallback decoders read (m4a, opus in some builds...), the whole file is
decoded and the range cut from it: correct, but paid once per segment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .types import InputError

SAMPLE_RATE = 16_000
# A segment may end this far past the end of its audio and is cut at the end
# (Kaldi's extract-segments allows the same overshoot, --max-overshoot=0.5):
# segment times are often rounded up, or written for a slightly longer file.
MAX_OVERSHOOT = 0.5
_MP3_PREROLL = 0.25  # seconds decoded and dropped before an mp3 segment (a few frames' bit reservoir)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, *, start: float | None = None,
               end: float | None = None) -> np.ndarray:
    """Mono float32 at ``sample_rate`` (of ``start``..``end`` seconds, when given); InputError naming the file on any failure."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "audio file not found")
    segment = start is not None or end is not None
    try:
        import soundfile as sf

        with sf.SoundFile(str(path)) as f:
            sr = f.samplerate
            if segment:
                first, last = _frames(path, start, end, sr, f.frames)
                if f.seekable():
                    # mp3 frames lean on the bytes of earlier ones (the bit reservoir): a decoder that seeks
                    # straight to a frame gets silence there, so start earlier and drop the run-up
                    preroll = min(first, int(_MP3_PREROLL * sr)) if f.format in ("MP3", "MPEG") else 0
                    f.seek(first - preroll)
                    data = f.read(last - first + preroll, dtype="float32", always_2d=True)[preroll:]
                else:
                    data = f.read(dtype="float32", always_2d=True)[first:last]
            else:
                data = f.read(dtype="float32", always_2d=True)
        data = data.mean(axis=1)
    except InputError:
        raise
    except Exception as sf_exc:  # libsndfile cannot read it: try the slower decoders
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():  # librosa warns about its own fallback; we report failures ourselves
                warnings.simplefilter("ignore")
                data, sr = librosa.load(str(path), sr=None, mono=True)
        except Exception as exc:
            raise InputError(str(path), f"cannot decode audio ({sf_exc}; {exc})") from None
        if segment:
            first, last = _frames(path, start, end, sr, len(data))
            data = data[first:last]
    if data.size == 0:
        raise InputError(str(path), "audio is empty (0 samples)" + (f" between {start or 0:g} and {end} s" if segment else ""))
    if not np.all(np.isfinite(data)):
        raise InputError(str(path), "audio contains NaN or infinite samples")
    if sr != sample_rate:
        import librosa

        data = librosa.resample(data, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(data, dtype=np.float32)


def _frames(path: Path, start: float | None, end: float | None, sr: int, total: int) -> tuple[int, int]:
    """The segment as frame indices, refusing one that starts past the end or ends well past it."""
    first = int(round((start or 0.0) * sr))
    last = total if end is None else int(round(end * sr))
    if first < 0 or (end is not None and last <= first):
        raise InputError(str(path), f"segment {start or 0:g}-{end} s is not a time range")
    if first >= total:
        raise InputError(str(path), f"segment starts at {start:g} s, at or after the end of the audio ({total / sr:g} s)")
    if last > total:
        if last - total > MAX_OVERSHOOT * sr:
            raise InputError(str(path), f"segment ends at {end:g} s, beyond the end of the audio ({total / sr:g} s)")
        last = total
    return first, last


def audio_duration(path: str | Path) -> float | None:
    """The file's length in seconds from its header, without decoding; None where soundfile cannot tell."""
    try:
        import soundfile as sf

        info = sf.info(str(path))
        return float(info.frames) / info.samplerate if info.samplerate and info.frames > 0 else None
    except Exception:
        return None


def duration_seconds(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    return float(len(audio)) / sample_rate
