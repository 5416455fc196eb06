"""A manifest may only name audio inside its own folder or an --audio-root the caller names.

A shared service runs manifests it did not write: without this rule a row
could have ``../../secret.flac`` transcribed into a report, or open
``/etc/passwd``, and the wording of the rejection could tell which files exist.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.evaluate import RunConfig, run_evaluation
from asr_eval.manifest import load_manifest

from conftest import tone
from test_executor import FakeTranscriber

OUTSIDE = "is outside the allowed folders (the manifest's folder; use --audio-root or --allow-outside-paths)"


def _tree(tmp_path: Path) -> dict[str, Path]:
    """data/ holds the manifest and one good clip; outside/ holds a clip the manifest must not reach."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    sf.write(data / "good.wav", tone(0.3), 16000)
    sf.write(outside / "secret.wav", tone(0.3, freq=300.0), 16000)
    (data / "link.wav").symlink_to(outside / "secret.wav")  # a file link leading out
    (data / "linkdir").symlink_to(outside, target_is_directory=True)  # a folder link leading out
    return {"data": data, "outside": outside, "secret": outside / "secret.wav"}


def _manifest(folder: Path, rows: list[tuple[str, str]], name: str = "m.csv") -> Path:
    m = folder / name
    with open(m, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "audio", "text", "speaker", "accent_group"])
        for uid, audio in rows:
            w.writerow([uid, audio, f"please call stella {uid}", "s1", "us"])
    return m


ESCAPES = [
    ("dotdot", "../outside/secret.wav"),
    ("absolute", "{secret}"),
    ("filelink", "link.wav"),
    ("dirlink", "linkdir/secret.wav"),
    ("etc", "../../../../../../../../etc/passwd"),
    ("inside_then_out", "sub/../../outside/secret.wav"),
]


def _escape_rows(t: dict[str, Path]) -> list[tuple[str, str]]:
    return [("good", "good.wav")] + [(uid, a.format(secret=t["secret"])) for uid, a in ESCAPES]


def test_every_way_out_is_rejected_by_default(tmp_path):
    t = _tree(tmp_path)
    m = _manifest(t["data"], _escape_rows(t))
    man = load_manifest(m)
    assert [u.id for u in man.utterances] == ["good"]
    got = {p.line: p for p in man.problems}
    for line, (uid, audio) in enumerate(ESCAPES, start=3):
        audio = audio.format(secret=t["secret"])
        assert got[line].severity == "error"
        assert str(got[line]) == f"{m}:{line}: error: audio path {audio!r} {OUTSIDE}"
    assert man.audio_policy.allow_outside is False
    assert man.audio_policy.roots == (str(t["data"].resolve()),)


def test_the_rejection_does_not_say_whether_the_file_exists(tmp_path):
    t = _tree(tmp_path)
    m = _manifest(t["data"], [("good", "good.wav"), ("a", "../outside/secret.wav"), ("b", "../outside/nothing.wav"),
                              ("c", "../outside"), ("d", "/nonexistent/dir/x.wav")])
    problems = [p.problem for p in load_manifest(m).problems]
    assert [p.replace(a, "X") for p, a in zip(problems, ["'../outside/secret.wav'", "'../outside/nothing.wav'",
                                                            "'../outside'", "'/nonexistent/dir/x.wav'"])] \
        == [f"audio path X {OUTSIDE}"] * 4


def test_allow_outside_paths_keeps_the_trusted_local_behaviour(tmp_path):
    t = _tree(tmp_path)
    rows = [r for r in _escape_rows(t) if r[0] != "etc"]
    man = load_manifest(_manifest(t["data"], rows), allow_outside_paths=True)
    assert [u.id for u in man.utterances] == [uid for uid, _ in rows]
    assert man.problems == ()
    assert {u.audio for u in man.utterances if u.id != "good"} == {str(t["secret"].resolve())}
    assert man.audio_policy.allow_outside is True


def test_an_audio_root_admits_its_files_and_links_into_it(tmp_path):
    t = _tree(tmp_path)
    m = _manifest(t["data"], _escape_rows(t))
    man = load_manifest(m, audio_roots=[t["outside"]])
    assert [u.id for u in man.utterances] == ["good", "dotdot", "absolute", "filelink", "dirlink", "inside_then_out"]
    (etc,) = man.problems
    assert etc.line == 7 and "(the manifest's folder, " + str(t["outside"].resolve()) + ";" in etc.problem
    assert man.audio_policy.roots == (str(t["data"].resolve()), str(t["outside"].resolve()))


