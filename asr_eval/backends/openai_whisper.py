"""openai-whisper (PyTorch) engine, running the same weights and conditions as faster-whisper.

Why a second engine: results that hold in one decoder implementation but not
another are engine artefacts, and openai-whisper exposes logit filters, which
decoder boosting (``asr_eval.backends.boost``) needs. The weights are the bundled
CTranslate2 models converted once by ``asr_eval.backends.convert`` (nothing is
downloaded), so a difference between engines is a difference in decoding,
not in models.

Windows, prompts, temperature fallback, seeding and carried text come from
``whisper_rules``, as in the faster-whisper engine, so every condition means
the same in both. What is particular here: log-mel features are computed the
way faster-whisper computes them (160 samples of padding, last frame dropped,
zero-padded to 3000 frames) so both encoders see the same input; a
``DecodingTask`` is given the rules' prompt as its initial tokens; sampling
draws from torch's global generator, reseeded where the rules say.

With ``--decoding native`` none of that runs: ``whisper.transcribe`` decodes
each clip once per plan with the arguments ``native.openai_whisper_kwargs``
maps the plan to, torch's generator seeded before each call.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import whisper
from whisper.audio import N_FRAMES, pad_or_trim
from whisper.decoding import DecodingOptions, DecodingTask

from . import native
from . import whisper_rules as rules
from .boost import BoostLogitFilter, BoostTrie
from .convert import convert
from .base import WhisperPromptTokens
from .models import DEFAULT_MODEL, ModelSpec, resolve_model
from .whisper_rules import DECODER_VERSION, PROMPT_BUDGET, WINDOW_SECONDS, split_windows
from ..types import BiasPlan, DecodeOptions, DecodeResult, ModelError

METHODS = ("none", "prompt", "hotwords", "boost")
BEST_OF = 5  # faster-whisper's default number of samples per temperature > 0
BOOST_BUDGET = 100_000  # boosting has no context limit; this only bounds plan fitting
# Part of this engine's cache key, beside the shared DECODER_VERSION: bump when a change
# to this engine alone can change its transcripts (DECODER_VERSION covers both engines).
# 1 (before the key existed): fallback seeded with seed * 1_000_003 + window, unlike faster-whisper.
# 2: sampled passes seeded by whisper_rules.sampling_seed, the rule faster-whisper always used.
ENGINE_VERSION = 2
# whisper.transcribe's carry_initial_prompt (openai-whisper 20250625 and later): the prompt in every window
CARRY_SUPPORTED = "carry_initial_prompt" in inspect.signature(whisper.transcribe).parameters


@dataclass(frozen=True)
class OpenAIWhisperOptions:
    """Everything chosen per run that can change an openai-whisper transcript; ``describe()`` echoes it.

    ``requested_compute_type`` is what was asked for, ``fp16`` what runs:
    openai-whisper computes in float32, or float16 on a GPU, so an int8
    request (faster-whisper's default) runs in float32.
    """

    decode: DecodeOptions = DecodeOptions()
    device: str = "cpu"
    requested_compute_type: str = "float32"
    boost_cancel: bool = False

    @property
    def fp16(self) -> bool:
        return "float16" in self.requested_compute_type and self.device != "cpu"

    def describe(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "compute_type": "float16" if self.fp16 else "float32",
            "requested_compute_type": self.requested_compute_type,
            "decode": self.decode.to_dict(),
            "best_of": BEST_OF,
            "boost_cancel": self.boost_cancel,
        }


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
        self.options = OpenAIWhisperOptions(decode=options, device=device, requested_compute_type=compute_type,
                                            boost_cancel=boost_cancel)
        self.batch_size = batch_size
        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        self.model: Any = None
        self.load()

    @property
    def device(self) -> str:
        return self.options.device

    @property
    def fp16(self) -> bool:
        return self.options.fp16

    def load(self) -> None:
        """Convert (once) and load the weights; the tokenizer depends on them, so this runs at construction."""
        if self.model is not None:
            return
        self.checkpoint = convert(self.spec)
        try:
            model = whisper.load_model(str(self.checkpoint), device=self.device)
        except Exception as exc:
            raise ModelError(f"openai-whisper cannot load {self.checkpoint} on {self.device}: {exc}") from None
        model.eval()
        language = self.options.decode.language if model.is_multilingual else "en"
        self.language = language or "en"
        self.tokenizer = whisper.tokenizer.get_tokenizer(
            model.is_multilingual, num_languages=model.num_languages,
            language=self.language, task="transcribe",
        )
        self.n_text_ctx = model.dims.n_text_ctx
        self.model = model

    # ------------------------------------------------------------------ budget

    @property
    def native(self) -> bool:
        """Whether ``whisper.transcribe`` decodes (``--decoding native``) rather than the windowed loop."""
        return self.options.decode.decoding == "native"

    def prompt_budget(self, method: str) -> int:
        if self.native:  # refused here, while plans are made, before any clip is decoded
            native.check_native_method(self.name, method)
        return BOOST_BUDGET if method == "boost" else PROMPT_BUDGET

    def describe(self) -> dict[str, Any]:
        loop = ({"native": native.native_describe(self.name, self.options.decode, carry_supported=CARRY_SUPPORTED)}
                if self.native else
                {"without_timestamps": True, "window_seconds": WINDOW_SECONDS, "decoder_version": DECODER_VERSION,
                 "engine_version": ENGINE_VERSION})
        return {
            "backend": self.name,
            "model": self.spec.name,
            "model_path": str(self.spec.path),
            "weights_sha256": self.spec.weights_sha256,
            "checkpoint": str(self.checkpoint),
            "multilingual": self.spec.multilingual,
            **self.options.describe(),
            **loop,
            "openai_whisper": whisper.__version__,
            "torch": torch.__version__,
        }

    # ------------------------------------------------------------------ decoding

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

    def _attempt(self, features: torch.Tensor, initial: list[int], temperature: float,
                 boost: tuple[BoostTrie, float, bool] | None, seed: int | None) -> rules.Attempt:
        """One judged pass; ``seed`` restarts torch's generator first (the rules say when)."""
        if seed is not None:
            torch.manual_seed(seed)
        o = self.options.decode
        sampling = temperature > 0
        beam = o.beam_size if o.beam_size and o.beam_size > 1 else None
        opts = DecodingOptions(
            task="transcribe", language=self.language, temperature=temperature,
            sample_len=self.n_text_ctx - len(initial),
            best_of=BEST_OF if sampling else None, beam_size=None if sampling else beam,
            patience=None, length_penalty=None, prompt=None, prefix=None,
            suppress_tokens="-1", suppress_blank=True, without_timestamps=True, fp16=self.fp16,
        )
        result = _PlanDecodingTask(self.model, opts, initial, boost).run(features[None])[0]
        return rules.judge(result, temperature, result.avg_logprob, result.compression_ratio, result.no_speech_prob, o)

    def _boost_for(self, plan: BiasPlan) -> tuple[BoostTrie, float, bool] | None:
        if plan.method != "boost" or not plan.terms_in_force:
            return None
        trie = BoostTrie.from_terms(plan.terms_in_force, self.tokenizer.encode)
        return trie, float(plan.strength or 0.0), self.options.boost_cancel

    def decode_plan(self, encoded: torch.Tensor, plan: BiasPlan) -> DecodeResult:
        """Decode pre-encoded windows under one plan."""
        if plan.method not in METHODS:
            raise ModelError(f"openai-whisper backend cannot apply biasing method {plan.method!r}")
        o = self.options.decode
        stream = rules.Stream(*self.plan_tokens(plan))
        boost = self._boost_for(plan)
        for features in encoded:
            prompt = stream.prompt(self.tokenizer)
            first = self._attempt(features, prompt, rules.first_temperature(o), boost, rules.first_seed(o, stream.pos))
            attempt = rules.fallback(first, lambda t, seed: self._attempt(features, prompt, t, boost, seed), o, stream.pos)
            tokens = [t for t in attempt.result.tokens if t < self.tokenizer.eot]
            stream.advance(attempt, tokens, self.tokenizer.decode, len(prompt), o)
        extra: dict[str, Any] = {"windows": stream.windows}
        if boost is not None:
            extra["boost"] = {
                "strength": boost[1], "cancel": boost[2], "terms": len(plan.terms_in_force),
                "token_sequences": boost[0].n_sequences,
            }
        return DecodeResult(text=stream.text, extra=extra)

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        if self.native:
            for plan in plans:  # every plan checked before the first is decoded
                native.check_native_method(self.name, plan.method)
            return [self.transcribe_native(audio, plan) for plan in plans]
        encoded = self.encode_windows(audio)
        return [self.decode_plan(encoded, plan) for plan in plans]

    def transcribe_native(self, audio: np.ndarray, plan: BiasPlan) -> DecodeResult:
        """One clip under one plan, decoded by ``whisper.transcribe`` itself.

        torch's generator is seeded from ``--seed`` before each call, so a
        clip whose windows fall back to sampling gets the same transcript
        whatever was decoded before it (openai-whisper seeds nothing itself).
        """
        o = self.options.decode
        kwargs = native.openai_whisper_kwargs(o, plan, fp16=self.fp16, carry_supported=CARRY_SUPPORTED)
        torch.manual_seed(native.native_seed(o))
        result = whisper.transcribe(self.model, np.ascontiguousarray(audio, dtype=np.float32), **kwargs)
        segments = [{
            "start": round(float(s["start"]), 2), "end": round(float(s["end"]), 2), "temperature": s["temperature"],
            "avg_logprob": round(float(s["avg_logprob"]), 4), "compression_ratio": round(float(s["compression_ratio"]), 3),
            "no_speech_prob": round(float(s["no_speech_prob"]), 4),
        } for s in result["segments"]]
        return DecodeResult(text=native.join_texts([result["text"]]), extra={"decoding": "native", "segments": segments})

    def transcribe_batch(self, audios: Sequence[np.ndarray], plans: Sequence[Sequence[BiasPlan]]) -> list[list[DecodeResult]]:
        """Clip by clip: PyTorch gains nothing here from decoding clips together."""
        if len(audios) != len(plans):
            raise ValueError("transcribe_batch: one plan list per clip")
        return [self.transcribe(audio, plan_list) for audio, plan_list in zip(audios, plans)]
