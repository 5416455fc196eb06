"""Streaming a run: scoring in chunks, the run folder written clip by clip, reports from one pass, the cache by offset.

Each streaming path is checked against the in-memory one it replaced: the
same rows, the same files, the same report model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from asr_eval import stats as st
from asr_eval.cache import TranscriptStore
from asr_eval.evaluate import score_hypotheses
from asr_eval.normalize import make_normalizer
from asr_eval.report import build_report, load_run, write_reports
from asr_eval.report.collect import _Smallest
from asr_eval.runfolder import iter_clips, open_run, read_frames
from asr_eval.score_run import score_stream, score_transcripts
from asr_eval.tabular import jsonl_rows, read_csv, stream_csv, stream_jsonl
from asr_eval.types import BiasPlan, Term, Transcript, Utterance
from asr_eval.vocab import load_dictionary

ROOT = Path(__file__).resolve().parents[1]
WORDS = "please call back about the Zentrix Cloud invoice for Klarvo today thanks".split()


def _set(tmp: Path, n: int = 60) -> tuple[Path, Path]:
    rnd = random.Random(7)
    rows, hyps = [], []
    for i in range(n):
        ref = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 12)))
        spk = i % 9
        rows.append({"id": f"u{i:03d}", "audio": f"c{i}.wav", "text": ref, "speaker": f"s{spk}",
                     "accent_group": f"g{spk % 3}"})
        for cond, p in (("baseline", 0.25), ("vocab", 0.1)):
            words = [w if rnd.random() > p else rnd.choice(WORDS) for w in ref.split() if rnd.random() > p / 3]
            hyps.append({"id": f"u{i:03d}", "text": " ".join(words), "condition": cond})
    manifest = tmp / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hyp = tmp / "h.jsonl"
    hyp.write_text("".join(json.dumps(r) + "\n" for r in hyps))
    return manifest, hyp


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("stream")
    manifest, hyp = _set(tmp)
    out = tmp / "out"
    score_hypotheses(manifest, [hyp], out, dictionary=ROOT / "dictionaries/demo-company.csv", reports=False)
    return out


def _model(run, **kw):
    m = build_report(run, n_boot=200, **kw)
    m.pop("generated")
    return m


def test_streamed_report_equals_the_in_memory_one(run_dir: Path) -> None:
    eager = _model(load_run(run_dir), redact_names=True)
    header = open_run(run_dir)
    assert header.utterances == [] and header.terms == []
    from asr_eval.runfolder import directory_terms

    streamed = _model(header, redact_names=True, clips=lambda: iter_clips(run_dir),
                      directory_terms=lambda: directory_terms(run_dir))
    assert json.dumps(streamed, sort_keys=True) == json.dumps(eager, sort_keys=True)
    assert streamed["comparisons"] and streamed["explanations"] and streamed["utterances_total"] == 60


def test_a_folder_out_of_clip_order_is_read_whole(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(run_dir, d)
    write_reports(d, n_boot=100)
    before = (d / "report.md").read_text()
    lines = (d / "terms.csv").read_text().splitlines(keepends=True)
    blocks: dict[str, list[str]] = {}
    for line in lines[1:]:  # clips in reverse order, each clip's rows as they were
        blocks.setdefault(line.split(",")[0], []).append(line)
    (d / "terms.csv").write_text(lines[0] + "".join(l for b in reversed(list(blocks.values())) for l in b))
    write_reports(d, n_boot=100)
    after = (d / "report.md").read_text()
    strip = lambda t: "\n".join(l for l in t.splitlines() if "Generated" not in l and "generated" not in l)  # noqa: E731
    assert strip(after) == strip(before)


def test_bounded_samples_keep_the_first_k_in_key_order() -> None:
    rnd = random.Random(1)
    keys = [(rnd.randint(0, 50), i) for i in range(5000)]
    s = _Smallest(37)
    for k in keys:
        s.add(k, k)
    assert s.result() == sorted(keys)[:37]
    few = _Smallest(10)
    for k in keys[:4]:
        few.add(k, k)
    assert few.result() == sorted(keys[:4])


def test_score_stream_in_chunks_equals_one_batch() -> None:
    terms = load_dictionary(ROOT / "dictionaries/demo-company.csv").terms
    norm = make_normalizer(terms)
    rnd = random.Random(3)
    plan = BiasPlan(condition="baseline", method="none", text=None)
    utts = [Utterance(f"u{i}", "a.wav", " ".join(rnd.choice(WORDS) for _ in range(6)), "s", "g") for i in range(40)]
    ts = {(u.id, "baseline"): Transcript(u.id, "baseline", " ".join(rnd.choice(WORDS) for _ in range(5)), plan, 1.0, 0.1)
          for u in utts if u.id != "u7"}
    whole = score_transcripts(utts, ts, ["baseline"], terms, norm)
    rows, terms_rows, excluded = [], [], []
    for clip in score_stream(((u, [ts.get((u.id, "baseline"))]) for u in utts), ["baseline"], terms, norm, chunk=3):
        rows += clip.utterance_rows
        terms_rows += clip.term_rows
        excluded += [clip.utt.id] if clip.excluded else []
    assert rows == list(whole.utterance_rows) and terms_rows == list(whole.term_rows)
    assert excluded == ["u7"] == list(whole.excluded)


def test_parquet_tables_match_the_csvs(run_dir: Path) -> None:
    import pandas as pd

    frames = read_frames(run_dir)
    csv = pd.read_csv(run_dir / "utterances.csv", keep_default_na=False)
    assert list(frames["utterances"].columns) == list(csv.columns)
    assert frames["utterances"]["ref_words"].tolist() == csv["ref_words"].tolist()
    assert frames["terms"]["in_force"].dtype == bool


def test_stream_readers_equal_the_whole_file_readers(tmp_path: Path) -> None:
    text = 'a,b\n1,"x\ny"\r\n2,3\r4,\u2028five\n' + "".join(f"{i},v{i}\r\n" for i in range(30000))
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode("utf-8"))
    assert [(r.line, r.fields) for r in stream_csv(p)] == [(r.line, r.fields) for r in read_csv(p, text)[1]]
    j = '{"a": 1}\n\n{"b": "x\u2028y"}\r' + '{"c": 3}\r\n' * 20000
    q = tmp_path / "t.jsonl"
    q.write_bytes(j.encode("utf-8"))
    assert [(r.line, r.fields) for r in stream_jsonl(q)] == [(r.line, r.fields) for r in jsonl_rows(q, j)]


def test_cache_reads_records_back_by_offset_and_keys_sharing_a_prefix_stay_apart(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    a, b = "0123456789abcdef" + "0" * 48, "0123456789abcdef" + "1" * 48  # same 64-bit prefix
    with TranscriptStore(path) as s:
        s.put(a, {"text": "first"})
        s.put(b, {"text": "second"})
        s.put(a, {"text": "ignored"})
        assert s.get(a)["text"] == "first" and s.get(b)["text"] == "second" and len(s) == 2
        assert "f" * 64 not in s
    with TranscriptStore(path) as s:  # reopened: the index rebuilt from the file
        assert s.get(a)["text"] == "first" and s.get(b)["text"] == "second"
        assert sorted(k for k, _ in s.items()) == [a, b]


def test_paired_counts_give_the_record_results() -> None:
    rnd = random.Random(5)
    base = [{"utt_id": f"u{i}", "speaker": f"s{i % 6}", "ref_words": 10, "subs": rnd.randint(0, 4), "dels": 1,
             "term_refs": 2, "term_hits": rnd.randint(0, 2)} for i in range(40)]
    cond = [{**r, "subs": rnd.randint(0, 2), "term_hits": 2} for r in base]
    a = st.paired_compare(base, cond, n_boot=300, seed=4)
    b = st.paired_compare_counts(st.paired_counts(base, cond), n_boot=300, seed=4)
    assert repr(a) == repr(b) and a["wer"].diff < 0  # repr: NaN fields compare equal
    _, mat = st.speaker_matrix(base)
    assert st.summarize(base, n_boot=100) == st.summarize_matrix(st.speaker_matrix(base)[0], mat.astype(np.int64),
                                                                 n_boot=100)
