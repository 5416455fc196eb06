"""Tools for vocabulary authors: lint, prompt budget, coverage, confusability,
term history, probe audio and vendor export (``asr-eval vocab ...``).

Pure computation lives in ``lint``, ``budget``, ``coverage``, ``confusable``,
``history`` and ``engines``; reading files, tokenizers, espeak-ng and TTS lives
in ``sources`` and ``probe``; the typer commands are in ``asr_eval.cli_vocab``.
"""
