"""Whisper's decoding rules, shared by both engines: windows, prompts, fallback, seeds, carried text.

No model is loaded: the rules are plain functions of numbers and token lists.
Where a rule copies faster-whisper, it is checked against faster-whisper's own
code (its tokenizer needs no weights).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from asr_eval.backends import whisper_rules as rules
from asr_eval.backends.whisper_rules import PROMPT_BUDGET, SAMPLE_RATE, Attempt, Stream
from asr_eval.types import DecodeOptions, ModelError

OPTS = DecodeOptions()


# ---------------------------------------------------------------- windows

def test_short_audio_is_one_window():
    assert rules.split_windows(np.zeros(SAMPLE_RATE * 30, dtype=np.float32)) == [(0, SAMPLE_RATE * 30)]
    assert rules.split_windows(np.zeros(0, dtype=np.float32)) == [(0, 0)]


def test_long_audio_is_cut_at_the_quietest_frame_of_each_window_end():
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(SAMPLE_RATE * 70) * 0.1).astype(np.float32)
    quiet = SAMPLE_RATE * 27  # a silent 20 ms frame inside the first window's last 5 s
    audio[quiet : quiet + SAMPLE_RATE // 50] = 0.0
    windows = rules.split_windows(audio)
    assert windows[0] == (0, quiet + SAMPLE_RATE // 100)  # the middle of the silent frame
    assert windows[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))  # contiguous, nothing lost
    assert all(0 < end - start <= SAMPLE_RATE * 30 for start, end in windows)
    assert all(end - start >= SAMPLE_RATE * 25 for start, end in windows[:-1])


# ---------------------------------------------------------------- prompts

@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("faster_whisper")
    from asr_eval.backends.models import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model("tiny.en"))


def _get_prompt(tokenizer, previous, hotwords=None):
    """faster-whisper's own ``WhisperModel.get_prompt`` (it reads nothing of the model but the context length)."""
    from faster_whisper import WhisperModel

    return WhisperModel.get_prompt(SimpleNamespace(max_length=448), tokenizer, list(previous),
                                   without_timestamps=True, hotwords=hotwords)


@pytest.mark.parametrize("previous", [[], list(range(300, 340)), list(range(300, 600))])
@pytest.mark.parametrize("text", ["Zentrix Cloud, PayNimbus, Siobhan Nguyen", ", ".join(["Zentrix Cloud"] * 120), " "])
def test_prompt_matches_faster_whisper_get_prompt(tokenizer, previous, text):
    encoded = tokenizer.encode(" " + text.strip())
    # no bias: the carried text alone, cut to 223 tokens
    assert rules.decoder_prompt(tokenizer, previous) == _get_prompt(tokenizer, previous)
    # hotwords: cut to 223 tokens, right after <|startofprev|>, carried text in the room left
    carried = rules.carried_tokens(previous, len(encoded))
    assert rules.decoder_prompt(tokenizer, previous, hotwords=encoded) == _get_prompt(tokenizer, carried, hotwords=text)
    # prompt: the whole bias, then the carried text in the room left
    if len(encoded) <= PROMPT_BUDGET:
        carried = rules.carried_tokens(previous, len(encoded))
        assert rules.decoder_prompt(tokenizer, previous, bias=encoded) == _get_prompt(tokenizer, encoded + carried)


def test_the_bias_is_never_cut_and_carried_text_fills_only_the_room_left():
    specials = SimpleNamespace(sot_prev=1, sot_sequence=(2,), no_timestamps=3)
    previous = list(range(100, 400))
    bias = list(range(10, 10 + 200))
    prompt = rules.decoder_prompt(specials, previous, bias=bias)
    assert prompt == [1, *bias, *previous[-23:], 2, 3]
    assert rules.decoder_prompt(specials, previous, bias=list(range(PROMPT_BUDGET))) == [1, *range(PROMPT_BUDGET), 2, 3]
    assert rules.decoder_prompt(specials, []) == [2, 3]
    assert rules.carried_tokens([], 0) == [] and rules.carried_tokens(previous, 300) == []


def test_a_prompt_over_the_budget_is_refused_before_decoding():
    rules.check_prompt_fits("dictionary", PROMPT_BUDGET)
    with pytest.raises(ModelError, match="224 prompt tokens > 223"):
        rules.check_prompt_fits("dictionary", PROMPT_BUDGET + 1)


# ---------------------------------------------------------------- fallback

def _attempt(avg_logprob=-0.2, compression=1.2, no_speech=0.01, temperature=0.0, options=OPTS, result=None):
    return rules.judge(result, temperature, avg_logprob, compression, no_speech, options)


@pytest.mark.parametrize("avg_logprob, compression, no_speech, needs, below", [
    (-0.2, 1.2, 0.01, False, True),   # fine
    (-0.2, 2.5, 0.01, True, False),   # too repetitive
    (-1.5, 1.2, 0.01, True, True),    # too unlikely
    (-1.5, 1.2, 0.90, False, True),   # unlikely but silent: a hotter pass would only invent words
    (-0.2, 2.5, 0.90, True, False),   # silence excuses only a low log-probability
])
def test_judge_follows_faster_whisper(avg_logprob, compression, no_speech, needs, below):
    a = _attempt(avg_logprob, compression, no_speech)
    assert (a.needs_fallback, a.below_compression_threshold) == (needs, below)


def test_judge_without_thresholds_never_falls_back():
    off = DecodeOptions(compression_ratio_threshold=None, log_prob_threshold=None, no_speech_threshold=None)
    a = _attempt(-9.0, 9.0, 0.99, options=off)
    assert (a.needs_fallback, a.below_compression_threshold) == (False, True)


