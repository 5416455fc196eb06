"""What every CLI module shares: turning an asr-eval error into a message and an exit code."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

stderr = Console(stderr=True)


def fail(exc: Exception) -> typer.Exit:
    """Print ``error: <message>`` (user text escaped, so '[ray]' or '<tag>' survive) and pick the exit code."""
    stderr.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    return typer.Exit(getattr(exc, "exit_code", 1))
