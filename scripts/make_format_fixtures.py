"""Write the demo test set (audio_fixtures/demo) out in every format asr-eval reads, one folder each.

    python scripts/make_format_fixtures.py OUT [--manifest audio_fixtures/demo/manifest.csv]

Whole-clip variants (each clip its own file): ``csv``, ``nemo``, ``hf``,
``hf-disk`` (needs ``datasets``), ``lhotse-cuts`` and ``lhotse-pair`` (need
``lhotse``; written by lhotse itself), ``kaldi``, ``commonvoice``.
Segment variants, over one recording per accent group made by concatenating
its clips' samples unchanged (so every segment decodes to exactly its clip):
``nemo-segments``, ``kaldi-segments``, ``lhotse-segments``, ``stm``.
Each folder holds its own audio (hard links where the filesystem allows, else
copies), so the default audio confinement accepts it. Prints one line per
folder: format, path of what to pass to asr-eval.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _rows(manifest: Path) -> tuple[list[str], list[dict]]:
    """The header and the clips with speech: a non-speech clip (empty text, ``speech`` false) is asr-eval's own
    notion, which Kaldi, Common Voice and stm have no field for, so the format fixtures leave those clips out."""
    with open(manifest, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if (r.get("text") or "").strip()
                and (r.get("speech") or "").strip().lower() not in ("false", "0", "no")]
        return list(reader.fieldnames or []), rows


def _concat(rows: list[dict], base: Path, out: Path) -> dict[str, tuple[str, float, float]]:
    """One FLAC per accent group of its clips' int16 samples back to back; id -> (recording, start, end)."""
    out.mkdir(parents=True, exist_ok=True)
    spans: dict[str, tuple[str, float, float]] = {}
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["accent_group"], []).append(r)
    for group, members in groups.items():
        parts, sr, pos = [], None, 0
        for r in members:
            data, rate = sf.read(base / r["audio"], dtype="int16", always_2d=True)
            if sr not in (None, rate):
                raise SystemExit(f"{group}: clips of different sample rates cannot be concatenated")
            sr = rate
            parts.append(data[:, 0])
            spans[r["id"]] = (f"rec-{group}", pos / rate, (pos + len(data)) / rate)
            pos += len(data)
        sf.write(out / f"rec-{group}.flac", np.concatenate(parts), sr, subtype="PCM_16")
    return spans


def _t(x: float) -> str:
    return f"{x:.6f}"


