"""Parquet copies of a run's tables carry the same numbers as the CSVs, with types."""

import soundfile as sf
from typer.testing import CliRunner

from asr_eval.cli import app
from asr_eval.runfolder import read_frames

from conftest import tone


def test_run_tables_as_dataframes(tmp_path):
    for i in range(2):
        sf.write(tmp_path / f"c{i}.wav", tone(0.3), 16000)
    (tmp_path / "m.csv").write_text("id,audio,text,speaker,accent_group\nu0,c0.wav,ask Klarvo now,s1,ie\nu1,c1.wav,hello there,s2,us\n")
    (tmp_path / "d.csv").write_text("term\nKlarvo\n")
    (tmp_path / "h.csv").write_text("id,text,condition\nu0,ask clarvo now,baseline\nu1,hello there,baseline\n"
                                    "u0,ask Klarvo now,vocab\nu1,hello Klarvo there,vocab\n")
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m.csv"), "--hyp", str(tmp_path / "h.csv"),
                                 "--dictionary", str(tmp_path / "d.csv"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    frames = read_frames(out)
    u, t = frames["utterances"], frames["terms"]
    assert str(u["subs"].dtype).startswith("int") and len(u) == 4
    by = u.groupby("condition")[["subs", "dels", "ins", "ref_words", "term_false_ins"]].sum()
    assert by.loc["baseline", "subs"] == 1 and by.loc["vocab", "ins"] == 1 and by.loc["vocab", "term_false_ins"] == 1
    assert set(t["outcome"]) == {"hit", "miss", "false_insertion"}
    assert t["in_force"].dtype == bool
