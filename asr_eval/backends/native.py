"""``--decoding native``: a condition mapped onto each engine's own ``transcribe()``.

Why: asr-eval's windowed loop (``whisper_rules``) re-applies the prompt in
every 30 s window, cuts long audio at quiet points and shares one encoder
pass between conditions, so its transcripts differ from what a user of
``faster_whisper.WhisperModel.transcribe`` or ``whisper.transcribe`` gets with
the same model and options. Native decoding answers "what does biasing do to
*my* set-up": the engine decodes, with its own prompt handling, seeking by
timestamps and fallback; asr-eval only chooses the arguments.

This module holds the mapping as plain functions of the options and the plan
(no engine import), so which argument a condition becomes is tested without a
model and written once for the backend, run.json and the docs.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..types import BiasPlan, DecodeOptions, ModelError
from .whisper_rules import sampling_seed

# What each engine's transcribe() can express. openai-whisper has no hotwords argument, and
# decoder boosting is asr-eval's own logit filter: neither has a native form.
NATIVE_METHODS: Mapping[str, tuple[str, ...]] = {
    "faster-whisper": ("none", "prompt", "hotwords"),
    "openai-whisper": ("none", "prompt"),
}

BEST_OF = 5  # candidates per sampled temperature: faster-whisper's default and openai-whisper's CLI default

# faster-whisper 1.2.1 arguments asr-eval passes at the engine's own defaults, written out so that a
# later release changing a default cannot change what a cached transcript meant (recorded in run.json).
FASTER_WHISPER_FIXED: Mapping[str, Any] = {
    "task": "transcribe",
    "best_of": BEST_OF,
    "patience": 1.0,
    "length_penalty": 1.0,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "prompt_reset_on_temperature": 0.5,
    "suppress_blank": True,
    "suppress_tokens": [-1],
    "without_timestamps": False,
    "max_initial_timestamp": 1.0,
    "word_timestamps": False,
    "vad_filter": False,
}

# openai-whisper 20250625 arguments passed at the values its own CLI uses (best_of) or its function's defaults.
OPENAI_WHISPER_FIXED: Mapping[str, Any] = {
    "task": "transcribe",
    "best_of": BEST_OF,
    "suppress_tokens": "-1",
    "suppress_blank": True,
    "without_timestamps": False,
    "word_timestamps": False,
}


def check_native_method(engine: str, method: str) -> None:
    """Refuse, before any decoding, a condition the engine's own transcribe() cannot express."""
    allowed = NATIVE_METHODS.get(engine, ())
    if method not in allowed:
        hint = ("decoder boosting is asr-eval's own logit filter" if method == "boost"
                else f"{engine}'s transcribe() has no {method!r} argument")
        raise ModelError(
            f"--decoding native cannot apply method {method!r} on {engine} ({hint}); "
            f"native methods here: {', '.join(allowed) or 'none'}; use --decoding windowed"
        )


def bias_arguments(plan: BiasPlan) -> dict[str, str | None]:
    """The plan as the engines name it: a ``prompt`` plan is ``initial_prompt``, a ``hotwords`` plan ``hotwords``."""
    text = plan.text.strip() if plan.text and plan.text.strip() else None
    return {
        "initial_prompt": text if plan.method == "prompt" else None,
        "hotwords": text if plan.method == "hotwords" else None,
    }


def faster_whisper_kwargs(options: DecodeOptions, plan: BiasPlan) -> dict[str, Any]:
    """Keyword arguments of ``WhisperModel.transcribe`` for one plan, the fallback temperatures as a tuple."""
    check_native_method("faster-whisper", plan.method)
    return {
        **FASTER_WHISPER_FIXED,
        "suppress_tokens": list(FASTER_WHISPER_FIXED["suppress_tokens"]),
        "language": options.language,
        "beam_size": options.beam_size,
        "temperature": tuple(options.temperatures) or (0.0,),
        "compression_ratio_threshold": options.compression_ratio_threshold,
        "log_prob_threshold": options.log_prob_threshold,
        "no_speech_threshold": options.no_speech_threshold,
        "condition_on_previous_text": options.condition_on_previous_text,
        **bias_arguments(plan),
    }


def openai_whisper_kwargs(options: DecodeOptions, plan: BiasPlan, *, fp16: bool,
                          carry_supported: bool) -> dict[str, Any]:
    """Keyword arguments of ``whisper.transcribe`` for one plan.

    A beam of 1 is openai-whisper's greedy decoder (no ``beam_size``), as in
    the windowed backend. ``carry_initial_prompt`` (openai-whisper 20250625
    and later) is passed only where the installed version has it; without
    it the prompt conditions the first window only, as in faster-whisper.
    """
    check_native_method("openai-whisper", plan.method)
    kwargs: dict[str, Any] = {
        **OPENAI_WHISPER_FIXED,
        "verbose": None,
        "language": options.language,
        "temperature": tuple(options.temperatures) or (0.0,),
        "compression_ratio_threshold": options.compression_ratio_threshold,
        "logprob_threshold": options.log_prob_threshold,
        "no_speech_threshold": options.no_speech_threshold,
        "condition_on_previous_text": options.condition_on_previous_text,
        "initial_prompt": bias_arguments(plan)["initial_prompt"],
        "fp16": fp16,
    }
    if options.beam_size and options.beam_size > 1:
        kwargs["beam_size"] = options.beam_size
    if carry_supported:
        kwargs["carry_initial_prompt"] = options.carry_initial_prompt
    return kwargs


def native_seed(options: DecodeOptions) -> int:
    """The seed a native decode samples from: one per clip and plan, from ``--seed`` alone.

    Native decoding has no per-window seeds (the engine draws as it goes), so
    the whole call gets the seed the windowed loop gives window 0's fallback.
    """
    return sampling_seed(options.seed, 0, fallback=True)


def native_describe(engine: str, options: DecodeOptions, *, carry_supported: bool = False) -> dict[str, Any]:
    """What a native decode runs with beyond ``DecodeOptions``, for run.json and the cache key."""
    fixed = FASTER_WHISPER_FIXED if engine == "faster-whisper" else OPENAI_WHISPER_FIXED
    call = "faster_whisper.WhisperModel.transcribe" if engine == "faster-whisper" else "whisper.transcribe"
    prompt_every_window = engine == "openai-whisper" and carry_supported and options.carry_initial_prompt
    return {
        "call": call,
        **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in fixed.items()},
        "methods": list(NATIVE_METHODS[engine]),
        "initial_prompt_every_window": prompt_every_window,
        "seed": native_seed(options),
    }


def join_texts(texts: Iterable[str]) -> str:
    """A transcript from segment texts, as openai-whisper builds ``result['text']``: concatenated, then stripped."""
    return "".join(texts).strip()