def write_all(manifest: Path, out: Path) -> dict[str, Path]:
    base = manifest.parent
    header, rows = _rows(manifest)
    made: dict[str, Path] = {}

    def clips(folder: Path, rename=None) -> None:
        for r in rows:
            _link(base / r["audio"], folder / (rename(r) if rename else r["audio"]))

    # asr-eval's own CSV, the reference the others are compared with
    d = out / "csv"
    clips(d)
    with open(d / "manifest.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    made["asr-eval"] = d / "manifest.csv"

    d = out / "nemo"
    clips(d)
    with open(d / "manifest.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"audio_filepath": r["audio"], "text": r["text"], "duration": sf.info(base / r["audio"]).duration,
                                "id": r["id"], "speaker": r["speaker"], "accent_group": r["accent_group"],
                                "voice": r["voice"], "sentence_id": r["sentence_id"]}, ensure_ascii=False) + "\n")
    made["nemo"] = d / "manifest.jsonl"

    d = out / "hf"
    clips(d)
    with open(d / "metadata.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "id", "transcription", "speaker_id", "accent", "voice", "sentence_id"])
        for r in rows:
            w.writerow([r["audio"], r["id"], r["text"], r["speaker"], r["accent_group"], r["voice"], r["sentence_id"]])
    made["hf"] = d

    d = out / "kaldi"
    clips(d)
    _kaldi(d, rows, {r["id"]: r["audio"] for r in rows}, None)
    made["kaldi"] = d

    d = out / "commonvoice"
    clips(d / "clips", rename=lambda r: r["id"] + Path(r["audio"]).suffix)
    with open(d / "test.tsv", "w", encoding="utf-8") as f:
        f.write("client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n")
        for r in rows:
            f.write(f"{r['speaker']}\t{r['id']}{Path(r['audio']).suffix}\t{r['text']}\t2\t0\t\t\t{r['accent_group']}\ten\t\n")
    made["commonvoice"] = d / "test.tsv"

    # segment variants over concatenated recordings
    d = out / "nemo-segments"
    spans = _concat(rows, base, d)
    with open(d / "manifest.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            rec, s, e = spans[r["id"]]
            f.write(json.dumps({"audio_filepath": f"{rec}.flac", "offset": s, "duration": e - s, "text": r["text"],
                                "id": r["id"], "speaker": r["speaker"], "accent_group": r["accent_group"]},
                               ensure_ascii=False) + "\n")
    made["nemo-segments"] = d / "manifest.jsonl"

    d = out / "kaldi-segments"
    spans = _concat(rows, base, d)
    _kaldi(d, rows, {rec: f"{rec}.flac" for rec, _, _ in spans.values()}, spans)
    made["kaldi-segments"] = d

    d = out / "stm"
    spans = _concat(rows, base, d)
    with open(d / "test.stm", "w", encoding="utf-8") as f:
        f.write(";; the asr-eval demo set as NIST stm (written by scripts/make_format_fixtures.py)\n")
        for r in rows:
            rec, s, e = spans[r["id"]]
            f.write(f"{rec} 1 {r['speaker']} {_t(s)} {_t(e)} <o,{r['accent_group']}> {r['text']}\n")
    made["stm"] = d / "test.stm"

    try:
        import lhotse  # noqa: F401
    except ImportError:
        print("lhotse not installed: lhotse variants not written", file=sys.stderr)
    else:
        made.update(_lhotse(rows, base, out))
    try:
        import datasets  # noqa: F401
    except ImportError:
        print("datasets not installed: hf-disk variant not written", file=sys.stderr)
    else:
        made["hf-disk"] = _hf_disk(rows, base, out / "hf-disk")
    return made


def _kaldi(d: Path, rows: list[dict], wavs: dict[str, str], spans) -> None:
    d.mkdir(parents=True, exist_ok=True)
    # In the manifest's order, so that the run's rows come in the same order as the CSV's (Kaldi's own
    # tools want these files sorted by id: utils/fix_data_dir.sh sorts them; asr-eval reads any order).
    order = rows
    with open(d / "wav.scp", "w", encoding="utf-8") as f:
        f.writelines(f"{k} {v}\n" for k, v in sorted(wavs.items()))
    with open(d / "text", "w", encoding="utf-8") as f:
        f.writelines(f"{r['id']} {r['text']}\n" for r in order)
    with open(d / "utt2spk", "w", encoding="utf-8") as f:
        f.writelines(f"{r['id']} {r['speaker']}\n" for r in order)
    with open(d / "utt2accent", "w", encoding="utf-8") as f:  # read as the 'accent' metadata: the accent group
        f.writelines(f"{r['id']} {r['accent_group']}\n" for r in order)
    if spans:
        with open(d / "segments", "w", encoding="utf-8") as f:
            for r in order:
                rec, s, e = spans[r["id"]]
                f.write(f"{r['id']} {rec} {_t(s)} {_t(e)}\n")


def _lhotse(rows: list[dict], base: Path, out: Path) -> dict[str, Path]:
    from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    made: dict[str, Path] = {}
    cwd = Path.cwd()
    for name in ("lhotse-cuts", "lhotse-pair"):
        d = out / name
        for r in rows:
            _link(base / r["audio"], d / r["audio"])
        os.chdir(d)  # lhotse stores source paths as given: relative to the manifest's folder here
        try:
            recs, sups = [], []
            for r in rows:
                rec = Recording.from_file(r["audio"], recording_id=r["id"])
                recs.append(rec)
                sups.append(SupervisionSegment(id=r["id"], recording_id=rec.id, start=0.0, duration=rec.duration,
                                               channel=0, text=r["text"], speaker=r["speaker"], language="English",
                                               custom={"accent": r["accent_group"], "voice": r["voice"]}))
            rs, ss = RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)
            if name == "lhotse-cuts":
                CutSet.from_manifests(recordings=rs, supervisions=ss).to_file("cuts.jsonl.gz")
                made["lhotse-cuts"] = d / "cuts.jsonl.gz"
            else:
                rs.to_file("demo_recordings_test.jsonl.gz")
                ss.to_file("demo_supervisions_test.jsonl.gz")
                made["lhotse-pair"] = d
        finally:
            os.chdir(cwd)
    d = out / "lhotse-segments"
    spans = _concat(rows, base, d)
    os.chdir(d)
    try:
        recs = {rec: Recording.from_file(f"{rec}.flac", recording_id=rec) for rec, _, _ in spans.values()}
        sups = [SupervisionSegment(id=r["id"], recording_id=spans[r["id"]][0], start=spans[r["id"]][1],
                                   duration=spans[r["id"]][2] - spans[r["id"]][1], channel=0, text=r["text"],
                                   speaker=r["speaker"], custom={"accent": r["accent_group"]}) for r in rows]
        cuts = CutSet.from_manifests(recordings=RecordingSet.from_recordings(recs.values()),
                                     supervisions=SupervisionSet.from_segments(sups))
        cuts.trim_to_supervisions(keep_overlapping=False).to_file("cuts.jsonl.gz")
    finally:
        os.chdir(cwd)
    made["lhotse-segments"] = d / "cuts.jsonl.gz"
    return made


def _hf_disk(rows: list[dict], base: Path, d: Path) -> Path:
    from datasets import Audio, Dataset

    ds = Dataset.from_dict({
        "audio": [str(base / r["audio"]) for r in rows], "id": [r["id"] for r in rows],
        "text": [r["text"] for r in rows], "speaker_id": [r["speaker"] for r in rows],
        "accent": [r["accent_group"] for r in rows]}).cast_column("audio", Audio())
    ds.save_to_disk(str(d))  # embeds each file's bytes in the arrow file
    return d


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--manifest", type=Path, default=Path(__file__).resolve().parents[1] / "audio_fixtures/demo/manifest.csv")
    args = ap.parse_args(argv)
    for fmt, path in write_all(args.manifest.resolve(), args.out.resolve()).items():
        print(f"{fmt}\t{path}")


if __name__ == "__main__":
    main()
