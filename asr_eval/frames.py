"""A run folder as pandas DataFrames, for notebooks and ad-hoc analysis.

The CSV files stay the contract (any tool reads them); the Parquet copies
written next to them keep column types (integers stay integers, booleans stay
booleans), so an analyst's ``groupby(...).sum()`` gives the same counts as the
report without re-parsing strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .types import InputError

TABLES = ("utterances", "terms")


def to_frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=list(columns))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet via a temporary file and rename, like every other output."""
    import os

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    frame.to_parquet(tmp, engine="pyarrow", index=False)
    os.replace(tmp, path)


def read_run(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """``{"utterances": ..., "terms": ...}`` (Parquet when present, else the CSVs)."""
    run_dir = Path(run_dir)
    out: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        pq, csv = run_dir / f"{name}.parquet", run_dir / f"{name}.csv"
        if pq.exists():
            out[name] = pd.read_parquet(pq, engine="pyarrow")
        elif csv.exists():
            out[name] = pd.read_csv(csv, keep_default_na=False)
        else:
            raise InputError(str(csv), f"not a run folder: no {name}.parquet or {name}.csv")
    return out
