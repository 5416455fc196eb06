"""What asr-eval writes, and where: the output folder it owns, OS errors, temporary files, the JIT cache.

Issue 12 ("safe to run as a shared service"): a run into a folder full of
someone else's files used to delete them; a read-only or full disk printed a
40-line traceback and left ``.<name>.tmpNNN`` files behind; every command
wrote a numba cache entry into the installed package. Each test here failed
before the fix it names.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.evaluate import RunConfig, run_evaluation
from asr_eval.files import RUN_INDEX, write_atomic
from asr_eval.cache import TranscriptStore
from asr_eval.types import InputError, OutputError

from test_executor import FakeTranscriber, make_fixture
from test_resume import run_outputs
from test_score_cli import _setup

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "asr_eval"


def _score(tmp_path, out, *extra, hyps="hyps.jsonl"):
    return CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / hyps),
                                    "--dictionary", str(tmp_path / "dict.csv"), "--out", str(out), *extra])


def _one_error_line(result, code: int) -> str:
    """The command failed with ``code`` and said so in one line, without a traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp*") if p.is_file()]


def _someone_elses_folder(folder: Path) -> dict[str, bytes]:
    (folder / "transcripts").mkdir(parents=True)
    (folder / "trn").mkdir()
    (folder / "notes.txt").write_text("mine\n")
    (folder / "report.md").write_text("my own report\n")
    (folder / "transcripts" / "interview.jsonl").write_text('{"id": "x"}\n')
    (folder / "trn" / "interview.trn").write_text("hello (s1-x)\n")
    return _tree(folder)


# --------------------------------------------------------------------------- the output folder asr-eval owns


