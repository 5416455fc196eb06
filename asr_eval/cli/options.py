"""Options that several commands take, each declared once, so that a flag cannot drift between commands.

``sweep`` once re-declared the engine options of ``run`` and quietly lacked
``--no-fallback`` and the Ray options; ``-d`` meant ``--dictionary`` in one
command and ``--directory`` in another. Here every shared option is declared
once, with its names, short flag, help and default:

- single options are ``Annotated`` types (``Dictionary``, ``Directory``, ``Progress``);
- option *groups* are frozen dataclasses whose fields are such types (``Engine``,
  ``Execution``, ``VocabFiles``, ``AudioAccess``, ``Redaction``). A command takes a whole group as
  one parameter annotated with the group class, and ``@with_groups`` spreads the
  group's fields into the command's options for typer, then gathers the parsed
  values back into one group object for the command body.

This is sqlite-utils' reusable option decorators, for typer: a future command
(``compare``) gets the engine options by writing ``engine: options.Engine = options.Engine()``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, List, Optional

import typer

from ..types import DecodeOptions

# --------------------------------------------------------------------------- single options

Dictionary = Annotated[Optional[Path], typer.Option("--dictionary", "-d", help="Company dictionary (CSV/TXT/YAML).")]
# no short flag: '-d' is --dictionary in every command
Directory = Annotated[Optional[Path], typer.Option("--directory", help="People directory (CSV: first,last,...).")]
Progress = Annotated[bool, typer.Option(help="Show a progress bar.")]


class NormalizerName(str, Enum):
    """The --normalizer values (``asr_eval.normalize.NORMALIZER_NAMES``)."""

    asr_eval = "asr-eval"
    whisper = "whisper"
    none = "none"


NormalizerChoice = Annotated[NormalizerName, typer.Option(
    "--normalizer", case_sensitive=False,
    help="Text normaliser that scores the run: asr-eval (default; Whisper-style, keeps vocabulary terms intact) | "
         "whisper (openai-whisper's EnglishTextNormalizer exactly, as the Open ASR Leaderboard uses) | "
         "none (case- and punctuation-sensitive words split on whitespace).")]


GroupBy = Annotated[Optional[List[str]], typer.Option(
    "--group-by", metavar="COLUMN[,COLUMN]",
    help="Report per-group numbers by this manifest column (gender, native_language, age band...), by speaker, or by "
         "duration_band (derived: <5 s, 5-15 s, 15-30 s, >30 s); 'a,b' groups by both at once. Repeatable: one table "
         "each. Default: accent_group (a report: the run's own). See docs/grouping.md.")]


Synonyms = Annotated[Optional[Path], typer.Option(
    "--synonyms", metavar="FILE",
    help="Accepted equivalent spellings, one set per line ('ok|okay', 'healthcare|health care'), applied to "
         "reference and hypothesis after normalisation (see docs/normalization.md).")]
Force = Annotated[bool, typer.Option(
    "--force", help="Write into --out even if it holds files and is not an asr-eval folder "
                    "(files asr-eval did not write are never removed).")]


# --------------------------------------------------------------------------- groups


class OptionGroup:
    """Marks a dataclass whose fields are CLI options; ``with_groups`` spreads them into a command."""


@dataclass(frozen=True)
class Engine(OptionGroup):
    """How the model decodes: the options that change transcripts (and so the cache key)."""

    backend: Annotated[str, typer.Option(
        help="faster-whisper | openai-whisper (boost needs openai-whisper, which a boost sweep picks by itself).")] = "faster-whisper"
    model: Annotated[str, typer.Option(
        help="tiny.en (bundled) | base | small | path to a CTranslate2 Whisper folder.")] = "tiny.en"
    device: Annotated[str, typer.Option(help="cpu | cuda | auto.")] = "cpu"
    compute_type: Annotated[str, typer.Option(
        help="CTranslate2 compute type: int8, int8_float32, float32, float16 (GPU)... (openai-whisper runs float32 on CPU).")] = "int8"
    beam_size: Annotated[int, typer.Option(help="Beam size at temperature 0.")] = 5
    batch_size: Annotated[int, typer.Option(help="Clips decoded together (batched inference).")] = 1
    cpu_threads: Annotated[int, typer.Option(
        help="CPU threads: the encoder's threads and the number of parallel decoders (0 = OMP_NUM_THREADS, else every usable core).")] = 0
    no_fallback: Annotated[bool, typer.Option(
        "--no-fallback", help="Disable temperature fallback (not advised: greedy Whisper loops on hard clips).")] = False
    seed: Annotated[int, typer.Option(help="Seed for fallback sampling.")] = 0
    decoding: Annotated[str, typer.Option(
        help="windowed: asr-eval's loop (prompt re-applied in every 30 s window, one encoder pass for all "
             "conditions) | native: the engine's own transcribe(), as its users run it (docs/backends.md).")] = "windowed"
    no_carry_initial_prompt: Annotated[bool, typer.Option(
        "--no-carry-initial-prompt", help="With --decoding native on openai-whisper: the prompt conditions the "
                                          "first window only (openai-whisper's default), not every window.")] = False

    def decode(self) -> DecodeOptions:
        """Raises ValueError on an impossible combination (the caller turns it into exit code 1)."""
        return DecodeOptions(beam_size=self.beam_size, seed=self.seed,
                             temperatures=(0.0,) if self.no_fallback else DecodeOptions().temperatures,
                             decoding=self.decoding, carry_initial_prompt=not self.no_carry_initial_prompt)

    def run_config(self) -> dict[str, Any]:
        """The ``RunConfig`` fields these options set."""
        return dict(backend=self.backend, model=self.model, device=self.device, compute_type=self.compute_type,
                    batch_size=self.batch_size, cpu_threads=self.cpu_threads, decode=self.decode())


@dataclass(frozen=True)
class Execution(OptionGroup):
    """Where decoding runs: in this process, or in Ray actors."""

    executor: Annotated[str, typer.Option(
        help="local | ray: transcribe in Ray actors (needs the 'ray' extra of asr-eval).")] = "local"
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Ray cluster to join (auto, host:6379, ray://head:10001); default: start a local Ray.")] = None
    ray_actors: Annotated[int, typer.Option(
        help="Ray actors (one model each); 0 = one per GPU with --device cuda, else one per CPU.")] = 0

    def run_config(self) -> dict[str, Any]:
        """The ``RunConfig`` fields these options set."""
        return dict(executor=self.executor, ray_address=self.address, ray_actors=self.ray_actors)


@dataclass(frozen=True)
class VocabFiles(OptionGroup):
    """The vocabulary a command biases towards and scores: the company dictionary and the people directory."""

    dictionary: Dictionary = None
    directory: Directory = None


@dataclass(frozen=True)
class AudioAccess(OptionGroup):
    """Which folders a manifest may have audio read from.

    A manifest can be written by someone other than whoever runs it (a shared
    service), so by default its audio must lie, links followed, in the
    manifest's own folder; every command that reads audio through a manifest
    takes this group.
    """

    audio_root: Annotated[Optional[List[Path]], typer.Option(
        "--audio-root", metavar="DIR", help="A folder the manifest's audio may also come from (repeatable); by default only the manifest's own folder.")] = None
    allow_outside_paths: Annotated[bool, typer.Option(
        "--allow-outside-paths", help="Read audio wherever the manifest points, links and absolute paths included (trusted manifests only).")] = False

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the same names that ``run_evaluation`` and ``load_manifest`` take."""
        return dict(audio_roots=tuple(self.audio_root or ()), allow_outside_paths=self.allow_outside_paths)


