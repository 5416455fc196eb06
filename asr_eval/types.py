"""Shared value types and the error hierarchy.

This module imports nothing outside the standard library so every other module
(pure or I/O) can depend on it without pulling in models, pandas or typer.
Errors carry enough context (file, line) that the CLI can print them as-is and
map them to exit codes; nothing below the CLI ever calls ``sys.exit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


# --------------------------------------------------------------------------- errors


class AsrEvalError(Exception):
    """Base class for every error asr-eval raises on purpose."""

    exit_code = 1


class InputError(AsrEvalError):
    """A user-supplied file is malformed; names the file, line and problem."""

    exit_code = 2

    def __init__(self, path: str, problem: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.problem}"


class ModelError(AsrEvalError):
    """A model cannot be found, assembled or loaded (never downloaded)."""

    exit_code = 3


class RunLockedError(AsrEvalError):
    """Another run holds the output folder."""

    exit_code = 4


class OutputError(AsrEvalError, OSError):
    """The operating system refused a file or folder asr-eval writes (read-only, disk full, not a folder).

    Also an ``OSError`` with the original ``errno``, so callers that already
    handle OS errors keep working; the path is the file the user would look
    for (the output, not its temporary twin), since a write that fails in
    ``write()`` or ``fsync()`` names no path of its own.
    """

    exit_code = 6

    def __init__(self, path: str, exc: OSError):
        super().__init__(exc.errno, exc.strerror or str(exc), str(path))
        self.path = str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.strerror}"


@dataclass(frozen=True)
class Problem:
    """One validation finding; ``severity`` is 'error' (item skipped) or 'warning'."""

    path: str
    line: int | None
    problem: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.severity}: {self.problem}"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class EntitySpan:
    """A span of the reference annotated in the manifest (e.g. ``[Siobhan Nguyen](person)``)."""

    text: str
    label: str


@dataclass(frozen=True)
class Utterance:
    """One clip of an evaluation set. ``audio`` is an absolute path."""

    id: str
    audio: str
    text: str
    speaker: str
    accent_group: str
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    entities: tuple[EntitySpan, ...] = ()
    line: int | None = None  # line in the manifest, for error messages
    # A segment of ``audio`` in seconds (NeMo offset/duration, Kaldi segments,
    # lhotse supervisions, stm); None means from the start / to the end.
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", _frozen(self.meta))

    @property
    def is_segment(self) -> bool:
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class Term:
    """A vocabulary entry.

    ``display`` is the written form that must appear for an exact display-form
    hit; ``aliases`` are other written forms the author accepts as correct;
    ``sounds_like`` are pronunciation hints (used for biasing / post-correction,
    never counted as correct). ``source`` is 'dictionary', 'directory' or
    'annotation'; ``category`` is free text (product, acronym, person, ...).
    ``priority``: higher goes first when a budget forces terms out.
    """

    display: str
    category: str
    source: str
    aliases: tuple[str, ...] = ()
    sounds_like: tuple[str, ...] = ()
    priority: int = 0
    line: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", _frozen(self.meta))

    @property
    def written_forms(self) -> tuple[str, ...]:
        """Forms that count as the term being recognised: display first, then aliases."""
        return (self.display, *self.aliases)


@dataclass(frozen=True)
class Vocabulary:
    """A loaded dictionary or directory: its terms in file order plus provenance."""

    name: str
    path: str
    kind: str  # 'dictionary' | 'directory'
    terms: tuple[Term, ...]
    sha256: str = ""


@dataclass(frozen=True)
class Condition:
    """A biasing condition: which terms are offered to the engine, and how.

    ``method``: 'none' (baseline), 'prompt' (Whisper initial prompt, re-applied
    every 30 s window), 'hotwords' (faster-whisper hotwords), and the methods of
    other backends ('boost', ...). ``strength`` is for methods that have one.
    ``correct``: post-correction threshold applied after decoding (None = off).
    ``kind`` says what the condition is for when its maker knows better than
    its method does (a sweep's 'strength' or 'list-size' points); None means
    'baseline' or 'biased', decided by the method.
    """

    name: str
    method: str
    terms: tuple[Term, ...] = ()
    strength: float | None = None
    correct: float | None = None
    kind: str | None = None


@dataclass(frozen=True)
class BiasPlan:
    """Exactly what a condition hands to the decoder, after the token budget.

    ``text`` is the literal prompt / hotwords string (None for baseline).
    ``terms_in_force`` / ``terms_dropped`` are display forms; ``tokens`` is the
    count with the model's own tokenizer, ``budget`` the cap it was fitted to.
    """

    condition: str
    method: str
    text: str | None
    terms_in_force: tuple[str, ...] = ()
    terms_dropped: tuple[str, ...] = ()
    tokens: int = 0
    budget: int = 0
    strength: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "method": self.method,
            "text": self.text,
            "terms_in_force": list(self.terms_in_force),
            "terms_dropped": list(self.terms_dropped),
            "tokens": self.tokens,
            "budget": self.budget,
            "strength": self.strength,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BiasPlan":
        return cls(
            condition=d["condition"],
            method=d["method"],
            text=d.get("text"),
            terms_in_force=tuple(d.get("terms_in_force") or ()),
            terms_dropped=tuple(d.get("terms_dropped") or ()),
            tokens=int(d.get("tokens") or 0),
            budget=int(d.get("budget") or 0),
            strength=d.get("strength"),
        )


DECODINGS = ("windowed", "native")


@dataclass(frozen=True)
class DecodeOptions:
    """Every decoding option that can change a transcript (part of the cache key)."""

    beam_size: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    condition_on_previous_text: bool = True
    language: str | None = "en"
    seed: int = 0
    # 'windowed': asr-eval's own loop (backends/whisper_rules.py); 'native': the engine's own transcribe()
    decoding: str = "windowed"
    carry_initial_prompt: bool = True  # native openai-whisper: the prompt conditions every window

    def __post_init__(self) -> None:
        if self.decoding not in DECODINGS:
            raise ValueError(f"--decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")
        if self.decoding == "windowed" and not self.carry_initial_prompt:
            raise ValueError("--no-carry-initial-prompt needs --decoding native "
                             "(windowed decoding re-applies the prompt in every window)")

    def to_dict(self) -> dict[str, Any]:
        # the decoding keys appear only for native decoding, so windowed cache keys stay what they were
        native = {"decoding": self.decoding, "carry_initial_prompt": self.carry_initial_prompt} \
            if self.decoding != "windowed" else {}
        return {
            "beam_size": self.beam_size,
            "temperatures": list(self.temperatures),
            "compression_ratio_threshold": self.compression_ratio_threshold,
            "log_prob_threshold": self.log_prob_threshold,
            "no_speech_threshold": self.no_speech_threshold,
            "condition_on_previous_text": self.condition_on_previous_text,
            "language": self.language,
            "seed": self.seed,
            **native,
        }


@dataclass(frozen=True)
class DecodeResult:
    """What a backend returns for one clip under one plan."""

    text: str
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen(self.extra))


@dataclass(frozen=True)
class Transcript:
    """One row of transcripts.jsonl: a clip decoded under one condition."""

    utt_id: str
    condition: str
    text: str
    plan: BiasPlan
    audio_seconds: float
    decode_seconds: float
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # where it was decoded (host, or host/ip/Ray node): like decode_seconds, a fact about the run, not the transcript
    node: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen(self.extra))

    def to_dict(self) -> dict[str, Any]:
        return {
            "utt_id": self.utt_id,
            "condition": self.condition,
            "text": self.text,
            "bias": self.plan.to_dict(),
            "audio_seconds": self.audio_seconds,
            "decode_seconds": self.decode_seconds,
            "error": self.error,
            "extra": dict(self.extra),
            "node": self.node,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Transcript":
        return cls(
            utt_id=d["utt_id"],
            condition=d["condition"],
            text=d.get("text") or "",
            plan=BiasPlan.from_dict(d["bias"]),
            audio_seconds=float(d.get("audio_seconds") or 0.0),
            decode_seconds=float(d.get("decode_seconds") or 0.0),
            error=d.get("error"),
            extra=d.get("extra") or {},
            node=str(d.get("node") or ""),
        )
