"""``asr-eval compare``: runs B, C... against run A on the clips they share, with the run report's statistics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from ..types import AsrEvalError
from . import options
from .errors import fail as _fail

console = Console(stderr=True)


@options.with_groups
def compare(
    runs: List[Path] = typer.Argument(..., help="Run or score folders: A, then B (C...), each compared with A."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the comparison."),
    pair: List[str] = typer.Option([], "--pair", metavar="A:COND=B:COND", help="Compare these two conditions (repeatable); by default conditions are matched by name."),
    group_by: str = typer.Option("accent_group", "--group-by", metavar="COLUMN", help="Group the per-group statistics by this column of the runs' utterance rows."),
    force: bool = typer.Option(False, "--force", help="Compare even when the reference text, normaliser or manifest differ (recorded in the report)."),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Gate the comparison with these rules (YAML; see docs/ci.md): exit 1 when one fails."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="With --rules: write JUnit XML here (one test case per rule)."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="With --rules: write a Markdown summary here (for a pull-request comment)."),
    redaction: options.Redaction = options.Redaction(),
    n_boot: int = typer.Option(2000, help="Bootstrap resamples for confidence intervals.", min=100),
    seed: int = typer.Option(0, help="Bootstrap seed."),
) -> None:
    """Paired comparison of two or more runs: per group, with speaker-bootstrap intervals, paired tests, Holm,
    fairness, term gains and losses and the clips that changed most; writes CSV, JSON, Markdown and HTML."""
    from ..compare import compare_runs
    from ..gate import explanation

    if (junit or summary) and rules is None:
        raise _fail(AsrEvalError("--junit and --summary need --rules"))
    try:
        outcome = compare_runs(runs, out, pairs=pair, group_by=group_by, force=force, rules=rules, junit=junit,
                               summary=summary, n_boot=n_boot, seed=seed, **redaction.kwargs(), command=sys.argv)
    except AsrEvalError as exc:
        raise _fail(exc)
    for d in outcome.differences:
        console.print(f"[yellow]warning:[/] compared with --force although {d}", highlight=False, soft_wrap=True)
    for label, n in outcome.only.items():
        if n:
            console.print(f"{n} clips only in run {label} (listed in {out / f'clips_only_in_{label}.txt'})", highlight=False)
    console.print(f"compared {outcome.pairs} condition pair{'s' if outcome.pairs != 1 else ''}; wrote {out}/compare.html, compare.md, compare.json", highlight=False)
    if outcome.gate is not None:
        typer.echo(explanation(outcome.gate), nl=False)
        if not outcome.gate_passed:
            raise typer.Exit(1)
