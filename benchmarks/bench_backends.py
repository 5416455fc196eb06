"""openai-whisper vs faster-whisper: speed on the same clips, weights and decoding settings.

Both engines run the bundled weights (openai-whisper on the converted
checkpoint), the same windows, prompts and fallback rules, clip by clip and
engine after engine in turn (so a change in machine load hits both alike),
after one warm-up clip each. Reported per engine: audio seconds, decode
seconds, RTFx = audio seconds / decode seconds, and the ratio of the two
engines' decode times; plus the WER between their transcripts (0 means the
same words). faster-whisper runs float32 by default so the arithmetic matches
openai-whisper's; ``--ct2-compute-type int8`` measures its production default.

Usage:
    python benchmarks/bench_backends.py [--manifest audio_fixtures/demo/manifest.csv]
        [--clips 20] [--beam-size 1] [--threads 2] [--method none|prompt] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr_eval.audio import duration_seconds, load_audio
from asr_eval.backends import load_backend
from asr_eval.bias import bias_text
from asr_eval.manifest import load_manifest
from asr_eval.types import BiasPlan, DecodeOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", default=str(ROOT / "audio_fixtures" / "demo" / "manifest.csv"))
    ap.add_argument("--clips", type=int, default=20, help="clips to time (after one warm-up clip)")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for both engines")
    ap.add_argument("--ct2-compute-type", default="float32")
    ap.add_argument("--method", default="none", choices=("none", "prompt"),
                    help="'prompt' offers the demo dictionary + directory as the prompt")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    import jiwer
    import torch

    utts = load_manifest(args.manifest).utterances[: args.clips + 1]
    if len(utts) < 2:
        sys.exit(f"need at least 2 clips in {args.manifest}")
    options = DecodeOptions(beam_size=args.beam_size)
    fw = load_backend("faster-whisper", model=args.model, compute_type=args.ct2_compute_type,
                      options=options, cpu_threads=args.threads)
    ow = load_backend("openai-whisper", model=args.model, options=options, cpu_threads=args.threads)
    plan = BiasPlan("baseline", "none", None)
    if args.method == "prompt":
        from asr_eval.evaluate import all_terms, load_vocabularies

        terms = all_terms(*load_vocabularies(ROOT / "dictionaries" / "demo-company.csv",
                                             ROOT / "dictionaries" / "demo-directory.csv"))
        from asr_eval.bias import fit_terms

        kept, _, _ = fit_terms(terms, fw.count_tokens, fw.prompt_budget("prompt"))
        plan = BiasPlan("prompt", "prompt", bias_text(kept))

    audios = [load_audio(u.audio) for u in utts]
    for engine in (fw, ow):  # warm-up: first-call allocations, tokenizer regexes, kernels
        engine.transcribe(audios[0], [plan])
    seconds = {"faster-whisper": 0.0, "openai-whisper": 0.0}
    texts: dict[str, list[str]] = {"faster-whisper": [], "openai-whisper": []}
    audio_total = 0.0
    for audio in audios[1:]:
        audio_total += duration_seconds(audio)
        for engine in (fw, ow):
            t0 = time.perf_counter()
            (res,) = engine.transcribe(audio, [plan])
            seconds[engine.name] += time.perf_counter() - t0
            texts[engine.name].append(res.text or "<empty>")
    report = {
        "manifest": args.manifest, "clips": len(audios) - 1, "audio_seconds": round(audio_total, 2),
        "model": args.model, "beam_size": args.beam_size, "threads": args.threads, "method": args.method,
        "faster_whisper_compute_type": args.ct2_compute_type, "openai_whisper_compute_type": "float32",
        "torch": torch.__version__, "platform": platform.platform(),
        "engines": {
            name: {"decode_seconds": round(s, 3), "rtfx": round(audio_total / s, 2)} for name, s in seconds.items()
        },
        "openai_over_faster_time_ratio": round(seconds["openai-whisper"] / seconds["faster-whisper"], 3),
        "wer_between_engines": round(jiwer.wer(texts["faster-whisper"], texts["openai-whisper"]), 4),
        "identical_transcripts": sum(a == b for a, b in zip(texts["faster-whisper"], texts["openai-whisper"])),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
