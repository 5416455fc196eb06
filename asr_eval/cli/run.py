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

from ..types import AsrEvalError
from . import options
from .errors import fail as _fail

console = Console(stderr=True)

DEMO_MANIFEST = "audio_fixtures/demo/manifest.csv"
DEMO_DICTIONARY = "dictionaries/demo-company.csv"
DEMO_DIRECTORY = "dictionaries/demo-directory.csv"


@options.with_groups
def run(
    manifest: Path = typer.Argument(..., help="Test set: asr-eval's CSV/JSONL (audio,text,speaker,accent_group[,id,...]), "
                                              "or a NeMo, HF, lhotse, Kaldi, Common Voice or stm test set (see --format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created; reruns resume from its cache)."),
    force: options.Force = False,
    vocab: options.VocabFiles = options.VocabFiles(),
    audio: options.AudioAccess = options.AudioAccess(),
    test_set: options.ManifestFormat = options.ManifestFormat(),
    nonspeech: Optional[Path] = typer.Option(None, "--nonspeech", metavar="MANIFEST", help="A second manifest of clips with no speech (silence, noise, hold music, tones; text empty or absent): scored for output on non-speech, never in WER."),
    method: str = typer.Option("prompt", help="Biasing method: prompt | hotwords | boost (openai-whisper)."),
    condition: List[str] = typer.Option([], "--condition", "-c", help="Run only these conditions (repeatable)."),
    correct: Optional[float] = typer.Option(None, help="Post-correct hypotheses towards the vocabulary at this similarity threshold (0-1), in biased conditions."),
    strength: Optional[float] = typer.Option(None, help="Strength for methods that have one (boost)."),
    engine: options.Engine = options.Engine(),
    shard: Optional[str] = typer.Option(None, help="Process shard i/n of the clips (0 <= i < n), for job arrays; combine with 'asr-eval merge'."),
    execution: options.Execution = options.Execution(),
    cache: Optional[Path] = typer.Option(None, help="Transcript cache folder (default OUT/cache); may be shared between runs."),
    redaction: options.Redaction = options.Redaction(),
    normalizer: options.NormalizerChoice = options.NormalizerName.asr_eval,
    group_by: options.GroupBy = None,
    synonyms: options.Synonyms = None,
    progress: options.Progress = True,
) -> None:
    """Transcribe a manifest under every biasing condition, score it and write reports."""
    from ..evaluate import RunConfig

    try:
        config = RunConfig(**engine.run_config(), **execution.run_config(), **redaction.kwargs(),
                           method=method, conditions=tuple(condition), shard=shard, correct=correct,
                           strength=strength, cache_dir=str(cache) if cache else None, progress=progress,
                           force=force, normalizer=normalizer.value, group_by=tuple(group_by or ()),
                           synonyms=str(synonyms) if synonyms else None)
    except ValueError as exc:
        raise _fail(exc)
    _evaluate(manifest, out, vocab.dictionary, vocab.directory, config, audio, test_set, nonspeech)


def _evaluate(manifest: Path, out: Path, dictionary: Optional[Path], directory: Optional[Path], config,
              audio: options.AudioAccess = options.AudioAccess(),
              test_set: options.ManifestFormat = options.ManifestFormat(), nonspeech: Optional[Path] = None) -> None:
    """Shared tail of 'run' and 'demo': evaluate, print, exit 5 when some rows were rejected or clips failed."""
    from ..evaluate import run_evaluation

    try:
        outcome = run_evaluation(manifest, out, dictionary=dictionary, directory=directory, config=config,
                                 command=sys.argv, nonspeech=nonspeech, **audio.kwargs(),
                                 manifest_options=test_set.read_options())
    except (AsrEvalError, ValueError) as exc:
        raise _fail(exc)
    print_outcome(outcome)
    exit_if_incomplete(outcome)


def exit_if_incomplete(outcome) -> None:
    """Exit 5 when the run finished without every row and clip (skipped.csv lists each), so scripts notice."""
    if not outcome.complete:
        raise typer.Exit(5)


def print_outcome(outcome) -> None:
    for p in outcome.problems:  # one line each, however narrow the terminal, so a log can be grepped by file:line
        console.print(f"[yellow]{escape(str(p))}[/]", highlight=False, soft_wrap=True)
    rtfx = outcome.audio_seconds / outcome.decode_seconds if outcome.decode_seconds else float("nan")
    console.print(
        f"[green]done[/] {outcome.scored}/{outcome.utterances} clips scored; decoded {outcome.decoded} "
        f"clip x condition, {outcome.cached} from cache, {outcome.failed} failed; "
        f"{outcome.audio_seconds:.1f} s audio decoded in {outcome.decode_seconds:.1f} s (RTFx {rtfx:.1f}); "
        + (f"{outcome.rejected} manifest row(s) rejected; " if outcome.rejected else "")
        + (f"{outcome.missing} clip x condition without a transcript, scored as empty; " if outcome.missing else "")
        + f"wall {outcome.wall_seconds:.1f} s -> {escape(str(outcome.out_dir))}", highlight=False,
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
    group = next(iter(rows[0]))  # the first column is the grouping's (accent_group unless --group-by said otherwise)
    columns = {group: "group" if group == "accent_group" else group, "condition": "condition", "clips": "clips",
               "speakers": "spk", "words": "words", "wer": "WER", "term_recall": "term recall",
               "false_ins_per_100": "false ins/100"}
    wanted = [c for c in columns if c in rows[0]]
    table = Table(title=escape(str(path)))
    for c in wanted:
        table.add_column(escape(columns[c]), overflow="fold", justify="left" if c in (group, "condition") else "right")
    for r in rows:
        table.add_row(*[escape(_fmt(r[c])) for c in wanted])  # group and condition names are user text
    Console().print(table)


def _fmt(v: str) -> str:
    try:
        f = float(v)
        return v if f.is_integer() and "." not in v else f"{f:.3f}"
    except ValueError:
        return v


def demo(
    out: Path = typer.Option(Path("reports/demo"), "--out", "-o", help="Output folder."),
    force: options.Force = False,
    progress: options.Progress = True,
) -> None:
    """The bundled demo: audio_fixtures/demo with the demo dictionary and directory, default model."""
    from ..evaluate import RunConfig

    root = Path.cwd()
    _evaluate(root / DEMO_MANIFEST, out, root / DEMO_DICTIONARY, root / DEMO_DIRECTORY, RunConfig(progress=progress, force=force))
