"""``--decoding native``: each engine's own transcribe(), with the arguments a condition maps to.

The plumbing (which argument a plan becomes, cache-key separation, refused
methods, CLI validation) is tested without a model; the ``model`` tests
check that a native transcript is exactly what calling the engine directly
gives, with the real tiny.en model on demo clips.
"""

from __future__ import annotations

import inspect
from dataclasses import replace

import pytest
from conftest import DEMO
from typer.testing import CliRunner

from asr_eval.backends import native
from asr_eval.cache import transcript_key
from asr_eval.cli import app
from asr_eval.types import BiasPlan, DecodeOptions, ModelError

TERMS = "Siobhan Nguyen, Zentrix Cloud, Klarvo, OAuth, PayNimbus, Chidi Okonkwo, SLA, chargeback"
NONE = BiasPlan("baseline", "none", None)
PROMPT = BiasPlan("prompt", "prompt", TERMS)
HOTWORDS = BiasPlan("hotwords", "hotwords", TERMS)
BOOST = BiasPlan("boost@2", "boost", TERMS, strength=2.0)
NATIVE = DecodeOptions(decoding="native")


# ---------------------------------------------------------------- option mapping (no model)

@pytest.mark.parametrize("plan, prompt, hotwords", [
    (NONE, None, None), (PROMPT, TERMS, None), (HOTWORDS, None, TERMS),
    (BiasPlan("empty", "prompt", "   "), None, None),  # an empty plan is no prompt, not an empty one
])
def test_faster_whisper_arguments_for_each_method(plan, prompt, hotwords):
    options = replace(NATIVE, beam_size=3, temperatures=(0.0, 0.5), log_prob_threshold=-0.7,
                      condition_on_previous_text=False, language="en")
    kw = native.faster_whisper_kwargs(options, plan)
    assert (kw["initial_prompt"], kw["hotwords"]) == (prompt, hotwords)
    assert kw["beam_size"] == 3 and kw["temperature"] == (0.0, 0.5) and kw["log_prob_threshold"] == -0.7
    assert kw["condition_on_previous_text"] is False and kw["language"] == "en" and kw["best_of"] == 5
    assert kw["without_timestamps"] is False and kw["vad_filter"] is False  # the engine's own defaults


def test_faster_whisper_arguments_are_the_engines_own_and_fixed_ones_its_defaults():
    fw = pytest.importorskip("faster_whisper")
    params = inspect.signature(fw.WhisperModel.transcribe).parameters
    kw = native.faster_whisper_kwargs(NATIVE, PROMPT)
    assert set(kw) <= set(params)
    for name, value in native.FASTER_WHISPER_FIXED.items():
        assert params[name].default == value, name  # asr-eval pins the installed engine's defaults
    no_fallback = native.faster_whisper_kwargs(replace(NATIVE, temperatures=(0.0,)), NONE)
    assert no_fallback["temperature"] == (0.0,)


@pytest.mark.parametrize("carry_supported, carry, expected", [
    (True, True, True), (True, False, False), (False, True, None),
])
def test_openai_whisper_arguments(carry_supported, carry, expected):
    options = replace(NATIVE, carry_initial_prompt=carry)
    kw = native.openai_whisper_kwargs(options, PROMPT, fp16=False, carry_supported=carry_supported)
    assert kw["initial_prompt"] == TERMS and kw["beam_size"] == 5 and kw["best_of"] == 5 and kw["fp16"] is False
    assert kw.get("carry_initial_prompt") == expected  # not passed at all to an openai-whisper without it
    assert kw["logprob_threshold"] == options.log_prob_threshold and kw["verbose"] is None
    greedy = native.openai_whisper_kwargs(replace(NATIVE, beam_size=1), NONE, fp16=False, carry_supported=True)
    assert "beam_size" not in greedy and greedy["initial_prompt"] is None  # beam 1 = openai-whisper's greedy decoder


def test_openai_whisper_arguments_are_the_engines_own():
    whisper = pytest.importorskip("whisper")
    from whisper.decoding import DecodingOptions

    params = set(inspect.signature(whisper.transcribe).parameters) - {"decode_options"}
    decoding = set(DecodingOptions.__dataclass_fields__)
    kw = native.openai_whisper_kwargs(NATIVE, PROMPT, fp16=False, carry_supported=True)
    assert set(kw) <= params | decoding
    assert native.OPENAI_WHISPER_FIXED["best_of"] == native.BEST_OF


@pytest.mark.parametrize("engine, method", [
    ("faster-whisper", "boost"), ("openai-whisper", "boost"), ("openai-whisper", "hotwords"),
])
def test_methods_without_a_native_form_are_refused(engine, method):
    with pytest.raises(ModelError, match=f"--decoding native cannot apply method '{method}' on {engine}.*--decoding windowed"):
        native.check_native_method(engine, method)


