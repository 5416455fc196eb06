"""Malformed test sets of each format: one clear message naming the file and line; the good rows are kept."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr_eval.audio import load_audio
from asr_eval.cache import audio_key
from asr_eval.formats import ReadOptions
from asr_eval.manifest import load_manifest
from asr_eval.tabular import Limits
from asr_eval.types import InputError

from conftest import tone


def _wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds), 16000)
    return path


def _problems(m) -> list[str]:
    return [str(p) for p in m.problems]


def test_a_format_without_accents_says_so_once(tmp_path):
    _wav(tmp_path / "a.wav")
    p = tmp_path / "m.jsonl"
    p.write_text("".join(json.dumps({"audio_filepath": "a.wav", "text": t, "duration": 1.0, "id": t}) + "\n"
                         for t in ("one two", "three four")))
    m = load_manifest(p)
    assert {u.accent_group for u in m.utterances} == {"unknown"}
    assert _problems(m) == [f"{p}: warning: 2 utterance(s) have no speaker in this nemo test set; each is its own "
                            "speaker (name the field with --speaker-column)",
                            f"{p}: warning: 2 utterance(s) have no accent in this nemo test set; grouped as 'unknown'"]


# --------------------------------------------------------------------------- NeMo


def test_nemo_bad_json_line_names_file_and_line(tmp_path):
    _wav(tmp_path / "a.wav")
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"audio_filepath": "a.wav", "text": "hello there", "duration": 1.0}) + "\n{not json\n")
    with pytest.raises(InputError) as e:
        load_manifest(p)
    assert str(e.value).startswith(f"{p}:2: not a JSON object")


def test_nemo_missing_key_and_bad_offset_skip_only_their_lines(tmp_path):
    _wav(tmp_path / "a.wav", 2.0)
    p = tmp_path / "m.jsonl"
    lines = [{"audio_filepath": "a.wav", "text": "hello there", "duration": 2.0},
             {"text": "no audio here", "duration": 1.0},
             {"audio_filepath": "a.wav", "text": "a segment", "offset": "soon", "duration": 1.0},
             {"audio_filepath": "a.wav", "text": "too long", "offset": 1.0, "duration": 5.0},
             {"audio_filepath": "a.wav", "text": "second half", "offset": 1.0, "duration": 1.0, "speaker_id": 7}]
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    m = load_manifest(p)
    assert [u.text for u in m.utterances] == ["hello there", "second half"]
    assert m.utterances[1].speaker == "7" and (m.utterances[1].start, m.utterances[1].end) == (1.0, 2.0)
    probs = _problems(m)
    assert probs[0] == f"{p}:2: error: missing required field 'audio_filepath'"
    assert probs[1].startswith(f"{p}:3: error: field 'offset' must be a number of seconds")
    assert probs[2] == f"{p}:4: error: segment ends at 6 s, beyond the end of its audio (2 s)"


# --------------------------------------------------------------------------- Kaldi


def _kaldi(d: Path, wav: str, text: str, utt2spk: str = "", segments: str | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "wav.scp").write_text(wav)
    (d / "text").write_text(text)
    if utt2spk:
        (d / "utt2spk").write_text(utt2spk)
    if segments is not None:
        (d / "segments").write_text(segments)
    return d


def test_kaldi_ids_without_partner_are_named_at_their_line(tmp_path):
    _wav(tmp_path / "k/a.wav")
    _wav(tmp_path / "k/b.wav")
    d = _kaldi(tmp_path / "k", "a a.wav\nb b.wav\n", "a hello there\nc where is my audio\n", "a s1\nc s2\n")
    m = load_manifest(d)
    assert [u.id for u in m.utterances] == ["a"] and m.utterances[0].speaker == "s1"
    probs = _problems(m)
    assert f"{d / 'wav.scp'}:2: error: recording 'b' has no utterance in text; not evaluated" in probs
    assert f"{d / 'text'}:2: error: utterance 'c': recording 'c' is not in wav.scp" in probs


def test_kaldi_segments_bad_ranges_name_the_segments_line(tmp_path):
    _wav(tmp_path / "k/rec.wav", 3.0)
    d = _kaldi(tmp_path / "k", "rec rec.wav\n", "u1 first words\nu2 second words\nu3 third words\nu4 fourth words\n",
               "u1 s\nu2 s\nu3 s\nu4 s\n", "u1 rec 0.0 1.5\nu2 rec 2.0 1.0\nu3 rec 1.0 9.0\nu4 rec 1.5 -1\n")
    m = load_manifest(d)
    assert [(u.id, u.start, u.end) for u in m.utterances] == [("u1", 0.0, 1.5), ("u4", 1.5, None)]
    probs = _problems(m)
    assert f"{d / 'segments'}:2: error: segment ends at 1 s, not after it starts at 2 s" in probs
    assert f"{d / 'segments'}:3: error: segment ends at 9 s, beyond the end of its audio (3 s)" in probs


def test_kaldi_pipe_command_needs_the_flag(tmp_path):
    _wav(tmp_path / "k/a.wav")
    d = _kaldi(tmp_path / "k", f"a cat {tmp_path / 'k/a.wav'} |\nb b.wav\n", "a hello there\nb other words\n")
    _wav(d / "b.wav")
    m = load_manifest(d)
    assert [u.id for u in m.utterances] == ["b"]
    assert any(p.startswith(f"{d / 'text'}:1: error: utterance 'a': {d / 'wav.scp'}:1: recording 'a' is a command")
               and "--allow-wav-scp-commands" in p for p in _problems(m))
    # score reads no audio: the command is only a name, never run nor refused
    assert len(load_manifest(d, check_audio=False).utterances) == 2


def test_kaldi_pipe_command_runs_without_a_shell_when_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_EVAL_CACHE", str(tmp_path / "cache"))
    src = _wav(tmp_path / "elsewhere/a.wav")
    d = _kaldi(tmp_path / "k", f"a cat {src} | cat |\nb echo hi ; rm -rf x |\n", "a hello there\nb other words\n")
    m = load_manifest(d, options=ReadOptions(allow_wav_scp_commands=True))
    assert [u.id for u in m.utterances] == ["a"]
    assert Path(m.utterances[0].audio).is_relative_to(tmp_path / "cache")
    assert (load_audio(m.utterances[0].audio) == load_audio(src)).all()
    assert any("needs a shell" in p for p in _problems(m))


def test_kaldi_pipe_command_time_and_size_bounds(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_EVAL_CACHE", str(tmp_path / "cache"))
    src = _wav(tmp_path / "elsewhere/a.wav", 2.0)
    d = _kaldi(tmp_path / "k", f"a sleep 5 |\nb cat {src} |\nc c.wav\n", "a one two\nb three four\nc five six\n")
    _wav(d / "c.wav")
    opts = ReadOptions(allow_wav_scp_commands=True, command_timeout=0.5, limits=Limits(max_bytes=10_000))
    m = load_manifest(d, options=opts)
    assert [u.id for u in m.utterances] == ["c"]
    probs = _problems(m)
    assert any("recording 'a': the command ran longer than 0.5 s" in p for p in probs)
    assert any("recording 'b': the command wrote more than 10000 bytes" in p for p in probs)


# --------------------------------------------------------------------------- Common Voice, stm


def test_common_voice_row_with_too_few_fields(tmp_path):
    _wav(tmp_path / "clips/x1.mp3")  # a wav under an mp3 name: soundfile reads by content
    _wav(tmp_path / "clips/x2.mp3")
    p = tmp_path / "test.tsv"
    p.write_text("client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n"
                 "c1\tx1.mp3\tHe said \"hello\" to me\t2\t0\tthirties\tfemale\tScottish English\ten\t\n"
                 "c2\tx2.mp3\ttoo short\n")
    m = load_manifest(p)
    u = m.utterances[0]
    assert (u.id, u.text, u.speaker, u.accent_group, u.meta["age"]) == ("x1", 'He said "hello" to me', "c1", "Scottish English", "thirties")
    assert _problems(m) == [f"{p}:3: error: this row has 3 tab-separated fields, the header has 10"]


def test_stm_alternations_kept_ignore_segments_skipped(tmp_path):
    _wav(tmp_path / "audio/f1.wav", 6.0)
    p = tmp_path / "ref.stm"
    p.write_text(";; CATEGORY \"0\" \"\" \"\"\n"
                 "f1 1 spk1 0.00 2.00 <o,f0,male> i've { um / uh / @ } as far as i'm concerned\n"
                 "f1 1 spk1 2.00 3.00 { uh / @ }\n"
                 "f1 1 spk1 3.00 4.00 IGNORE_TIME_SEGMENT_IN_SCORING\n"
                 "f1 1 spk1 4.00 x words\n"
                 "f1 1\n")
    m = load_manifest(p, options=ReadOptions(audio_dir=str(tmp_path / "audio")))
    assert [u.text for u in m.utterances] == ["i've { um / uh / @ } as far as i'm concerned", "{ uh / @ }"]
    assert m.utterances[0].meta["labels"] == "o,f0,male" and m.utterances[0].id == "f1-1-0000000-0000200"
    assert [x for x in _problems(m) if ": error: " in x] == [f"{p}:5: error: begin and end times must be numbers of seconds, got '4.00' and 'x'",
                            f"{p}:6: error: expected 'file channel speaker begin end [<labels>] transcript', got 2 fields"]


# --------------------------------------------------------------------------- lhotse, HF


def test_lhotse_url_source_refused_per_utterance_and_gzip_bomb_bounded(tmp_path):
    _wav(tmp_path / "a.wav", 2.0)
    rec = {"id": "a", "sources": [{"type": "file", "channels": [0], "source": "a.wav"}], "sampling_rate": 16000,
           "num_samples": 32000, "duration": 2.0, "channel_ids": [0]}
    url = dict(rec, id="b", sources=[{"type": "url", "channels": [0], "source": "https://example.com/b.wav"}])
    sup = lambda i, r: {"id": i, "recording_id": r, "start": 0.5, "duration": 1.0, "channel": 0, "text": "hello there",  # noqa: E731
                        "speaker": "s", "custom": {"accent": "irish"}}
    cuts = [{"id": "c1", "start": 0.0, "duration": 2.0, "channel": 0, "supervisions": [sup("u1", "a")], "recording": rec, "type": "MonoCut"},
            {"id": "c2", "start": 0.0, "duration": 2.0, "channel": 0, "supervisions": [sup("u2", "b")], "recording": url, "type": "MonoCut"}]
    p = tmp_path / "cuts.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.writelines(json.dumps(c) + "\n" for c in cuts)
    m = load_manifest(p)
    assert [(u.id, u.accent_group, u.start, u.end) for u in m.utterances] == [("u1", "irish", 0.5, 1.5)]
    assert _problems(m)[0].startswith(f"{p}:2: error: recording 'b': audio source type 'url' is not read")
    bomb = tmp_path / "bomb_cuts.jsonl.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(json.dumps(cuts[0]).encode() + b"\n" + b" " * 5_000_000)
    assert bomb.stat().st_size < 50_000
    with pytest.raises(InputError, match="expands to more than 1000000 bytes"):
        load_manifest(bomb, options=ReadOptions(limits=Limits(max_bytes=1_000_000)))


def test_hf_metadata_needs_file_name_and_a_transcript(tmp_path):
    d = tmp_path / "hf"
    d.mkdir()
    (d / "metadata.csv").write_text("file_name,label\na.wav,1\n")
    with pytest.raises(InputError, match=r"metadata.csv:1: no transcript column"):
        load_manifest(d, options=ReadOptions(format="hf"))
    (d / "metadata.csv").write_text("path,text\na.wav,hello\n")
    with pytest.raises(InputError, match=r"metadata.csv:1: missing required column 'file_name'"):
        load_manifest(d, options=ReadOptions(format="hf"))


def test_unknown_format_and_unrecognised_folder(tmp_path):
    with pytest.raises(InputError, match="unknown format 'sphinx'"):
        load_manifest(tmp_path, options=ReadOptions(format="sphinx"))
    with pytest.raises(InputError, match="cannot find a test set in this folder"):
        load_manifest(tmp_path)


# --------------------------------------------------------------------------- segments: audio and cache


def test_segment_read_by_seeking_equals_the_slice(tmp_path):
    sr = 16000
    data = (np.random.default_rng(0).uniform(-0.5, 0.5, sr * 3)).astype(np.float32)
    p = tmp_path / "x.flac"
    sf.write(p, data, sr, subtype="PCM_16")
    full = load_audio(p)
    assert np.array_equal(load_audio(p, start=1.25, end=2.5), full[20000:40000])
    assert np.array_equal(load_audio(p, start=2.0), full[32000:])
    assert len(load_audio(p, start=2.0, end=3.3)) == 16000  # overshoot within 0.5 s is cut at the end
    with pytest.raises(InputError, match="beyond the end of the audio"):
        load_audio(p, start=2.0, end=4.0)
    with pytest.raises(InputError, match="at or after the end"):
        load_audio(p, start=3.5, end=4.0)


def test_mp3_segment_falls_back_or_seeks_and_matches(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile writes no mp3")
    p = tmp_path / "x.mp3"
    sf.write(p, tone(3.0), 16000, format="MP3")
    full = load_audio(p)
    seg = load_audio(p, start=1.0, end=2.0)
    assert abs(len(seg) - 16000) <= 1
    assert np.allclose(seg, full[16000:16000 + len(seg)], atol=0.05)


def test_cache_key_whole_file_unchanged_segments_distinct():
    sha = "ab" * 32
    assert audio_key(sha) == sha  # caches made before segments stay valid
    assert audio_key(sha, 0.0, 1.0) != audio_key(sha, 1.0, 2.0)
    assert audio_key(sha, 1.1 + 2.2, None) == audio_key(sha, 3.3, None)
