"""Errors become a one-line message and an exit code here, at the edge, and nowhere else.

The library raises typed errors that carry their exit code (``InputError`` 2,
``ModelError`` 3, ...); every command catches them and hands them to ``fail``.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

stderr = Console(stderr=True)


def fail(exc: Exception) -> typer.Exit:
    """Print ``error: <message>`` (user text escaped, so '[ray]' or '<tag>' survive) and pick the exit code."""
    stderr.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    return typer.Exit(getattr(exc, "exit_code", 1))
