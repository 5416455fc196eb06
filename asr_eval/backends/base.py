"""The contract every ASR engine implements, so callers never ask a backend what it can do.

A backend decodes one clip under *several* bias plans at once, so an engine
that can share work between conditions (the Whisper encoder pass is the same
for every prompt) does it inside the backend, invisibly to the pipeline; and
``transcribe_batch`` lets one that can also share work between clips do so.
An engine that cannot simply decodes clip by clip there.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..types import BiasPlan, DecodeResult
from .whisper_rules import check_prompt_fits


@runtime_checkable
class Transcriber(Protocol):
    name: str          # backend name, e.g. 'faster-whisper'
    model_id: str      # resolved model identity (name + weights hash prefix)
    batch_size: int    # clips per transcribe_batch call when the caller does not choose

    def load(self) -> None:
        """Load the model now if it is not loaded yet (a no-op for a backend that loads when built)."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs in the decoder prompt, with the model's own tokenizer."""

    def prompt_budget(self, method: str) -> int:
        """Largest token count a plan of ``method`` may use without the engine cutting it."""

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        """Decode one 16 kHz mono float32 clip once per plan (same order as ``plans``)."""

    def transcribe_batch(self, audios: Sequence[np.ndarray], plans: Sequence[Sequence[BiasPlan]]) -> list[list[DecodeResult]]:
        """Decode several clips, clip i under ``plans[i]``; each result exactly what ``transcribe`` gives."""

    def describe(self) -> dict[str, Any]:
        """Everything about the engine that can change a transcript (for run.json and cache keys)."""


class WhisperPromptTokens:
    """Token accounting shared by the Whisper backends (needs ``self.spec`` and ``self.tokenizer``).

    Both engines must count a prompt exactly as faster-whisper encodes it, with
    its leading space, or the budget and the engine disagree about what fits.
    """

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(" " + text.strip())

    def count_tokens(self, text: str) -> int:
        return len(self.encode_text(text))

    def plan_tokens(self, plan: BiasPlan) -> tuple[list[int], list[int]]:
        """(prompt tokens, hotwords tokens) of a plan, re-applied in every window; at most one is non-empty."""
        bias = self.encode_text(plan.text) if plan.text and plan.method == "prompt" else []
        check_prompt_fits(plan.condition, len(bias))
        hotwords = self.encode_text(plan.text) if plan.text and plan.method == "hotwords" else []
        return bias, hotwords
