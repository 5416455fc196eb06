"""Vocabularies: loading a company dictionary or a people directory, and the tools for their authors.

``load`` reads the files into ``Vocabulary`` values. Pure analyses live in
``lint``, ``budget``, ``coverage``, ``confusable``, ``history`` and
``engines``; reading files, tokenizers, espeak-ng and TTS lives in ``sources``
and ``probe``; the typer commands are in ``asr_eval.cli.vocab``.
"""

__all__ = ["load_dictionary", "load_directory"]


def __getattr__(name: str):
    """The loaders, imported on first use: the pure analyses beside them must not pull file I/O in with them."""
    if name in __all__:
        from . import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
