"""What every test-set reader returns: records in asr-eval's own field names, and where they came from.

Each format's reader maps its own fields onto ``id``, ``audio``, ``text``,
``speaker`` and ``accent_group`` (plus metadata) and hands back ``Record``s;
``manifest.load_manifest`` then applies one set of rules to all of them
(empty text, duplicate ids, audio confinement, segment bounds), so a NeMo row
and a Kaldi utterance are refused for the same reasons in the same words.
A reader raises ``InputError`` only for a file it cannot use at all; a bad
record becomes a ``Record`` with a ``problem`` and the rest are kept.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..tabular import DEFAULT_LIMITS, Limits, read_text
from ..types import InputError

FORMATS = ("asr-eval", "nemo", "hf", "hf-disk", "lhotse", "kaldi", "commonvoice", "stm")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a test set; the CLI's ``--format``, ``--speaker-column``, ``--allow-wav-scp-commands``, ``--audio-dir``.

    ``check_audio`` is False when nothing will read the audio (score, merge):
    readers then never run a wav.scp command nor extract audio from a saved
    dataset, and an audio path is only a name.
    """

    format: str = "auto"
    speaker_column: str | None = None
    allow_wav_scp_commands: bool = False
    audio_dir: str | None = None
    check_audio: bool = True
    limits: Limits = DEFAULT_LIMITS
    command_timeout: float = 600.0
    text_required: bool = True  # False for a --nonspeech manifest (its clips have no text)

    def to_dict(self) -> dict[str, Any]:
        """The provenance entry (run.json): what merge needs to read the same rows again."""
        return {"format": self.format, "speaker_column": self.speaker_column,
                "allow_wav_scp_commands": self.allow_wav_scp_commands, "audio_dir": self.audio_dir}


@dataclass(frozen=True)
class Record:
    """One utterance in asr-eval's field names, or why it cannot be one.

    ``path``/``line`` locate it for error messages (the file it was read from,
    which for Kaldi is ``text``, not the folder). ``segment_at`` locates the
    time range where that lives in another file (Kaldi ``segments``).
    ``audio_is_name``: the audio field is not a path to check (a wav.scp
    command when nothing reads audio).
    """

    path: str
    line: int | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None
    problem: str | None = None
    segment_at: tuple[str, int | None] | None = None
    audio_is_name: bool = False


@dataclass(frozen=True)
class Source:
    """A test set as read: its format, the files it came from, its records, and where its audio may live.

    ``base`` is the folder relative audio paths resolve against (and the first
    allowed root); ``roots`` are further folders the user or asr-eval named
    (``--audio-dir``; the cache folder audio was extracted to).
    """

    format: str
    path: Path
    base: Path
    files: tuple[Path, ...]
    records: Iterable[Record]  # a tuple, or read lazily (asr-eval manifests: formats.native)
    roots: tuple[Path, ...] = ()
    problems: tuple[tuple[str, int | None, str], ...] = ()  # (path, line, problem) of entries that are no utterance

    def sha256(self) -> str:
        """The files' fingerprint: a one-file test set's own sha256 (as before), else one over each file's name and hash."""
        from ..files import file_sha256

        if len(self.files) == 1:
            return file_sha256(self.files[0])
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda p: p.name):
            h.update(f"{f.name}\0{file_sha256(f)}\n".encode())
        return h.hexdigest()


def read_maybe_gz(path: Path, what: str, limits: Limits) -> str:
    """The text of a file, gunzipped when it ends in .gz, never expanding past ``limits.max_bytes``.

    A gzip file of a few KiB can hold gigabytes of zeros; the decompressed
    stream is read only up to the bound and refused beyond it.
    """
    if not path.name.lower().endswith(".gz"):
        return read_text(path, what, limits)
    try:
        if path.stat().st_size > limits.max_bytes:
            raise InputError(str(path), f"larger than {limits.max_bytes} bytes, the most this input may hold")
        with gzip.open(path, "rb") as f:
            raw = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise InputError(str(path), f"{what} not found") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(str(path), f"cannot decompress: {exc}") from None
    if len(raw) > limits.max_bytes:
        raise InputError(str(path), f"expands to more than {limits.max_bytes} bytes, the most this input may hold")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text (byte {exc.start} after decompression)",
                         raw.count(b"\n", 0, exc.start) + 1) from None


def seconds(value: Any, name: str) -> float:
    """A time in seconds from a JSON number or a numeric string; ValueError says which field is wrong."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"field {name!r} must be a number of seconds, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"field {name!r} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"field {name!r} must be a finite number of seconds, got {value!r}")
    return out


def pick(fields: Mapping[str, Any], names: Sequence[str]) -> Any:
    """The first of ``names`` the record has with a value (the formats disagree on what to call a speaker)."""
    for n in names:
        v = fields.get(n)
        if v not in (None, ""):
            return v
    return None


def as_name(value: Any) -> Any:
    """Ids and speakers that a JSON format wrote as numbers (NeMo's ``speaker: 3``) read as text; anything else is left for the type check."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def canonical(raw: Mapping[str, Any], *, text: Any, audio: Any, uid: Any = None,
              speaker_names: Sequence[str] = (), accent_names: Sequence[str] = (),
              speaker_column: str | None = None, drop: Sequence[str] = ()) -> dict[str, Any]:
    """A record in asr-eval's names: the given id/audio/text, speaker and accent from the first named field present.

    ``speaker_column`` (``--speaker-column``) beats the format's own names.
    The other fields stay, as metadata, so ``--group-by gender`` or ``locale`` works.
    A speaker or accent the record lacks is left out (not empty), which
    ``load_manifest`` reads as "this format has none" rather than a blank cell.
    """
    out = {k: v for k, v in raw.items() if k not in drop}
    out.update(audio=audio, text=text)
    if uid not in (None, ""):
        out["id"] = as_name(uid)
    else:
        out.pop("id", None)
    speaker = raw.get(speaker_column) if speaker_column else pick(raw, speaker_names)
    if speaker not in (None, ""):
        out["speaker"] = as_name(speaker)
    else:
        out.pop("speaker", None)
    accent = pick(raw, accent_names)
    if accent not in (None, ""):
        out["accent_group"] = accent
    else:
        out.pop("accent_group", None)
    return out


def store_audio_bytes(data: bytes, suffix: str) -> Path:
    """Audio held inside a dataset file, written once to the cache folder under its content hash.

    The transcription stage reads audio from a path (and hashes it for the
    cache key), so embedded bytes get one; the same bytes always land on the
    same name, so a rerun writes nothing new.
    """
    from .. import cache_root
    from ..files import write_atomic

    digest = hashlib.sha256(data).hexdigest()
    folder = cache_root() / "audio"
    path = folder / f"{digest}{suffix if suffix and len(suffix) <= 8 else ''}"
    if not path.is_file() or path.stat().st_size != len(data):
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    return path


def extracted_audio_root() -> Path:
    """Where ``store_audio_bytes`` and wav.scp commands put audio: allowed as a root, since asr-eval wrote it."""
    from .. import cache_root

    return cache_root() / "audio"
