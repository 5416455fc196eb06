"""Files a run touches: content hashes, atomic writes, the output folder's lock and index.

Small, dependency-free helpers every I/O module shares, so there is one way to
hash a file, one way to replace a file without readers seeing half of it, one
way to refuse a second run into the same folder, and one record of which
files in an output folder asr-eval wrote (and so may later replace or remove).

An OS error while writing becomes ``OutputError`` (exit code 6) naming the
file the user asked for, never the temporary file beside it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from .types import InputError, OutputError, RunLockedError

LOCK_FILE = ".asr-eval.lock"
RUN_INDEX = ".asr-eval-run.json"
INDEX_FORMAT = 1
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp(?P<pid>\d+)$")
# what asr-eval writes into a run or sweep folder ends in one of these
_OUTPUT_SUFFIXES = (".csv", ".jsonl", ".json", ".trn", ".parquet", ".md", ".html", ".png", ".svg")


def _inside(rel: str) -> bool:
    """A relative path that stays inside its folder (no root, no '..')."""
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def temp_path(path: Path) -> Path:
    """The temporary twin an atomic write goes through (a stale one names the process that made it)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextmanager
def os_errors(path: str | Path, *aliases: str | Path) -> Iterator[None]:
    """Turn an OSError inside into ``OutputError`` naming ``path``.

    The path the OS names is kept when it is a parent folder (a read-only or
    missing --out); a failed ``write()``/``fsync()`` names none, and a
    temporary twin (``aliases``) means ``path`` to the user.
    """
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        named = exc.filename
        where = path if named is None or str(named) in {str(a) for a in aliases} else named
        raise OutputError(str(where), _plain(exc)) from exc


def _plain(exc: OSError) -> OSError:
    """pyarrow's OSError carries its errno only in its text ('... Detail: [errno 28] ...'): recover it."""
    if exc.errno is None:
        found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        if found:
            code = int(found.group(1))
            return OSError(code, os.strerror(code))
    return exc


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temporary file and rename, so readers never see half a file.

    On any failure (disk full, Ctrl-C) the temporary file is removed and the
    old file, if any, is left as it was.
    """
    path = Path(path)
    tmp = temp_path(path)
    with os_errors(path, tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "wb" if isinstance(data, bytes) else "w"
        try:
            with open(tmp, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""})) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise


def replace_atomic(path: Path, write_tmp) -> None:
    """``write_atomic`` for writers that want a file name (Parquet, matplotlib): ``write_tmp(tmp)`` then rename."""
    tmp = temp_path(path)
    with os_errors(path, tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_tmp(tmp)
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


# --------------------------------------------------------------------------- the output folder's index


def read_index(folder: str | Path) -> dict | None:
    """The folder's index, or None when asr-eval never wrote one there.

    A damaged index still marks the folder as asr-eval's, but lists nothing,
    so nothing in it is ever removed on the index's word.
    """
    path = Path(folder) / RUN_INDEX
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        raise OutputError(str(path), exc) from exc
    try:
        doc = json.loads(text)
        # only plain relative paths inside the folder: an index is a file someone could have edited
        files = [str(f) for f in doc.get("files") or [] if _inside(str(f))]
        return {"format": doc.get("format"), "kind": str(doc.get("kind") or "run"), "files": files}
    except (ValueError, AttributeError, TypeError):
        return {"format": None, "kind": "run", "files": []}


def listed_outputs(folder: str | Path) -> set[str]:
    """Relative paths the index says asr-eval wrote in ``folder`` (the only files a writer may remove)."""
    index = read_index(folder)
    return set(index["files"]) if index else set()


def record_outputs(folder: str | Path, written: Iterable[str], removed: Iterable[str] = (), kind: str = "run") -> None:
    """Add ``written`` to the folder's index (and drop ``removed``); keeps files an earlier run listed."""
    folder = Path(folder)
    index = read_index(folder) or {"kind": kind, "files": []}
    files = (set(index["files"]) | set(written)) - set(removed)
    doc = {"format": INDEX_FORMAT, "kind": index["kind"], "files": sorted(files)}
    write_atomic(folder / RUN_INDEX, json.dumps(doc, indent=1) + "\n")


