"""The fault corpus, built on the fly into a temporary folder (nothing of it is committed).

Each builder writes inputs that a shared evaluation service may be handed by
someone careless or hostile, and returns the paths. The tests in this folder
(``test_faults.py``, ``test_bounds.py``) run the CLI on them; docs/security.md
describes the threat model the corpus stands for.

Audio (``audio_corpus``): broken files (zero bytes, a truncated header, a header
promising more data than the file holds, random bytes named ``.wav``, NaN and
infinite samples), valid but unusual files (silence, 0.1 s, 48 kHz stereo float,
8 kHz mu-law, wav named ``.mp3`` and mp3 named ``.wav``, mp3/ogg when libsndfile
writes them) and long clips (``long_clip``: quiet noise, cheap to write).

Text inputs: manifests, hypotheses and vocabularies with every defect the
issue lists (wrong JSON types, punctuation-only references, missing
hypotheses, oversized lines, fields and files, NUL bytes, invalid UTF-8, YAML
bombs, zero-width and bidi characters) and injection payloads (HTML, rich
markup, spreadsheet formulas).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEMO_AUDIO = ROOT / "audio_fixtures" / "demo" / "audio"
SR = 16_000

# Two demo clips whose references are known: the "good rows" every audio run must score.
GOOD_CLIPS = (
    ("good1", "us-neural/s01_joe-ls100.flac",
     "Hi, this is Siobhan Nguyen from Zentrix Cloud. Is your Klarvo login using OAuth?"),
    ("good2", "us-neural/s04_joe-ls115.flac",
     "Priya Raghunathan restarted PostgreSQL on Kubernetes after the Grafana alert."),
)

# --------------------------------------------------------------------------- payloads

SCRIPT = "<script>alert('asr-eval')</script>"
IMG = "<img src=x onerror=alert(1)>"
RICH = "[bold red]loud[/] [/] [link=http://x]click[/link]"
FORMULAS = ("=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0")
ZWSP, RLO = "\u200b", "\u202e"


# --------------------------------------------------------------------------- small writers


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(r)
    return path


def write_jsonl(path: Path, rows: Iterable[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def row(uid: str, text: object, audio: str | None = None, speaker: str = "spk1", group: str = "g1") -> dict:
    return {"id": uid, "audio": audio if audio is not None else f"{uid}.wav", "text": text,
            "speaker": speaker, "accent_group": group}


GOOD_TEXT = {
    "ok1": "please reset the Klarvo password for Siobhan",
    "ok2": "the invoice from Zentrix Cloud is late again",
    "ok3": "thank you for calling have a good day",
}


def good_rows() -> list[dict]:
    """Three clean rows (different speakers and groups) that every score case keeps next to its fault."""
    return [row(uid, text, speaker=f"spk{i}", group=("g1", "g2", "g1")[i]) for i, (uid, text) in enumerate(GOOD_TEXT.items())]


def good_hyps(condition: str = "baseline") -> list[dict]:
    return [{"id": uid, "text": text.lower(), "condition": condition} for uid, text in GOOD_TEXT.items()]


def score_inputs(folder: Path, extra_rows: Sequence[dict] = (), extra_hyps: Sequence[dict] = (),
                 manifest_name: str = "manifest.jsonl", hyp_name: str = "hyp.jsonl") -> tuple[Path, Path]:
    """A JSONL manifest and JSONL hypotheses: the good rows plus the case's own rows."""
    manifest = write_jsonl(folder / manifest_name, [*good_rows(), *extra_rows])
    hyps = write_jsonl(folder / hyp_name, [*good_hyps(), *extra_hyps])
    return manifest, hyps


# --------------------------------------------------------------------------- audio


def tone(seconds: float, sr: int = SR, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _wav_header(n_bytes_claimed: int, sr: int = SR, channels: int = 1, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + n_bytes_claimed) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * block, block, bits)
            + b"data" + struct.pack("<I", n_bytes_claimed))


def can_write(fmt: str) -> bool:
    import soundfile as sf

    return fmt.upper() in sf.available_formats()


