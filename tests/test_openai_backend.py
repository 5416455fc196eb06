"""openai-whisper backend: same prompts, tokens and (greedy) transcripts as the faster-whisper backend."""

from __future__ import annotations

import pytest
from conftest import DEMO, SAA

from asr_eval.backends.whisper_rules import PROMPT_BUDGET, Stream
from asr_eval.types import BiasPlan, DecodeOptions, ModelError

pytest.importorskip("whisper")

GREEDY = DecodeOptions(beam_size=1)
TERMS = "Siobhan Nguyen, Zentrix Cloud, Klarvo, OAuth, PayNimbus, Chidi Okonkwo, SLA, chargeback"


@pytest.fixture(scope="module")
def engines():
    from asr_eval.backends import load_backend

    fw = load_backend("faster-whisper", compute_type="float32", options=GREEDY)
    ow = load_backend("openai-whisper", options=GREEDY)
    return fw, ow


@pytest.mark.parametrize("plan", [
    BiasPlan("baseline", "none", None),
    BiasPlan("prompt", "prompt", TERMS),
    BiasPlan("hotwords", "hotwords", TERMS),
    BiasPlan("hotwords-long", "hotwords", ", ".join(["Zentrix Cloud"] * 120)),
])
@pytest.mark.parametrize("previous", [[], list(range(300, 340)), list(range(300, 600))])
def test_prompts_are_built_exactly_as_faster_whisper_builds_them(engines, plan, previous):
    fw, ow = engines
    bias = fw.encode_text(plan.text) if plan.method == "prompt" else []
    assert _prompt(ow, plan, previous) == _prompt(fw, plan, previous) == _get_prompt(fw, plan, bias, previous)


def _prompt(engine, plan, previous):
    """The prompt an engine decodes a window with, after ``previous`` was carried."""
    return Stream(*engine.plan_tokens(plan), previous=list(previous)).prompt(engine.tokenizer)


def _get_prompt(fw, plan, bias, previous):
    """faster-whisper's own ``get_prompt``, given the bias and the carried text that fits beside it."""
    if plan.method == "hotwords":
        room = PROMPT_BUDGET - (fw.count_tokens(plan.text) if plan.text else 0)
        carried = previous[-room:] if room > 0 and previous else []
        return fw.model.get_prompt(fw.tokenizer, carried, without_timestamps=True, hotwords=plan.text)
    if plan.method == "prompt" and bias:
        room = PROMPT_BUDGET - len(bias)
        carried = previous[-room:] if room > 0 and previous else []
        return fw.model.get_prompt(fw.tokenizer, bias + carried, without_timestamps=True)
    return fw.model.get_prompt(fw.tokenizer, previous, without_timestamps=True)


@pytest.mark.parametrize("text", [TERMS, "Saoirse Ní Bhraonáin, Çağla Yıldız, Jiří Dvořák", "x"])
def test_token_counts_agree_with_faster_whisper(engines, text):
    fw, ow = engines
    assert ow.encode_text(text) == fw.encode_text(text)
    assert ow.prompt_budget("prompt") == fw.prompt_budget("prompt")


def test_describe_and_unknown_method(engines):
    _, ow = engines
    d = ow.describe()
    assert d["backend"] == "openai-whisper" and d["compute_type"] == "float32" and d["checkpoint"].endswith(".pt")
    with pytest.raises(ModelError, match="cannot apply"):
        ow.transcribe(__import__("numpy").zeros(16000, dtype="float32"), [BiasPlan("x", "telepathy", "a")])


def test_both_engines_are_whole_transcribers(engines):
    from asr_eval.backends.base import Transcriber

    assert all(isinstance(e, Transcriber) for e in engines)


def _fixture_clips() -> list[str]:
    from asr_eval.manifest import load_manifest

    if (DEMO / "manifest.csv").exists():
        utts = load_manifest(DEMO / "manifest.csv").utterances
        by_group = {}
        for u in utts:
            by_group.setdefault(u.accent_group, u.audio)
        return list(by_group.values())[:3]
    if (SAA / "manifest.csv").exists():
        return [str(u.audio) for u in load_manifest(SAA / "manifest.csv").utterances[:1]]
    pytest.skip("no demo fixtures and no shared Speech Accent Archive")


def test_greedy_transcripts_match_faster_whisper_on_fixtures(engines):
    """Target from the issue: WER between the two engines' outputs <= 2 %."""
    import jiwer

    from asr_eval.audio import load_audio

    fw, ow = engines
    plans = [BiasPlan("baseline", "none", None), BiasPlan("prompt", "prompt", TERMS)]
    refs, hyps = [], []
    for clip in _fixture_clips():
        audio = load_audio(clip)
        for a, b in zip(fw.transcribe(audio, plans), ow.transcribe(audio, plans)):
            refs.append(a.text or "<empty>")
            hyps.append(b.text or "<empty>")
    between = jiwer.wer(refs, hyps)
    print(f"WER between engines: {between:.4f} over {len(refs)} decodes; identical: "
          f"{sum(r == h for r, h in zip(refs, hyps))}/{len(refs)}")
    assert between <= 0.02
