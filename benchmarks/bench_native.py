"""Windowed vs native decoding on the same clips: WER, term recall, identical transcripts, wall time.

Runs ``asr-eval run`` twice on one manifest, as a user would (``--decoding
windowed``, then ``--decoding native``), each into its own run folder with its
own cache, then compares them from the run folders alone: WER and term recall
per condition (from summed counts, via summary.csv's ALL rows), how many
transcripts are identical between the two decodings, and each run's wall
time. ``--per-group N`` takes the first N clips of every accent group (the
whole manifest when 0), written as a sub-manifest with absolute audio paths
(so the run needs ``--allow-outside-paths``; the audio is read in place, never
copied).

Usage (Speech Accent Archive, 2 clips per accent group, faster-whisper):
    nice python benchmarks/bench_native.py ../shared/data/speech-accent-archive/manifest.csv \\
        -d dictionaries/speech-accent-archive.csv --out /tmp/bench-native --per-group 2
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr_eval.runfolder import read_transcripts  # noqa: E402


def sub_manifest(manifest: Path, per_group: int, out: Path) -> Path:
    with open(manifest, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), reader.fieldnames or []
    taken: dict[str, int] = {}
    keep = []
    for r in rows:
        n = taken.get(r["accent_group"], 0)
        if per_group and n >= per_group:
            continue
        taken[r["accent_group"]] = n + 1
        keep.append({**r, "audio": str((manifest.parent / r["audio"]).resolve())})
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(keep)
    return path


def run(manifest: Path, out: Path, decoding: str, args: argparse.Namespace) -> float:
    cmd = [sys.executable, "-m", "asr_eval.cli", "run", str(manifest), "-o", str(out), "--no-progress",
           "--allow-outside-paths", "--decoding", decoding, "--backend", args.backend,
           "--beam-size", str(args.beam_size), "--cpu-threads", str(args.threads)]
    if args.dictionary:
        cmd += ["-d", args.dictionary]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def overall(run_dir: Path) -> dict[str, dict[str, str]]:
    with open(run_dir / "summary.csv", newline="", encoding="utf-8") as f:
        return {r["condition"]: r for r in csv.DictReader(f) if r["accent_group"] == "ALL"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="working folder (outside the repository)")
    ap.add_argument("-d", "--dictionary")
    ap.add_argument("--per-group", type=int, default=2)
    ap.add_argument("--backend", default="faster-whisper")
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    manifest = sub_manifest(args.manifest.resolve(), args.per_group, args.out)
    walls = {d: run(manifest, args.out / d, d, args) for d in ("windowed", "native")}
    summaries = {d: overall(args.out / d) for d in walls}
    conditions = list(summaries["windowed"])
    texts = {d: read_transcripts(args.out / d, conditions) for d in walls}
    result = {"manifest": str(args.manifest), "clips": sum(1 for _ in open(manifest, encoding="utf-8")) - 1,
              "backend": args.backend, "beam_size": args.beam_size, "wall_seconds": walls, "conditions": {}}
    print(f"{result['clips']} clips, {args.backend}, beam {args.beam_size}")
    print("| condition | decoding | WER | term recall | identical transcripts | wall s (run) |")
    print("|---|---|---|---|---|---|")
    for c in conditions:
        keys = [k for k in texts["windowed"] if k[1] == c]
        same = sum(texts["windowed"][k].text == texts["native"][k].text for k in keys if k in texts["native"])
        result["conditions"][c] = {"identical": same, "clips": len(keys)}
        for d in walls:
            row = summaries[d][c]
            result["conditions"][c][d] = {"wer": float(row["wer"]), "term_recall": row.get("term_recall")}
            recall = f"{float(row['term_recall']):.3f}" if row.get("term_recall") not in (None, "") else "-"
            print(f"| {c} | {d} | {float(row['wer']):.3f} | {recall} | {same}/{len(keys)} | {walls[d]:.0f} |")
    (args.out / "bench_native.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
