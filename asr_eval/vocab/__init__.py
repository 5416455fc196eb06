"""Vocabularies: loading a company dictionary or a people directory, and the tools for their authors.

``load`` reads the files into ``Vocabulary`` values. Pure analyses live in
``lint``, ``budget``, ``coverage``, ``confusable``, ``history`` and
``engines``; reading files, tokenizers, espeak-ng and TTS lives in ``sources``
and ``probe``; the typer commands are in ``asr_eval.cli.vocab``.
"""

from .load import load_dictionary, load_directory

__all__ = ["load_dictionary", "load_directory"]
