"""ASR engines behind one small protocol (see ``base.Transcriber``).

Whisper's decoding rules are written once (``whisper_rules``) and the host's
threads and devices once (``host``), so the engine modules hold only what
differs between engines. An engine module is imported only when
``load_backend`` asks for it, so nothing else pays for torch or CTranslate2.
"""

from __future__ import annotations

from .base import Transcriber

BACKENDS = ("faster-whisper", "openai-whisper")


def load_backend(name: str, **kwargs) -> Transcriber:
    """Instantiate a backend by name; heavy imports happen only here."""
    if name == "faster-whisper":
        from .faster_whisper import FasterWhisperBackend

        return FasterWhisperBackend(**kwargs)
    if name == "openai-whisper":
        try:
            from .openai_whisper import OpenAIWhisperBackend
        except ImportError as exc:
            from ..types import ModelError

            raise ModelError(
                f"backend 'openai-whisper' needs the optional extra: pip install torch==2.13.0 && "
                f"pip install -e '.[openai]' ({exc})"
            ) from None
        return OpenAIWhisperBackend(**kwargs)
    from ..types import AsrEvalError

    raise AsrEvalError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
