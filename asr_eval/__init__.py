"""asr-eval: transcription accuracy and custom-vocabulary testing across accent groups."""

import os as _os
from pathlib import Path as _Path

__version__ = "0.1.0"


def cache_root() -> _Path:
    """asr-eval's user cache (assembled models, weight hashes, converted checkpoints, compiled kernels).

    ``~/.cache/asr-eval`` unless ``ASR_EVAL_CACHE`` names another folder; with
    ``--out``, the only place asr-eval writes. Defined here, with the
    standard library only, so that every layer (the numba kernels of the
    pure ``align`` included) reads the one definition.
    """
    return _Path(_os.environ.get("ASR_EVAL_CACHE") or _Path.home() / ".cache" / "asr-eval")
