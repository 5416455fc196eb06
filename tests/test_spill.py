"""Big test sets: score keeps clips and transcripts on disk (spill.ClipStore), and reads line files row by row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr_eval.evaluate import score_hypotheses
from asr_eval.hypformats import StreamedHypFile, read_hyp_file, read_hyp_path
from asr_eval.hypotheses import HypOptions, load_for_manifest
from asr_eval.manifest import load_manifest
from asr_eval.spill import SPILL_NAME, ClipStore
from asr_eval.types import InputError, Utterance


def _utt(i: int, audio: str | None = None, **meta: str) -> Utterance:
    return Utterance(f"u{i}", audio or f"/a/clip{i}.wav", f"hello number {i}", f"s{i % 3}", "g", meta, line=i + 1)


def test_store_keeps_order_refuses_duplicates_and_deletes_its_file(tmp_path: Path) -> None:
    path = tmp_path / SPILL_NAME
    with ClipStore(path) as store:
        for i in range(5000):
            assert store.add(_utt(i, speaker_note="x" if i == 7 else "")) is None
        assert store.add(Utterance("u3", "/a/other.wav", "dup", "s", "g", line=9999)) == 4  # the first's line
        utts = store.utterances()
        assert len(utts) == 5000 and [u.id for u in utts][:3] == ["u0", "u1", "u2"]
        assert [u.id for u in utts][-1] == "u4999" and utts[-1].id == "u4999" and utts[7].meta == {"speaker_note": "x"}
        assert store.by_id("u42") == _utt(42) and store.by_id("nope") is None
        assert [u.id for u in store.by_stem("clip12")] == ["u12"] and store.by_stem("zzz") == []
        assert store.add_hyp("base", "u1", "hello", "h.jsonl line 1") is None
        assert store.add_hyp("base", "u1", "again", "h.jsonl line 2") == "h.jsonl line 1"
        assert store.hyp("base", "u1") == "hello" and store.hyp("base", "u2") is None
        assert path.exists()
    assert not path.exists()


def test_a_stale_scratch_file_left_by_a_killed_run_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / SPILL_NAME
    path.write_bytes(b"not a database")
    with ClipStore(path) as store:
        store.add(_utt(1))
        assert [u.id for u in store.utterances()] == ["u1"]
    assert not path.exists()


def _inputs(tmp_path: Path, n: int = 40) -> tuple[Path, Path, Path]:
    m, b, v = tmp_path / "m.jsonl", tmp_path / "baseline.jsonl", tmp_path / "vocab.csv"
    m.write_text("".join(json.dumps({"id": f"c{i:03d}", "audio": f"x/c{i:03d}.wav", "text": f"call paynimbus about ticket {i}",
                                     "speaker": f"s{i % 6}", "accent_group": f"g{i % 2}"}) + "\n" for i in range(n)))
    b.write_text("".join(json.dumps({"id": f"c{i:03d}", "text": f"call pay nimbus about ticket {i}"}) + "\n" for i in range(n)))
    v.write_text("id,text\n" + "".join(f"x/c{i:03d}.wav,call paynimbus about ticket {i}\n" for i in range(n)))
    return m, b, v


def test_score_matches_line_files_by_id_and_stem_from_the_store_and_leaves_no_scratch_file(tmp_path: Path) -> None:
    m, b, v = _inputs(tmp_path)
    out = tmp_path / "out"
    got = score_hypotheses(m, [b, v], out, reports=False)
    assert got.scored == 40 and got.missing == 0
    assert not (out / SPILL_NAME).exists()
    run = json.loads((out / "run.json").read_text())
    assert [h["format"] for h in run["hypotheses"]] == ["jsonl", "csv"]
    assert [h["matched"] for h in run["hypotheses"]] == [{"id": 40}, {"stem": 40}]
    rows = (out / "utterances.csv").read_text().splitlines()
    assert len(rows) == 1 + 80 and rows[1].startswith("c000,baseline")


def test_streamed_line_files_keep_their_one_line_errors(tmp_path: Path) -> None:
    m, b, _ = _inputs(tmp_path, 5)
    manifest = load_manifest(m, check_audio=False)
    dup = tmp_path / "dup.jsonl"
    dup.write_text(b.read_text() + json.dumps({"id": "c001", "text": "again"}) + "\n")
    with ClipStore(tmp_path / SPILL_NAME) as store:
        spilled = load_manifest(m, check_audio=False, store=store)
        assert [u.id for u in spilled.utterances] == [u.id for u in manifest.utterances]
        with pytest.raises(InputError, match=r"dup.jsonl:6: .*'c001' of condition 'dup' is given twice \(first in .*dup.jsonl:2\)"):
            load_for_manifest([dup], spilled.utterances, HypOptions())
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text("".join(json.dumps({"id": f"z{i}", "text": "x"}) + "\n" for i in range(50)))
    with pytest.raises(InputError, match=r"50 id\(s\) not in the manifest .*: z0, z1, z2, z3, z4 \.\.\."):
        load_for_manifest([unknown], manifest.utterances, HypOptions())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="no transcripts found"):
        load_for_manifest([empty], manifest.utterances, HypOptions())
    bad = tmp_path / "bad.csv"
    bad.write_text("utt,words\nc000,hello\n")
    with pytest.raises(InputError, match=r"bad.csv:1: header must name an id column"):
        load_for_manifest([bad], manifest.utterances, HypOptions())


def test_a_streamed_file_reads_as_the_whole_file_reader_does(tmp_path: Path) -> None:
    _, b, v = _inputs(tmp_path, 12)
    for path in (b, v):
        (streamed,) = read_hyp_path(path, stream=True)
        assert isinstance(streamed, StreamedHypFile)
        whole = read_hyp_file(path)
        assert list(streamed.docs) == list(whole.docs) and len(streamed.docs) == len(whole.docs) == 12
        assert streamed.format == whole.format


def test_a_duplicate_manifest_id_names_the_first_line_with_or_without_the_store(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    rows = [{"id": "a", "audio": "a.wav", "text": "one two", "speaker": "s", "accent_group": "g"},
            {"id": "b", "audio": "b.wav", "text": "three", "speaker": "s", "accent_group": "g"},
            {"id": "a", "audio": "c.wav", "text": "four", "speaker": "s", "accent_group": "g"}]
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plain = load_manifest(m, check_audio=False)
    with ClipStore(tmp_path / SPILL_NAME) as store:
        spilled = load_manifest(m, check_audio=False, store=store)
        assert [str(p) for p in spilled.problems] == [str(p) for p in plain.problems]
        assert "duplicate id 'a' (first at line 1)" in str(spilled.problems[0])
        assert len(spilled.utterances) == 2 and dict(spilled.rejected) == dict(plain.rejected) == {}


def test_the_store_stems_audio_as_stem_matching_does(tmp_path: Path) -> None:
    from asr_eval.hypotheses import audio_stem

    with ClipStore(tmp_path / SPILL_NAME) as store:
        store.add(_utt(1, audio="https://bucket/calls/0007.wav?sig=abc#t=1"))
        assert audio_stem("https://bucket/calls/0007.wav?sig=abc#t=1") == "0007"
        assert [u.id for u in store.by_stem("0007")] == ["u1"]