def test_score_refuses_a_folder_that_is_not_a_run_folder_and_touches_nothing(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "theirs"
    before = _someone_elses_folder(out)
    line = _one_error_line(_score(tmp_path, out), 2)
    assert str(out) in line and "not an asr-eval run folder" in line and "--force" in line
    assert _tree(out) == before and sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.md", "transcripts", "trn"]


def test_force_writes_into_it_but_never_removes_what_asr_eval_did_not_write(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "theirs"
    before = _someone_elses_folder(out)
    r = _score(tmp_path, out, "--force")
    assert r.exit_code == 0, r.output
    after = _tree(out)
    for name in ("notes.txt", "transcripts/interview.jsonl", "trn/interview.trn"):
        assert after[name] == before[name]
    index = json.loads((out / RUN_INDEX).read_text())
    assert "report.md" in index["files"] and "notes.txt" not in index["files"]
    assert "transcripts/vendor_vocab.jsonl" in index["files"] and "transcripts/interview.jsonl" not in index["files"]
    # the folder is a run folder now: a rerun needs no --force, and still leaves the stranger alone
    r = _score(tmp_path, out)
    assert r.exit_code == 0, r.output
    assert _tree(out)["transcripts/interview.jsonl"] == before["transcripts/interview.jsonl"]


def test_a_rerun_removes_only_condition_files_its_own_index_lists(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "out"
    assert _score(tmp_path, out).exit_code == 0
    (out / "transcripts" / "mine.jsonl").write_text("{}\n")  # someone's file inside a run folder
    (out / "trn" / "mine.trn").write_text("x (s-x)\n")
    only = tmp_path / "baseline.jsonl"
    only.write_text("".join(l + "\n" for l in (tmp_path / "hyps.jsonl").read_text().splitlines() if '"baseline"' in l))
    r = _score(tmp_path, out, hyps="baseline.jsonl")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (out / "transcripts").iterdir()) == ["baseline.jsonl", "mine.jsonl"]
    assert sorted(p.name for p in (out / "trn").iterdir()) == ["baseline.trn", "mine.trn", "ref.trn"]
    assert "transcripts/vendor_vocab.jsonl" not in json.loads((out / RUN_INDEX).read_text())["files"]


def test_an_empty_or_missing_out_is_fine(tmp_path):
    _setup(tmp_path)
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        r = _score(tmp_path, out)
        assert r.exit_code == 0, r.output
        assert (out / RUN_INDEX).is_file() and (out / "run.json").is_file()


def test_run_into_someone_elses_folder_is_refused_before_anything_is_written(tmp_path):
    fx = make_fixture(tmp_path / "data", n=2)
    out = tmp_path / "theirs"
    before = _someone_elses_folder(out)
    with pytest.raises(InputError, match="not an asr-eval run folder"):
        run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"],
                       config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())
    assert _tree(out) == before and not (out / ".asr-eval.lock").exists() and not (out / "cache").exists()


class _Interrupted(FakeTranscriber):
    """Ctrl-C after ``after`` decodes: the run dies before it writes any output but the cache."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def transcribe(self, audio, plans):
        if len(self.calls) >= self.after:
            raise KeyboardInterrupt
        return super().transcribe(audio, plans)


def test_a_run_killed_before_its_outputs_resumes_from_its_cache_without_force(tmp_path):
    fx = make_fixture(tmp_path / "data", n=4)
    out = tmp_path / "o"
    config = RunConfig(progress=False, reports=False)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=config, backend=_Interrupted(2))
    assert not (out / "run.json").exists() and (out / "cache" / "transcripts.jsonl").exists()
    again = run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=config, backend=FakeTranscriber())
    assert again.cached == 4 and again.decoded == 4  # two clips x two conditions came from the cache
    assert "cache/transcripts.jsonl" in json.loads((out / RUN_INDEX).read_text())["files"]


def test_merge_and_sweep_refuse_someone_elses_folder(tmp_path):
    from asr_eval.merge import merge_runs
    from asr_eval.sweep import run_sweep

    fx = make_fixture(tmp_path / "data", n=4)
    for i in range(2):
        run_evaluation(fx["manifest"], tmp_path / f"s{i}", dictionary=fx["dictionary"],
                       config=RunConfig(progress=False, reports=False, shard=f"{i}/2"), backend=FakeTranscriber())
    theirs = tmp_path / "theirs"
    before = _someone_elses_folder(theirs)
    with pytest.raises(InputError, match="not an asr-eval run folder"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], theirs, reports=False)
    with pytest.raises(InputError, match="not an asr-eval"):
        run_sweep(fx["manifest"], theirs, dictionary=fx["dictionary"], method="correct", strengths=(0.8,),
                  config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())
    assert _tree(theirs) == before
    merged = merge_runs([tmp_path / "s0", tmp_path / "s1"], theirs, reports=False, force=True)
    assert merged.scored == 4 and _tree(theirs)["transcripts/interview.jsonl"] == before["transcripts/interview.jsonl"]


def test_a_sweep_folder_lists_its_files_and_its_run_folder_is_one(tmp_path):
    from asr_eval.sweep import run_sweep

    fx = make_fixture(tmp_path / "data", n=3)
    out = tmp_path / "sweep"
    kwargs = dict(dictionary=fx["dictionary"], method="correct", strengths=(0.8,),
                  config=RunConfig(progress=False, reports=False))
    run_sweep(fx["manifest"], out, backend=FakeTranscriber(), **kwargs)
    index = json.loads((out / RUN_INDEX).read_text())
    assert index["kind"] == "sweep" and {"sweep.csv", "sweep.json"} <= set(index["files"])
    assert json.loads((out / "run" / RUN_INDEX).read_text())["kind"] == "run"
    run_sweep(fx["manifest"], out, backend=FakeTranscriber(), **kwargs)  # a rerun needs no --force
    with pytest.raises(InputError, match="sweep folder"):  # and a run is not written over a sweep
        run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"],
                       config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())


def test_report_rewrites_a_run_folder_and_lists_what_it_wrote(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "out"
    assert _score(tmp_path, out).exit_code == 0
    (out / RUN_INDEX).unlink()  # as written by an asr-eval without the index: report still takes it
    (out / "report.md").unlink()
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.md").is_file() and "report.md" in json.loads((out / RUN_INDEX).read_text())["files"]
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and not (tmp_path / "nowhere").exists()


# --------------------------------------------------------------------------- OS errors: one line, exit 6


def test_out_that_is_a_file_is_one_line_and_exit_6(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "a-file"
    out.write_text("not a folder\n")
    line = _one_error_line(_score(tmp_path, out), 6)
    assert str(out) in line and ("Not a directory" in line or "File exists" in line)
    assert out.read_text() == "not a folder\n"


@contextmanager
def _mounted(folder: Path, options: str):
    """A tmpfs at ``folder`` (root only); skips the test where it cannot be mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_read_only_out_is_one_line_and_exit_6(tmp_path):
    _setup(tmp_path)
    with _mounted(tmp_path / "ro", "ro,size=64k") as ro:
        line = _one_error_line(_score(tmp_path, ro / "out"), 6)
        assert str(ro / "out") in line and "Read-only file system" in line


def test_a_full_disk_is_one_line_and_exit_6_and_leaves_no_temp_files(tmp_path):
    _setup(tmp_path)
    with _mounted(tmp_path / "tiny", "size=48k") as tiny:
        line = _one_error_line(_score(tmp_path, tiny / "out"), 6)
        assert str(tiny / "out") in line and "No space left on device" in line
        assert _temp_files(tiny) == []


def test_write_atomic_leaves_no_temp_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "run.json"
    target.write_text("old\n")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputError, match=f"{target}: No space left on device") as info:
        write_atomic(target, "new\n")
    assert info.value.errno == errno.ENOSPC and info.value.exit_code == 6
    assert target.read_text() == "old\n" and _temp_files(tmp_path) == []


