"""faster-whisper (CTranslate2) engine: one encoder pass per window, shared by every condition.

Conditions differ only in the decoder prompt, so each window's encoder output
is computed once and decoded once per bias plan. The decoding loop is our own
(Whisper's rules are in ``whisper_rules``) rather than
``WhisperModel.transcribe``, because that one lets an ``initial_prompt`` drift
out of the context after the first window and cuts hotwords silently.

What is particular to this engine: CTranslate2 batches streams whose prompts
put ``<|startoftranscript|>`` at the same position into one beam-search call,
and rows of a batch do not interact, so batched and sequential transcripts are
the same. CTranslate2 seeds a worker thread's random generator only when that
thread first samples, so a seeded sampling pass needs a model whose threads
have never sampled (``_sampler``). On CPU, the encoder's large matrix products
gain from intra-op threads while beam-search steps lose to their
synchronisation, so the encoder runs ``threads`` intra-op threads and decoding
runs on ``threads`` single-threaded replicas (measurements: docs/scale.md).
The layout never changed an output, so it is not part of the cache key.

With ``--decoding native`` none of that loop runs: each clip is decoded once
per plan by ``WhisperModel.transcribe`` itself, with the arguments
``native.faster_whisper_kwargs`` maps the plan to (``_transcribe_native``).
"""

from __future__ import annotations

import copy
import threading
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import native
from . import whisper_rules as rules
from .base import WhisperPromptTokens
from .host import cpu_threads_for, resolve_device
from .models import DEFAULT_MODEL, ModelSpec, load_tokenizer, resolve_model
from .whisper_rules import DECODER_VERSION, MAX_TEXT_CTX, PROMPT_BUDGET, WINDOW_SECONDS, split_windows
from ..types import BiasPlan, DecodeOptions, DecodeResult, ModelError

# PROMPT_BUDGET and split_windows are Whisper's, imported from whisper_rules; they stay
# importable from here for callers that have not moved yet (asr_eval/vocab/sources.py).
__all__ = ["FasterWhisperBackend", "FasterWhisperOptions", "PROMPT_BUDGET", "split_windows"]

METHODS = ("none", "prompt", "hotwords")
# CTranslate2 search settings, fixed at faster-whisper's defaults. They are not
# options: changing one changes transcripts, so it needs a DECODER_VERSION bump.
BEST_OF = 5  # samples per sampled temperature
PATIENCE = 1.0
LENGTH_PENALTY = 1.0
REPETITION_PENALTY = 1.0
NO_REPEAT_NGRAM_SIZE = 0
SUPPRESS_BLANK = True
MAX_INITIAL_TIMESTAMP = 1.0

# ctranslate2.set_random_seed sets a process-wide seed that a worker thread reads
# when it first samples: creating a seeded sampler and running its first sampled
# pass must not interleave with another sampler's (see FasterWhisperBackend._sample_fresh).
_SEED_LOCK = threading.Lock()


@dataclass(frozen=True)
class FasterWhisperOptions:
    """Everything chosen per run that can change a faster-whisper transcript, in one frozen object.

    ``describe()`` echoes it whole, so it is in every cache key and run.json
    (faster-whisper's ``TranscriptionOptions`` habit). Threads and batch size
    are left out on purpose: they change speed, never a transcript.
    """

    decode: DecodeOptions = DecodeOptions()
    device: str = "cpu"
    compute_type: str = "int8"

    def describe(self) -> dict[str, Any]:
        return {"device": self.device, "compute_type": self.compute_type, "decode": self.decode.to_dict()}