def test_allowed_methods_pass():
    for engine, methods in native.NATIVE_METHODS.items():
        for method in methods:
            native.check_native_method(engine, method)
    with pytest.raises(ModelError):
        native.faster_whisper_kwargs(NATIVE, BOOST)
    with pytest.raises(ModelError):
        native.openai_whisper_kwargs(NATIVE, HOTWORDS, fp16=False, carry_supported=True)


def test_seed_comes_from_the_seed_option_alone():
    assert native.native_seed(NATIVE) == native.native_seed(replace(NATIVE, beam_size=1))
    assert native.native_seed(NATIVE) != native.native_seed(replace(NATIVE, seed=1))


def test_join_texts_is_openai_whispers_result_text():
    assert native.join_texts([" Please call Stella.", " Ask her"]) == "Please call Stella. Ask her"
    assert native.join_texts([]) == ""


# ---------------------------------------------------------------- decode options and cache keys

def test_windowed_options_keep_their_old_dictionary():
    # the decoding keys appear only for native decoding: every windowed cache key stays what it was
    assert list(DecodeOptions().to_dict()) == [
        "beam_size", "temperatures", "compression_ratio_threshold", "log_prob_threshold", "no_speech_threshold",
        "condition_on_previous_text", "language", "seed"]
    d = NATIVE.to_dict()
    assert d["decoding"] == "native" and d["carry_initial_prompt"] is True
    assert replace(NATIVE, carry_initial_prompt=False).to_dict() != d