def _fsyncs_of_a_clean_run(fx, out) -> int:
    calls = []
    real = os.fsync

    def counting(fd):
        calls.append(fd)
        return real(fd)

    os.fsync = counting
    try:
        run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=RunConfig(progress=False),
                       backend=FakeTranscriber())
    finally:
        os.fsync = real
    return len(calls)


@pytest.mark.parametrize("phase", ["cache", "run folder", "reports"])
def test_disk_full_anywhere_leaves_a_valid_cache_no_temp_files_and_a_rerun_completes(tmp_path, monkeypatch, phase):
    fx = make_fixture(tmp_path / "data", n=3)
    clean = tmp_path / "clean"
    total = _fsyncs_of_a_clean_run(fx, clean)
    # 6 cache appends come first, then the run folder's files, then the five reports and the index
    fail_at = {"cache": 4, "run folder": 9, "reports": total - 2}[phase]
    calls = []
    real = os.fsync

    def full_at_one_call(fd):
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    out = tmp_path / "o"
    monkeypatch.setattr(os, "fsync", full_at_one_call)
    with pytest.raises(OutputError, match="No space left on device") as info:
        run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=RunConfig(progress=False),
                       backend=FakeTranscriber())
    monkeypatch.setattr(os, "fsync", real)
    assert str(out) in info.value.path
    assert _temp_files(out) == []
    with TranscriptStore(out / "cache" / "transcripts.jsonl") as store:
        assert store.skipped_lines == 0
    run_evaluation(fx["manifest"], out, dictionary=fx["dictionary"], config=RunConfig(progress=False),
                   backend=FakeTranscriber())
    assert run_outputs(out) == run_outputs(clean)


def test_temp_files_of_a_killed_run_are_removed_by_the_next_run(tmp_path):
    _setup(tmp_path)
    out = tmp_path / "out"
    assert _score(tmp_path, out).exit_code == 0
    dead = 2 ** 22 + 12345  # above pid_max's default: no such process
    leftovers = [out / f".utterances.csv.tmp{dead}", out / "transcripts" / f".baseline.jsonl.tmp{dead}",
                 out / "trn" / f".ref.trn.tmp{dead}", out / f".report.html.tmp{dead}"]
    for p in leftovers:
        p.write_text("half a file")
    assert _score(tmp_path, out).exit_code == 0
    assert _temp_files(out) == []


def test_os_errors_in_vocab_and_models_commands_are_one_line_and_exit_6(tmp_path, monkeypatch):
    (tmp_path / "dict.csv").write_text("term,category\nKlarvo,product\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = CliRunner().invoke(app, ["vocab", "export", str(tmp_path / "dict.csv"), "--format", "aws",
                                 "--out", str(blocker / "vocab.txt")])
    line = _one_error_line(r, 6)
    assert str(blocker) in line
    r = CliRunner().invoke(app, ["vocab", "check", str(tmp_path / "dict.csv"), "--csv", str(blocker / "f.csv")])
    assert str(blocker) in _one_error_line(r, 6)

    from asr_eval.backends import models

    def unreadable(name):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "weights"))

    monkeypatch.setattr(models, "resolve_model", unreadable)
    r = CliRunner().invoke(app, ["models", "path", "tiny.en"])
    assert _one_error_line(r, 6) == f"error: {tmp_path / 'weights'}: Permission denied"


# --------------------------------------------------------------------------- nothing written inside the package