def _decoder(outcomes):
    """decode(temperature, seed) returning prepared attempts in turn, recording the calls."""
    calls = []

    def decode(temperature, seed):
        calls.append((temperature, seed))
        avg, compression = outcomes[len(calls) - 1]
        return _attempt(avg, compression, temperature=temperature, result=len(calls))

    return decode, calls


def test_fallback_stops_at_the_first_temperature_that_passes_and_seeds_once():
    options = DecodeOptions(seed=2)
    decode, calls = _decoder([(-1.4, 1.0), (-0.3, 1.1), (-0.1, 1.0)])
    first = _attempt(-1.2, 1.0)
    chosen = rules.fallback(first, decode, options, window=4)
    assert chosen.result == 2 and chosen.temperature == 0.4 and not chosen.needs_fallback
    assert calls == [(0.2, rules.sampling_seed(2, 4, fallback=True)), (0.4, None)]


def test_fallback_is_not_run_for_a_window_that_passed():
    decode, calls = _decoder([])
    first = _attempt()
    assert rules.fallback(first, decode, OPTS, window=0) is first and calls == []


def test_when_every_temperature_fails_the_likeliest_non_repetitive_pass_wins_at_the_last_temperature():
    options = DecodeOptions(temperatures=(0.0, 0.5, 1.0))
    decode, _ = _decoder([(-0.5, 3.0), (-1.3, 1.0)])  # 0.5: likeliest but repetitive; 1.0: unlikely
    first = _attempt(-1.6, 1.0)
    chosen = rules.fallback(first, decode, options, window=0)
    assert chosen.avg_logprob == -1.3 and chosen.temperature == 1.0 and chosen.needs_fallback
    decode, _ = _decoder([(-0.5, 3.0), (-0.7, 3.1)])  # everything repetitive: the likeliest of all
    chosen = rules.fallback(_attempt(-1.6, 2.9), decode, options, window=0)
    assert chosen.avg_logprob == -0.5 and chosen.temperature == 1.0


def test_with_one_temperature_a_failed_window_keeps_its_only_pass():
    options = DecodeOptions(temperatures=(0.0,))
    first = _attempt(-1.6)
    chosen = rules.fallback(first, _decoder([])[0], options, window=0)
    assert (chosen.result, chosen.temperature, chosen.avg_logprob, chosen.needs_fallback) == (None, 0.0, -1.6, True)


# ---------------------------------------------------------------- seeds

def test_seeds_are_the_faster_whisper_rule():
    assert [rules.sampling_seed(0, w, False) for w in range(3)] == [0, 2, 4]
    assert [rules.sampling_seed(0, w, True) for w in range(3)] == [1, 3, 5]
    assert rules.sampling_seed(1, 0, False) == 1_000_003 and rules.sampling_seed(5, 7, True) == 5 * 1_000_003 + 15


@pytest.mark.parametrize("seed", [0, 1, 4294, -1, 2**40 + 3])
def test_seeds_are_32_bit_and_never_ctranslate2s_unseeded_value(seed):
    values = {rules.sampling_seed(seed, w, f) for w in range(50) for f in (False, True)}
    assert len(values) == 100 and all(0 <= v < 0xFFFFFFFF for v in values)


def test_unseeded_value_is_avoided():
    # seed * 1_000_003 == 0xFFFFFFFF (mod 2**32) for this seed; the rule steps one below it
    seed = (0xFFFFFFFF * pow(1_000_003, -1, 2**32)) % 2**32
    assert rules.sampling_seed(seed, 0, False) == 0xFFFFFFFE


def test_first_pass_is_seeded_only_when_it_samples():
    assert rules.first_seed(DecodeOptions(), 3) is None
    assert rules.first_seed(DecodeOptions(temperatures=(0.7, 1.0), seed=1), 3) == rules.sampling_seed(1, 3, False)
    assert rules.first_temperature(DecodeOptions(temperatures=())) == 0.0


# ---------------------------------------------------------------- one window to the next

def _advance(stream, attempt, tokens=(7, 8), options=OPTS):
    stream.advance(attempt, list(tokens), lambda t: " " + "-".join(map(str, t)) + " ", 5, options)


def test_carried_text_grows_window_by_window():
    s = Stream(bias=[1])
    _advance(s, _attempt())
    _advance(s, _attempt(), tokens=(9,))
    assert s.previous == [7, 8, 9] and s.text == "7-8 9" and s.pos == 2
    assert s.windows[0] == {"temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2,
                            "no_speech_prob": 0.01, "skipped_as_silence": False, "prompt_tokens": 5}


def test_silence_is_dropped_and_breaks_the_carried_text():
    s = Stream(previous=[5])
    _advance(s, _attempt(avg_logprob=-1.5, no_speech=0.9))
    assert s.text == "" and s.previous == [] and s.windows[0]["skipped_as_silence"]


def test_a_window_decoded_hotter_than_half_is_kept_but_not_carried():
    s = Stream(previous=[5])
    _advance(s, _attempt(temperature=0.6))
    assert s.text == "7-8" and s.previous == []
    s = Stream(previous=[5])
    _advance(s, _attempt(temperature=0.4))
    assert s.previous == [5, 7, 8]


def test_without_conditioning_nothing_is_carried():
    s = Stream(previous=[5])
    _advance(s, _attempt(), options=DecodeOptions(condition_on_previous_text=False))
    assert s.previous == [] and s.text == "7-8"


def test_compression_ratio_is_whispers():
    fw = pytest.importorskip("faster_whisper.transcribe")
    for text in ("hello there", "la " * 80, "Zoë Ñandú"):
        assert rules.compression_ratio(text) == fw.get_compression_ratio(text)


def test_attempt_is_frozen():
    with pytest.raises(Exception):
        Attempt(None, 0.0, -0.1, 1.0, 0.0).temperature = 1.0  # type: ignore[misc]
