"""Fixtures of the fault suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory) -> Path:
    """An asr-eval cache folder holding numba's compiled kernels and matplotlib's font cache.

    Each case copies it into its own empty cache folder (``harness.cli(cache_seed=...)``),
    so it does not compile and scan fonts again; ``test_no_jit_cache_under_the_package``
    and ``test_nothing_under_home`` start from an empty one.
    """
    from . import corpus as C
    from .harness import cli

    tmp = tmp_path_factory.mktemp("warm-cache")
    m, h = C.score_inputs(tmp)
    res = cli(tmp, ["score", m, "--hyp", h, "--out", tmp / "out"], out=tmp / "out", cache=tmp / "cache")
    assert res.rc == 0, res.describe()
    return tmp / "cache"
