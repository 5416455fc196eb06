"""GPU benchmark: asr-eval against a bare faster-whisper loop and faster-whisper's BatchedInferencePipeline.

On the same clips, for each model (tiny.en, base, small) and CTranslate2
compute type (float16, int8_float16), it measures:

* RTFx of asr-eval's whole path (``run_evaluation``: hashing, cache, decoding,
  scoring, writing) at batch sizes 1, 8 and 32, with one condition and with
  the four conditions (baseline, dictionary, directory, both), and how many
  batched transcripts differ from the batch-1 ones;
* RTFx of a bare ``WhisperModel.transcribe`` loop (clip by clip, no batching)
  and of ``BatchedInferencePipeline`` (the clips concatenated, one batch item
  per clip through ``clip_timestamps``) at the same batch sizes, with the
  baseline alone and with the four conditions' prompts one pass each (neither
  shares an encoder pass between conditions);
* peak GPU memory of each stage (``nvidia-smi``, this process's own use).

Every (model, compute type, path) runs in its own process, so that each
memory figure belongs to that path alone; within a process stages run in
increasing batch size, and CTranslate2's caching allocator keeps what a stage
reserved, so each figure is the peak up to and including that stage.

Without a CUDA device visible to CTranslate2 it says so and exits 0.
``--device cpu --quick`` runs the same code on the CPU (int8) to check the
script end to end on any machine.

One command on a fresh GPU machine (installs the base and small models and,
if missing, the CUDA 12 cuBLAS / cuDNN 9 wheels CTranslate2 needs):

    bash benchmarks/gpu.sh            # everything, under 8 minutes
    bash benchmarks/gpu.sh --quick    # 12 clips, float16, batch 1 and 8

or, with asr-eval already installed: ``python benchmarks/bench_gpu.py [--quick]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_pipeline import DEMO, SAA, peak_rss_mib, pick_clips  # noqa: E402

MODELS = ("tiny.en", "base", "small")
GPU_COMPUTE_TYPES = ("float16", "int8_float16")
BATCH_SIZES = (1, 8, 32)
DICTIONARY = ROOT / "dictionaries" / "demo-company.csv"
DIRECTORY = ROOT / "dictionaries" / "demo-directory.csv"


# --------------------------------------------------------------------------- memory


class PeakMemory:
    """Samples this process's GPU memory (nvidia-smi) every 50 ms; on CPU, peak RSS.

    nvidia-smi lists per-process use by pid; inside a container whose pids it
    cannot see, the device's total use minus what was used before is taken.
    """

    def __init__(self, device: str):
        self.device = device
        self.pid = os.getpid()
        self.smi = shutil.which("nvidia-smi") if device == "cuda" else None
        self.baseline = self._device_used() if self.smi else None
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _query(self, args: list[str]) -> list[str]:
        try:
            out = subprocess.run([self.smi, *args, "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True, timeout=10)
            return [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            return []

    def _device_used(self) -> float:
        rows = self._query(["--query-gpu=memory.used"])
        return float(rows[0]) if rows else 0.0

    def sample(self) -> float:
        if self.device != "cuda":
            return peak_rss_mib()
        if not self.smi:
            return float("nan")
        for row in self._query(["--query-compute-apps=pid,used_memory"]):
            pid, _, used = row.partition(",")
            if pid.strip() == str(self.pid):
                return float(used)
        return self._device_used() - (self.baseline or 0.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(0.05)

    def __enter__(self) -> "PeakMemory":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.peak = max(self.peak, self.sample())


# --------------------------------------------------------------------------- workers (one process each)


def _transcripts(folder: Path) -> dict[tuple[str, str], str]:
    out = {}
    for f in (folder / "transcripts").glob("*.jsonl"):
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out[(row["utt_id"], row["condition"])] = row["text"]
    return out


def _plans(folder: Path) -> dict[str, dict]:
    """Each condition's bias plan as the run applied it (method and exact prompt text)."""
    plans = {}
    for f in sorted((folder / "transcripts").glob("*.jsonl")):
        first = f.read_text(encoding="utf-8").splitlines()[:1]
        if first:
            row = json.loads(first[0])
            plans[row["condition"]] = row["bias"]
    return plans


