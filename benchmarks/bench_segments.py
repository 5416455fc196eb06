"""Segments of one long recording: reading each by seeking vs decoding the whole file per segment.

    python benchmarks/bench_segments.py [--hours 2] [--segments 1000] [--naive-sample 4] [--format flac]

A Kaldi ``segments`` file, an stm or a lhotse supervision set cuts one long
recording into many utterances. ``audio.load_audio(path, start=, end=)`` seeks
to each, so the whole set costs about one decode of the recording; decoding
the whole file for every segment would cost one per segment. The transcription
stage also hashes each recording once for the cache keys, not once per
segment. Whole-file decoding and per-segment hashing are timed on
``--naive-sample`` segments and scaled to all of them (running them all would
take hours, which is the point). Prints the two side by side with their ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's asr_eval, not an installed one

from asr_eval.audio import SAMPLE_RATE, load_audio
from asr_eval.files import file_sha256


def _write(path: Path, hours: float, fmt: str) -> float:
    """A long recording of noise-like speech stand-in, written a minute at a time (never held whole)."""
    rng = np.random.default_rng(0)
    total = int(hours * 3600 * SAMPLE_RATE)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, subtype="PCM_16", format=fmt.upper()) as f:
        for k in range(0, total, 60 * SAMPLE_RATE):
            n = min(60 * SAMPLE_RATE, total - k)
            f.write((rng.standard_normal(n) * 3000).astype(np.int16))
    return total / SAMPLE_RATE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--segments", type=int, default=1000)
    ap.add_argument("--naive-sample", type=int, default=4, help="segments decoded the whole-file way, then scaled")
    ap.add_argument("--format", default="flac", choices=["flac", "wav"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"long.{args.format}"
        t0 = time.perf_counter()
        seconds = _write(path, args.hours, args.format)
        print(f"wrote {seconds / 3600:.2f} h {args.format} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        edges = np.linspace(0.0, seconds, args.segments + 1)
        spans = list(zip(edges[:-1], edges[1:]))

        t0 = time.perf_counter()
        samples = 0
        for s, e in spans:
            samples += len(load_audio(path, start=float(s), end=float(e)))
        seek = time.perf_counter() - t0

        pick = spans[:: max(1, len(spans) // args.naive_sample)][: args.naive_sample]
        t0 = time.perf_counter()
        for s, e in pick:
            whole = load_audio(path)
            _ = whole[int(s * SAMPLE_RATE): int(e * SAMPLE_RATE)]
            del whole
        naive = (time.perf_counter() - t0) / len(pick) * len(spans)

        t0 = time.perf_counter()
        file_sha256(path)
        hash_once = time.perf_counter() - t0
        hash_each = hash_once * len(spans)

    print(f"{len(spans)} segments covering {seconds / 3600:.2f} h ({samples / SAMPLE_RATE / 3600:.2f} h decoded by seeking)")
    print(f"{'':28s}{'per segment':>14s}{'whole file each':>18s}{'ratio':>9s}")
    print(f"{'decode all segments (s)':28s}{seek:14.1f}{naive:18.1f}{naive / seek:8.0f}x")
    print(f"{'hash for cache keys (s)':28s}{hash_once:14.2f}{hash_each:18.1f}{hash_each / hash_once:8.0f}x")
    print(f"audio decoded: seeking {seek and seconds / seek:.0f}x real time; "
          f"whole file per segment {args.segments:d} x {seconds / 3600:.2f} h = {args.segments * seconds / 3600:.0f} h of decoding")


if __name__ == "__main__":
    main()
