"""The transcript cache: durable, resumable, shared between runs.

Each decoded transcript is appended to ``cache/transcripts.jsonl`` as one line
and flushed + fsynced before the next clip starts, so a run killed at any
moment (even ``kill -9``) loses at most the clip in flight. On reopening, a
torn last line is ignored (and truncated away), duplicates resolve to the first
record, and the run decodes only what is missing. Lines skipped that way are
reported in one warning (how many, and where), since each costs a decode.

The cache key is a hash of everything that can change a transcript: the audio
*content* hash, the backend's description (model weights hash, compute type,
every decoding option) and the bias plan actually in force. A transcript made
under any other settings is never served.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from .files import os_errors

STORE_FORMAT = 1


def _prefix(key: str) -> int:
    """The index's 64-bit handle of a key (its first 16 hex digits; any other text hashed)."""
    try:
        return int(key[:16], 16) if len(key) >= 16 else hash(key)
    except ValueError:
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audio_key(audio_sha256: str, start: float | None = None, end: float | None = None) -> str:
    """The audio part of a cache key: the file's hash, and the time range when the clip is a segment of it.

    Two segments of one recording must never share a transcript, and a whole
    file must keep the key it always had (the bare hash), so caches made
    before segments existed stay valid. Times are written to the microsecond,
    so 1.1 + 2.2 and 3.3 name the same range.
    """
    if start is None and end is None:
        return audio_sha256
    fmt = lambda t: "" if t is None else f"{t:.6f}"  # noqa: E731
    return f"{audio_sha256}[{fmt(start)},{fmt(end)}]"


def transcript_key(audio_sha256: str, engine: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """Cache key: sha256 over audio content, engine settings and the plan.

    The plan's condition *name* is left out: it cannot change a transcript, so a
    renamed condition (or two sweep points with the same plan) reuses the decode.
    """
    engine = {k: v for k, v in engine.items() if k not in ("model_path",)}  # same weights elsewhere = same key
    plan = {k: v for k, v in plan.items() if k != "condition"}
    payload = canonical_json({"v": STORE_FORMAT, "audio": audio_sha256, "engine": engine, "plan": plan})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class TranscriptStore:
    """Append-only JSONL of ``{"key": ..., "record": {...}}`` lines, indexed in memory by where each line starts.

    The index holds a 64-bit prefix of each key and the line's byte offset,
    not the records: a cache of millions of transcripts costs tens of bytes per
    transcript in memory, and a record is read back from the file when asked
    for (its full key checked, so two keys sharing a prefix are never confused).

    Several runs may share one store (``--cache``): every append and the
    load-and-repair on opening hold an exclusive ``flock`` on the file, so
    lines from two processes never interleave and one run never cuts away
    a line that another is still writing.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._index: dict[int, int] = {}     # key prefix -> offset of its first line
        self._overflow: dict[str, int] = {}  # full key -> offset, for a key whose prefix another key has
        with os_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab", buffering=0)
            self._rfh = open(self.path, "rb")
        self._locking = True
        try:
            with os_errors(self.path), self._locked():
                self._load()
        except BaseException:
            self._fh.close()
            self._rfh.close()
            raise
        damaged = self.skipped_lines + self.cut_tail
        if damaged:
            warnings.warn(f"{self.path}: skipped {damaged} damaged line{'s' if damaged > 1 else ''} "
                          "(a write cut short by a crash, or edited by hand); those clips will be decoded again",
                          stacklevel=2)

    def _load(self) -> None:
        """Index every complete record; only a torn *last* line is cut away.

        A damaged line in the middle (it ends in a newline, so a later write
        followed it) is skipped, never used as a reason to drop what follows.
        ``skipped_lines`` counts the first kind, ``cut_tail`` says whether
        there was the second; the warning counts both.
        """
        self.skipped_lines = 0
        offset = 0
        tail = b""
        with open(self.path, "rb") as f:  # line by line: the file may be far bigger than memory allows twice
            for raw in f:
                if not raw.endswith(b"\n"):
                    tail = raw  # a torn last write
                    break
                try:
                    obj = json.loads(raw)
                    key, record = obj["key"], obj["record"]
                    if not isinstance(key, str) or not isinstance(record, dict):
                        raise TypeError(key)
                except (ValueError, KeyError, TypeError):
                    self.skipped_lines += 1
                else:
                    self._add(key, offset)
                offset += len(raw)
        self.cut_tail = bool(tail)
        if tail:
            with open(self.path, "r+b") as f:
                f.truncate(offset)

    def _add(self, key: str, offset: int) -> None:
        """Index a line; the first line of a key wins (duplicates resolve to the first record)."""
        prefix = _prefix(key)
        first = self._index.get(prefix)
        if first is None:
            self._index[prefix] = offset
        elif key not in self._overflow and self._read(first)[0] != key:
            self._overflow[key] = offset

    def _offset(self, key: str) -> int | None:
        off = self._overflow.get(key)
        return off if off is not None else self._index.get(_prefix(key))

    def _read(self, offset: int) -> tuple[str | None, dict[str, Any] | None]:
        self._rfh.seek(offset)
        try:
            obj = json.loads(self._rfh.readline())
            return obj["key"], obj["record"]
        except (ValueError, KeyError, TypeError):
            return None, None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self._index) + len(self._overflow)

    def get(self, key: str) -> dict[str, Any] | None:
        off = self._offset(key)
        if off is None:
            return None
        with os_errors(self.path):
            found, record = self._read(off)
        return record if found == key else None

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        if key in self:
            return
        line = (json.dumps({"key": key, "record": record}, ensure_ascii=False) + "\n").encode("utf-8")
        fd = self._fh.fileno()
        with os_errors(self.path), self._locked():
            start = os.fstat(fd).st_size
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except BaseException:  # disk full, Ctrl-C between writes: leave no partial line to merge with the next
                os.ftruncate(fd, start)
                raise
        self._add(key, start)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        locked = self._lock()
        try:
            yield
        finally:
            if locked:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)

    def _lock(self) -> bool:
        """Take the exclusive flock; where the filesystem has none, warn once and go on unlocked."""
        if not self._locking:
            return False
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
            return True
        except OSError as exc:  # Lustre without -o flock, some FUSE mounts
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            self._locking = False
            warnings.warn(f"{self.path}: this filesystem cannot lock files ({exc.strerror}); "
                          "do not let two runs use this cache at the same time", stacklevel=4)
            return False

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (key, record), read back from the file one at a time."""
        for off in [*self._index.values(), *self._overflow.values()]:
            key, record = self._read(off)
            if key is not None and record is not None:
                yield key, record

    def close(self) -> None:
        self._fh.close()
        self._rfh.close()

    def __enter__(self) -> "TranscriptStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
