"""`asr-eval sweep`: strength and list-size sweeps, to find where biasing stops paying.

Options become a ``RunConfig`` and a ``run_sweep`` call; errors become exit
codes here and nowhere else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..types import AsrEvalError
from . import options
from .errors import fail as _fail
from .run import exit_if_incomplete

console = Console(stderr=True)


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise AsrEvalError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _ints(text: str, what: str) -> tuple[int, ...]:
    vals = _floats(text, what)
    if any(v != int(v) or v < 0 for v in vals):
        raise AsrEvalError(f"{what} must be non-negative integers, got {text!r}")
    return tuple(int(v) for v in vals)


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


@options.with_groups
def sweep(
    manifest: Path = typer.Argument(..., help="Manifest (CSV or JSONL) of the clips to sweep over."),
    out: Path = typer.Option(..., "--out", "-o", help="Sweep folder: sweep.csv, sweep.json, sweep.png/svg and run/."),
    force: options.Force = False,
    vocab: options.VocabFiles = options.VocabFiles(),
    method: str = typer.Option("boost", help="Strength sweep method: boost (decoder bonus, openai-whisper) | correct (post-correction threshold)."),
    strengths: Optional[str] = typer.Option(None, help="Comma-separated boost strengths or correction thresholds (0-1); empty to skip. Default 0,1,2,4, or none when --distractors is given."),
    sizes: str = typer.Option("", help="List-size sweep: distractor counts, e.g. 0,10,100,1000; empty to skip."),
    list_method: str | None = typer.Option(None, help="Method of the list-size sweep: prompt | hotwords | boost | correct (default: --method)."),
    list_strength: float | None = typer.Option(None, help="Strength/threshold used in the list-size sweep (default: strongest boost / lowest threshold)."),
    base_method: str = typer.Option("none", help="Decoding under post-correction: none | prompt | hotwords."),
    max_false_insertions: float | None = typer.Option(None, help="Recommend the best recall with at most this many false term insertions per 100 utterances (default: best F1)."),
    max_wer_increase: float = typer.Option(0.10, help="Never recommend a point whose WER exceeds the baseline's by more than this fraction (negative = no limit)."),
    distractors: List[str] = typer.Option([], "--distractors", metavar="N", help="Per-clip biasing lists as in the contextual-biasing literature: each clip offered its own reference terms plus N seeded distractors (repeatable or comma-separated, e.g. 0,100,500,1000). Writes context.csv/md/png."),
    context_method: List[str] = typer.Option([], "--context-method", help="Method(s) of the per-clip lists: prompt | hotwords | boost (repeatable; default prompt)."),
    distractor_seed: int = typer.Option(0, help="Seed of the per-clip distractor draws (each clip's draw also depends on its id)."),
    engine: options.Engine = options.Engine(),
    execution: options.Execution = options.Execution(),
    audio: options.AudioAccess = options.AudioAccess(),
    test_set: options.ManifestFormat = options.ManifestFormat(),
    normalizer: options.NormalizerChoice = options.NormalizerName.asr_eval,
    group_by: options.GroupBy = None,
    progress: options.Progress = True,
) -> None:
    """Run a biasing method over strengths and/or vocabulary sizes; report recall vs false insertions per accent group."""
    from ..evaluate import RunConfig
    from ..sweep import ALL_GROUPS, run_sweep

    try:
        config = RunConfig(**engine.run_config(), **execution.run_config(), progress=progress, reports=False,
                           force=force, normalizer=normalizer.value, group_by=tuple(group_by or ()))
        ns = tuple(n for text in distractors for n in _ints(text, "--distractors"))
        if strengths is None:
            strengths = "" if ns else "0,1,2,4"
        result = run_sweep(
            manifest, out, dictionary=vocab.dictionary, directory=vocab.directory, method=method,
            strengths=_floats(strengths, "--strengths"), sizes=_ints(sizes, "--sizes"),
            distractors=ns, context_methods=tuple(context_method) or ("prompt",), distractor_seed=distractor_seed,
            list_method=list_method, list_strength=list_strength, base_method=base_method,
            max_false_insertions=max_false_insertions,
            max_wer_increase=None if max_wer_increase < 0 else max_wer_increase, config=config, command=sys.argv,
            **audio.kwargs(), manifest_options=test_set.read_options(),
        )
    except (AsrEvalError, ValueError) as exc:
        raise _fail(exc)
    table = Table("point", "N", "in force", "dropped", "utts", "WER", "recall", "false ins/100", "F1",
                  title=f"sweep ({ALL_GROUPS} accent groups)")
    for r in result.rows:
        if r.group != ALL_GROUPS:
            continue
        table.add_row(escape(r.condition), str(r.distractors), str(r.terms_in_force), str(r.terms_dropped),
                      str(r.utterances), _fmt(r.wer), _fmt(r.recall), _fmt(r.false_ins_per_100, 2), _fmt(r.f1))
    Console(width=max(Console().width, 120)).print(table)
    if result.context_rows:
        ctx = Table("condition", "N", "WER", "B-WER", "U-WER", "recall", "in force", "dropped", "own dropped",
                    "mean list", title=f"per-clip lists: own terms + N distractors ({ALL_GROUPS} accent groups)")
        for r in result.context_rows:
            if r.group != ALL_GROUPS:
                continue
            d = r.to_dict()
            ctx.add_row(escape(r.condition), "-" if r.n is None else str(r.n), _fmt(d["wer"]), _fmt(d["bwer"]),
                        _fmt(d["uwer"]), _fmt(d["recall"]), _fmt(d["recall_in_force"]), _fmt(d["recall_dropped"]),
                        "-" if r.n is None else f"{r.own_terms_dropped}/{r.own_terms}", _fmt(d["mean_offered"], 1))
        Console(width=max(Console().width, 120)).print(ctx)
    for rec in result.recommendations:  # group, point and reason are user text (names from the manifest)
        console.print(f"[bold]{escape(rec.group)}[/]: {escape(rec.condition or 'none')} - {escape(rec.reason)} "
                      f"({escape(rec.criterion)})", highlight=False)
    for p in result.outcome.problems:  # rejected rows and failed clips, one line each, as 'run' prints them
        console.print(f"[yellow]{escape(str(p))}[/]", highlight=False, soft_wrap=True)
    console.print(f"[green]wrote[/] {escape(', '.join(str(p) for p in result.files.values()))}; "
                  f"run folder {escape(str(result.run_dir))}", highlight=False)
    exit_if_incomplete(result.outcome)
