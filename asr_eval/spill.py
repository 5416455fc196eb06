"""A test set's clips and imported transcripts kept on disk (SQLite), not in memory.

``score`` of a production set (a million vendor transcripts of real calls)
would otherwise hold every manifest row and every transcript as Python
objects, about 2.5 KB a clip: 2.5 GB at a million. Here each lives as one
row of a SQLite file inside the output folder, read back one at a time, so
memory stays what the scoring of one chunk needs whatever the set's size.

The file is scratch: ``ClipStore`` is a context manager that deletes it on
exit, and a writer that finds one left by a killed run (it holds the
folder's lock) removes it first. SQLite is the standard library's, so no
dependency is added; its page cache is capped (``CACHE_KIB``) so the file,
not memory, grows with the set.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .hypotheses import audio_stem  # the one rule 'stem' matching uses, so the index agrees with it
from .types import Utterance

#: the scratch file's name inside the output folder (hidden; never listed as an output)
SPILL_NAME = ".asr-eval-spill.sqlite"
#: SQLite page cache per connection, KiB: enough for the id and stem indexes' hot pages
CACHE_KIB = 32 * 1024
_BATCH = 2048  # rows per page of a scan


def _pack(u: Utterance) -> bytes:
    """A row of our own scratch file: the fields as plain values (a MappingProxy does not pickle)."""
    return pickle.dumps((u.id, u.audio, u.text, u.speaker, u.accent_group, dict(u.meta), u.entities, u.line,
                         u.start, u.end), protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(blob: bytes) -> Utterance:
    return Utterance(*pickle.loads(blob))


class ClipStore:
    """Utterances in manifest order (ids unique), and transcripts per condition and clip, in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        for stale in (self.path, self.path.with_name(self.path.name + "-journal")):
            stale.unlink(missing_ok=True)
        self._db = None
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._os_error(exc) from None
        try:
            # temp_store=MEMORY: SQLite's own temporary files would land in $TMPDIR, outside --out; nothing
            # here sorts (every scan follows an index), so that memory stays small
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=MEMORY", f"cache_size=-{CACHE_KIB}"):
                self._x(f"PRAGMA {pragma}")
            self._x("CREATE TABLE utt (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stem TEXT NOT NULL, "
                    "line INTEGER, blob BLOB NOT NULL)")
            self._x("CREATE INDEX utt_stem ON utt (stem)")  # kept as rows go in: building it later would sort
            self._x("CREATE TABLE hyp (cond TEXT NOT NULL, uid TEXT NOT NULL, text TEXT NOT NULL, "
                    "origin TEXT NOT NULL, PRIMARY KEY (cond, uid)) WITHOUT ROWID")
        except BaseException:
            self.close()
            raise
        self._n = 0
        self._x("BEGIN")  # one transaction while loading: a commit per row would sync a million times

    # ------------------------------------------------------------------ lifecycle

    def _x(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """One statement; SQLite's failures (a full disk, a file removed under us) as the OSError of this file."""
        try:
            return self._db.execute(sql, params)  # type: ignore[union-attr]
        except sqlite3.IntegrityError:
            raise  # a duplicate key: the caller's to answer
        except sqlite3.Error as exc:
            raise self._os_error(exc) from None

    def _os_error(self, exc: Exception) -> OSError:
        """The CLI turns an OSError into '<path>: <problem>' and exit 6, as for any other file it cannot write."""
        import errno

        return OSError(errno.EIO, f"scratch database: {exc}", str(self.path))

    def __enter__(self) -> "ClipStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close and delete the file (idempotent)."""
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None  # type: ignore[assignment]
        for p in (self.path, self.path.with_name(self.path.name + "-journal")):
            p.unlink(missing_ok=True)

    # ------------------------------------------------------------------ utterances

    def add(self, u: Utterance) -> int | None:
        """Store the next clip, or, when its id is stored already, store nothing and return that clip's line."""
        try:
            self._x("INSERT INTO utt (id, stem, line, blob) VALUES (?, ?, ?, ?)",
                    (u.id, audio_stem(u.audio), u.line, _pack(u)))
        except sqlite3.IntegrityError:
            row = self._x("SELECT line, seq FROM utt WHERE id = ?", (u.id,)).fetchone()
            return row[0] if row[0] is not None else row[1]
        self._n += 1
        return None

    def has(self, uid: str) -> bool:
        return self._x("SELECT 1 FROM utt WHERE id = ?", (uid,)).fetchone() is not None

    def utterances(self) -> "StoredUtterances":
        """The clips stored so far, as a read-only sequence in manifest order."""
        self._x("COMMIT")
        self._x("BEGIN")
        return StoredUtterances(self)

    def by_id(self, uid: str) -> Utterance | None:
        row = self._x("SELECT blob FROM utt WHERE id = ?", (uid,)).fetchone()
        return _unpack(row[0]) if row else None

    def by_stem(self, stem: str) -> list[Utterance]:
        """The clips whose audio file's name without extension is ``stem``, in manifest order."""
        return [_unpack(b) for (b,) in self._x("SELECT blob FROM utt WHERE stem = ? ORDER BY seq", (stem,))]

    def iter_utterances(self) -> Iterator[Utterance]:
        last = 0
        while True:  # in pages keyed on seq, so the scan holds one page and a second scan may interleave
            rows = self._x("SELECT seq, blob FROM utt WHERE seq > ? ORDER BY seq LIMIT ?", (last, _BATCH)).fetchall()
            if not rows:
                return
            for _, blob in rows:
                yield _unpack(blob)
            last = rows[-1][0]

    def count(self) -> int:
        return self._n

    # ------------------------------------------------------------------ transcripts

    def add_hyp(self, cond: str, uid: str, text: str, origin: str) -> str | None:
        """Store a transcript; if (cond, uid) is stored already, store nothing and return where the first came from."""
        try:
            self._x("INSERT INTO hyp (cond, uid, text, origin) VALUES (?, ?, ?, ?)", (cond, uid, text, origin))
        except sqlite3.IntegrityError:
            row = self._x("SELECT origin FROM hyp WHERE cond = ? AND uid = ?", (cond, uid)).fetchone()
            return row[0] if row else "?"
        return None

    def hyp(self, cond: str, uid: str) -> str | None:
        row = self._x("SELECT text FROM hyp WHERE cond = ? AND uid = ?", (cond, uid)).fetchone()
        return row[0] if row else None

    def hyp_count(self, cond: str) -> int:
        return int(self._x("SELECT count(*) FROM hyp WHERE cond = ?", (cond,)).fetchone()[0])

    def hyp_ids(self, cond: str) -> Iterator[str]:
        last = ""
        while True:
            rows = self._x("SELECT uid FROM hyp WHERE cond = ? AND uid > ? ORDER BY uid LIMIT ?",
                           (cond, last, _BATCH)).fetchall()
            if not rows:
                return
            for (uid,) in rows:
                yield uid
            last = rows[-1][0]


class StoredUtterances(Sequence[Utterance]):
    """A manifest's clips read back from a ``ClipStore``: iterate it (in order) rather than index it."""

    def __init__(self, store: ClipStore):
        self._store = store

    def __len__(self) -> int:
        return self._store.count()

    def __iter__(self) -> Iterator[Utterance]:
        return self._store.iter_utterances()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        row = self._store._x("SELECT blob FROM utt ORDER BY seq LIMIT 1 OFFSET ?", (i,)).fetchone()
        return _unpack(row[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    @property
    def store(self) -> ClipStore:
        return self._store


class StoredHyps(Mapping[str, str]):
    """One condition's transcripts by utterance id, read from a ``ClipStore`` on demand."""

    def __init__(self, store: ClipStore, cond: str):
        self._store, self._cond = store, cond

    def get(self, uid: str, default: Any = None) -> Any:  # type: ignore[override]
        got = self._store.hyp(self._cond, uid)
        return default if got is None else got

    def __getitem__(self, uid: str) -> str:
        got = self._store.hyp(self._cond, uid)
        if got is None:
            raise KeyError(uid)
        return got

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, str) and self._store.hyp(self._cond, uid) is not None

    def __len__(self) -> int:
        return self._store.hyp_count(self._cond)

    def __iter__(self) -> Iterator[str]:
        return self._store.hyp_ids(self._cond)
