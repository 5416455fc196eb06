"""Errors become a one-line message and an exit code here, at the edge, and nowhere else.

The library raises typed errors that carry their exit code (``InputError`` 2,
``ModelError`` 3, ``RunLockedError`` 4, ``OutputError`` 6, ...); every command
catches them and hands them to ``fail``. What a command does not catch is
caught by ``Guarded``, the app's command group: an ``OSError`` from anywhere
(a read-only ``--csv`` path, an unreadable model folder) prints
``error: <path>: <problem>`` and exits 6 instead of a traceback, and a Python
warning prints as one ``warning:`` line.
"""

from __future__ import annotations

import errno
import warnings
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..types import AsrEvalError

stderr = Console(stderr=True)

OS_ERROR_EXIT = 6


def describe(exc: BaseException) -> str:
    """The one line an error prints: its own message, or for an OSError ``<path>: <problem>``."""
    if isinstance(exc, OSError) and not isinstance(exc, AsrEvalError):
        problem = exc.strerror or str(exc)
        return f"{exc.filename}: {problem}" if exc.filename is not None else problem
    return str(exc)


def fail(exc: Exception) -> typer.Exit:
    """Print ``error: <message>`` (user text escaped, so '[ray]' or '<tag>' survive) and pick the exit code."""
    stderr.print(f"[bold red]error:[/] {escape(describe(exc))}", highlight=False, soft_wrap=True)  # one line, however long
    if isinstance(exc, OSError) and not isinstance(exc, AsrEvalError):
        return typer.Exit(OS_ERROR_EXIT)
    return typer.Exit(getattr(exc, "exit_code", 1))


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)


class Guarded(TyperGroup):
    """The app's command group: no command ends in a traceback for an OS error, and warnings are one line.

    ``asr-eval ... | head`` closing the pipe (EPIPE with no path) is left to
    click, which exits quietly.
    """

    def invoke(self, ctx: Any) -> Any:
        shown = warnings.showwarning
        warnings.showwarning = _show_warning
        try:
            return super().invoke(ctx)
        except AsrEvalError as exc:
            raise fail(exc) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE and exc.filename is None:
                raise
            raise fail(exc) from None
        finally:
            warnings.showwarning = shown
