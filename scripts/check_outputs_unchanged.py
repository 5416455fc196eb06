"""Prove a refactor left outputs unchanged: run the same evaluations before and after, compare the scored files.

Two steps, each a sub-command:

    # with the old code (e.g. a clone of the old commit on PYTHONPATH) and with the new:
    PYTHONPATH=/tmp/old python scripts/check_outputs_unchanged.py capture /tmp/outputs-before
    python scripts/check_outputs_unchanged.py capture /tmp/outputs-after
    python scripts/check_outputs_unchanged.py compare /tmp/outputs-before /tmp/outputs-after

``capture`` runs ``asr-eval run`` (through ``python -m asr_eval.cli`` with this
interpreter, so ``PYTHONPATH`` picks the code) on the bundled demo (four
conditions) and on the Speech Accent Archive in ``../shared`` (baseline and
dictionary), each with a fresh transcript cache so decoding itself is compared,
not just scoring. ``--reuse-cache DIR`` seeds each run's cache from an earlier
capture instead, to check scoring and reports quickly while iterating.

``compare`` requires every scored file to be byte-identical; only the wall-clock
fields (which no two runs share) are masked, and the JSON files are compared
after removing exactly those keys. Exit 1 lists every difference.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAA = ROOT.parent / "shared" / "data" / "speech-accent-archive" / "manifest.csv"

RUNS = {
    "demo": ["audio_fixtures/demo/manifest.csv", "--dictionary", "dictionaries/demo-company.csv",
             "--directory", "dictionaries/demo-directory.csv"],
    "saa": [str(SAA), "--dictionary", "dictionaries/speech-accent-archive.csv",
            "--condition", "baseline", "--condition", "dictionary"],
}
SCORED = ["utterances.csv", "summary.csv", "comparison.csv", "terms.csv", "alignments.jsonl", "report.json",
          "report.md", "skipped.csv"]
# Keys whose values are wall-clock measurements, what this capture decoded versus took from its cache,
# or absolute paths of the checkout that made it; masked wherever they occur.
VOLATILE_KEYS = {"timing", "wall_seconds", "decode_seconds", "rtfx", "created", "generated", "out_dir", "command",
                 "path"}
# report.md lines carrying the same facts in prose.
VOLATILE_MD = re.compile(r"^- (Tool|Command|Timing):.*$|(?<=^- Manifest: )\S+|(?<=^- Dictionary: )\S+"
                         r"|(?<=^- Directory: )\S+", re.M)


def capture(dest: Path, reuse_cache: Path | None, only: list[str]) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    for name, args in RUNS.items():
        if only and name not in only:
            continue
        if name == "saa" and not SAA.exists():
            print(f"skip saa: {SAA} not found", file=sys.stderr)
            continue
        out = dest / name
        if out.exists():
            shutil.rmtree(out)
        cmd = [sys.executable, "-m", "asr_eval.cli", "run", *args, "--out", str(out), "--no-progress"]
        if reuse_cache is not None and (reuse_cache / name / "cache").is_dir():
            cache = dest / f"{name}-cache"  # a copy beside the run folder, so the earlier capture stays as it was
            if cache.exists():
                shutil.rmtree(cache)
            shutil.copytree(reuse_cache / name / "cache", cache)
            cmd += ["--cache", str(cache)]
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc not in (0, 5):
            return rc
    return 0


def _mask(obj):
    if isinstance(obj, dict):
        return {k: ("<masked>" if k in VOLATILE_KEYS else _mask(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask(v) for v in obj]
    return obj


def _differs(a: Path, b: Path) -> str | None:
    if not a.exists() and not b.exists():
        return None
    if a.exists() != b.exists():
        return "only in " + ("before" if a.exists() else "after")
    ba, bb = a.read_bytes(), b.read_bytes()
    if ba == bb:
        return None
    if a.suffix == ".json":
        ma, mb = _mask(json.loads(ba)), _mask(json.loads(bb))
        if ma == mb:
            return None
        ba, bb = (json.dumps(m, indent=1, sort_keys=True).encode() for m in (ma, mb))  # report what differs
    if a.suffix == ".jsonl":  # transcripts carry each clip's wall-clock decode time
        ba, bb = ("\n".join(json.dumps(_mask(json.loads(line)), sort_keys=True, ensure_ascii=False)
                             for line in x.decode().splitlines()).encode() for x in (ba, bb))
        if ba == bb:
            return None
    if a.name == "report.md":
        ba, bb = (VOLATILE_MD.sub("<masked>", x.decode()).encode() for x in (ba, bb))
        if ba == bb:
            return None
    la, lb = ba.decode(errors="replace").splitlines(), bb.decode(errors="replace").splitlines()
    for i, (x, y) in enumerate(zip(la, lb), 1):
        if x != y:
            return f"line {i}: {x[:160]!r} != {y[:160]!r}"
    return f"{len(la)} vs {len(lb)} lines"


def compare(before: Path, after: Path) -> int:
    problems = 0
    for run in sorted(p.name for p in before.iterdir() if p.is_dir()):
        files = list(SCORED)
        files += sorted(f"transcripts/{p.name}" for p in (before / run / "transcripts").glob("*.jsonl"))
        files += sorted(f"trn/{p.name}" for p in (before / run / "trn").glob("*.trn"))
        for f in files:
            why = _differs(before / run / f, after / run / f)
            status = "same" if why is None else f"DIFFERS ({why})"
            problems += why is not None
            print(f"{run}/{f}: {status}")
    print(f"{problems} file(s) differ")
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("dest", type=Path)
    c.add_argument("--reuse-cache", type=Path, default=None)
    c.add_argument("--only", action="append", default=[], choices=sorted(RUNS))
    k = sub.add_parser("compare")
    k.add_argument("before", type=Path)
    k.add_argument("after", type=Path)
    a = ap.parse_args()
    if a.cmd == "capture":
        return capture(a.dest, a.reuse_cache, a.only)
    return compare(a.before, a.after)


if __name__ == "__main__":
    sys.exit(main())