@dataclass(frozen=True)
class AudioCase:
    """One clip of the audio run: its manifest row and what the run must make of it.

    ``expect``: 'scored' (valid audio, however odd) or 'skipped' (listed in
    skipped.csv, on the clip's manifest line, with a reason matching ``reason``,
    a regular expression). ``pending`` names the issue-12 fix the expectation
    waits for, if any. ``file`` is the manifest's ``audio`` cell; ``{secret}``
    stands for the absolute path of the folder outside the set.
    """

    id: str
    file: str
    expect: str
    reason: str = ""
    pending: str | None = None
    text: str = "hello there"
    note: str = ""


OUTSIDE = r"outside|not allowed|escapes|allow-outside-paths|audio-root"
AUDIO_CASES: list[AudioCase] = [
    AudioCase("good1", "good1.flac", "scored", text=GOOD_CLIPS[0][2], note="good clip"),
    AudioCase("good2", "good2.flac", "scored", text=GOOD_CLIPS[1][2], note="good clip"),
    # broken files: skipped, with a reason
    AudioCase("zero_bytes", "zero_bytes.wav", "skipped", r"cannot decode|empty|0 samples|no data"),
    AudioCase("truncated_header", "truncated_header.wav", "skipped", r"cannot decode|malformed|empty"),
    AudioCase("random_bytes", "random_bytes.wav", "skipped", r"cannot decode|not recogni[sz]ed"),
    AudioCase("text_as_wav", "text_as_wav.wav", "skipped", r"cannot decode|not recogni[sz]ed"),
    AudioCase("nan_inf_samples", "nan_inf.wav", "skipped", r"NaN|infinite"),
    AudioCase("folder_as_audio", "a_folder.wav", "skipped", r"not found|not a file|folder|directory"),
    AudioCase("dangling_symlink", "dangling.wav", "skipped", r"not found|does not exist|no such"),
    # odd but valid audio: scored
    AudioCase("header_claims_more", "short_data.wav", "scored",
              note="header promises 10 s, 0.1 s present: libsndfile reads what is there"),
    AudioCase("silence", "silence.wav", "scored"),
    AudioCase("tenth_second", "tenth_second.wav", "scored"),
    AudioCase("stereo_48k_float", "stereo_48k_float.wav", "scored"),
    AudioCase("mulaw_8k", "mulaw_8k.wav", "scored"),
    AudioCase("wav_named_mp3", "wav_named.mp3", "scored", note="the content decides, not the name"),
    *([AudioCase("mp3", "real.mp3", "scored"),
       AudioCase("mp3_named_wav", "mp3_named.wav", "scored", note="the content decides, not the name")]
      if can_write("MP3") else []),
    *([AudioCase("ogg_vorbis", "vorbis.ogg", "scored")] if can_write("OGG") else []),
    AudioCase("markup_in_name", "[bold]clip[/] <b>x</b>.wav", "scored", text=f"{SCRIPT} hello [/] there",
              note="'/' makes '[bold]clip[' a folder; the path still reads '[/]'"),
    # paths: inside the set is fine however spelt; outside is refused, whether or not the target exists
    AudioCase("inside_symlink", "link_in.wav", "scored"),
    AudioCase("inside_dotdot", "sub/../tenth_second.wav", "scored", note="'..' that stays inside the set"),
    AudioCase("outside_dotdot", "../secret/outside.wav", "skipped", OUTSIDE),
    AudioCase("outside_dotdot_missing", "../secret/missing.wav", "skipped", OUTSIDE),
    AudioCase("outside_absolute", "{secret}/outside.wav", "skipped", OUTSIDE),
    AudioCase("outside_absolute_missing", "{secret}/missing.wav", "skipped", OUTSIDE),
    AudioCase("outside_symlink", "link_out.wav", "skipped", OUTSIDE),
]


