"""Kaldi data folders: ``wav.scp``, ``text``, ``utt2spk``, optional ``segments`` and ``spk2gender``.

https://kaldi-asr.org/doc/data_prep.html
Each line of ``text`` is an utterance. Without ``segments`` its id is also a
recording id of ``wav.scp``; with it, ``segments`` (``utt rec start end``)
places it as a time range of a recording. ``utt2spk`` gives the speaker,
``spk2gender`` the ``gender`` metadata, and any other ``utt2<name>`` file
(``utt2lang``, ``utt2dur``, ``utt2accent``...) the ``<name>`` metadata;
``utt2accent`` is the accent group. ``wav.scp`` values are file paths,
relative ones read against the data folder (Kaldi reads them against the
directory its scripts run in: write absolute paths and pass ``--audio-root``
for audio kept elsewhere). A value ending in ``|`` is a command; see
``commands`` for when and how one runs. Archive offsets (``foo.ark:123``) are
not read.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..tabular import bounded_lines, read_text
from ..types import InputError
from .base import ReadOptions, Record, Source, extracted_audio_root

_ARK = re.compile(r"\.ark:\d+$")


def _table(path: Path, options: ReadOptions, min_fields: int = 2) -> dict[str, tuple[int, str]]:
    """``key value`` lines: key -> (line, value); a duplicate key or a line without a value is an error of the file."""
    out: dict[str, tuple[int, str]] = {}
    lines = bounded_lines(path, read_text(path, f"Kaldi {path.name}", options.limits), options.limits)
    if len(lines) > options.limits.max_rows:
        raise InputError(str(path), f"more than {options.limits.max_rows} lines")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        if min_fields > 1 and len(parts) < 2:
            raise InputError(str(path), f"expected '<id> <value>', got {line.strip()!r}", n)
        if parts[0] in out:
            raise InputError(str(path), f"duplicate id {parts[0]!r} (first at line {out[parts[0]][0]})", n)
        out[parts[0]] = (n, parts[1].strip() if len(parts) > 1 else "")
    return out


def read(folder: Path, options: ReadOptions) -> Source:
    wav_path, text_path = folder / "wav.scp", folder / "text"
    for p in (wav_path, text_path):
        if not p.is_file():
            raise InputError(str(p), f"a Kaldi data folder needs {p.name}")
    wavs = _table(wav_path, options)
    texts = _table(text_path, options, min_fields=1)
    files = [wav_path, text_path]
    optional = {}
    for name in ("utt2spk", "segments", "spk2gender"):
        p = folder / name
        if p.is_file():
            optional[name] = _table(p, options)
            files.append(p)
    extra = {}
    for p in sorted(folder.glob("utt2*"))[:20]:
        if p.is_file() and p.name != "utt2spk" and p.name[4:].isidentifier():
            extra[p.name[4:]] = _table(p, options)
            files.append(p)
    utt2spk = optional.get("utt2spk", {})
    spk2gender = optional.get("spk2gender", {})
    segments = optional.get("segments")
    audio_of: dict[str, tuple[str | None, str | None, bool]] = {}  # rec -> (audio, problem, is_name)
    problems: list[tuple[str, int | None, str]] = []

    def audio(rec: str) -> tuple[str | None, str | None, bool]:
        if rec not in audio_of:
            line, value = wavs[rec]
            where = f"{wav_path}:{line}"
            if _ARK.search(value):
                audio_of[rec] = (None, f"{where}: archive offsets ({value!r}) are not read; give the audio file", False)
            elif value.endswith("|"):
                audio_of[rec] = _command(rec, value, where, options)
            else:
                audio_of[rec] = (value, None, False)
        return audio_of[rec]

    if options.speaker_column and options.speaker_column != "utt2spk":
        raise InputError(str(folder), f"--speaker-column {options.speaker_column!r}: a Kaldi folder's speakers are its utt2spk")
    records: list[Record] = []
    used: set[str] = set()
    for uid, (line, text) in texts.items():
        rec, start, end, seg_at = uid, None, None, None
        if segments is not None:
            if uid not in segments:
                records.append(Record(str(text_path), line, problem=f"utterance {uid!r} has no line in segments"))
                continue
            sline, value = segments[uid]
            seg_at = (str(folder / "segments"), sline)
            parts = value.split()
            if len(parts) not in (3, 4):
                records.append(Record(seg_at[0], sline, problem=f"expected '<utt> <recording> <start> <end> [<channel>]', got {uid} {value!r}"))
                continue
            rec = parts[0]
            try:
                start, end = float(parts[1]), float(parts[2])
            except ValueError:
                records.append(Record(seg_at[0], sline, problem=f"segment times must be numbers of seconds, got {parts[1]!r} and {parts[2]!r}"))
                continue
            if end < 0:  # Kaldi's end of -1 means "to the end of the recording"
                end = None
        if rec not in wavs:
            records.append(Record(str(text_path), line, problem=f"utterance {uid!r}: recording {rec!r} is not in wav.scp"))
            continue
        used.add(rec)
        path, problem, is_name = audio(rec)
        if problem:
            records.append(Record(str(text_path), line, problem=f"utterance {uid!r}: {problem}"))
            continue
        fields = {"id": uid, "audio": path, "text": text, "recording_id": rec}
        for name, table in extra.items():
            if uid in table:
                fields[name] = table[uid][1]
        if fields.get("accent"):
            fields["accent_group"] = fields["accent"]
        spk = utt2spk.get(uid, (None, ""))[1]
        if spk:
            fields["speaker"] = spk
            gender = spk2gender.get(spk, (None, ""))[1]
            if gender:
                fields["gender"] = gender
        records.append(Record(str(text_path), line, fields, start, end, segment_at=seg_at, audio_is_name=is_name))
    for rec, (line, _) in wavs.items():
        if rec not in used:
            problems.append((str(wav_path), line, f"recording {rec!r} has no utterance in "
                             + ("segments" if segments is not None else "text") + "; not evaluated"))
    # the cache folder is an audio root only for the audio a command of this folder wrote there
    ran = any(a and not is_name and value.endswith("|") for (a, _, is_name), (_, value)
              in ((audio_of[r], wavs[r]) for r in audio_of))
    return Source("kaldi", folder, folder, tuple(files), tuple(records),
                  roots=(extracted_audio_root(),) if ran else (), problems=tuple(problems))


def _command(rec: str, value: str, where: str, options: ReadOptions) -> tuple[str | None, str | None, bool]:
    from .commands import run_command, split_command

    if not options.check_audio:
        return value, None, True  # nothing reads audio: the command is a name and is not run
    if not options.allow_wav_scp_commands:
        return None, (f"{where}: recording {rec!r} is a command ({value!r}); running it runs a program the data "
                      "folder names: pass --allow-wav-scp-commands if you trust it"), False
    try:
        split_command(value)
        return str(run_command(value, options.command_timeout, options.limits.max_bytes)), None, False
    except ValueError as exc:
        return None, f"{where}: recording {rec!r}: {exc}", False
