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
    manifest: Path = typer.Argument(..., help="Manifest with the references (same format as for 'run')."),
    hyp: List[Path] = typer.Option(..., "--hyp", help="Transcripts made elsewhere: JSONL (id,text[,condition]), CSV, or sclite trn. Repeatable; the condition is the 'condition' column or the file name."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    force: options.Force = False,
    vocab: options.VocabFiles = options.VocabFiles(),
    baseline: Optional[str] = typer.Option(None, help="Condition to compare the others against (default 'baseline' or the first)."),
    correct: Optional[float] = typer.Option(None, help="Post-correct non-baseline hypotheses towards the vocabulary at this threshold (0-1)."),
    redaction: options.Redaction = options.Redaction(),
    normalizer: options.NormalizerChoice = options.NormalizerName.asr_eval,
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
                                   force=force, normalizer=normalizer.value)
    except AsrEvalError as exc:
        raise _fail(exc)
    print_outcome(outcome)
    exit_if_incomplete(outcome)