def _package_files() -> dict[str, float]:
    """Every file under asr_eval/ but Python's own bytecode, which the test run itself writes."""
    return {str(p.relative_to(PACKAGE)): p.stat().st_mtime for p in PACKAGE.rglob("*")
            if p.is_file() and p.suffix != ".pyc"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "ASR_EVAL_PURE_PYTHON")}
    env.update(PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


ALIGN = ("from asr_eval.align import align, align_many, char_counts_many, backend\n"
         "align('the cat sat'.split(), 'the cat sat on'.split())\n"
         "align_many([('a b c'.split(), 'a x c'.split())])\n"
         "char_counts_many([('hello', 'hallo')])\n"
         "print(backend())\n")


def test_a_command_writes_nothing_inside_the_installed_package(tmp_path):
    pytest.importorskip("numba")
    _setup(tmp_path)
    cache = tmp_path / "user-cache"
    before = _package_files()
    done = subprocess.run([sys.executable, "-m", "asr_eval.cli", "score", str(tmp_path / "m.csv"),
                           "--hyp", str(tmp_path / "hyps.jsonl"), "--out", str(tmp_path / "out")],
                          cwd=ROOT, env=_clean_env(ASR_EVAL_CACHE=str(cache)), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert _package_files() == before
    assert list((cache / "numba").rglob("*.nbi")), "the compiled kernels are cached in the user cache"


def test_the_jit_cache_is_reused_by_the_next_process(tmp_path):
    pytest.importorskip("numba")
    cache = tmp_path / "user-cache"
    env = _clean_env(ASR_EVAL_CACHE=str(cache))

    def align_in_a_fresh_process() -> dict[str, int]:
        done = subprocess.run([sys.executable, "-c", ALIGN], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0 and done.stdout.strip() == "numba", done.stderr
        return {str(p.relative_to(cache)): p.stat().st_size for p in cache.rglob("*") if p.is_file()}

    first = align_in_a_fresh_process()
    assert any(name.endswith(".nbc") for name in first)
    assert align_in_a_fresh_process() == first  # a miss would have added an entry


def test_a_users_own_numba_cache_dir_is_respected(tmp_path):
    pytest.importorskip("numba")
    env = _clean_env(ASR_EVAL_CACHE=str(tmp_path / "ours"), NUMBA_CACHE_DIR=str(tmp_path / "theirs"))
    done = subprocess.run([sys.executable, "-c", ALIGN], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "theirs").rglob("*.nbi")) and not (tmp_path / "ours" / "numba").exists()


# --------------------------------------------------------------------------- a damaged cache says so


def test_a_damaged_cache_warns_once_with_the_count_and_the_path(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [json.dumps({"key": f"k{i}", "record": {"text": str(i)}}) for i in range(4)]
    lines[1] = "garbage"
    path.write_text("\n".join(lines) + "\n" + '{"key": "torn", "rec')
    with pytest.warns(UserWarning, match=rf"{path}: skipped 2 damaged lines") as record:
        with TranscriptStore(path) as store:
            assert len(store) == 3
    assert len(record) == 1
    import warnings

    sound = tmp_path / "sound.jsonl"
    sound.write_text("\n".join(l for l in lines if l != "garbage") + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sound cache says nothing
        with TranscriptStore(sound) as store:
            assert len(store) == 3


def test_the_cli_prints_a_warning_as_one_line(tmp_path):
    import typer
    import warnings

    from asr_eval.cli.errors import Guarded

    demo = typer.Typer(cls=Guarded)

    @demo.command()
    def go() -> None:
        warnings.warn("/x/cache.jsonl: skipped 2 damaged lines")

    @demo.command()
    def other() -> None:
        pass

    r = CliRunner().invoke(demo, ["go"])
    assert r.exit_code == 0 and r.output.strip() == "warning: /x/cache.jsonl: skipped 2 damaged lines"


def test_a_crafted_index_never_makes_a_run_remove_files_asr_eval_did_not_write(tmp_path):
    """Review finding: temp-file cleanup followed index entries out of the folder and removed any '.x.tmpN'."""
    import json

    from asr_eval.files import RUN_INDEX, RunLock

    run = tmp_path / "run"
    outside = tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    (run / RUN_INDEX).write_text(json.dumps({"format": 1, "kind": "run", "files": ["../outside/x", "/etc/x"]}))
    precious = [outside / ".precious.tmp42", run / ".notes.txt.tmp7"]
    for p in precious:
        p.write_text("mine")
    ours = run / ".utterances.csv.tmp12345"
    ours.write_text("half a file")
    with RunLock(run):
        pass
    assert all(p.exists() for p in precious)
    assert not ours.exists()
