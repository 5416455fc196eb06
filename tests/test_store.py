"""TranscriptStore and RunLock: durability, key sensitivity, refusal of concurrent runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings

import pytest
from hypothesis import given, settings, strategies as st

from asr_eval.files import RunLock, write_atomic
from asr_eval.cache import TranscriptStore, transcript_key
from asr_eval.types import RunLockedError

ENGINE = {"backend": "fake", "model": "m", "weights_sha256": "abc", "decode": {"beam_size": 5, "temperatures": [0.0, 0.2]}}
PLAN = {"condition": "dictionary", "method": "prompt", "text": "Zentrix Cloud", "terms_in_force": ["Zentrix Cloud"]}


def test_key_changes_with_every_setting_that_changes_a_transcript():
    base = transcript_key("a" * 64, ENGINE, PLAN)
    variants = [
        transcript_key("b" * 64, ENGINE, PLAN),                                           # audio content
        transcript_key("a" * 64, {**ENGINE, "model": "other"}, PLAN),                     # model
        transcript_key("a" * 64, {**ENGINE, "weights_sha256": "abd"}, PLAN),              # weights
        transcript_key("a" * 64, {**ENGINE, "decode": {**ENGINE["decode"], "beam_size": 1}}, PLAN),
        transcript_key("a" * 64, {**ENGINE, "compute_type": "float32"}, PLAN),
        transcript_key("a" * 64, ENGINE, {**PLAN, "text": "Zentrix Cloud, Klarvo"}),      # prompt
        transcript_key("a" * 64, ENGINE, {**PLAN, "method": "hotwords"}),                 # method
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_key_ignores_where_the_weights_live_and_key_order():
    a = transcript_key("a" * 64, {**ENGINE, "model_path": "/x"}, PLAN)
    b = transcript_key("a" * 64, dict(reversed(list({**ENGINE, "model_path": "/y"}.items()))), PLAN)
    assert a == b


def test_torn_last_line_is_dropped_and_truncated(tmp_path):
    path = tmp_path / "t.jsonl"
    with TranscriptStore(path) as s:
        s.put("k1", {"text": "one"})
        s.put("k2", {"text": "two"})
    whole = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'{"key": "k3", "record": {"te')  # killed mid-write
    with pytest.warns(UserWarning, match="skipped 1 damaged line"), TranscriptStore(path) as s:
        assert len(s) == 2 and "k3" not in s
        s.put("k3", {"text": "three"})
    assert path.read_bytes().startswith(whole)
    assert [json.loads(l)["key"] for l in path.read_text().splitlines()] == ["k1", "k2", "k3"]


def test_duplicate_keys_resolve_to_the_first_and_put_never_duplicates(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"key":"k","record":{"text":"first"}}\n{"key":"k","record":{"text":"second"}}\n')
    with TranscriptStore(path) as s:
        assert s.get("k")["text"] == "first"
        s.put("k", {"text": "third"})
    assert path.read_text().count('"k"') == 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=20)), max_size=12),
       st.integers(min_value=0, max_value=400))
def test_any_truncation_loses_at_most_the_torn_record(tmp_path_factory, puts, cut):
    path = tmp_path_factory.mktemp("s") / "t.jsonl"
    with TranscriptStore(path) as s:
        for k, v in puts:
            s.put(k, {"text": v})
    data = path.read_bytes()
    path.write_bytes(data[: min(cut, len(data))])
    torn = not path.read_bytes().endswith(b"\n") and path.stat().st_size > 0
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with TranscriptStore(path) as s:
            kept = dict(s.items())
    assert [str(w.message) for w in said] == ([f"{path}: skipped 1 damaged line (a write cut short by a crash, "
                                               "or edited by hand); those clips will be decoded again"] if torn else [])
    expected: dict[str, dict] = {}
    for k, v in puts:
        expected.setdefault(k, {"text": v})
    assert all(expected[k] == rec for k, rec in kept.items())  # never a wrong or partial record
    survived, end = [], 0
    for line in data.splitlines(keepends=True):
        end += len(line)
        if end <= cut:
            survived.append(json.loads(line)["key"])
    assert sorted(kept) == sorted(set(survived))  # every complete line before the cut survives
    assert path.stat().st_size == sum(len(l) for l in data.splitlines(keepends=True)[: len(survived)])


def test_write_atomic_replaces_whole_file(tmp_path):
    p = tmp_path / "x" / "run.json"
    write_atomic(p, "old\n")
    write_atomic(p, "new\n")
    assert p.read_text() == "new\n" and not list(p.parent.glob(".*tmp*"))


def test_second_lock_in_process_is_refused_with_a_clear_message(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match=r"in use by pid \d+.*another --out"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released on exit
        pass


def test_lock_held_by_another_process_is_refused_and_freed_when_it_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom asr_eval.files import RunLock\n"
        f"with RunLock({str(tmp_path)!r}):\n    print('locked', flush=True)\n    time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            with RunLock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    deadline = time.time() + 5
    while True:  # kill -9 releases flock: the folder is usable again
        try:
            with RunLock(tmp_path):
                break
        except RunLockedError:
            assert time.time() < deadline
            time.sleep(0.05)


def test_key_ignores_the_condition_name_but_not_the_plan():
    from asr_eval.cache import transcript_key
    from asr_eval.types import BiasPlan

    engine = {"backend": "x", "model": "m", "beam_size": 5}
    a = BiasPlan("dictionary", "prompt", "Klarvo, PayNimbus", ("Klarvo", "PayNimbus"), (), 7, 223).to_dict()
    b = BiasPlan("renamed", "prompt", "Klarvo, PayNimbus", ("Klarvo", "PayNimbus"), (), 7, 223).to_dict()
    c = BiasPlan("dictionary", "hotwords", "Klarvo, PayNimbus", ("Klarvo", "PayNimbus"), (), 7, 223).to_dict()
    assert transcript_key("h", engine, a) == transcript_key("h", engine, b)
    assert transcript_key("h", engine, a) != transcript_key("h", engine, c)


def test_a_damaged_middle_line_is_skipped_not_a_reason_to_drop_the_rest(tmp_path):
    import json as _json

    from asr_eval.cache import TranscriptStore

    path = tmp_path / "t.jsonl"
    lines = [_json.dumps({"key": f"k{i}", "record": {"text": str(i)}}) for i in range(5)]
    lines[1] = lines[1][:10]  # damaged, yet followed by good records
    path.write_text("\n".join(lines) + "\n" + '{"key": "torn", "rec')
    with pytest.warns(UserWarning, match="skipped 2 damaged lines"), TranscriptStore(path) as store:
        assert len(store) == 4 and store.get("k4") == {"text": "4"} and store.skipped_lines == 1 and store.cut_tail
    assert path.read_text().endswith(lines[4] + "\n")  # only the torn tail was cut


_WRITER = """
import sys
from asr_eval.cache import TranscriptStore
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with TranscriptStore(path) as store:
    for i in range(n):
        # 40 kB records: each line takes several write() calls without the lock
        store.put(f"{tag}{i}", {"text": tag * 40_000, "i": i})
