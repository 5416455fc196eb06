"""Run the CLI the way a shared service would, and watch what it writes.

``cli()`` runs ``python -m asr_eval.cli ...`` in a subprocess from the
repository root (so this checkout's package is the one imported) with
``HOME``, ``ASR_EVAL_CACHE`` and ``TMPDIR`` pointed into a temporary folder,
captures stdout/stderr, and snapshots the temporary tree, ``HOME`` and the
repository (every file but ``.git`` and ``*.pyc``, so numba's ``*.nbi``/``*.nbc``
count) before and after. ``Result.written_outside()`` lists every path created,
changed or deleted anywhere but ``--out`` and the cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "asr_eval"

NUMBA_CACHE = re.compile(r"\.nb[ic]$")


def snapshot(*roots: Path) -> dict[str, tuple]:
    """path -> (kind, size, mtime_ns) for everything under ``roots`` (``.git`` and ``*.pyc`` left out)."""
    out: dict[str, tuple] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for d in dirnames:
                p = os.path.join(dirpath, d)
                out[p] = ("d",)
            for f in filenames:
                if f.endswith(".pyc"):
                    continue
                p = os.path.join(dirpath, f)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                out[p] = ("f", st.st_size, st.st_mtime_ns)
    return out


def diff(before: dict, after: dict) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


@dataclass
class Result:
    args: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float
    out: Path | None
    cache: Path
    home: Path
    tmpdir: Path
    changed: list[str] = field(default_factory=list)
    peak_rss: int | None = None  # bytes, with measure_rss=True

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def written_outside(self, allow: Iterable[Path] = ()) -> list[str]:
        """Paths changed by the command that lie outside --out, the cache and ``allow``."""
        roots = [p for p in (self.out, self.cache, *allow) if p is not None]
        bad = []
        for p in self.changed:
            if any(_under(p, r) for r in roots):
                continue
            if any(_under(str(r), Path(p)) for r in roots):
                continue  # a folder made on the way to --out or the cache
            bad.append(p)
        return bad

    def lines(self, pattern: str) -> list[str]:
        """stderr lines that match ``pattern`` (a regular expression searched in each line)."""
        return [ln for ln in self.stderr.splitlines() if re.search(pattern, ln)]

    def describe(self) -> str:
        return (f"$ asr-eval {' '.join(self.args)}\nexit {self.rc} in {self.seconds:.1f} s\n"
                f"--- stderr ---\n{self.stderr[-4000:]}\n--- stdout ---\n{self.stdout[-2000:]}")


def _under(path: str, root: Path) -> bool:
    r = str(root)
    return path == r or path.startswith(r.rstrip("/") + "/")


def cli(tmp: Path, args: Sequence[object], *, out: Path | None = None, home: Path | None = None,
        cache: Path | None = None, timeout: float = 300, env: dict | None = None, columns: int | None = 10_000,
        drop_root: bool = False, pythonpath: Path | None = None, cwd: Path = ROOT,
        measure_rss: bool = False, fsize: int | None = None, cache_seed: Path | None = None) -> Result:
    """``python -m asr_eval.cli ARGS`` as a service would run it; ``out`` is the --out folder (for the write check).

    ``columns`` sets COLUMNS so the console does not wrap at 80 (wrapping has its
    own test); None leaves it unset. ``drop_root`` runs without CAP_DAC_OVERRIDE,
    so that file modes bind root as well (read-only folders). ``measure_rss``
    runs the command under a small wrapper that reports its peak resident set
    (``ru_maxrss`` of the wrapper's children) in ``Result.peak_rss``. ``fsize``
    caps the size of any file the command writes (RLIMIT_FSIZE): a full disk,
    as the command sees it (EFBIG instead of ENOSPC). ``cache_seed`` is copied
    into a cache folder that does not exist yet (compiled numba kernels and
    matplotlib's font cache, so each case does not build them again).
    """
    home = home or tmp / "home"
    cache = cache or tmp / "asr-cache"
    tmpdir = tmp / "tmpdir"
    if cache_seed is not None and not cache.exists():
        shutil.copytree(cache_seed, cache, symlinks=True)
    for d in (home, cache, tmpdir):
        d.mkdir(parents=True, exist_ok=True)
    e = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NUMBA_CACHE_DIR", "MPLCONFIGDIR",
                                                          "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    e.update(HOME=str(home), ASR_EVAL_CACHE=str(cache), TMPDIR=str(tmpdir), PYTHONDONTWRITEBYTECODE="1",
             NO_COLOR="1", TERM="dumb")
    if columns is not None:
        e["COLUMNS"] = str(columns)
    if pythonpath is not None:
        e["PYTHONPATH"] = str(pythonpath)
    else:
        e.pop("PYTHONPATH", None)
    e.update(env or {})
    argv = [sys.executable, "-m", "asr_eval.cli", *map(str, args)]
    if fsize is not None:
        argv = [sys.executable, "-c", _FSIZE_WRAPPER, str(fsize), *argv]
    if measure_rss:
        argv = [sys.executable, "-c", _RSS_WRAPPER, *argv]
    if drop_root and os.geteuid() == 0:
        argv = [shutil.which("setpriv") or "setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *argv]
    roots = (tmp, home, ROOT) if _under(str(home), tmp) else (tmp, ROOT, home)
    before = snapshot(*roots)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        rc, so, se = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, so, se = -9, _s(exc.stdout), _s(exc.stderr) + f"\n[harness] killed after {timeout} s"
    seconds = time.perf_counter() - t0
    after = snapshot(*roots)
    peak = None
    if measure_rss:
        m = re.search(r"^__PEAK_RSS_KB__ (\d+)\n?", se, re.M)
        if m:
            peak, se = int(m.group(1)) * 1024, se[: m.start()] + se[m.end():]
    return Result([str(a) for a in args], rc, so, se, seconds, out, cache, home, tmpdir, diff(before, after), peak)


_FSIZE_WRAPPER = ("import os, resource, sys; n = int(sys.argv[1]); "
                  "resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); os.execv(sys.argv[2], sys.argv[2:])")
_RSS_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                "print('__PEAK_RSS_KB__', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
                "sys.exit(r.returncode)")


def _s(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode("utf-8", "replace")


def leftover_tmp_files(folder: Path | None) -> list[str]:
    """Temporary files an atomic write left behind (``.name.tmpPID`` and friends)."""
    if folder is None or not folder.exists() or not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.rglob("*") if re.search(r"\.tmp\d*$|\.tmp[^/]*$|~$", p.name))


def common_checks(res: Result, allow: Iterable[Path] = ()) -> None:
    """What every case asserts: no traceback, nothing written outside --out and the cache, no temp files left."""
    assert "Traceback" not in res.output, res.describe()
    outside = res.written_outside(allow)
    assert not outside, f"written outside --out and the cache: {outside[:10]}\n{res.describe()}"
    left = leftover_tmp_files(res.out)
    assert not left, f"temporary files left behind: {left}\n{res.describe()}"
    if res.tmpdir.is_dir():
        stray = [str(p) for p in res.tmpdir.rglob("*")]
        assert not stray, f"left in TMPDIR: {stray[:10]}\n{res.describe()}"
