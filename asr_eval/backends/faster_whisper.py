"""faster-whisper (CTranslate2) backend with one encoder pass shared by every condition.

Conditions differ only in the decoder prompt, so each 30 s window's mel
features are encoded once and decoded once per bias plan. The decoding loop is
our own (built from faster-whisper's ``get_prompt`` and
``generate_with_fallback``) because ``WhisperModel.transcribe`` lets an
``initial_prompt`` drift out of the context after the first window and cuts
hotwords silently; here the plan's tokens are re-applied, whole, in every
window and the previous window's text fills only the room that is left.

Long audio is cut into <= 30 s windows at the quietest 20 ms frame of each
window's last 5 s (so words are rarely split); decoding is without timestamps.
Temperature fallback stays on (FACTS.md: greedy without it loops on hard clips)
and the sampler is seeded per clip x plan, so transcripts do not depend on
decoding order, batching or resumption.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..types import BiasPlan, DecodeOptions, DecodeResult, ModelError
from .models import DEFAULT_MODEL, ModelSpec, load_tokenizer, resolve_model

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30
SEARCH_SECONDS = 5
MAX_TEXT_CTX = 448
PROMPT_BUDGET = MAX_TEXT_CTX // 2 - 1  # 223: what Whisper keeps of a previous-text prompt


def split_windows(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """Sample ranges of <= 30 s, cut at the lowest-energy 20 ms frame near each boundary."""
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


class FasterWhisperBackend:
    """Transcriber backed by a CTranslate2 Whisper model (default: bundled tiny.en)."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "cpu",
        compute_type: str = "int8",
        options: DecodeOptions = DecodeOptions(),
        cpu_threads: int = 0,
        batch_size: int = 1,
    ):
        from faster_whisper import WhisperModel

        self.spec: ModelSpec = resolve_model(model)
        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        self.compute_type = compute_type
        self.options = options
        self.batch_size = batch_size
        try:
            self.model = WhisperModel(
                str(self.spec.path), device=device, compute_type=compute_type,
                cpu_threads=cpu_threads, local_files_only=True,
            )
        except Exception as exc:
            raise ModelError(f"cannot load {self.spec.name} from {self.spec.path} on {device}/{compute_type}: {exc}") from None
        language = options.language if self.spec.multilingual else "en"
        self.tokenizer = load_tokenizer(self.spec, language)
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        self._ts_options = TranscriptionOptions(
            beam_size=options.beam_size, best_of=5, patience=1.0, length_penalty=1.0,
            repetition_penalty=1.0, no_repeat_ngram_size=0,
            log_prob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            compression_ratio_threshold=options.compression_ratio_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            prompt_reset_on_temperature=0.5, temperatures=list(options.temperatures),
            initial_prompt=None, prefix=None, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(self.tokenizer, [-1]),
            without_timestamps=True, max_initial_timestamp=1.0, word_timestamps=False,
            prepend_punctuations="", append_punctuations="", multilingual=False,
            max_new_tokens=None, clip_timestamps="0", hallucination_silence_threshold=None,
            hotwords=None,
        )

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    # ------------------------------------------------------------------ budget

    def encode_text(self, text: str) -> list[int]:
        """Token ids exactly as faster-whisper encodes a prompt (with its leading space)."""
        return self.tokenizer.encode(" " + text.strip())

    def count_tokens(self, text: str) -> int:
        return len(self.encode_text(text))

    def prompt_budget(self, method: str) -> int:
        return PROMPT_BUDGET

    def describe(self) -> dict[str, Any]:
        import ctranslate2
        import faster_whisper

        return {
            "backend": self.name,
            "model": self.spec.name,
            "model_path": str(self.spec.path),
            "weights_sha256": self.spec.weights_sha256,
            "multilingual": self.spec.multilingual,
            "device": self.device,
            "compute_type": self.compute_type,
            "decode": self.options.to_dict(),
            "without_timestamps": True,
            "window_seconds": WINDOW_SECONDS,
            "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
        }

    # ------------------------------------------------------------------ decoding

    def _prompt(self, plan: BiasPlan, bias_tokens: list[int], previous: list[int]) -> list[int]:
        if plan.method == "hotwords":
            return self.model.get_prompt(self.tokenizer, previous, without_timestamps=True, hotwords=plan.text)
        if plan.method == "prompt" and bias_tokens:
            room = PROMPT_BUDGET - len(bias_tokens)
            carried = previous[-room:] if room > 0 and previous else []
            return self.model.get_prompt(self.tokenizer, bias_tokens + carried, without_timestamps=True)
        return self.model.get_prompt(self.tokenizer, previous, without_timestamps=True)

    def encode_windows(self, audio: np.ndarray) -> list[Any]:
        """Encoder outputs for each window of ``audio`` (the part shared by all plans)."""
        from faster_whisper.audio import pad_or_trim

        outputs = []
        for start, end in split_windows(audio):
            feats = self.model.feature_extractor(audio[start:end])
            outputs.append(self.model.encode(pad_or_trim(feats[:, : feats.shape[-1] - 1])))
        return outputs

    def decode_plan(self, encoded: list[Any], plan: BiasPlan, seed: int) -> DecodeResult:
        """Decode pre-encoded windows under one plan."""
        import ctranslate2

        if plan.method not in ("none", "prompt", "hotwords"):
            raise ModelError(f"faster-whisper backend cannot apply biasing method {plan.method!r}")
        bias_tokens = self.encode_text(plan.text) if plan.text and plan.method == "prompt" else []
        if len(bias_tokens) > PROMPT_BUDGET:
            raise ModelError(f"plan {plan.condition!r} has {len(bias_tokens)} prompt tokens > {PROMPT_BUDGET}")
        ctranslate2.set_random_seed(seed)
        texts: list[str] = []
        previous: list[int] = []
        windows: list[dict[str, Any]] = []
        for enc in encoded:
            prompt = self._prompt(plan, bias_tokens, previous)
            result, avg_logprob, temperature, compression = self.model.generate_with_fallback(
                enc, prompt, self.tokenizer, self._ts_options
            )
            tokens = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
            silent = (
                self.options.no_speech_threshold is not None
                and result.no_speech_prob > self.options.no_speech_threshold
                and avg_logprob < self.options.log_prob_threshold
            )
            text = "" if silent else self.tokenizer.decode(tokens).strip()
            windows.append({
                "temperature": temperature, "avg_logprob": round(float(avg_logprob), 4),
                "compression_ratio": round(float(compression), 3),
                "no_speech_prob": round(float(result.no_speech_prob), 4), "skipped_as_silence": silent,
                "prompt_tokens": len(prompt),
            })
            if text:
                texts.append(text)
            if self.options.condition_on_previous_text and temperature <= 0.5 and not silent:
                previous = previous + tokens
            else:
                previous = []
        return DecodeResult(text=" ".join(texts), extra={"windows": windows})

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        encoded = self.encode_windows(audio)
        return [self.decode_plan(encoded, plan, self.options.seed) for plan in plans]
