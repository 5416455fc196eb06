"""openai-whisper (PyTorch) backend running the same weights and conditions as faster-whisper.

Why a second engine: results that hold in one decoder implementation but not
another are engine artefacts, and openai-whisper exposes logit filters, which
decoder boosting (``asr_eval.backends.boost``) needs. The weights are the bundled
CTranslate2 models converted once by ``asr_eval.backends.convert`` (nothing is
downloaded), so a difference between engines is a difference in decoding,
not in models.

Semantics mirror ``FasterWhisperBackend`` so every condition means the same in
both engines: windows from ``split_windows``; log-mel features computed like
faster-whisper's (160 samples of padding, last frame dropped, zero-padded to
3000 frames); one encoder pass per window shared by all plans; no timestamps;
the plan's prompt tokens re-applied whole in every window with the previous
window's text in the room left; hotwords placed after ``<|startofprev|>`` as
faster-whisper places them; temperature fallback with faster-whisper's rules
(compression ratio, log-probability, silence; best of all attempts when every
temperature fails); the sampler seeded per clip x plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import whisper
from whisper.audio import N_FRAMES, pad_or_trim
from whisper.decoding import DecodingOptions, DecodingTask

from .boost import BoostLogitFilter, BoostTrie
from .convert import convert
from .base import WhisperPromptTokens
from ..types import BiasPlan, DecodeOptions, DecodeResult, ModelError
from .faster_whisper import DECODER_VERSION, PROMPT_BUDGET, WINDOW_SECONDS, split_windows
from .models import DEFAULT_MODEL, ModelSpec, resolve_model

METHODS = ("none", "prompt", "hotwords", "boost")
BEST_OF = 5  # faster-whisper's default number of samples per temperature > 0
BOOST_BUDGET = 100_000  # boosting has no context limit; this only bounds plan fitting


class _PlanDecodingTask(DecodingTask):
    """A DecodingTask with an explicit initial token sequence and an optional boost filter."""

    def __init__(self, model: Any, options: DecodingOptions, initial_tokens: Sequence[int],
                 boost: tuple[BoostTrie, float, bool] | None = None):
        self._explicit_initial = tuple(initial_tokens)
        super().__init__(model, options)
        if boost is not None:
            trie, strength, cancel = boost
            self.logit_filters.append(BoostLogitFilter(trie, strength, self.sample_begin, cancel))

    def _get_initial_tokens(self) -> tuple[int, ...]:
        return self._explicit_initial


class OpenAIWhisperBackend(WhisperPromptTokens):
    """Transcriber backed by openai-whisper with converted bundled weights (default: tiny.en)."""

    name = "openai-whisper"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "cpu",
        compute_type: str = "float32",
        options: DecodeOptions = DecodeOptions(),
        cpu_threads: int = 0,
        batch_size: int = 1,
        boost_cancel: bool = False,
    ):
        self.spec: ModelSpec = resolve_model(model)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        # openai-whisper computes in float32 or float16 only; int8 requests (faster-whisper's
        # default) run in float32 here, and describe() records what really ran.
        self.requested_compute_type = compute_type
        self.fp16 = "float16" in compute_type and device != "cpu"
        self.options = options
        self.batch_size = batch_size
        self.boost_cancel = boost_cancel
        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        self.checkpoint = convert(self.spec)
        try:
            self.model = whisper.load_model(str(self.checkpoint), device=device)
        except Exception as exc:
            raise ModelError(f"openai-whisper cannot load {self.checkpoint} on {device}: {exc}") from None
        self.model.eval()
        language = options.language if self.model.is_multilingual else "en"
        self.language = language or "en"
        self.tokenizer = whisper.tokenizer.get_tokenizer(
            self.model.is_multilingual, num_languages=self.model.num_languages,
            language=self.language, task="transcribe",
        )
        self.n_text_ctx = self.model.dims.n_text_ctx


    # ------------------------------------------------------------------ budget

    def prompt_budget(self, method: str) -> int:
        return BOOST_BUDGET if method == "boost" else PROMPT_BUDGET

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.spec.name,
            "model_path": str(self.spec.path),
            "weights_sha256": self.spec.weights_sha256,
            "checkpoint": str(self.checkpoint),
            "multilingual": self.spec.multilingual,
            "device": self.device,
            "compute_type": "float16" if self.fp16 else "float32",
            "requested_compute_type": self.requested_compute_type,
            "decode": self.options.to_dict(),
            "best_of": BEST_OF,
            "boost_cancel": self.boost_cancel,
            "without_timestamps": True,
            "window_seconds": WINDOW_SECONDS,
            "decoder_version": DECODER_VERSION,
            "openai_whisper": whisper.__version__,
            "torch": torch.__version__,
        }

    # ------------------------------------------------------------------ decoding

    def _prompt(self, plan: BiasPlan, bias_tokens: list[int], previous: list[int]) -> list[int]:
        """Initial tokens exactly as faster-whisper's ``get_prompt`` builds them (no prefix)."""
        tok = self.tokenizer
        half = self.n_text_ctx // 2
        head: list[int] = []
        if plan.method == "hotwords" and plan.text:
            hot = self.encode_text(plan.text)
            if len(hot) >= half:
                hot = hot[: half - 1]
            room = PROMPT_BUDGET - len(hot)  # hotwords + carried text stay within the prompt half
            head = [tok.sot_prev, *hot, *previous[-room:]] if previous and room > 0 else [tok.sot_prev, *hot]
        else:
            if plan.method == "prompt" and bias_tokens:
                room = PROMPT_BUDGET - len(bias_tokens)
                carried = previous[-room:] if room > 0 and previous else []
                previous = bias_tokens + carried
            if previous:
                head = [tok.sot_prev, *previous[-(half - 1):]]
        return [*head, *tok.sot_sequence, tok.no_timestamps]

    def encode_windows(self, audio: np.ndarray) -> torch.Tensor:
        """Encoder outputs, one row per window of ``audio`` (shared by all plans)."""
        mels = []
        for start, end in split_windows(audio):
            mel = whisper.log_mel_spectrogram(
                torch.from_numpy(np.ascontiguousarray(audio[start:end], dtype=np.float32)),
                self.model.dims.n_mels, padding=160,
            )
            mels.append(pad_or_trim(mel[:, :-1], N_FRAMES))
        batch = torch.stack(mels).to(self.device)
        if self.fp16:
            batch = batch.half()
        with torch.no_grad():
            return self.model.encoder(batch)

    def _decode_once(self, features: torch.Tensor, initial: list[int], temperature: float,
                     boost: tuple[BoostTrie, float, bool] | None) -> Any:
        sampling = temperature > 0
        beam = self.options.beam_size if self.options.beam_size and self.options.beam_size > 1 else None
        opts = DecodingOptions(
            task="transcribe", language=self.language, temperature=temperature,
            sample_len=self.n_text_ctx - len(initial),
            best_of=BEST_OF if sampling else None, beam_size=None if sampling else beam,
            patience=None, length_penalty=None, prompt=None, prefix=None,
            suppress_tokens="-1", suppress_blank=True, without_timestamps=True, fp16=self.fp16,
        )
        return _PlanDecodingTask(self.model, opts, initial, boost).run(features[None])[0]

    def _decode_with_fallback(self, features: torch.Tensor, initial: list[int],
                              boost: tuple[BoostTrie, float, bool] | None, seed: int) -> tuple[Any, float]:
        """faster-whisper's ``generate_with_fallback`` rules; returns (result, final temperature).

        The sampler is seeded with ``seed`` just before the first sampled
        temperature, so a fallback depends only on (seed, window), never on
        what was decoded before it.
        """
        o = self.options
        all_results: list[Any] = []
        below_cr: list[Any] = []
        temperature = 0.0
        seeded = False
        for temperature in o.temperatures:
            if temperature > 0 and not seeded:
                torch.manual_seed(seed & 0xFFFFFFFF)
                seeded = True
            result = self._decode_once(features, initial, temperature, boost)
            all_results.append(result)
            needs_fallback = False
            if o.compression_ratio_threshold is not None:
                if result.compression_ratio > o.compression_ratio_threshold:
                    needs_fallback = True
                else:
                    below_cr.append(result)
            if o.log_prob_threshold is not None and result.avg_logprob < o.log_prob_threshold:
                needs_fallback = True
            if (o.no_speech_threshold is not None and result.no_speech_prob > o.no_speech_threshold
                    and o.log_prob_threshold is not None and result.avg_logprob < o.log_prob_threshold):
                needs_fallback = False
            if not needs_fallback:
                return result, temperature
        return max(below_cr or all_results, key=lambda r: r.avg_logprob), temperature

    def _boost_for(self, plan: BiasPlan) -> tuple[BoostTrie, float, bool] | None:
        if plan.method != "boost" or not plan.terms_in_force:
            return None
        trie = BoostTrie.from_terms(plan.terms_in_force, self.tokenizer.encode)
        return trie, float(plan.strength or 0.0), self.boost_cancel

    def decode_plan(self, encoded: torch.Tensor, plan: BiasPlan, seed: int) -> DecodeResult:
        """Decode pre-encoded windows under one plan."""
        if plan.method not in METHODS:
            raise ModelError(f"openai-whisper backend cannot apply biasing method {plan.method!r}")
        bias_tokens = self.encode_text(plan.text) if plan.text and plan.method == "prompt" else []
        if len(bias_tokens) > PROMPT_BUDGET:
            raise ModelError(f"plan {plan.condition!r} has {len(bias_tokens)} prompt tokens > {PROMPT_BUDGET}")
        boost = self._boost_for(plan)
        texts: list[str] = []
        previous: list[int] = []
        windows: list[dict[str, Any]] = []
        for pos, features in enumerate(encoded):
            prompt = self._prompt(plan, bias_tokens, previous)
            # Same per-window seed as the faster-whisper backend's fallback sampler.
            result, temperature = self._decode_with_fallback(features, prompt, boost, seed * 1_000_003 + pos)
            tokens = [t for t in result.tokens if t < self.tokenizer.eot]
            silent = (
                self.options.no_speech_threshold is not None
                and result.no_speech_prob > self.options.no_speech_threshold
                and result.avg_logprob < self.options.log_prob_threshold
            )
            text = "" if silent else self.tokenizer.decode(tokens).strip()
            windows.append({
                "temperature": temperature, "avg_logprob": round(float(result.avg_logprob), 4),
                "compression_ratio": round(float(result.compression_ratio), 3),
                "no_speech_prob": round(float(result.no_speech_prob), 4), "skipped_as_silence": silent,
                "prompt_tokens": len(prompt),
            })
            if text:
                texts.append(text)
            if self.options.condition_on_previous_text and temperature <= 0.5 and not silent:
                previous = previous + tokens
            else:
                previous = []
        extra: dict[str, Any] = {"windows": windows}
        if boost is not None:
            extra["boost"] = {
                "strength": boost[1], "cancel": boost[2], "terms": len(plan.terms_in_force),
                "token_sequences": boost[0].n_sequences,
            }
        return DecodeResult(text=" ".join(texts), extra=extra)

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        encoded = self.encode_windows(audio)
        return [self.decode_plan(encoded, plan, self.options.seed) for plan in plans]
