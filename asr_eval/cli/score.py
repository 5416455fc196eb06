"""``asr-eval score``: transcripts made elsewhere (a vendor's, say) scored and reported exactly like a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..types import AsrEvalError
from . import options
from .errors import fail as _fail
from .run import exit_if_incomplete, print_outcome


@options.with_groups
def score(
    manifest: Path = typer.Argument(..., help="Test set with the references (any format 'run' reads; see --format)."),
    hyp: List[Path] = typer.Option(..., "--hyp", help="Transcripts made elsewhere: JSONL (id,text[,condition]), CSV, or sclite trn. Repeatable; the condition is the 'condition' column or the file name."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    force: options.Force = False,
    test_set: options.ManifestFormat = options.ManifestFormat(),
    vocab: options.VocabFiles = options.VocabFiles(),
    baseline: Optional[str] = typer.Option(None, help="Condition to compare the others against (default 'baseline' or the first)."),
    correct: Optional[float] = typer.Option(None, help="Post-correct non-baseline hypotheses towards the vocabulary at this threshold (0-1)."),
    redaction: options.Redaction = options.Redaction(),
) -> None:
    """Score transcripts produced elsewhere (e.g. a vendor with and without its custom vocabulary).

    The dictionary and directory name the terms to score; nothing is decoded and
    no audio is read, so the manifest's audio paths are only names here and are
    not confined (run's --audio-root does not apply). A clip a condition has no
    transcript for is scored as an empty hypothesis and the command exits 5.
    """
    from ..evaluate import score_hypotheses

    try:
        outcome = score_hypotheses(manifest, hyp, out, dictionary=vocab.dictionary, directory=vocab.directory,
                                   baseline=baseline, correct=correct, **redaction.kwargs(), command=sys.argv,
                                   force=force, manifest_options=test_set.read_options())
    except AsrEvalError as exc:
        raise _fail(exc)
    print_outcome(outcome)
    exit_if_incomplete(outcome)
