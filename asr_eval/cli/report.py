"""``asr-eval report``: rewrite a run folder's reports, e.g. with redaction or more bootstrap resamples, without re-scoring."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ..types import AsrEvalError
from . import options
from .errors import fail as _fail

console = Console(stderr=True)


@options.with_groups
def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by 'asr-eval run', 'score' or 'merge'."),
    redaction: options.Redaction = options.Redaction(),
    n_boot: int = typer.Option(2000, help="Bootstrap resamples for confidence intervals."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    group_by: options.GroupBy = None,
) -> None:
    """(Re)write summary.csv, comparison.csv, harms.csv, report.md/.json/.html from a run folder.

    --group-by regroups a finished run by any column it kept (metadata.csv), without the manifest.
    """
    from rich.markup import escape

    from ..report import write_reports

    try:
        paths = write_reports(run_dir, **redaction.kwargs(), n_boot=n_boot, seed=seed, group_by=group_by or None,
                              on_note=lambda n: console.print(f"[yellow]{escape(n)}[/]", highlight=False))
    except AsrEvalError as exc:
        raise _fail(exc)
    for name, p in paths.items():
        console.print(f"wrote {p}", highlight=False)
