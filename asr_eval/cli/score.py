"""``asr-eval score``: transcripts made elsewhere (a vendor's, say) scored and reported exactly like a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..types import AsrEvalError, InputError
from . import options
from .errors import fail as _fail
from .run import exit_if_incomplete, print_outcome

# hypformats.FORMATS, written out so that the CLI starts without importing the readers (a test keeps them equal)
HYP_FORMATS = ("auto", "jsonl", "csv", "tsv", "trn", "ctm", "srt", "vtt", "whisper-tsv", "txt", "aws", "google",
               "azure-batch", "azure-fast", "deepgram", "assemblyai", "revai", "nemo", "whisper-json", "whisperx")


@options.with_groups
def score(
    manifest: Path = typer.Argument(..., help="Test set with the references (any format 'run' reads; see --format)."),
    hyp: List[Path] = typer.Option(..., "--hyp", help="Transcripts made elsewhere: a file, or a folder of one file per clip. Vendor JSON (AWS, Google, Azure, Deepgram, AssemblyAI, Rev.ai), NeMo manifests, Whisper/WhisperX json/txt/srt/vtt/tsv, NIST ctm, sclite trn, or id,text JSONL/CSV; detected per file. Repeatable; the condition is the 'condition' field or the file (folder) name."),
    hyp_format: str = typer.Option("auto", "--hyp-format", help="Read every --hyp as this format instead of detecting it: " + ", ".join(HYP_FORMATS) + "."),
    hyp_match: str = typer.Option("auto", "--hyp-match", help="How a transcript finds its clip: id (utterance id or per-clip file name), stem (audio file name without folder and extension), column:NAME (a manifest column), or auto (audio names by stem, others by id, then stem)."),
    channel: Optional[int] = typer.Option(None, "--channel", min=0, help="Score this audio channel of multichannel transcripts (0 = first: Google channelTag 1, AWS ch_0, ctm A). Default: the manifest's channel column, else all channels joined in time order."),
    azure_field: str = typer.Option("display", "--azure-field", help="Azure batch transcription form to score: display (default: punctuated, numbers as digits, the form other engines write), lexical, itn or maskedITN."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    force: options.Force = False,
    test_set: options.ManifestFormat = options.ManifestFormat(),
    vocab: options.VocabFiles = options.VocabFiles(),
    baseline: Optional[str] = typer.Option(None, help="Condition to compare the others against (default 'baseline' or the first)."),
    correct: Optional[float] = typer.Option(None, help="Post-correct non-baseline hypotheses towards the vocabulary at this threshold (0-1)."),
    redaction: options.Redaction = options.Redaction(),
    normalizer: options.NormalizerChoice = options.NormalizerName.asr_eval,
    group_by: options.GroupBy = None,
    synonyms: options.Synonyms = None,
) -> None:
    """Score transcripts produced elsewhere (e.g. a vendor with and without its custom vocabulary).

    The dictionary and directory name the terms to score; nothing is decoded and
    no audio is read, so the manifest's audio paths are only names here and are
    not confined (run's --audio-root does not apply). A clip a condition has no
    transcript for is scored as an empty hypothesis and the command exits 5.
    """
    from ..evaluate import score_hypotheses
    from ..hypformats import FORMATS
    from ..hypformats.azure import FIELDS as AZURE_FIELDS
    from ..hypotheses import HypOptions

    try:
        if hyp_format not in FORMATS:
            raise InputError("--hyp-format", f"unknown format {hyp_format!r}: use one of {', '.join(FORMATS)}")
        if azure_field not in AZURE_FIELDS:
            raise InputError("--azure-field", f"unknown field {azure_field!r}: use one of {', '.join(AZURE_FIELDS)}")
        options = HypOptions(fmt=None if hyp_format == "auto" else hyp_format, match=hyp_match, channel=channel,
                             azure_field=azure_field)
        outcome = score_hypotheses(manifest, hyp, out, dictionary=vocab.dictionary, directory=vocab.directory,
                                   baseline=baseline, correct=correct, **redaction.kwargs(), command=sys.argv,
                                   force=force, manifest_options=test_set.read_options(), hyp_options=options,
                                   normalizer=normalizer.value, group_by=tuple(group_by or ()),
                                   synonyms=synonyms)
    except AsrEvalError as exc:
        raise _fail(exc)
    print_outcome(outcome)
    exit_if_incomplete(outcome)