@pytest.mark.parametrize("kwargs, problem", [
    ({"decoding": "engine"}, "--decoding must be one of windowed, native"),
    ({"carry_initial_prompt": False}, "--no-carry-initial-prompt needs --decoding native"),
])
def test_impossible_decode_options(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        DecodeOptions(**kwargs)


def test_native_and_windowed_never_share_a_cache_key():
    from asr_eval.backends.faster_whisper import FasterWhisperBackend

    windowed = FasterWhisperBackend().describe()  # the tokenizer only: weights load on first decode
    nat = FasterWhisperBackend(options=NATIVE).describe()
    assert "native" not in windowed and windowed["decoder_version"] >= 3 and windowed["without_timestamps"] is True
    assert nat["native"]["call"] == "faster_whisper.WhisperModel.transcribe"
    assert nat["native"]["without_timestamps"] is False and nat["native"]["initial_prompt_every_window"] is False
    assert "decoder_version" not in nat  # the windowed loop's version says nothing about the engine's own
    plan = PROMPT.to_dict()
    assert transcript_key("a" * 64, windowed, plan) != transcript_key("a" * 64, nat, plan)
    again = FasterWhisperBackend(options=DecodeOptions()).describe()
    assert transcript_key("a" * 64, again, plan) == transcript_key("a" * 64, windowed, plan)


def test_native_faster_whisper_refuses_boost_while_plans_are_made():
    from asr_eval.backends.faster_whisper import FasterWhisperBackend

    backend = FasterWhisperBackend(options=NATIVE)
    assert backend.prompt_budget("hotwords") == backend.prompt_budget("prompt") > 0
    with pytest.raises(ModelError, match="cannot apply method 'boost'"):
        backend.prompt_budget("boost")


# ---------------------------------------------------------------- command line

def test_cli_rejects_an_unknown_decoding(tmp_path):
    r = CliRunner().invoke(app, ["run", str(DEMO / "manifest.csv"), "-o", str(tmp_path / "o"), "--decoding", "engine"])
    assert r.exit_code == 1 and "--decoding must be one of windowed, native" in r.output
    assert not (tmp_path / "o").exists()


def test_cli_rejects_no_carry_without_native(tmp_path):
    r = CliRunner().invoke(app, ["run", str(DEMO / "manifest.csv"), "-o", str(tmp_path / "o"),
                                 "--no-carry-initial-prompt"])
    assert r.exit_code == 1 and "needs --decoding native" in r.output


def test_cli_native_boost_is_a_clear_error_before_any_decoding(tmp_path):
    r = CliRunner().invoke(app, ["run", str(DEMO / "manifest.csv"), "-o", str(tmp_path / "o"), "--no-progress",
                                 "-d", "dictionaries/demo-company.csv", "--method", "boost", "--decoding", "native"])
    assert r.exit_code == 3, r.output
    assert "--decoding native cannot apply method 'boost' on faster-whisper" in " ".join(r.output.split())
    assert not (tmp_path / "o" / "cache" / "transcripts.jsonl").exists()


# ---------------------------------------------------------------- the real engines (tiny.en)

def _clips(n: int = 3) -> list[str]:
    from asr_eval.manifest import load_manifest

    if not (DEMO / "manifest.csv").exists():
        pytest.skip("no demo fixtures")
    by_group: dict[str, str] = {}
    for u in load_manifest(DEMO / "manifest.csv").utterances:
        by_group.setdefault(u.accent_group, u.audio)
    return list(by_group.values())[:n]


@pytest.mark.model
def test_faster_whisper_native_is_exactly_the_engines_own_transcribe():
    import soundfile as sf
    from faster_whisper import WhisperModel

    from asr_eval.audio import load_audio
    from asr_eval.backends.faster_whisper import FasterWhisperBackend

    backend = FasterWhisperBackend(options=NATIVE, cpu_threads=1)
    user = WhisperModel(str(backend.spec.path), device="cpu", compute_type="int8", cpu_threads=1)
    compared = 0
    for clip in _clips(4):
        audio = load_audio(clip)
        ours = backend.transcribe(audio, [NONE, PROMPT, HOTWORDS])
        # A 16 kHz file is given as its path, as users call it (PyAV then decodes it to the same samples);
        # other rates as asr-eval's resampled samples, since PyAV's resampler is not soxr (docs/backends.md).
        given = clip if sf.info(clip).samplerate == 16000 else audio
        for plan, res in zip([NONE, PROMPT, HOTWORDS], ours):
            # the user's own call: the engine's defaults and the condition's argument
            extra = {"prompt": {"initial_prompt": TERMS}, "hotwords": {"hotwords": TERMS}}.get(plan.method, {})
            segments, _ = user.transcribe(given, language="en", beam_size=5, **extra)
            assert res.text == "".join(s.text for s in segments).strip(), (clip, plan.condition)
            assert res.extra["decoding"] == "native" and res.extra["segments"]
            compared += 1
    assert compared == 12


@pytest.mark.model
def test_faster_whisper_native_sampling_is_the_engine_seeded_and_order_free():
    """Every window falls back (log-probability threshold 0): the engine samples, from --seed's generator."""
    import ctranslate2
    from faster_whisper import WhisperModel

    from asr_eval.audio import load_audio
    from asr_eval.backends.faster_whisper import FasterWhisperBackend

    options = replace(NATIVE, beam_size=2, temperatures=(0.0, 0.6), log_prob_threshold=0.0, no_speech_threshold=None)
    backend = FasterWhisperBackend(options=options, cpu_threads=1)
    clips = _clips(2)
    audios = [load_audio(c) for c in clips]
    first = [backend.transcribe(a, [PROMPT])[0] for a in audios]
    reversed_order = [backend.transcribe(a, [PROMPT])[0] for a in reversed(audios)][::-1]
    assert all(r.extra["resampled_with_seed"] for r in first)
    assert [r.text for r in first] == [r.text for r in reversed_order]
    assert all(s["temperature"] == 0.6 for r in first for s in r.extra["segments"])
    ctranslate2.set_random_seed(native.native_seed(options))
    user = WhisperModel(str(backend.spec.path), device="cpu", compute_type="int8", cpu_threads=1)
    segments, _ = user.transcribe(clips[0], **native.faster_whisper_kwargs(options, PROMPT))
    assert first[0].text == "".join(s.text for s in segments).strip()


@pytest.mark.model
def test_openai_whisper_native_is_exactly_whisper_transcribe():
    whisper = pytest.importorskip("whisper")
    import torch

    from asr_eval.audio import load_audio
    from asr_eval.backends import load_backend
    from asr_eval.backends.openai_whisper import CARRY_SUPPORTED

    options = replace(NATIVE, beam_size=1)  # greedy: PyTorch beam search is slow on 2 shared cores
    backend = load_backend("openai-whisper", options=options, cpu_threads=1)
    user = whisper.load_model(str(backend.checkpoint), device="cpu")  # the converted bundled weights
    d = backend.describe()
    assert d["native"]["call"] == "whisper.transcribe" and d["native"]["initial_prompt_every_window"] == CARRY_SUPPORTED
    for method in ("hotwords", "boost"):
        with pytest.raises(ModelError, match=f"cannot apply method '{method}' on openai-whisper"):
            backend.prompt_budget(method)
    carry = {"carry_initial_prompt": True} if CARRY_SUPPORTED else {}
    compared = 0
    for clip in _clips(2):
        audio = load_audio(clip)  # whisper.load_audio needs ffmpeg; a user without it passes the samples
        for plan, res in zip([NONE, PROMPT], backend.transcribe(audio, [NONE, PROMPT])):
            extra = {"initial_prompt": TERMS, **carry} if plan.method == "prompt" else {}
            torch.manual_seed(native.native_seed(options))
            result = whisper.transcribe(user, audio, language="en", best_of=5, fp16=False, **extra)
            assert res.text == result["text"].strip(), (clip, plan.condition)
            compared += 1
    assert compared == 4