def worker_asr_eval(args: argparse.Namespace, clips: Path, audio_s: float, work: Path) -> dict:
    from asr_eval.backends.faster_whisper import FasterWhisperBackend
    from asr_eval.evaluate import RunConfig, run_evaluation
    from asr_eval.types import DecodeOptions

    options = DecodeOptions(beam_size=args.beam_size)
    memory = PeakMemory(args.device)
    t0 = time.perf_counter()
    backend = FasterWhisperBackend(model=args.model, device=args.device, compute_type=args.compute_type,
                                   options=options, batch_size=1)
    backend.load()
    load_s = time.perf_counter() - t0
    first = next(csv.DictReader(open(clips, encoding="utf-8")))
    from asr_eval.audio import load_audio

    backend.transcribe(load_audio(first["audio"]), [])  # warm-up: CUDA context, kernels
    common = dict(model=args.model, device=args.device, compute_type=args.compute_type, decode=options,
                  progress=False, reports=False)
    vocab = dict(dictionary=DICTIONARY, directory=DIRECTORY, audio_roots=(Path(args.clip_root),))
    # and one whole run on one clip, so that one-off costs (numba compiling the aligner) fall outside the timings
    one_clip = work / "warm-up.csv"
    with open(one_clip, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(first))
        w.writeheader()
        w.writerow(first)
    run_evaluation(one_clip, work / "warm-up", config=RunConfig(**common), backend=backend, **vocab)
    rows, sequential, plans = [], None, {}
    deadline = time.monotonic() + args.budget_s
    for batch in args.batch_sizes:
        backend.batch_size = batch
        for label, conditions in (("one", ("baseline",)), ("four", ())):
            if time.monotonic() > deadline:
                rows.append({"path": "asr-eval", "batch": batch, "conditions": label, "skipped": "time budget"})
                continue
            out = work / f"asr-eval-{batch}-{label}"
            with memory:
                w0 = time.perf_counter()
                run_evaluation(clips, out, config=RunConfig(batch_size=batch, conditions=conditions, **common),
                               backend=backend, **vocab)
                wall = time.perf_counter() - w0
            row = {"path": "asr-eval", "batch": batch, "conditions": label, "wall_s": round(wall, 3),
                   "rtfx": round(audio_s / wall, 2), "peak_mib": round(memory.peak, 1)}
            if label == "four":
                texts = _transcripts(out)
                plans = plans or _plans(out)
                if sequential is None:
                    sequential = texts
                row["differ_from_batch_1"] = f"{sum(texts.get(k) != v for k, v in sequential.items())}/{len(sequential)}"
            rows.append(row)
    return {"load_s": round(load_s, 2), "rows": rows, "plans": plans}


def _decode_kwargs(options) -> dict:
    return dict(language="en", beam_size=options.beam_size, temperature=list(options.temperatures),
                compression_ratio_threshold=options.compression_ratio_threshold,
                log_prob_threshold=options.log_prob_threshold, no_speech_threshold=options.no_speech_threshold,
                condition_on_previous_text=options.condition_on_previous_text, without_timestamps=True,
                vad_filter=False)