def write_audio_corpus(tmp: Path, cases: Sequence[AudioCase] = AUDIO_CASES) -> Path:
    """Every clip of ``cases`` under ``tmp/set`` (and ``tmp/secret`` outside it); returns the manifest."""
    import soundfile as sf

    set_dir, secret = tmp / "set", tmp / "secret"
    set_dir.mkdir(parents=True, exist_ok=True)
    secret.mkdir(parents=True, exist_ok=True)
    for uid, rel, _ in GOOD_CLIPS:
        shutil.copyfile(DEMO_AUDIO / rel, set_dir / f"{uid}.flac")
    f = set_dir
    (f / "zero_bytes.wav").write_bytes(b"")
    pcm = (tone(1.0) * 32767).astype("<i2").tobytes()
    (f / "truncated_header.wav").write_bytes(_wav_header(len(pcm))[:20])
    (f / "short_data.wav").write_bytes(_wav_header(10 * SR * 2) + pcm[: SR // 10 * 2])
    rng = np.random.default_rng(12)
    (f / "random_bytes.wav").write_bytes(rng.integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    (f / "text_as_wav.wav").write_text("this is not audio\n" * 100)
    bad = tone(1.0)
    bad[100], bad[200] = np.nan, np.inf
    sf.write(f / "nan_inf.wav", bad, SR, subtype="FLOAT")
    (f / "a_folder.wav").mkdir(exist_ok=True)
    _symlink(f / "does-not-exist.wav", f / "dangling.wav")
    sf.write(f / "silence.wav", np.zeros(2 * SR, dtype=np.float32), SR)
    sf.write(f / "tenth_second.wav", tone(0.1), SR)
    sf.write(f / "stereo_48k_float.wav", np.stack([tone(1.0, 48_000), tone(1.0, 48_000, 660.0)], axis=1),
             48_000, subtype="FLOAT")
    sf.write(f / "mulaw_8k.wav", tone(1.0, 8_000), 8_000, subtype="ULAW")
    sf.write(f / "wav_named.mp3", tone(1.0), SR, format="WAV")
    if can_write("MP3"):
        sf.write(f / "real.mp3", tone(1.0), SR, format="MP3")
        shutil.copyfile(f / "real.mp3", f / "mp3_named.wav")
    if can_write("OGG"):
        sf.write(f / "vorbis.ogg", tone(1.0), SR, format="OGG", subtype="VORBIS")
    odd = f / "[bold]clip[/] <b>x</b>.wav"
    odd.parent.mkdir(parents=True, exist_ok=True)
    sf.write(odd, tone(0.5), SR)
    _symlink(f / "silence.wav", f / "link_in.wav")
    (f / "sub").mkdir(exist_ok=True)
    sf.write(secret / "outside.wav", tone(0.5), SR)
    _symlink(secret / "outside.wav", f / "link_out.wav")
    return write_csv(set_dir / "manifest.csv", ("id", "audio", "text", "speaker", "accent_group"),
                     [(c.id, c.file.replace("{secret}", str(secret)), c.text, f"spk-{c.id}", ("g1", "g2")[i % 2])
                      for i, c in enumerate(cases)])


def _symlink(target: Path, link: Path) -> None:
    if not link.is_symlink():
        os.symlink(target, link)


def long_clip(path: Path, seconds: float, amp: float = 0.003, block_s: float = 60.0) -> Path:
    """Quiet noise of ``seconds``, written block by block (never the whole clip in memory here)."""
    import soundfile as sf

    rng = np.random.default_rng(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        left = int(seconds * SR)
        while left > 0:
            n = min(left, int(block_s * SR))
            f.write((amp * rng.standard_normal(n)).astype(np.float32))
            left -= n
    return path


def espeak(path: Path, text: str) -> Path | None:
    """Speech from espeak-ng, or None where it is not installed."""
    exe = shutil.which("espeak-ng")
    if not exe:
        return None
    subprocess.run([exe, "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


# --------------------------------------------------------------------------- vocabularies


def yaml_bomb(path: Path, levels: int = 9, width: int = 9) -> Path:
    """The 'billion laughs' document: each anchor a list of ``width`` aliases of the one before."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append(f"terms: [{', '.join([f'*a{levels - 1}'] * width)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def dictionary_csv(path: Path, rows: Iterable[Sequence[object]],
                   header: Sequence[str] = ("term", "display", "aliases", "sounds_like", "category", "priority")) -> Path:
    return write_csv(path, header, rows)


def good_dictionary(path: Path) -> Path:
    return dictionary_csv(path, [("Klarvo", "", "", "clar vo", "product", 5),
                                 ("Zentrix Cloud", "", "Zentrix", "", "product", 4)])


def sparse_file(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that costs no disk (a hole after ``head``)."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path