@dataclass(frozen=True)
class ManifestFormat(OptionGroup):
    """How to read the test set: its format (detected unless named) and the fields the formats disagree on."""

    format: Annotated[str, typer.Option(
        "--format", help="Test set format: auto | asr-eval | nemo | hf | hf-disk | lhotse | kaldi | commonvoice | stm "
                         "(see docs/formats.md).")] = "auto"
    speaker_column: Annotated[Optional[str], typer.Option(
        "--speaker-column", help="The field that holds the speaker (default: the format's own, e.g. client_id for Common Voice).")] = None
    allow_wav_scp_commands: Annotated[bool, typer.Option(
        "--allow-wav-scp-commands", help="Run the programs a Kaldi wav.scp names ('sox x.wav -t wav - |'); "
                                         "without a shell, with a time and size limit; trusted data folders only.")] = False
    audio_dir: Annotated[Optional[Path], typer.Option(
        "--audio-dir", metavar="DIR", help="Folder holding the audio an stm names by file id (or Common Voice's clips); default: next to the file.")] = None

    def read_options(self) -> Any:
        """The ``formats.ReadOptions`` that ``load_manifest`` and the orchestration take (``manifest_options``)."""
        from ..formats import ReadOptions

        return ReadOptions(format=self.format, speaker_column=self.speaker_column,
                           allow_wav_scp_commands=self.allow_wav_scp_commands,
                           audio_dir=str(self.audio_dir) if self.audio_dir else None)


@dataclass(frozen=True)
class Redaction(OptionGroup):
    """What the report excerpts mask; metrics always use the full text."""

    redact: Annotated[bool, typer.Option(help="Mask emails, phone and long digit strings in report excerpts.")] = False
    redact_names: Annotated[bool, typer.Option(help="Also mask directory names in report excerpts.")] = False

    def kwargs(self) -> dict[str, bool]:
        """The keyword arguments of the same names that ``RunConfig`` and the library's writers take."""
        return dict(redact=self.redact, redact_names=self.redact_names)


# --------------------------------------------------------------------------- the decorator


def with_groups(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let typer see each ``OptionGroup`` parameter of ``command`` as the group's own options.

    Typer builds a command's options from its signature, so the wrapper shows
    typer a signature in which each group parameter is replaced, in place, by
    the group's fields; when typer calls it, the fields are gathered back into
    the group object. Apply it under ``@app.command()``.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    groups: dict[str, type] = {}
    params: list[inspect.Parameter] = []
    for p in inspect.signature(command).parameters.values():
        annotation = hints.get(p.name, p.annotation)
        if isinstance(annotation, type) and issubclass(annotation, OptionGroup):
            groups[p.name] = annotation
            fields = typing.get_type_hints(annotation, include_extras=True)
            params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                         annotation=fields[f.name]) for f in dataclasses.fields(annotation)]
        else:
            params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    names = [p.name for p in params]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise TypeError(f"{command.__name__}: option group field(s) {clashes} clash with other parameters")

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        for name, cls in groups.items():
            kwargs[name] = cls(**{f.name: kwargs.pop(f.name) for f in dataclasses.fields(cls) if f.name in kwargs})
        return command(**kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
