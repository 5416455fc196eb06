"""Fixtures of the fault suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mpl_home(tmp_path_factory) -> Path:
    """A HOME where matplotlib has already built its font cache, copied into each case's own HOME.

    Cases then see only real leaks; ``test_nothing_under_home`` checks a fresh HOME.
    """
    import os
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("mpl-home")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)
    subprocess.run([sys.executable, "-c", "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"],
                   env=env, check=True, capture_output=True, timeout=300)
    return home
