"""Exit 5 whenever a run finished without every manifest row and clip scored (skipped.csv lists each).

Uses the deterministic fake engine in place of Whisper, so no model is loaded.
"""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.evaluate import RunConfig, run_evaluation

from test_executor import FakeTranscriber, make_fixture


@pytest.fixture
def fake_engine(monkeypatch):
    import asr_eval.backends

    monkeypatch.setattr(asr_eval.backends, "load_backend", lambda *a, **k: FakeTranscriber())


def _append(manifest, *rows):
    with open(manifest, "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def test_a_clean_run_exits_0(tmp_path, fake_engine):
    fx = make_fixture(tmp_path / "d", 3)
    r = CliRunner().invoke(app, ["run", str(fx["manifest"]), "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("row, problem", [
    (["missing.wav", "hello there", "s1", "us"], "audio file not found: missing.wav"),
    (["sub", "hello there", "s1", "us"], "audio path is a folder, not a file: sub"),
    (["clip000.wav", "", "s1", "us"],
     "empty reference text for clip000.wav: a clip with no speech needs a 'speech' column set to false"),
    (["clip000.wav", "a duplicate", "s1", "us"], "duplicate id 'clip000' (first at line 2)"),
])
def test_a_rejected_manifest_row_exits_5_and_the_rest_is_scored(tmp_path, fake_engine, row, problem):
    fx = make_fixture(tmp_path / "d", 3)
    (tmp_path / "d" / "sub").mkdir()
    _append(fx["manifest"], row)
    r = CliRunner().invoke(app, ["run", str(fx["manifest"]), "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 5, r.output
    assert f"{fx['manifest']}:5: error: {problem}" in r.output.splitlines()
    assert "Traceback" not in r.output
    rows = list(csv.DictReader(open(tmp_path / "o" / "utterances.csv", encoding="utf-8")))
    assert len({x["utt_id"] for x in rows}) == 3
    skipped = list(csv.DictReader(open(tmp_path / "o" / "skipped.csv", encoding="utf-8")))
    assert [(s["line"], s["severity"]) for s in skipped] == [("5", "error")]


def test_a_warning_alone_still_exits_0(tmp_path, fake_engine):
    """An empty speaker is filled in (the clip id), not a rejected row."""
    import shutil

    fx = make_fixture(tmp_path / "d", 3)
    shutil.copy(tmp_path / "d" / "clip000.wav", tmp_path / "d" / "extra.wav")
    _append(fx["manifest"], ["extra.wav", "no speaker given", "", "us"])
    r = CliRunner().invoke(app, ["run", str(fx["manifest"]), "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "warning: empty speaker for extra" in r.output


def test_outcome_counts_rejected_rows(tmp_path):
    fx = make_fixture(tmp_path / "d", 3)
    _append(fx["manifest"], ["missing.wav", "hello there", "s1", "us"])
    outcome = run_evaluation(fx["manifest"], tmp_path / "o", config=RunConfig(progress=False, reports=False),
                             backend=FakeTranscriber())
    assert (outcome.rejected, outcome.failed, outcome.missing, outcome.complete) == (1, 0, 0, False)
