"""The ``asr-eval`` command line: one module per command, mounted on one typer app here.

The CLI is a thin edge over the library: options become configuration, library
errors become a one-line message and an exit code (``errors.py``), and nothing
else happens here. Options that several commands share are declared once in
``options.py``, so a flag cannot mean one thing in ``run`` and another in ``sweep``.

Exit codes: 0 ok; 1 asr-eval error; 2 bad input (file:line: problem);
3 model problem; 4 output folder locked; 5 the run finished but some clips failed;
6 an operating-system error on a path (read-only, disk full, not a folder).
"""

from __future__ import annotations

import typer

from . import compare, gate, merge, models, report, run, score, sweep, vocab
from .errors import Guarded

app = typer.Typer(
    name="asr-eval",
    help="Transcription accuracy and custom-vocabulary testing per accent group.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Guarded,  # OS errors of every command, vocab and models included: one line, exit 6
)

# Mounted in the order `asr-eval --help` lists them.
app.command("run")(run.run)
app.command("demo")(run.demo)
app.command("score")(score.score)
app.command("report")(report.report)
app.command("merge")(merge.merge)
app.command("sweep")(sweep.sweep)
app.command("compare")(compare.compare)
app.command("gate")(gate.gate)
app.add_typer(vocab.app, name="vocab", help="Tools for vocabulary authors: check, budget, coverage, confusable, history, probe, export.")
app.add_typer(models.app, name="models", help="List, convert (CTranslate2 -> openai-whisper) and locate Whisper models, offline.")


def main() -> None:
    """The ``asr-eval`` console script (``[project.scripts]`` in pyproject.toml)."""
    app()
