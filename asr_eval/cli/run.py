"""``asr-eval run`` and ``asr-eval demo``: transcribe a manifest under every condition, score, report.

Also prints a run's outcome, which ``score`` shares, so that both commands end
the same way (the one-line tally, then the summary table).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..types import AsrEvalError, DecodeOptions
from .errors import fail as _fail

console = Console(stderr=True)

DEMO_MANIFEST = "audio_fixtures/demo/manifest.csv"
DEMO_DICTIONARY = "dictionaries/demo-company.csv"
DEMO_DIRECTORY = "dictionaries/demo-directory.csv"


def run(
    manifest: Path = typer.Argument(..., help="Manifest (CSV or JSONL): audio,text,speaker,accent_group[,id,...]."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created; reruns resume from its cache)."),
    dictionary: Optional[Path] = typer.Option(None, "--dictionary", "-d", help="Company dictionary (CSV/TXT/YAML)."),
    directory: Optional[Path] = typer.Option(None, "--directory", help="People directory (CSV: first,last,...)."),
    method: str = typer.Option("prompt", help="Biasing method: prompt | hotwords | boost (openai-whisper)."),
    condition: List[str] = typer.Option([], "--condition", "-c", help="Run only these conditions (repeatable)."),
    correct: Optional[float] = typer.Option(None, help="Post-correct hypotheses towards the vocabulary at this similarity threshold (0-1), in biased conditions."),
    strength: Optional[float] = typer.Option(None, help="Strength for methods that have one (boost)."),
    backend: str = typer.Option("faster-whisper", help="faster-whisper | openai-whisper."),
    model: str = typer.Option("tiny.en", help="tiny.en (bundled) | base | small | path to a CTranslate2 Whisper folder."),
    device: str = typer.Option("cpu", help="cpu | cuda | auto."),
    compute_type: str = typer.Option("int8", help="CTranslate2 compute type: int8, int8_float32, float32, float16 (GPU)..."),
    beam_size: int = typer.Option(5, help="Beam size at temperature 0."),
    batch_size: int = typer.Option(1, help="Clips decoded together (batched inference)."),
    cpu_threads: int = typer.Option(0, help="CPU threads: the encoder's threads and the number of parallel decoders (0 = OMP_NUM_THREADS, else every usable core)."),
    no_fallback: bool = typer.Option(False, help="Disable temperature fallback (not advised: greedy Whisper loops on hard clips)."),
    seed: int = typer.Option(0, help="Seed for fallback sampling."),
    shard: Optional[str] = typer.Option(None, help="Process shard i/n of the clips (0 <= i < n), for job arrays; combine with 'asr-eval merge'."),
    executor: str = typer.Option("local", help="local | ray: transcribe in Ray actors (needs the 'ray' extra of asr-eval)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (auto, host:6379, ray://head:10001); default: start a local Ray."),
    ray_actors: int = typer.Option(0, help="Ray actors (one model each); 0 = one per GPU with --device cuda, else one per CPU."),
    cache: Optional[Path] = typer.Option(None, help="Transcript cache folder (default OUT/cache); may be shared between runs."),
    redact: bool = typer.Option(False, help="Mask emails, phone and long digit strings in report excerpts."),
    redact_names: bool = typer.Option(False, help="Also mask directory names in report excerpts."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Transcribe a manifest under every biasing condition, score it and write reports."""
    from ..evaluate import RunConfig

    try:
        decode = DecodeOptions(beam_size=beam_size, seed=seed,
                               temperatures=(0.0,) if no_fallback else DecodeOptions().temperatures)
        config = RunConfig(backend=backend, model=model, device=device, compute_type=compute_type,
                           batch_size=batch_size, cpu_threads=cpu_threads, decode=decode, method=method, conditions=tuple(condition),
                           shard=shard, executor=executor, ray_address=address, ray_actors=ray_actors,
                           redact=redact, redact_names=redact_names, correct=correct, strength=strength,
                           cache_dir=str(cache) if cache else None, progress=progress)
    except ValueError as exc:
        raise _fail(exc)
    _evaluate(manifest, out, dictionary, directory, config)


def _evaluate(manifest: Path, out: Path, dictionary: Optional[Path], directory: Optional[Path], config) -> None:
    """Shared tail of 'run' and 'demo': evaluate, print, exit 5 when some clips failed."""
    from ..evaluate import run_evaluation

    try:
        outcome = run_evaluation(manifest, out, dictionary=dictionary, directory=directory, config=config,
                                 command=sys.argv)
    except (AsrEvalError, ValueError) as exc:
        raise _fail(exc)
    print_outcome(outcome)
    if outcome.failed:
        raise typer.Exit(5)


def print_outcome(outcome) -> None:
    for p in outcome.problems:
        console.print(f"[yellow]{escape(str(p))}[/]", highlight=False)
    rtfx = outcome.audio_seconds / outcome.decode_seconds if outcome.decode_seconds else float("nan")
    console.print(
        f"[green]done[/] {outcome.scored}/{outcome.utterances} clips scored; decoded {outcome.decoded} "
        f"clip x condition, {outcome.cached} from cache, {outcome.failed} failed; "
        f"{outcome.audio_seconds:.1f} s audio decoded in {outcome.decode_seconds:.1f} s (RTFx {rtfx:.1f}); "
        f"wall {outcome.wall_seconds:.1f} s -> {escape(str(outcome.out_dir))}", highlight=False,
    )
    summary = outcome.out_dir / "summary.csv"
    if summary.exists():
        _print_summary(summary)


def _print_summary(path: Path) -> None:
    import csv

    from rich.table import Table

    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    if not rows:
        return
    columns = {"accent_group": "group", "condition": "condition", "clips": "clips", "speakers": "spk",
               "words": "words", "wer": "WER", "term_recall": "term recall", "false_ins_per_100": "false ins/100"}
    wanted = [c for c in columns if c in rows[0]]
    table = Table(title=str(path))
    for c in wanted:
        table.add_column(columns[c], overflow="fold", justify="left" if c in ("accent_group", "condition") else "right")
    for r in rows:
        table.add_row(*[_fmt(r[c]) for c in wanted])
    Console().print(table)


def _fmt(v: str) -> str:
    try:
        f = float(v)
        return v if f.is_integer() and "." not in v else f"{f:.3f}"
    except ValueError:
        return v


def demo(
    out: Path = typer.Option(Path("reports/demo"), "--out", "-o", help="Output folder."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """The bundled demo: audio_fixtures/demo with the demo dictionary and directory, default model."""
    from ..evaluate import RunConfig

    root = Path.cwd()
    _evaluate(root / DEMO_MANIFEST, out, root / DEMO_DICTIONARY, root / DEMO_DIRECTORY, RunConfig(progress=progress))