def claim_folder(folder: str | Path, *, kind: str = "run", force: bool = False) -> None:
    """Make ``folder`` an asr-eval ``kind`` folder (created, with an empty index), or refuse it.

    For a writer that must refuse a folder long before it takes the lock to
    write there (a sweep, before it loads a model); ``RunLock`` does the same.
    """
    folder = Path(folder)
    if not _check(folder, kind, force):
        with os_errors(folder):
            folder.mkdir(parents=True, exist_ok=True)
        record_outputs(folder, (), kind=kind)


def _check(folder: Path, kind: str, force: bool) -> bool:
    """Refuse a non-empty folder asr-eval did not make (unless ``force``); True when it is already asr-eval's."""
    index = read_index(folder)
    if index is not None:
        if index["kind"] != kind and not force:
            raise InputError(str(folder), f"is an asr-eval {index['kind']} folder, not a {kind} folder; "
                                          f"choose another folder or pass --force")
        return True
    if force:
        return False
    try:
        strangers = [p.name for p in folder.iterdir() if p.name != LOCK_FILE]  # a lock file alone: a run that died at once
    except FileNotFoundError:
        return False
    except OSError as exc:  # not a folder, unreadable
        raise OutputError(str(folder), exc) from exc
    if strangers:
        raise InputError(str(folder), f"exists and is not an asr-eval {kind} folder (no {RUN_INDEX}); "
                                      "choose an empty folder or pass --force")
    return False


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the ``.<name>.tmp<pid>`` files a killed run left where asr-eval writes in ``folder``.

    Called with the folder's lock held: every writer into an asr-eval folder
    holds it, so no temporary file there belongs to a live write. Only the
    folder itself and the subfolders asr-eval writes into are looked at, never
    the whole tree of a folder that was once written into with --force.
    """
    listed = listed_outputs(folder)
    rel_dirs = {Path(f).parent for f in listed} | {Path("."), Path("transcripts"), Path("trn")}
    removed = []
    for rel in sorted(rel_dirs):
        try:
            entries = list((folder / rel).iterdir())
        except OSError:
            continue
        for p in entries:
            m = _TEMP.match(p.name)
            if not m or not (str(rel / m["name"]) in listed or m["name"].endswith(_OUTPUT_SUFFIXES)):
                continue  # not the temporary file of something asr-eval writes: not ours to remove
            if p.is_file() and not p.is_symlink():
                _unlink_quietly(p)
                removed.append(p)
    return removed


# --------------------------------------------------------------------------- the lock

_held: set[str] = set()


class RunLock:
    """An exclusive lock on an output folder; a second run into it is refused, not queued.

    Taking it also claims the folder: a folder that holds files but no asr-eval
    index is refused (``InputError``) unless ``force``, before anything is
    written into it; otherwise the index is created at once, so a run killed
    before its first output is still recognised (and resumed) next time, and
    temporary files a killed run left behind are removed.
    """

    def __init__(self, folder: str | Path, *, force: bool = False, kind: str = "run"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.force = force
        self.kind = kind
        self._fh = None

    @staticmethod
    def held(folder: str | Path) -> bool:
        """Whether this process holds the lock on ``folder`` (a writer nested in a run need not take it)."""
        return str(Path(folder).resolve()) in _held

    def __enter__(self) -> "RunLock":
        ours = _check(self.folder, self.kind, self.force)
        with os_errors(self.folder):
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunLockedError(
                f"output folder {self.folder} is in use by {holder}; wait for it to finish or choose another --out"
            ) from None
        except OSError as exc:
            fh.close()
            raise OutputError(str(self.path), exc) from exc
        self._fh = fh
        _held.add(str(self.folder.resolve()))
        try:
            with os_errors(self.path):
                fh.seek(0)
                fh.truncate()
                fh.write(f"pid {os.getpid()}\n")
                fh.flush()
            if ours:
                remove_stale_temp_files(self.folder)
            else:
                record_outputs(self.folder, (), kind=self.kind)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        _held.discard(str(self.folder.resolve()))
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
