"""One ``evaluate`` over N generated clips with a fake transcriber: the plumbing half of bench_scoring.py.

    python benchmarks/_plumbing_run.py make FOLDER N SPEAKERS SEED   # N tiny distinct WAVs + manifest
    python benchmarks/_plumbing_run.py run FOLDER N                  # evaluate into FOLDER/out (cache FOLDER/cache)

The transcriber decodes nothing: its text is a function of the audio's bytes and
the plan, so the cache, the job lists, scoring and the run folder see N distinct
clips. Measuring it says what the stages hold per clip, not how fast a model is.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr_eval.types import BiasPlan, DecodeResult  # noqa: E402

WORDS = ("please", "call", "zentrix", "cloud", "klarvo", "invoice", "ticket", "refund", "today", "back")


class PlumbingTranscriber:
    name = "plumbing"
    model_id = "plumbing-1"
    batch_size = 1

    def load(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_budget(self, method: str) -> int:
        return 200

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_id}

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        out = []
        for p in plans:
            h = hashlib.sha256(audio.tobytes() + (p.text or "").encode()).digest()
            out.append(DecodeResult(" ".join(WORDS[b % len(WORDS)] for b in h[:8])))
        return out

    def transcribe_batch(self, audios, plans):
        return [self.transcribe(a, ps) for a, ps in zip(audios, plans)]


def make(folder: Path, n: int, speakers: int, seed: int) -> None:
    import soundfile as sf

    (folder / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(folder / "manifest.jsonl", "w", encoding="utf-8") as f:
        for i in range(n):
            name = f"clips/c{i:07d}.wav"
            sf.write(folder / name, (rng.standard_normal(160) * 0.01).astype("float32"), 16000, subtype="PCM_16")
            spk = i % speakers
            words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(4 + i % 9))
            f.write(json.dumps({"id": f"c{i:07d}", "audio": name, "text": words, "speaker": f"s{spk:05d}",
                                "accent_group": f"g{spk % 7}"}) + "\n")


def run(folder: Path) -> None:
    from asr_eval.evaluate import RunConfig, evaluate, load_inputs

    inputs = load_inputs(folder / "manifest.jsonl", ROOT / "dictionaries/demo-company.csv")
    evaluate(inputs, folder / "out", config=RunConfig(progress=False, cache_dir=str(folder / "cache"), method="prompt"),
             backend=PlumbingTranscriber())


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        run(Path(sys.argv[2]))
