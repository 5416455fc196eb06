"""``asr-eval merge``: shard run folders (the output of a job array) become one run, scored as one.

Options -> ``merge.merge_runs``; errors -> exit codes (1 asr-eval error, 2 bad
input, 4 output folder locked), like every other command.
"""

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
def merge(
    shard_dirs: List[Path] = typer.Argument(..., help="Run folders written by 'asr-eval run --shard i/n' (all n of them)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the merged run (scored and reported as one run)."),
    force: options.Force = False,
    manifest: Optional[Path] = typer.Option(None, help="The manifest, if it moved since the shards ran (its sha256 must match)."),
    test_set: options.ManifestFormat = options.ManifestFormat(),
    reports: bool = typer.Option(True, help="Write the reports after merging."),
    redaction: options.Redaction = options.Redaction(),
    normalizer: Optional[options.NormalizerName] = typer.Option(
        None, "--normalizer", case_sensitive=False,
        help="Re-score with this normaliser (asr-eval | whisper | none); default: the one the shards were scored with."),
    group_by: options.GroupBy = None,
) -> None:
    """Combine shard run folders into one run: checks every clip x condition is present exactly once, then re-scores."""
    from ..merge import merge_runs

    try:
        outcome = merge_runs(shard_dirs, out, manifest=manifest, reports=reports, **redaction.kwargs(),
                             command=sys.argv, force=force, normalizer=normalizer.value if normalizer else None,
                             group_by=tuple(group_by or ()),
                             # read as the shards read it (run.json) unless the format options are given here
                             manifest_options=None if test_set == options.ManifestFormat() else test_set.read_options())
    except AsrEvalError as exc:
        raise _fail(exc)
    console.print(
        f"[green]merged[/] {outcome.shards} shards: {outcome.scored}/{outcome.utterances} clips scored, "
        f"{outcome.failed} failed in their shard -> {outcome.out_dir}", highlight=False,
    )
    for name, path in outcome.reports.items():
        console.print(f"wrote {path}", highlight=False)
    if outcome.failed or outcome.rejected:
        raise typer.Exit(5)  # as 'run': finished, but some rows were rejected or clips failed in their shard
