"""Shared test helpers: paths and a tiny synthetic audio writer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAA = SHARED / "data" / "speech-accent-archive"
DEMO = ROOT / "audio_fixtures" / "demo"


def tone(seconds: float = 1.0, sr: int = 16000, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    mono = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.fixture
def root() -> Path:
    return ROOT


def require_saa() -> Path:
    if not (SAA / "manifest.csv").exists():
        pytest.skip("shared Speech Accent Archive not present at ../shared")
    return SAA


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed")
    return path
