"""Reports of a run folder: summary.csv, comparison.csv, harms.csv, report.md, report.json, report.html.

``write_reports`` is the one entry point the pipeline and the CLI call. It reads
only the run folder (never the model), builds one report model
(``model.build_report``) and renders it in every requested format, so every
format carries the same numbers. The folder's rows are streamed clip by clip
(``runfolder.iter_clips``), never loaded whole, so a report over a million
clips needs no more memory than one over a thousand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

from ..files import RunLock, listed_outputs, os_errors, record_outputs, write_atomic
from ..runfolder import NotInClipOrder, RunData, directory_terms, iter_clips, load_run, open_run, read_run_info
from ..grouping import Grouping, check_columns, parse_group_by
from .model import build_report
from .harms import harms_csv
from .tables import comparison_csv, group_key, summary_csv

FORMATS = ("md", "html", "json")


__all__ = ["FORMATS", "RunData", "build_report", "load_run", "run_groupings", "write_reports"]


def file_stem(name: str) -> str:
    """A grouping's name as a file-name part ('accent_group+gender' stays; anything odd becomes '_')."""
    return "".join(ch if ch.isalnum() or ch in "+-_" else "_" for ch in name)


def run_groupings(run: RunData, group_by: Sequence[str] | None) -> tuple[Grouping, ...]:
    """The groupings a report of ``run`` uses: ``group_by`` if given, else the run's own; checked against its columns."""
    if not group_by:
        stored = run.run.get("group_by")
        group_by = [str(g) for g in stored] if isinstance(stored, list) and stored else None
    groupings = parse_group_by(group_by)
    check_columns(groupings, run.metadata_columns, f"run folder {run.path} (utterances.csv, metadata.csv)")
    return groupings


def write_reports(
    run_dir: Path,
    *,
    redact: bool = False,
    redact_names: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
    formats: Sequence[str] = FORMATS,
    group_by: Sequence[str] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the reports into ``run_dir``; returns file name -> path.

    ``redact`` masks emails, phone numbers and long digit strings in every
    excerpt; ``redact_names`` also masks the directory's names (and implies
    ``redact``). Metrics are unaffected. summary.csv, comparison.csv and harms.csv are
    always written; ``formats`` picks among md, html, json.

    ``group_by`` (``--group-by`` values) picks the groupings; by default the
    run's own (run.json's ``group_by``, else the accent group). A column the
    run folder does not hold is an ``InputError`` naming the columns it does
    hold. summary.csv, comparison.csv and harms.csv hold the first grouping;
    each further one adds summary_by_<name>.csv, comparison_by_<name>.csv and
    harms_by_<name>.csv. ``on_note`` hears the grouping warnings (clips with no
    value, grouped as 'unknown').

    The folder is locked while the reports are written (unless this process
    holds it already), and the files are added to its index.
    """
    run_dir = Path(run_dir)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report formats {unknown}; choose from {list(FORMATS)}")
    if RunLock.held(run_dir):  # inside a run, merge or score, which hold the folder already
        lock = nullcontext()
    else:
        read_run_info(run_dir)  # a folder without run.json is refused before the lock would create it
        lock = RunLock(run_dir, force=True)  # a folder with run.json is a run folder, index or not
    with lock:
        run = open_run(run_dir)
        groupings = run_groupings(run, group_by)
        try:
            model = build_report(run, redact=redact, redact_names=redact_names, n_boot=n_boot, seed=seed,
                                 clips=lambda: iter_clips(run_dir),
                                 directory_terms=lambda: directory_terms(run_dir), groupings=groupings)
        except NotInClipOrder:  # a folder edited by hand: read it whole, as before streaming
            model = build_report(load_run(run_dir), redact=redact, redact_names=redact_names, n_boot=n_boot, seed=seed,
                                 groupings=groupings)
        for note in model["grouping_notes"]:
            if on_note is not None:
                on_note(note)
        written: dict[str, Path] = {}

        def put(name: str, text: str) -> None:
            path = run_dir / name
            write_atomic(path, text)
            written[name] = path

        put("summary.csv", summary_csv(model))
        put("comparison.csv", comparison_csv(model))
        put("harms.csv", harms_csv(model, group_key(model)))
        for sec in model["groupings"]:
            put(f"summary_by_{file_stem(sec['name'])}.csv", summary_csv(sec))
            put(f"comparison_by_{file_stem(sec['name'])}.csv", comparison_csv(sec))
            put(f"harms_by_{file_stem(sec['name'])}.csv", harms_csv(sec, sec["key"]))
        if "md" in formats:
            from .markdown import render_markdown

            put("report.md", render_markdown(model))
        if "json" in formats:
            from .jsonout import render_json

            put("report.json", render_json(model))
        if "html" in formats:
            from .html import render_html

            put("report.html", render_html(model))
        # A grouping an earlier report showed and this one does not: its tables go (only those asr-eval listed).
        stale = sorted(rel for rel in listed_outputs(run_dir) - set(written) if _GROUPING_FILE.fullmatch(rel))
        for rel in stale:
            with os_errors(run_dir / rel):
                (run_dir / rel).unlink(missing_ok=True)
        record_outputs(run_dir, written, removed=stale)
    return written


_GROUPING_FILE = re.compile(r"(summary|comparison|harms)_by_[^/]+\.csv")