def worker_reference(args: argparse.Namespace, clips: Path, audio_s: float, work: Path) -> dict:
    """The bare loop (clip by clip) and BatchedInferencePipeline (clips concatenated, one batch item per clip)."""
    import numpy as np
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from asr_eval.audio import load_audio
    from asr_eval.backends.models import resolve_model
    from asr_eval.types import DecodeOptions

    options = DecodeOptions(beam_size=args.beam_size)
    # the four conditions' prompts exactly as asr-eval built them (None: the baseline); none if it did not get that far
    prompts = [p.get("text") if p.get("method") == "prompt" else None for p in json.loads(args.plans).values()]
    memory = PeakMemory(args.device)
    spec = resolve_model(args.model)
    t0 = time.perf_counter()
    model = WhisperModel(str(spec.path), device=args.device, compute_type=args.compute_type, local_files_only=True)
    load_s = time.perf_counter() - t0
    rows_in = list(csv.DictReader(open(clips, encoding="utf-8")))
    list(model.transcribe(rows_in[0]["audio"], language="en", beam_size=1)[0])  # warm-up
    kwargs = _decode_kwargs(options)
    audios = [load_audio(r["audio"]) for r in rows_in]
    joined = np.concatenate(audios)
    bounds, start = [], 0.0
    for a in audios:
        bounds.append({"start": start, "end": start + len(a) / 16000})
        start += len(a) / 16000
    pipeline = BatchedInferencePipeline(model)
    rows = []
    deadline = time.monotonic() + args.budget_s

    def timed(path: str, batch: int, label: str, fn) -> None:
        if time.monotonic() > deadline or (label == "four" and not prompts):
            why = "time budget" if prompts or label == "one" else "no prompts (asr-eval's four-condition run missing)"
            rows.append({"path": path, "batch": batch, "conditions": label, "skipped": why})
            return
        with memory:
            w0 = time.perf_counter()
            fn()
            wall = time.perf_counter() - w0
        rows.append({"path": path, "batch": batch, "conditions": label, "wall_s": round(wall, 3),
                     "rtfx": round(audio_s / wall, 2), "peak_mib": round(memory.peak, 1)})

    def loop(prompt_list) -> None:
        for prompt in prompt_list:
            for r in rows_in:
                list(model.transcribe(r["audio"], initial_prompt=prompt, **kwargs)[0])

    def batched(batch: int, prompt_list) -> None:
        for prompt in prompt_list:
            # the pipeline encodes initial_prompt without the leading space transcribe adds (FACTS.md)
            segments, _ = pipeline.transcribe(joined, clip_timestamps=bounds, batch_size=batch,
                                              initial_prompt=(" " + prompt) if prompt else None, **kwargs)
            list(segments)

    timed("bare loop", 1, "one", lambda: loop([None]))
    timed("bare loop", 1, "four", lambda: loop(prompts))
    for batch in args.batch_sizes:
        timed("BatchedInferencePipeline", batch, "one", lambda: batched(batch, [None]))
        timed("BatchedInferencePipeline", batch, "four", lambda: batched(batch, prompts))
    return {"load_s": round(load_s, 2), "rows": rows}


# --------------------------------------------------------------------------- driver


def gpu_visible() -> tuple[bool, str]:
    try:
        import ctranslate2
    except ImportError as exc:
        return False, f"CTranslate2 is not installed ({exc})"
    try:
        n = ctranslate2.get_cuda_device_count()
    except Exception as exc:  # a broken CUDA runtime
        return False, f"CTranslate2 cannot query CUDA ({exc})"
    if n < 1:
        return False, "CTranslate2 sees no CUDA device (no GPU, driver, or CUDA 12 runtime / cuDNN 9 libraries)"
    return True, f"{n} CUDA device(s)"


def gpu_name() -> str:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return "unknown GPU"
    out = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown GPU"


def spawn(args: argparse.Namespace, role: str, model: str, compute_type: str, clips: Path, audio_s: float,
          work: Path, budget_s: float, plans: dict) -> dict:
    result = work / f"{role}-{model}-{compute_type}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", role, "--model", model,
           "--compute-type", compute_type, "--device", args.device, "--beam-size", str(args.beam_size),
           "--batch-sizes", ",".join(map(str, args.batch_sizes)), "--clip-manifest", str(clips),
           "--clip-root", str(args.clip_root), "--audio-seconds", str(audio_s), "--budget-s", str(max(budget_s, 1.0)),
           "--plans", json.dumps(plans), "--result", str(result), "--workdir", str(work)]
    print(f"[bench_gpu] {role} {model} {compute_type} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit code {proc.returncode}", "rows": []}
    return json.loads(result.read_text())