class FasterWhisperBackend(WhisperPromptTokens):
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
        self.spec: ModelSpec = resolve_model(model)
        self.options = FasterWhisperOptions(decode=options, device=resolve_device(device), compute_type=compute_type)
        self.cpu_threads = cpu_threads
        # threads for the encoder and the number of parallel single-threaded decoders (CPU only)
        self.threads = cpu_threads_for(cpu_threads) if self.device == "cpu" else 1
        self.batch_size = batch_size
        self._model: Any = None
        self._decoder: Any = None
        language = options.language if self.spec.multilingual else "en"
        self.tokenizer = load_tokenizer(self.spec, language)
        from faster_whisper.transcribe import get_suppressed_tokens

        self._suppress_tokens = get_suppressed_tokens(self.tokenizer, [-1])

    @property
    def device(self) -> str:
        return self.options.device

    @property
    def compute_type(self) -> str:
        return self.options.compute_type

    @property
    def model(self) -> Any:
        """The weights, loaded on first use: budgets, cache keys and a fully cached rerun never need them."""
        if self._model is None:
            self.load()
        return self._model

    @property
    def decoder(self) -> Any:
        """The CTranslate2 model that decodes: single-threaded replicas on CPU, the GPU model otherwise."""
        if self._model is None:
            self.load()
        return self._decoder

    def load(self) -> None:
        """Load the weights now rather than on first use, so a broken install fails before any decoding."""
        import ctranslate2
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(
                str(self.spec.path), device=self.device, compute_type=self.compute_type,
                cpu_threads=self.threads if self.device == "cpu" else self.cpu_threads, local_files_only=True,
            )
            decoder = model.model
            if self.device == "cpu" and self.threads > 1 and not self.native:  # replicas serve the windowed loop
                decoder = ctranslate2.models.Whisper(
                    str(self.spec.path), device="cpu", compute_type=self.compute_type,
                    intra_threads=1, inter_threads=self.threads,
                )
            self._model, self._decoder = model, decoder  # both or neither
        except Exception as exc:
            raise ModelError(
                f"cannot load {self.spec.name} from {self.spec.path} on {self.device}/{self.compute_type}: {exc}"
            ) from None

    # ------------------------------------------------------------------ budget

    @property
    def native(self) -> bool:
        """Whether ``WhisperModel.transcribe`` decodes (``--decoding native``) rather than the windowed loop."""
        return self.options.decode.decoding == "native"

    def prompt_budget(self, method: str) -> int:
        if self.native:  # refused here, while plans are made, before any clip is decoded
            native.check_native_method(self.name, method)
        return PROMPT_BUDGET

    def describe(self) -> dict[str, Any]:
        import ctranslate2
        import faster_whisper

        loop = ({"native": native.native_describe(self.name, self.options.decode)} if self.native else
                {"without_timestamps": True, "window_seconds": WINDOW_SECONDS, "decoder_version": DECODER_VERSION})
        return {
            "backend": self.name,
            "model": self.spec.name,
            "model_path": str(self.spec.path),
            "weights_sha256": self.spec.weights_sha256,
            "multilingual": self.spec.multilingual,
            **self.options.describe(),
            **loop,
            "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
        }

    # ------------------------------------------------------------------ decoding

    def encode_windows(self, audios: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """Encoder outputs (host arrays) of every <= 30 s window of every clip: the part all plans share.

        Windows are encoded ``batch_size`` at a time on GPU, one at a time on CPU. Outputs are kept on the
        host so that any subset of them can be stacked into one decoder batch
        (CTranslate2 moves them to the GPU when generating there).
        """
        import ctranslate2
        from faster_whisper.audio import pad_or_trim
        from threadpoolctl import threadpool_limits

        feats: list[tuple[int, np.ndarray]] = []
        # The mel filterbank is a numpy matmul whose float32 sums depend on the
        # BLAS thread count (OPENBLAS/OMP_NUM_THREADS): measured to flip words
        # (a Ray worker, which gets OMP_NUM_THREADS=1, heard "Zentrix" where
        # the driver heard "Zintrix"). One BLAS thread makes features, and so
        # transcripts, the same under any thread setting.
        with threadpool_limits(limits=1, user_api="blas"):
            for i, audio in enumerate(audios):
                for start, end in split_windows(audio):
                    f = self.model.feature_extractor(audio[start:end])
                    feats.append((i, pad_or_trim(f[:, : f.shape[-1] - 1])))
        out: list[list[np.ndarray]] = [[] for _ in audios]
        step = self.encode_batch_size()
        for k in range(0, len(feats), step):
            chunk = feats[k : k + step]
            batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack([f for _, f in chunk])))
            encoded = np.asarray(self.model.model.encode(batch, to_cpu=True))
            for (i, _), enc in zip(chunk, encoded):
                out[i].append(np.array(enc))
        return out

    def encode_batch_size(self) -> int:
        """Windows per encoder call: ``batch_size`` on GPU, 1 on CPU, where one 30 s window
        already fills the GEMMs (1500 frames) and batching only costs cache (docs/scale.md).
        A method so the GPU's grouping of windows can be tested on a CPU."""
        return max(1, self.batch_size) if self.device == "cuda" else 1

    def _generate(self, encoded: Sequence[np.ndarray], prompts: Sequence[list[int]], temperature: float,
                  model: Any = None) -> list[Any]:
        import ctranslate2

        if temperature > 0:
            kwargs = {"beam_size": 1, "num_hypotheses": BEST_OF, "sampling_topk": 0, "sampling_temperature": temperature}
        else:
            kwargs = {"beam_size": self.options.decode.beam_size, "patience": PATIENCE}
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(encoded)))
        return (model or self.decoder).generate(
            features, [list(p) for p in prompts], length_penalty=LENGTH_PENALTY,
            repetition_penalty=REPETITION_PENALTY, no_repeat_ngram_size=NO_REPEAT_NGRAM_SIZE,
            max_length=MAX_TEXT_CTX, return_scores=True, return_no_speech_prob=True,
            suppress_blank=SUPPRESS_BLANK, suppress_tokens=self._suppress_tokens,
            max_initial_timestamp_index=int(round(MAX_INITIAL_TIMESTAMP / self.model.time_precision)),
            **kwargs,
        )

    def _judge(self, result: Any, temperature: float) -> rules.Attempt:
        """The rules' verdict on one CTranslate2 result (its score is a length-normalised sum)."""
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * (len(tokens) ** LENGTH_PENALTY) / (len(tokens) + 1)
        compression = rules.compression_ratio(self.tokenizer.decode(tokens).strip())
        return rules.judge(result, temperature, avg_logprob, compression, result.no_speech_prob, self.options.decode)

    def _sampler(self) -> Any:
        """A fresh CTranslate2 model, whose worker thread has not sampled yet (see ``_sample_fresh``).

        ``ctranslate2.set_random_seed`` only seeds a worker thread's generator
        the first time that thread samples; afterwards sampling continues from
        whatever the process sampled before, so a pass on the shared model
        would depend on decoding order, batching and resumption. A fresh model
        per fallback window makes each one reproducible from its seed alone;
        loading draws no random number.
        """
        import ctranslate2

        m = self.model.model
        return ctranslate2.models.Whisper(
            str(self.spec.path), device=m.device, device_index=m.device_index, compute_type=self.compute_type,
            intra_threads=1 if self.device == "cpu" else self.cpu_threads, inter_threads=1,
        )

    def _sample_fresh(self, enc: np.ndarray, prompt: list[int], temperature: float, seed: int) -> tuple[Any, Any]:
        """First sampled pass on a new sampler seeded with ``seed``: (result, sampler to continue with).

        The lock is held from seeding until the sampler's thread has drawn its
        first number, so fallbacks decoded in parallel cannot take each other's
        seed. Only temperature-0 beam search runs elsewhere meanwhile, and it
        never touches the generator (CTranslate2's best-of sampler is not random).
        """
        import ctranslate2

        sampler = self._sampler()
        with _SEED_LOCK:
            ctranslate2.set_random_seed(seed)
            return self._generate([enc], [prompt], temperature, model=sampler)[0], sampler

    def _fallback(self, enc: np.ndarray, prompt: list[int], first: rules.Attempt, window: int) -> rules.Attempt:
        """The rules' temperature fallback, sampling on a fresh seeded model (one window, one stream)."""
        sampler = None

        def decode(temperature: float, seed: int | None) -> rules.Attempt:
            nonlocal sampler
            if seed is not None:
                result, sampler = self._sample_fresh(enc, prompt, temperature, seed)
            else:
                result = self._generate([enc], [prompt], temperature, model=sampler)[0]
            return self._judge(result, temperature)

        return rules.fallback(first, decode, self.options.decode, window)

    def transcribe_batch(self, audios: Sequence[np.ndarray], plans: Sequence[Sequence[BiasPlan]]) -> list[list[DecodeResult]]:
        """Decode several clips, each under its own plans; result[i][j] is clip i under plans[i][j].

        Each clip's windows are encoded once for all its plans. Decoding runs
        window by window over every (clip, plan) stream; streams whose prompts
        put <|startoftranscript|> at the same position (a CTranslate2
        requirement) share one beam-search call. Fallback windows are decoded
        one by one, seeded from (seed, window index), so the result does not
        depend on what else is in the batch.
        """
        if len(audios) != len(plans):
            raise ValueError("transcribe_batch: one plan list per clip")
        for plan_list in plans:
            for plan in plan_list:
                if plan.method not in METHODS:
                    raise ModelError(f"faster-whisper backend cannot apply biasing method {plan.method!r}")
                if self.native:
                    native.check_native_method(self.name, plan.method)
        if self.native:
            return [[self._transcribe_native(audio, plan) for plan in plan_list] for audio, plan_list in zip(audios, plans)]
        encoded = self.encode_windows(audios)
        streams: list[_Stream] = []
        for i, plan_list in enumerate(plans):
            for j, plan in enumerate(plan_list):
                streams.append(_Stream(*self.plan_tokens(plan), clip=i, slot=j))
        group_cap = max(1, self.batch_size) * max((len(p) for p in plans), default=1)
        sot = self.tokenizer.sot
        active = [s for s in streams if encoded[s.clip]]
        with ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 else nullcontext() as pool:
            run_all = pool.map if pool is not None else map
            while active:
                groups: dict[tuple[int, int], list[tuple[_Stream, list[int]]]] = {}
                for s in active:
                    prompt = s.prompt(self.tokenizer)
                    groups.setdefault((len(prompt), prompt.index(sot)), []).append((s, prompt))
                chunks = []
                for members in groups.values():
                    # enough chunks to keep every CPU decoder busy; a chunk is one beam-search call
                    n = max(-(-len(members) // group_cap), min(self.threads, len(members)))
                    size = -(-len(members) // n)
                    chunks += [members[k : k + size] for k in range(0, len(members), size)]
                # each stream is in one chunk, so chunks advance their streams independently
                for _ in run_all(lambda chunk: self._decode_chunk(chunk, encoded), chunks):
                    pass
                active = [s for s in active if s.pos < len(encoded[s.clip])]
        out: list[list[DecodeResult]] = [[None] * len(p) for p in plans]  # type: ignore[list-item]
        for s in streams:
            out[s.clip][s.slot] = DecodeResult(text=s.text, extra={"windows": s.windows})
        return out

    def _decode_chunk(self, chunk: Sequence[tuple["_Stream", list[int]]], encoded: Sequence[Sequence[np.ndarray]]) -> None:
        """Decode the current window of each stream in ``chunk`` (one beam-search call), with fallback."""
        o = self.options.decode
        first_t = rules.first_temperature(o)
        encs = [encoded[s.clip][s.pos] for s, _ in chunk]
        if first_t > 0:  # sampling from the start: reproducible only one by one on a seeded model
            results = [self._sample_fresh(e, p, first_t, rules.first_seed(o, s.pos))[0] for e, (s, p) in zip(encs, chunk)]
        else:
            results = self._generate(encs, [p for _, p in chunk], first_t)
        for (s, prompt), enc, res in zip(chunk, encs, results):
            attempt = self._fallback(enc, prompt, self._judge(res, first_t), s.pos)
            tokens = [t for t in attempt.result.sequences_ids[0] if t < self.tokenizer.eot]
            s.advance(attempt, tokens, self.tokenizer.decode, len(prompt), o)

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        return self.transcribe_batch([audio], [list(plans)])[0]

    # ------------------------------------------------------------------ native decoding

    def _transcribe_native(self, audio: np.ndarray, plan: BiasPlan) -> DecodeResult:
        """One clip under one plan, decoded by ``WhisperModel.transcribe`` itself.

        A decode that never sampled (no fallback) is exactly the user's call.
        One that sampled drew from CTranslate2's generator in whatever state
        earlier clips left it, so it is decoded again on a fresh model seeded
        from ``--seed`` (``native.native_seed``): the transcript is then the
        engine's own output for that seed, whatever was decoded before it.
        """
        import ctranslate2

        kwargs = native.faster_whisper_kwargs(self.options.decode, plan)
        watch = _SamplingWatch(self.model.model)
        segments = self._run_native(watch, audio, kwargs)
        if watch.sampled:
            with _SEED_LOCK:
                ctranslate2.set_random_seed(native.native_seed(self.options.decode))
                segments = self._run_native(self._native_sampler(), audio, kwargs)
        return DecodeResult(
            text=native.join_texts(s.text for s in segments),
            extra={"decoding": "native", "resampled_with_seed": watch.sampled, "segments": [_segment_info(s) for s in segments]},
        )

    def _run_native(self, ct2_model: Any, audio: np.ndarray, kwargs: dict[str, Any]) -> list[Any]:
        """``transcribe`` on the loaded ``WhisperModel`` with ``ct2_model`` as its CTranslate2 model, run to the end."""
        model = copy.copy(self.model)
        model.model = ct2_model
        segments, _info = model.transcribe(audio, **kwargs)
        return list(segments)

    def _native_sampler(self) -> Any:
        """A CTranslate2 model built as ``WhisperModel`` builds it, whose one worker thread has not sampled yet."""
        import ctranslate2

        m = self.model.model
        return ctranslate2.models.Whisper(
            str(self.spec.path), device=m.device, device_index=m.device_index, compute_type=self.compute_type,
            intra_threads=self.threads if self.device == "cpu" else self.cpu_threads, inter_threads=1,
        )


class _SamplingWatch:
    """The CTranslate2 model, seen through a wrapper that notes whether any ``generate`` call sampled."""

    def __init__(self, model: Any):
        self._model = model
        self.sampled = False

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        if (kwargs.get("sampling_temperature") or 0) > 0:
            self.sampled = True
        return self._model.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _segment_info(segment: Any) -> dict[str, Any]:
    """What the engine said about one segment, kept with the transcript (as ``windows`` in windowed decoding)."""
    return {
        "start": round(float(segment.start), 2), "end": round(float(segment.end), 2),
        "temperature": segment.temperature, "avg_logprob": round(float(segment.avg_logprob), 4),
        "compression_ratio": round(float(segment.compression_ratio), 3),
        "no_speech_prob": round(float(segment.no_speech_prob), 4),
    }


@dataclass
class _Stream(rules.Stream):
    """A ``whisper_rules.Stream`` that knows where its result goes: clip ``clip``, plan slot ``slot``."""

    clip: int = 0
    slot: int = 0