"""


def test_two_runs_appending_to_one_cache_at_once_keep_every_record(tmp_path):
    path = tmp_path / "shared.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), tag, "60"]) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with TranscriptStore(path) as store:
        assert store.skipped_lines == 0 and len(store) == 120
        assert all(rec["text"] == key[0] * 40_000 for key, rec in store.items())


def test_opening_waits_for_a_line_another_run_is_still_writing(tmp_path):
    # without the lock, the opener would take the half-written line for a torn one and cut it away
    import fcntl

    path = tmp_path / "shared.jsonl"
    line = (json.dumps({"key": "k", "record": {"text": "x" * 100}}) + "\n").encode()
    opener_code = "import sys; from asr_eval.cache import TranscriptStore; print(len(TranscriptStore(sys.argv[1])))"
    with open(path, "ab") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write(line[:40])
        fh.flush()
        opener = subprocess.Popen([sys.executable, "-c", opener_code, str(path)], stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)
        fh.write(line[40:])
        fh.flush()
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    assert opener.communicate(timeout=60)[0].strip() == "1"
    assert path.read_bytes() == line


def test_a_write_cut_short_leaves_no_partial_line(tmp_path, monkeypatch):
    import errno
    import os

    path = tmp_path / "c.jsonl"
    real_write = os.write
    with TranscriptStore(path) as store:
        store.put("a", {"text": "first"})

        def half_then_disk_full(fd, data):
            if len(data) > 20:
                real_write(fd, bytes(data[:20]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", half_then_disk_full)
        with pytest.raises(OSError, match="No space"):
            store.put("b", {"text": "second " * 10})
        monkeypatch.setattr(os, "write", real_write)
        store.put("c", {"text": "third"})
    with TranscriptStore(path) as store:
        assert store.skipped_lines == 0 and sorted(k for k, _ in store.items()) == ["a", "c"]


def test_a_filesystem_without_locks_warns_and_still_stores(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match="cannot lock files"):
        with TranscriptStore(tmp_path / "c.jsonl") as store:
            store.put("a", {"text": "x"})
            store.put("b", {"text": "y"})
    monkeypatch.undo()
    with TranscriptStore(tmp_path / "c.jsonl") as store:
        assert len(store) == 2
