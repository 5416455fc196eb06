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
Temperature fallback stays on (FACTS.md: greedy without it loops on hard clips).
Several clips can be decoded together (``batch_size``): their windows are
encoded in batches and streams whose prompts have the same shape share one
beam-search call; rows of a CTranslate2 batch do not interact, so batched and
sequential transcripts are the same. Sampled fallback windows run on a freshly
seeded model (see ``_sampler``), so transcripts do not depend on decoding
order, batching or resumption either.

On CPU the encoder and the decoder want different threading (measured on 2
cores, tiny.en int8, 16 windows): the encoder's large GEMMs gain from
intra-op threads (2.3 s with 2 threads vs 3.9 s with 1), while beam-search
steps are so small that OpenMP synchronisation dominates (decoding took 1.8 s
on one thread, 3.9 s on two). So the encoder runs on ``threads`` intra-op
threads and decoding on ``threads`` single-threaded CTranslate2 replicas that
decode independent streams (conditions, clips) at the same time. Outputs were
bit-identical under every layout tried, so the layout is not part of the cache
key.
"""

from __future__ import annotations

import os
import threading
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .base import WhisperPromptTokens
from ..types import BiasPlan, DecodeOptions, DecodeResult, ModelError
from .models import DEFAULT_MODEL, ModelSpec, load_tokenizer, resolve_model

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30
SEARCH_SECONDS = 5
MAX_TEXT_CTX = 448
PROMPT_BUDGET = MAX_TEXT_CTX // 2 - 1  # 223: what Whisper keeps of a previous-text prompt
# Part of every cache key: bump whenever a change here can change a transcript, so
# transcripts cached by an older decoding loop are decoded again, never served.
# 2: seeded fallback on a fresh model per window; features with one BLAS thread.
# 3: hotwords leave room for the carried text (long audio no longer overflows the context).
DECODER_VERSION = 3

# ctranslate2.set_random_seed sets a process-wide seed that a worker thread reads
# when it first samples: creating a seeded sampler and running its first sampled
# pass must not interleave with another sampler's (see FasterWhisperBackend._sample_fresh).
_SEED_LOCK = threading.Lock()


def cpu_threads_for(requested: int) -> int:
    """CPU threads to use: ``requested``, else OMP_NUM_THREADS (Ray sets it per actor), else the usable cores.

    CTranslate2's own default (4 intra-op threads) oversubscribes small
    machines: on 2 cores it made decoding twice as slow as one thread.
    "Usable" honours both the CPU affinity mask and a container's CPU quota
    (``docker --cpus 2`` on a 64-core host means 2).
    """
    if requested > 0:
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, quota) if quota else cores)


def cgroup_cpu_quota(root: str | os.PathLike[str] = "/sys/fs/cgroup") -> int | None:
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), rounded up; None if unlimited."""
    import math
    from pathlib import Path

    root = Path(root)
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return max(1, math.ceil(quota_us / period_us)) if quota_us > 0 and period_us > 0 else None


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


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when CTranslate2 sees a GPU, else 'cpu'; 'cuda' without one is a ModelError."""
    import ctranslate2

    if device not in ("cpu", "cuda", "auto"):
        raise ModelError(f"unknown device {device!r}; choose cpu, cuda or auto")
    gpus = ctranslate2.get_cuda_device_count()
    if device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if device == "cuda" and gpus == 0:
        raise ModelError(
            "--device cuda was asked for but CTranslate2 sees no CUDA device (no GPU, driver or CUDA 12 "
            "runtime/cuDNN 9 libraries visible); use --device cpu or --device auto"
        )
    return device


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
        self.device = resolve_device(device)
        self.cpu_threads = cpu_threads
        # threads for the encoder and the number of parallel single-threaded decoders (CPU only)
        self.threads = cpu_threads_for(cpu_threads) if self.device == "cpu" else 1
        self.compute_type = compute_type
        self.options = options
        self.batch_size = batch_size
        self._model: Any = None
        self._decoder: Any = None
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
        import ctranslate2
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(
                str(self.spec.path), device=self.device, compute_type=self.compute_type,
                cpu_threads=self.threads if self.device == "cpu" else self.cpu_threads, local_files_only=True,
            )
            decoder = model.model
            if self.device == "cpu" and self.threads > 1:
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
            "decoder_version": DECODER_VERSION,
            "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
        }

    # ------------------------------------------------------------------ decoding

    def _prompt(self, plan: BiasPlan, bias_tokens: list[int], previous: list[int]) -> list[int]:
        if plan.method == "hotwords":
            # hotwords + carried text must stay within the context's prompt half, like the prompt path
            room = PROMPT_BUDGET - (self.count_tokens(plan.text) if plan.text else 0)
            carried = previous[-room:] if room > 0 and previous else []
            return self.model.get_prompt(self.tokenizer, carried, without_timestamps=True, hotwords=plan.text)
        if plan.method == "prompt" and bias_tokens:
            room = PROMPT_BUDGET - len(bias_tokens)
            carried = previous[-room:] if room > 0 and previous else []
            return self.model.get_prompt(self.tokenizer, bias_tokens + carried, without_timestamps=True)
        return self.model.get_prompt(self.tokenizer, previous, without_timestamps=True)

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
        # On CPU a 30 s window already fills the GEMMs (1500 frames), and batching
        # windows only costs cache: measured 0.33 vs 0.26 s CPU per window at 8.
        step = max(1, self.batch_size) if self.device == "cuda" else 1
        for k in range(0, len(feats), step):
            chunk = feats[k : k + step]
            batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack([f for _, f in chunk])))
            encoded = np.asarray(self.model.model.encode(batch, to_cpu=True))
            for (i, _), enc in zip(chunk, encoded):
                out[i].append(np.array(enc))
        return out

    def _generate(self, encoded: Sequence[np.ndarray], prompts: Sequence[list[int]], temperature: float,
                  model: Any = None) -> list[Any]:
        import ctranslate2

        o = self._ts_options
        if temperature > 0:
            kwargs = {"beam_size": 1, "num_hypotheses": o.best_of, "sampling_topk": 0, "sampling_temperature": temperature}
        else:
            kwargs = {"beam_size": o.beam_size, "patience": o.patience}
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(encoded)))
        return (model or self.decoder).generate(
            features, [list(p) for p in prompts], length_penalty=o.length_penalty,
            repetition_penalty=o.repetition_penalty, no_repeat_ngram_size=o.no_repeat_ngram_size,
            max_length=MAX_TEXT_CTX, return_scores=True, return_no_speech_prob=True,
            suppress_blank=o.suppress_blank, suppress_tokens=o.suppress_tokens,
            max_initial_timestamp_index=int(round(o.max_initial_timestamp / self.model.time_precision)),
            **kwargs,
        )

    def _judge(self, result: Any, temperature: float) -> tuple[Any, float, float, float, bool, bool]:
        """faster-whisper's fallback rule: (result, avg_logprob, T, compression, needs_fallback, below_cr)."""
        from faster_whisper.transcribe import get_compression_ratio

        o = self._ts_options
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * (len(tokens) ** o.length_penalty) / (len(tokens) + 1)
        compression = get_compression_ratio(self.tokenizer.decode(tokens).strip())
        needs = False
        below = True
        if o.compression_ratio_threshold is not None and compression > o.compression_ratio_threshold:
            needs, below = True, False
        if o.log_prob_threshold is not None and avg_logprob < o.log_prob_threshold:
            needs = True
        if (o.no_speech_threshold is not None and result.no_speech_prob > o.no_speech_threshold
                and o.log_prob_threshold is not None and avg_logprob < o.log_prob_threshold):
            needs = False  # silence
        return result, avg_logprob, temperature, compression, needs, below

    def _sampler(self) -> Any:
        """A fresh CTranslate2 model, whose worker thread has not sampled yet (see ``_sample_fresh``).

        ``ctranslate2.set_random_seed`` only seeds a worker thread's generator
        the first time that thread samples; afterwards sampling continues from
        whatever the process sampled before. A sampling pass on the shared
        model would therefore depend on decoding order, batching and
        resumption. Loading a fresh model per fallback window (measured
        0.1-0.4 s for tiny.en, 0.9 s for base on 2 CPU cores) makes each fallback
        reproducible from (seed, window) alone. Loading draws no random number.
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
        seed &= 0xFFFFFFFF
        if seed == 0xFFFFFFFF:  # CTranslate2's "no seed set" value: it would seed from random_device
            seed -= 1
        with _SEED_LOCK:
            ctranslate2.set_random_seed(seed)
            return self._generate([enc], [prompt], temperature, model=sampler)[0], sampler

    def _fallback(self, enc: np.ndarray, prompt: list[int], first: tuple, seed: int) -> tuple:
        """Temperatures after the first, sampled reproducibly; same choice rule as faster-whisper."""
        tried = [first]
        below = [first] if first[5] else []
        sampler = None
        temps = self.options.temperatures[1:]
        temperature = first[2]
        for temperature in temps:
            if sampler is None:
                result, sampler = self._sample_fresh(enc, prompt, temperature, seed)
            else:
                result = self._generate([enc], [prompt], temperature, model=sampler)[0]
            judged = self._judge(result, temperature)
            tried.append(judged)
            if judged[5]:
                below.append(judged)
            if not judged[4]:
                return judged
        best = max(below or tried, key=lambda x: x[1])
        return (best[0], best[1], temperature, best[3], True, best[5])

    def transcribe_batch(self, audios: Sequence[np.ndarray], plans: Sequence[Sequence[BiasPlan]]) -> list[list[DecodeResult]]:
        """Decode several clips, each under its own plans; result[i][j] is clip i under plans[i][j].

        Each clip's windows are encoded once for all its plans. Decoding runs
        window by window over every (clip, plan) stream; streams whose prompts
        put <|startoftranscript|> at the same position (a CTranslate2
        requirement) share one beam-search call. Fallback windows are decoded
        one by one with a seed derived from (seed, window index), so the
        result does not depend on what else is in the batch.
        """
        if len(audios) != len(plans):
            raise ValueError("transcribe_batch: one plan list per clip")
        for plan_list in plans:
            for plan in plan_list:
                if plan.method not in ("none", "prompt", "hotwords"):
                    raise ModelError(f"faster-whisper backend cannot apply biasing method {plan.method!r}")
        encoded = self.encode_windows(audios)
        streams: list[_Stream] = []
        for i, plan_list in enumerate(plans):
            for j, plan in enumerate(plan_list):
                bias = self.encode_text(plan.text) if plan.text and plan.method == "prompt" else []
                if len(bias) > PROMPT_BUDGET:
                    raise ModelError(f"plan {plan.condition!r} has {len(bias)} prompt tokens > {PROMPT_BUDGET}")
                streams.append(_Stream(i, j, plan, bias))
        group_cap = max(1, self.batch_size) * max((len(p) for p in plans), default=1)
        sot = self.tokenizer.sot
        active = [s for s in streams if encoded[s.clip]]
        with ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 else nullcontext() as pool:
            run_all = pool.map if pool is not None else map
            while active:
                groups: dict[tuple[int, int], list[tuple[_Stream, list[int]]]] = {}
                for s in active:
                    prompt = self._prompt(s.plan, s.bias_tokens, s.previous)
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
            out[s.clip][s.slot] = DecodeResult(text=" ".join(s.texts), extra={"windows": s.windows})
        return out

    def _decode_chunk(self, chunk: Sequence[tuple["_Stream", list[int]]], encoded: Sequence[Sequence[np.ndarray]]) -> None:
        """Decode the current window of each stream in ``chunk`` (one beam-search call), with fallback."""
        first_t = self.options.temperatures[0] if self.options.temperatures else 0.0
        encs = [encoded[s.clip][s.pos] for s, _ in chunk]
        if first_t > 0:  # sampling from the start: reproducible only one by one on a seeded model
            results = [self._sample_fresh(e, p, first_t, self._seed(s))[0] for e, (s, p) in zip(encs, chunk)]
        else:
            results = self._generate(encs, [p for _, p in chunk], first_t)
        for (s, prompt), enc, res in zip(chunk, encs, results):
            judged = self._judge(res, first_t)
            if judged[4] and len(self.options.temperatures) > 1:
                judged = self._fallback(enc, prompt, judged, self._seed(s) + 1)
            self._advance(s, judged, len(prompt))

    def _seed(self, s: "_Stream") -> int:
        """Sampling seed of a stream's current window: from --seed and the window index only."""
        return self.options.seed * 1_000_003 + 2 * s.pos

    def _advance(self, s: "_Stream", judged: tuple, prompt_tokens: int) -> None:
        result, avg_logprob, temperature, compression = judged[:4]
        tokens = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
        silent = (
            self.options.no_speech_threshold is not None
            and result.no_speech_prob > self.options.no_speech_threshold
            and avg_logprob < self.options.log_prob_threshold
        )
        text = "" if silent else self.tokenizer.decode(tokens).strip()
        s.windows.append({
            "temperature": temperature, "avg_logprob": round(float(avg_logprob), 4),
            "compression_ratio": round(float(compression), 3),
            "no_speech_prob": round(float(result.no_speech_prob), 4), "skipped_as_silence": silent,
            "prompt_tokens": prompt_tokens,
        })
        if text:
            s.texts.append(text)
        if self.options.condition_on_previous_text and temperature <= 0.5 and not silent:
            s.previous = s.previous + tokens
        else:
            s.previous = []
        s.pos += 1

    def transcribe(self, audio: np.ndarray, plans: Sequence[BiasPlan]) -> list[DecodeResult]:
        return self.transcribe_batch([audio], [list(plans)])[0]


@dataclass
class _Stream:
    """One clip decoded under one plan, advanced one 30 s window at a time."""

    clip: int
    slot: int
    plan: BiasPlan
    bias_tokens: list[int]
    pos: int = 0
    previous: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
