"""``asr-eval gate``: non-inferiority rules on a comparison folder, for CI (exit 1 when a rule fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..types import AsrEvalError
from .errors import fail as _fail


def gate(
    compare_dir: Path = typer.Argument(..., help="A folder written by 'asr-eval compare'."),
    rules: Path = typer.Option(..., "--rules", help="Rules file (YAML; see docs/ci.md)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here (one test case per rule)."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Write a Markdown summary here (for a pull-request comment)."),
) -> None:
    """Check a comparison against non-inferiority rules: exit 0 when every rule passes, 1 when one fails
    (with the reason for each failing group), 2 for a bad rules file or comparison folder."""
    from ..compare import gate_folder
    from ..gate import explanation

    try:
        results = gate_folder(compare_dir, rules, junit=junit, summary=summary)
    except AsrEvalError as exc:
        raise _fail(exc)
    typer.echo(explanation(results), nl=False)
    if not all(r.passed for r in results):
        raise typer.Exit(1)