def test_a_link_out_of_an_audio_root_is_still_rejected(tmp_path):
    t = _tree(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    (root / "out.wav").symlink_to(t["secret"])
    m = _manifest(t["data"], [("good", "good.wav"), ("x", str(root / "out.wav"))])
    (p,) = load_manifest(m, audio_roots=[root]).problems
    assert "is outside the allowed folders" in p.problem


def test_a_manifest_reached_through_a_link_may_use_its_own_folder(tmp_path):
    t = _tree(tmp_path)
    _manifest(t["data"], [("good", "good.wav"), ("abs", str(t["data"].resolve() / "good.wav"))])
    (tmp_path / "via").symlink_to(t["data"], target_is_directory=True)
    man = load_manifest(tmp_path / "via" / "m.csv")
    assert [u.id for u in man.utterances] == ["good", "abs"] and man.problems == ()


def test_inside_the_allowed_folders_a_missing_file_or_a_folder_says_so(tmp_path):
    t = _tree(tmp_path)
    (t["data"] / "adir").mkdir()
    m = _manifest(t["data"], [("good", "good.wav"), ("gone", "gone.wav"), ("dir", "adir")])
    got = [str(p) for p in load_manifest(m).problems]
    assert got == [f"{m}:3: error: audio file not found: gone.wav",
                   f"{m}:4: error: audio path is a folder, not a file: adir"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_inside_the_allowed_folders_an_unreadable_file_says_so(tmp_path):
    t = _tree(tmp_path)
    locked = t["data"] / "locked.wav"
    sf.write(locked, tone(0.3), 16000)
    locked.chmod(0)
    try:
        m = _manifest(t["data"], [("good", "good.wav"), ("locked", "locked.wav")])
        (p,) = load_manifest(m).problems
        assert str(p) == f"{m}:3: error: audio file is not readable: locked.wav"
    finally:
        locked.chmod(0o644)


def test_reading_no_audio_confines_nothing(tmp_path):
    """score and merge read references only: the audio column is then just a name."""
    t = _tree(tmp_path)
    man = load_manifest(_manifest(t["data"], _escape_rows(t)), check_audio=False)
    assert len(man.utterances) == 1 + len(ESCAPES) and man.problems == ()
    assert man.audio_policy is None


def test_run_records_the_roots_and_skips_escaping_rows(tmp_path):
    t = _tree(tmp_path)
    m = _manifest(t["data"], _escape_rows(t))
    out = tmp_path / "out"
    outcome = run_evaluation(m, out, config=RunConfig(progress=False, reports=False), backend=FakeTranscriber())
    assert (outcome.utterances, outcome.scored, outcome.rejected) == (1, 1, len(ESCAPES))
    assert not outcome.complete
    run = json.loads((out / "run.json").read_text())
    assert run["manifest"]["audio_roots"] == [str(t["data"].resolve())]
    assert run["manifest"]["allow_outside_paths"] is False
    skipped = list(csv.DictReader(open(out / "skipped.csv", encoding="utf-8")))
    assert len([s for s in skipped if OUTSIDE in s["problem"]]) == len(ESCAPES)


@pytest.fixture
def fake_engine(monkeypatch):
    """The CLI's engine replaced by the deterministic fake, so no model is loaded."""
    import asr_eval.backends

    monkeypatch.setattr(asr_eval.backends, "load_backend", lambda *a, **k: FakeTranscriber())


def _run_cli(m: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["run", str(m), "--out", str(out), "--no-progress", *extra])


def test_cli_run_rejects_escapes_with_one_line_each_and_exit_5(tmp_path, fake_engine):
    t = _tree(tmp_path)
    m = _manifest(t["data"], _escape_rows(t))
    r = _run_cli(m, tmp_path / "out")
    assert r.exit_code == 5, r.output
    assert "Traceback" not in r.output
    assert f"{m}:3: error: audio path '../outside/secret.wav' {OUTSIDE}" in r.output.splitlines()
    rows = list(csv.DictReader(open(tmp_path / "out" / "utterances.csv", encoding="utf-8")))
    assert {r["utt_id"] for r in rows} == {"good"}


def test_cli_run_with_an_audio_root_or_allow_outside_paths(tmp_path, fake_engine):
    t = _tree(tmp_path)
    rows = [r for r in _escape_rows(t) if r[0] != "etc"]
    m = _manifest(t["data"], rows)
    r = _run_cli(m, tmp_path / "o1", "--audio-root", str(t["outside"]))
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "o1" / "run.json").read_text())
    assert run["manifest"]["audio_roots"] == [str(t["data"].resolve()), str(t["outside"].resolve())]
    r = _run_cli(m, tmp_path / "o2", "--allow-outside-paths")
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "o2" / "run.json").read_text())
    assert run["manifest"]["allow_outside_paths"] is True
    scored = {x["utt_id"] for x in csv.DictReader(open(tmp_path / "o2" / "utterances.csv", encoding="utf-8"))}
    assert scored == {uid for uid, _ in rows}
