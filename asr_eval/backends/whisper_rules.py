"""Whisper's decoding rules, written once for every engine that runs Whisper.

Why one module: a biasing condition must mean the same thing in every engine,
or a difference between engines measures our code, not theirs. Each engine
(``faster_whisper``, ``openai_whisper``) keeps only what really differs: how
it encodes audio, runs a search and draws random numbers. Everything that
decides *which* tokens go into a prompt, when a window is decoded again at a
higher temperature, with which seed, what counts as silence and what is
carried into the next window lives here, as plain functions of numbers and
token lists (no engine import), so the rules can be tested without a model.

The rules follow faster-whisper 1.2.1 (``get_prompt``,
``generate_with_fallback``), except where noted: the bias plan is re-applied
in every window and the carried text fills only the room it leaves, and
sampled passes are seeded per window so a transcript never depends on what
was decoded before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
import zlib

import numpy as np

from ..types import DecodeOptions, ModelError

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30
SEARCH_SECONDS = 5  # a window boundary moves back at most this far, to the quietest frame
MAX_TEXT_CTX = 448
PROMPT_BUDGET = MAX_TEXT_CTX // 2 - 1  # 223: what Whisper keeps of a previous-text prompt
PROMPT_RESET_ON_TEMPERATURE = 0.5  # a window decoded hotter than this is not carried into the next
# Part of every cache key: bump whenever a change here can change a transcript, so
# transcripts cached by an older decoding loop are decoded again, never served.
# 2: seeded fallback on a fresh model per window; features with one BLAS thread.
# 3: hotwords leave room for the carried text (long audio no longer overflows the context).
DECODER_VERSION = 3


# ---------------------------------------------------------------- windows

def split_windows(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """Sample ranges of <= 30 s, cut at the lowest-energy 20 ms frame of each window's last 5 s.

    Cutting in the quietest frame rather than at exactly 30 s rarely splits a
    word between two windows, which Whisper would then hear twice or not at all.
    """
    n = len(audio)
    win = WINDOW_SECONDS * sample_rate
    if n <= win:
        return [(0, n)]
    frame = sample_rate // 50
    out: list[tuple[int, int]] = []
    start = 0
    while n - start > win:
        lo = start + win - SEARCH_SECONDS * sample_rate
        seg = audio[lo : start + win]
        usable = len(seg) // frame * frame
        energy = (seg[:usable].reshape(-1, frame) ** 2).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        out.append((start, cut))
        start = cut
    out.append((start, n))
    return out


# ---------------------------------------------------------------- prompts

class PromptSpecials(Protocol):
    """The special tokens a decoder prompt is built from (both engines' tokenizers have them)."""

    sot_prev: int
    sot_sequence: Sequence[int]
    no_timestamps: int


def check_prompt_fits(condition: str, n_tokens: int) -> None:
    """A prompt plan larger than the budget would be cut by the engine; plans are fitted before decoding."""
    if n_tokens > PROMPT_BUDGET:
        raise ModelError(f"plan {condition!r} has {n_tokens} prompt tokens > {PROMPT_BUDGET}")


def carried_tokens(previous: Sequence[int], bias_tokens: int) -> list[int]:
    """The end of the previous windows' text that fits beside ``bias_tokens`` bias tokens.

    The bias comes first and is never cut; the carried text gets only the
    room left in the prompt half of the context, else long audio would push
    the bias list out of the context after the first window.
    """
    room = PROMPT_BUDGET - bias_tokens
    return list(previous[-room:]) if room > 0 and previous else []


def decoder_prompt(specials: PromptSpecials, previous: Sequence[int], bias: Sequence[int] = (),
                   hotwords: Sequence[int] = ()) -> list[int]:
    """The decoder's initial tokens for one window, without timestamps and without a prefix.

    ``bias`` is a ``prompt`` plan's tokens, ``hotwords`` a ``hotwords`` plan's
    (a plan has at most one of them); ``previous`` is the text carried from
    earlier windows. Token for token what faster-whisper's ``get_prompt``
    builds from (``bias`` + carried text) or (carried text, ``hotwords``):
    hotwords are cut at 223 tokens and go right after ``<|startofprev|>``.
    """
    hot = list(hotwords[:PROMPT_BUDGET])
    if hot or bias:
        context = [*hot, *bias, *carried_tokens(previous, len(hot) + len(bias))]
    else:
        context = list(previous[-PROMPT_BUDGET:])
    head = [specials.sot_prev, *context] if context else []
    return [*head, *specials.sot_sequence, specials.no_timestamps]


# ---------------------------------------------------------------- temperature fallback

def compression_ratio(text: str) -> float:
    """How well ``text`` zips: repetitive (looping) output compresses far better than speech."""
    text_bytes = text.encode("utf-8")
    return len(text_bytes) / len(zlib.compress(text_bytes))


@dataclass(frozen=True)
class Attempt:
    """One decoding pass of one window at one temperature, with the numbers the rules judge it by."""

    result: Any  # the engine's own result object
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    needs_fallback: bool = field(default=False)
    below_compression_threshold: bool = field(default=True)


def judge(result: Any, temperature: float, avg_logprob: float, compression: float, no_speech_prob: float,
          options: DecodeOptions) -> Attempt:
    """faster-whisper's quality checks: too repetitive or too unlikely means try hotter, unless it is silence."""
    needs = False
    below = True
    if options.compression_ratio_threshold is not None and compression > options.compression_ratio_threshold:
        needs, below = True, False
    if options.log_prob_threshold is not None and avg_logprob < options.log_prob_threshold:
        needs = True
    if (options.no_speech_threshold is not None and no_speech_prob > options.no_speech_threshold
            and options.log_prob_threshold is not None and avg_logprob < options.log_prob_threshold):
        needs = False  # silence: a hotter pass would only invent words
    return Attempt(result, temperature, avg_logprob, compression, no_speech_prob, needs, below)


def first_temperature(options: DecodeOptions) -> float:
    return options.temperatures[0] if options.temperatures else 0.0


def sampling_seed(seed: int, window: int, fallback: bool) -> int:
    """Seed for a window's sampled passes, from ``--seed`` and the window index alone.

    The first temperature (when it samples) and the fallback temperatures get
    different seeds (even and odd), so a fallback never replays the draws of
    the pass it replaces. A seed depends on nothing decoded before, so
    transcripts do not depend on decoding order, batching or resumption. The
    value is a 32-bit seed other than 2**32-1, which CTranslate2 reads as
    "unseeded".
    """
    value = (seed * 1_000_003 + 2 * window + int(fallback)) & 0xFFFFFFFF
    return value - 1 if value == 0xFFFFFFFF else value


def first_seed(options: DecodeOptions, window: int) -> int | None:
    """Seed for the first pass of ``window``, or None when it is a (non-random) search at temperature 0."""
    return sampling_seed(options.seed, window, fallback=False) if first_temperature(options) > 0 else None


def fallback(first: Attempt, decode: Callable[[float, int | None], Attempt], options: DecodeOptions,
             window: int) -> Attempt:
    """Decode again at each further temperature until a pass passes the checks.

    Fallback stays on in every engine: greedy decoding without it loops on
    hard clips, repeating text (FACTS.md).

    ``decode(temperature, seed)`` runs one judged pass; ``seed`` is given on the
    first fallback pass only: the engine starts a sampler from it there and
    keeps drawing from that sampler for the later temperatures. When every
    temperature fails, the best pass by average log-probability wins, among
    those not too repetitive if any (faster-whisper's choice), reported at the
    last temperature tried.
    """
    if not first.needs_fallback:
        return first
    tried = [first]
    below = [first] if first.below_compression_threshold else []
    temperature = first.temperature
    seed: int | None = sampling_seed(options.seed, window, fallback=True)
    for temperature in options.temperatures[1:]:
        attempt = decode(temperature, seed)
        seed = None
        tried.append(attempt)
        if attempt.below_compression_threshold:
            below.append(attempt)
        if not attempt.needs_fallback:
            return attempt
    best = max(below or tried, key=lambda a: a.avg_logprob)
    return replace(best, temperature=temperature, needs_fallback=True)


# ---------------------------------------------------------------- from one window to the next

def is_silence(attempt: Attempt, options: DecodeOptions) -> bool:
    """A window Whisper thinks holds no speech, and whose text is unlikely too: its text is dropped."""
    return (
        options.no_speech_threshold is not None
        and attempt.no_speech_prob > options.no_speech_threshold
        and attempt.avg_logprob < options.log_prob_threshold
    )


@dataclass
class Stream:
    """One clip decoded under one plan, advanced one window at a time.

    ``bias``/``hotwords`` are the plan's prompt or hotwords tokens, re-applied in
    every window; ``previous`` is the text carried into the next window.
    """

    bias: list[int] = field(default_factory=list)
    hotwords: list[int] = field(default_factory=list)
    pos: int = 0
    previous: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)

    def prompt(self, specials: PromptSpecials) -> list[int]:
        return decoder_prompt(specials, self.previous, self.bias, self.hotwords)

    def advance(self, attempt: Attempt, tokens: list[int], decode_text: Callable[[list[int]], str],
                prompt_tokens: int, options: DecodeOptions) -> None:
        """Record the window's outcome and what it passes on: its text, unless silent or decoded too hot."""
        silent = is_silence(attempt, options)
        text = "" if silent else decode_text(tokens).strip()
        self.windows.append({
            "temperature": attempt.temperature, "avg_logprob": round(float(attempt.avg_logprob), 4),
            "compression_ratio": round(float(attempt.compression_ratio), 3),
            "no_speech_prob": round(float(attempt.no_speech_prob), 4), "skipped_as_silence": silent,
            "prompt_tokens": prompt_tokens,
        })
        if text:
            self.texts.append(text)
        if options.condition_on_previous_text and attempt.temperature <= PROMPT_RESET_ON_TEMPERATURE and not silent:
            self.previous = self.previous + tokens
        else:
            self.previous = []
        self.pos += 1

    @property
    def text(self) -> str:
        return " ".join(self.texts)
