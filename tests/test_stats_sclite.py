"""MAPSSWE against NIST SCTK's own sc_stats on the same alignments (skipped without SCTK).

sclite aligns random reference/hypothesis pairs and writes its alignments
(SGML); sc_stats runs its matched-pairs test on them. We feed the very same
alignments to ``mapsswe_segments`` + ``mapsswe`` and expect the same number of
segments, the same error totals and the same Z statistic.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from asr_eval import stats as st


def _sctk_bin(name: str) -> str | None:
    for cand in (shutil.which(name), f"/usr/lib/sctk/bin/{name}"):
        if cand and Path(cand).exists():
            return cand
    return None


SCLITE, SC_STATS = _sctk_bin("sclite"), _sctk_bin("sc_stats")
pytestmark = pytest.mark.skipif(not (SCLITE and SC_STATS), reason="NIST SCTK (Debian package 'sctk') not installed")

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def _corrupt(rng: random.Random, ref: list[str], p: float) -> list[str]:
    out = []
    for w in ref:
        x = rng.random()
        if x < p * 0.5:
            out.append(rng.choice(["zulu", "yankee", "xray"]))
        elif x >= p * 0.7:
            out.append(w)
        if rng.random() < p * 0.15:
            out.append("whiskey")
    return out


def _write_trn(path: Path, rows: list[list[str]]) -> None:
    path.write_text("".join(f"{' '.join(r)} (spk{i % 5}_{i:03d})\n" for i, r in enumerate(rows)), encoding="utf-8")


def _parse_sgml(path: Path) -> dict[str, list[str]]:
    text = path.read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r'<PATH id="\(([^)]*)\)"[^>]*>\n(.*?)</PATH>', text, re.DOTALL):
        body = m.group(2).strip()
        out[m.group(1)] = [item.split(",")[0] for item in body.split(":")] if body else []
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mapsswe_matches_sc_stats(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    refs = [[rng.choice(WORDS) for _ in range(rng.randint(2, 12))] for _ in range(40)]
    _write_trn(tmp_path / "ref.trn", refs)
    _write_trn(tmp_path / "a.trn", [_corrupt(rng, r, 0.5) for r in refs])
    _write_trn(tmp_path / "b.trn", [_corrupt(rng, r, 0.3) for r in refs])
    subprocess.run([SCLITE, "-r", "ref.trn", "trn", "-h", "a.trn", "trn", "A", "-h", "b.trn", "trn", "B",
                    "-i", "spu_id", "-o", "sgml", "-O", str(tmp_path)], cwd=tmp_path, capture_output=True, check=True)
    sgml = (tmp_path / "a.trn.sgml").read_text() + (tmp_path / "b.trn.sgml").read_text()
    res = subprocess.run([SC_STATS, "-p", "-t", "mapsswe", "-v", "-n", "-"], input=sgml, capture_output=True,
                         text=True, check=True)
    m = re.search(r"\(# segs: (\d+)\).*?\(% Error: ([\d.]+) ([\d.]+)\).*?\(Z Stat: ([-\d.]+)\)", res.stdout)
    assert m, res.stdout[-2000:]
    n_segs, z = int(m.group(1)), float(m.group(4))
    a, b = _parse_sgml(tmp_path / "a.trn.sgml"), _parse_sgml(tmp_path / "b.trn.sgml")
    segs = [s for k in a for s in st.mapsswe_segments(a[k], b[k])]
    w, _ = st.mapsswe([x for x, _ in segs], [y for _, y in segs])
    assert len(segs) == n_segs
    assert w == pytest.approx(z, abs=5e-4)
    totals = re.search(r"Totals\s+(\d+)\s+(\d+)\s+(\d+)", res.stdout)
    assert totals and (sum(x for x, _ in segs), sum(y for _, y in segs)) == (int(totals.group(2)), int(totals.group(3)))