def print_table(results: list[dict], audio_s: float, clips: int) -> None:
    header = ("model", "compute", "path", "batch", "cond", "wall s", "RTFx", "4/1", "peak MiB", "batched differ")
    lines = [header]
    for res in results:
        one = {(r["path"], r["batch"]): r for r in res["rows"] if r.get("conditions") == "one" and "wall_s" in r}
        for r in res["rows"]:
            if "wall_s" not in r:
                lines.append((res["model"], res["compute_type"], r["path"], str(r["batch"]), r["conditions"],
                              r.get("skipped", ""), "", "", "", ""))
                continue
            base = one.get((r["path"], r["batch"]))
            ratio = f"{r['wall_s'] / base['wall_s']:.2f}x" if r["conditions"] == "four" and base else ""
            lines.append((res["model"], res["compute_type"], r["path"], str(r["batch"]), r["conditions"],
                          f"{r['wall_s']:.2f}", f"{r['rtfx']:.1f}", ratio, f"{r['peak_mib']:.0f}",
                          r.get("differ_from_batch_1", "")))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    print(f"\n{clips} clips, {audio_s:.1f} s of audio; RTFx = audio seconds / wall seconds; "
          "4/1 = four conditions' wall time over one condition's at the same batch size")
    for line in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
    for res in results:
        if res.get("error"):
            print(f"{res['model']} {res['compute_type']} {res.get('role', '')}: {res['error']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--quick", action="store_true", help="12 clips, one compute type, batch sizes 1 and 8")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--compute-types", default=None, help="default: float16,int8_float16 on cuda, int8 on cpu")
    ap.add_argument("--batch-sizes", default=None, help="default: 1,8,32 (1,8 with --quick)")
    ap.add_argument("--clips", type=int, default=None, help="default: 48 (12 with --quick)")
    ap.add_argument("--manifest", type=Path, default=None, help="default: the demo fixtures, else the shared accent archive")
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--budget-s", type=float, default=420.0, help="stop starting new stages after this long")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here")
    # worker mode (one process per model x compute type x path)
    ap.add_argument("--worker", choices=("asr-eval", "reference"), help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--compute-type", help=argparse.SUPPRESS)
    ap.add_argument("--clip-manifest", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--clip-root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--audio-seconds", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--plans", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.batch_sizes = [int(b) for b in (args.batch_sizes or ("1,8" if args.quick else ",".join(map(str, BATCH_SIZES)))).split(",")]

    if args.worker:
        fn = worker_asr_eval if args.worker == "asr-eval" else worker_reference
        work = Path(tempfile.mkdtemp(prefix=f"w-{args.worker}-", dir=args.workdir))
        out = fn(args, args.clip_manifest, args.audio_seconds, work)
        args.result.write_text(json.dumps(out))
        return 0

    if args.device == "cuda":
        ok, why = gpu_visible()
        if not ok:
            print(f"bench_gpu: no GPU to measure: {why}. Nothing was run. "
                  "Run it on a CUDA machine (bash benchmarks/gpu.sh), or check the script with --device cpu --quick.")
            return 0
        print(f"bench_gpu: {why}: {gpu_name()}")
    compute_types = (args.compute_types.split(",") if args.compute_types
                     else (GPU_COMPUTE_TYPES[:1] if args.quick else GPU_COMPUTE_TYPES) if args.device == "cuda" else ["int8"])
    n_clips = args.clips or (12 if args.quick else 48)
    manifest = args.manifest or (DEMO if DEMO.exists() else SAA)
    if not manifest.exists():
        print(f"bench_gpu: no clips at {manifest}: give --manifest", file=sys.stderr)
        return 2
    args.clip_root = manifest.resolve().parent

    from asr_eval.backends.models import resolve_model
    from asr_eval.types import ModelError

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="asr-eval-bench-gpu-"))
    results: list[dict] = []
    try:
        clips, audio_s = pick_clips(manifest, n_clips, work)
        models = []
        for model in args.models.split(","):
            try:
                resolve_model(model)  # joins base/small from their packages once, outside the timings
                models.append(model)
            except ModelError as exc:
                results.append({"model": model, "compute_type": "-", "rows": [], "error": f"skipped: {exc}"})
        configs = [(m, ct) for m in models for ct in compute_types]
        for k, (model, ct) in enumerate(configs):
            # an even share of what is left per configuration; asr-eval's six stages get 55% of it
            share = (args.budget_s - (time.monotonic() - started)) / (len(configs) - k)
            mine = spawn(args, "asr-eval", model, ct, clips, audio_s, work, 0.55 * share, {})
            results.append({"model": model, "compute_type": ct, "role": "asr-eval", **mine})
            share = (args.budget_s - (time.monotonic() - started)) / (len(configs) - k)
            ref = spawn(args, "reference", model, ct, clips, audio_s, work, share, mine.get("plans", {}))
            results.append({"model": model, "compute_type": ct, "role": "reference", **ref})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, audio_s, n_clips)
    print(f"\nbench_gpu: {time.monotonic() - started:.0f} s in all (device {args.device}, beam {args.beam_size})")
    if args.json:
        args.json.write_text(json.dumps({"clips": n_clips, "audio_seconds": audio_s, "device": args.device,
                                         "results": results}, indent=2) + "\n")
    return 1 if any(r.get("error") and not str(r["error"]).startswith("skipped") for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
