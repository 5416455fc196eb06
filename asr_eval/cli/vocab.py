"""`asr-eval vocab ...`: tools for vocabulary authors (a typer sub-app, mounted as ``vocab``).

Every command prints a rich table, or JSON with ``--json``, and writes its rows
to ``--csv PATH``. Errors in input files become exit code 2 (InputError), a
missing model 3; ``check`` and ``export`` exit 1 when they find errors, so they
can gate a CI pipeline.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..types import AsrEvalError, InputError, Vocabulary
from . import options
from .errors import fail as _fail

app = typer.Typer(help="Tools for vocabulary authors: lint, budget, coverage, confusable terms, history, probe audio, export.", no_args_is_help=True)

DictArg = typer.Argument(None, help="Company dictionary (CSV, TXT or YAML).", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")
CsvOpt = typer.Option(None, "--csv", help="Also write the rows to this CSV file.")
ModelOpt = typer.Option("tiny.en", "--model", "-m", help="Model whose tokenizer counts prompt tokens (name or CTranslate2 folder).")


def _console() -> Console:
    return Console(soft_wrap=False, width=max(Console().width, 120))


def _emit(payload: dict, rows: Sequence[dict], as_json: bool, csv_path: Optional[Path], show: Callable[[Console], None]) -> None:
    if csv_path is not None:
        _write_csv(csv_path, rows)
    if as_json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        show(_console())


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    fields: list[str] = []
    for r in rows:
        for k in r:
            if k not in fields:
                fields.append(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v) for k, v in r.items()})


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 term', '2 terms': every count this sub-app prints agrees with its noun."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _load(dictionary: Optional[Path], directory: Optional[Path]) -> list[Vocabulary]:
    from ..vocab.sources import load_vocabularies

    return load_vocabularies(dictionary, directory)


def _terms(dictionary: Optional[Path], directory: Optional[Path]) -> list:
    """Every term of both files, dictionary first, as a run offers them."""
    return [t for v in _load(dictionary, directory) for t in v.terms]


def _one_grouping(group_by: Optional[List[str]]):
    """The one grouping a vocab table shows (its columns are the groups): the accent group unless --group-by says."""
    from ..grouping import parse_group_by
    from ..types import InputError

    groupings = parse_group_by(group_by)
    if len(groupings) > 1:
        raise InputError("--group-by", "vocab commands show one grouping (its groups are the table's columns); "
                         "for an intersection write 'a,b'")
    return groupings[0]


def _coverage(terms: list, manifests: List[Path], min_missing: int = 2, on_problem=None, read_options=None,
              group_by: Optional[List[str]] = None):
    """How often each term occurs in the manifests' references, normalised as the scorer does, per group."""
    from ..grouping import check_columns, label_of, metadata_columns
    from ..vocab.coverage import coverage
    from ..vocab.sources import load_references, make_words, word_frequency

    grouping = _one_grouping(group_by)
    words, version = make_words(terms)
    refs = load_references(manifests, on_problem=on_problem, options=read_options)
    check_columns([grouping], metadata_columns(r.meta for r in refs), "the manifests")

    def group(r) -> str:
        return label_of(grouping, {"accent_group": r.accent_group, "speaker": r.speaker}, r.meta)

    return coverage(terms, [(r.id, r.text, r.speaker, group(r)) for r in refs], words, word_frequency,
                    version, min_missing)


# --------------------------------------------------------------------------- check


@app.command()
def check(
    dictionary: Optional[Path] = DictArg,
    directory: options.Directory = None,
    engine: List[str] = typer.Option(
        [], "--engine", "-e", help="Check this engine's documented limits (repeatable): whisper, deepgram, assemblyai, azure, google, aws, or all. Default: all."
    ),
    model: str = ModelOpt,
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """Lint a vocabulary: duplicates, near-duplicates, unspeakable characters, digits, alias mismatches, engine limits.

    Exit code 1 when any finding is an error (use it to gate CI), 0 otherwise.
    """
    from ..vocab import engines as eng
    from ..vocab.lint import lint, make_report, unreadable_report, without_duplicates
    from ..vocab.sources import load_for_lint, load_limits, try_token_counter

    chosen = list(eng.ENGINES) if not engine or "all" in engine else engine
    unknown = [e for e in chosen if e not in eng.ENGINES]
    if unknown:
        raise typer.BadParameter(f"unknown {'engine' if len(unknown) == 1 else 'engines'} {', '.join(unknown)}; choose from {', '.join(eng.ENGINES)} or all", param_hint="--engine")
    if dictionary is None and directory is None:
        raise typer.BadParameter("give a dictionary and/or --directory")
    files = [(path, kind) for path, kind in ((dictionary, "dictionary"), (directory, "directory")) if path is not None]
    vocabs, findings = [], []
    try:
        for path, kind in files:
            v, f = load_for_lint(path, kind)
            vocabs.append(v)
            findings.extend(f)
    except InputError as exc:  # nothing to lint: the JSON document says why, like any other finding
        report = unreadable_report(exc, [str(p) for p, _ in files], chosen)
        if as_json or csv_path is not None:
            _emit(report.to_dict(), [f.to_dict() for f in report.findings], as_json, csv_path, lambda c: None)
        raise _fail(exc)
    try:
        findings.extend(lint(vocabs))
        counter = try_token_counter(model) if {"whisper", "deepgram"} & set(chosen) else None
        limits = load_limits()
        items = eng.located([without_duplicates(v) for v in vocabs])  # what each engine would get once they are fixed
        for e in chosen:
            findings.extend(eng.plan(e, items, limits, counter).findings)
        report = make_report(vocabs, findings, chosen)
    except AsrEvalError as exc:
        raise _fail(exc)

    def show(c: Console) -> None:
        title = f"vocab check: {', '.join(report.files)} ({_count(report.n_terms, 'term')}; engines: {', '.join(report.engines)})"
        t = Table(title=title)
        for col in ("severity", "code", "where", "term", "message"):
            t.add_column(col, no_wrap=col in ("severity", "code", "where"), overflow="fold")
        for f in report.findings:
            style = "red" if f.severity == "error" else "yellow"
            where = f"{Path(f.path).name}:{f.line}" if f.line is not None else Path(f.path.split(", ")[0]).name
            t.add_row(f"[{style}]{f.severity}[/]", f"{f.engine}/{f.code}" if f.engine else f.code, escape(where), escape(f.term or ""), escape(f.message))
        if report.findings:
            c.print(t)
        else:
            c.print(f"{escape(title)}: no findings")
        verdict = "[red]FAIL[/]" if report.errors else "[green]OK[/]"
        c.print(f"{verdict}: {_count(report.errors, 'error')}, {_count(report.warnings, 'warning')} in {_count(report.n_terms, 'term')}")

    _emit(report.to_dict(), [f.to_dict() for f in report.findings], as_json, csv_path, show)
    raise typer.Exit(report.exit_code)


# --------------------------------------------------------------------------- budget


@app.command()
def budget(
    dictionary: Optional[Path] = DictArg,
    directory: options.Directory = None,
    model: str = ModelOpt,
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """Token cost of every term with the model's tokenizer, and what a run keeps or drops from the prompt / hotwords."""
    from ..vocab.budget import budget_report
    from ..vocab.sources import prompt_budget, token_counter, word_frequency

    try:
        vocabs = _load(dictionary, directory)
        report = budget_report(vocabs, token_counter(model), prompt_budget(), word_frequency, model)
    except AsrEvalError as exc:
        raise _fail(exc)

    def show(c: Console) -> None:
        p = Table(title=f"Prompt / hotwords budget ({report.model}, {report.budget} tokens; all terms joined: {report.total_tokens} tokens)")
        for col in ("condition", "terms kept", "dropped", "tokens used", "dropped terms"):
            p.add_column(col, overflow="fold")
        for plan in report.plans:
            p.add_row(plan.condition, str(len(plan.terms_in_force)), str(len(plan.terms_dropped)), f"{plan.tokens}/{plan.budget}", escape(", ".join(plan.terms_dropped)))
        c.print(p)
        t = Table(title="Per term, in budget order (priority, then file order)")
        for col in ("#", "term", "source", "prio", "tokens", "+tokens", "rarest word zipf", "kept", "suggestion"):
            t.add_column(col, overflow="fold")
        for r in report.terms:
            t.add_row(str(r.rank), escape(r.display), r.source, str(r.priority), str(r.tokens), str(r.marginal), f"{r.min_zipf:.1f}", "yes" if r.kept else "[red]no[/]", r.suggestion)
        c.print(t)

    _emit(report.to_dict(), [r.to_dict() for r in report.terms], as_json, csv_path, show)


# --------------------------------------------------------------------------- coverage


@app.command()
@options.with_groups
def coverage(
    dictionary: Optional[Path] = DictArg,
    manifests: List[Path] = typer.Argument(..., help="One or more manifests (CSV or JSONL with audio,text,speaker,accent_group)."),
    directory: options.Directory = None,
    test_set: options.ManifestFormat = options.ManifestFormat(),
    min_missing: int = typer.Option(2, help="Report capitalised words missing from the vocabulary seen at least this often."),
    by_accent: Optional[bool] = typer.Option(None, "--by-accent/--no-by-accent", help="One column per accent group (or --group-by group; default: when there are at most 6)."),
    group_by: options.GroupBy = None,
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """How often each term occurs in the reference transcripts, per accent group (or --group-by); untested terms; names missing from the vocabulary."""
    try:
        terms = _terms(dictionary, directory)
        noun = _one_grouping(group_by).noun
        report = _coverage(terms, manifests, min_missing,
                           on_problem=lambda p: print(f"warning: {p}", file=sys.stderr), read_options=test_set.read_options(),
                           group_by=group_by)
    except AsrEvalError as exc:
        raise _fail(exc)

    def show(c: Console) -> None:
        groups = report.accent_groups
        wide = by_accent if by_accent is not None else len(groups) <= 6
        t = Table(title=f"Term coverage in {_count(report.n_utterances, 'reference transcript')}, {_count(len(groups), noun if noun.endswith('group') else noun + ' group')} (normaliser {report.normalizer})")
        cols = ("term", "source", "occurrences", "clips", "speakers", *(groups if wide else ("groups with it", "fewest in a group")))
        for col in cols:
            t.add_column(col, no_wrap=col == "term", overflow="fold")
        for r in report.terms:
            name = f"[red]{escape(r.display)}[/]" if r.occurrences == 0 else escape(r.display)
            counts = [r.by_accent.get(a, 0) for a in groups]
            extra = [str(n) for n in counts] if wide else [f"{sum(1 for n in counts if n)}/{len(groups)}", str(min(counts, default=0))]
            t.add_row(name, r.source, str(r.occurrences), str(r.utterances), str(r.speakers), *extra)
        c.print(t)
        untested = report.untested
        c.print(f"{len(untested)} of {len(report.terms)} terms have no test audio" + (": " + ", ".join(u.display for u in untested) if untested else ""))
        if report.missing:
            m = Table(title="Capitalised words / names in references but not in the vocabulary")
            for col in ("text", "occurrences", "clips", "example"):
                m.add_column(col, overflow="fold")
            for cand in report.missing[:30]:
                m.add_row(escape(cand.text), str(cand.occurrences), str(cand.utterances), escape(cand.example[:100]))
            c.print(m)
        else:
            c.print("No frequent capitalised word in the references is missing from the vocabulary.")

    rows = [{**{k: v for k, v in r.to_dict().items() if k != "by_accent"}, **{f"accent:{a}": n for a, n in r.by_accent.items()}} for r in report.terms]
    _emit(report.to_dict(), rows, as_json, csv_path, show)


# --------------------------------------------------------------------------- confusable


@app.command()
def confusable(
    dictionary: Optional[Path] = DictArg,
    directory: options.Directory = None,
    words: int = typer.Option(30000, help="Compare terms with this many most frequent English words (wordfreq)."),
    threshold: float = typer.Option(0.75, help="Minimum phonetic similarity (0-1) to report."),
    ipa: bool = typer.Option(True, help="Use espeak-ng IPA as well as Double Metaphone (needs espeak-ng)."),
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """Pairs of terms that sound alike, and terms that sound like everyday words (false-insertion risks), ranked by risk."""
    from ..vocab.confusable import confusable as compute
    from ..vocab.sources import (
        common_words,
        espeak_available,
        espeak_phonemes,
        metaphone_encoder,
        word_frequency,
    )

    try:
        terms = _terms(dictionary, directory)
        phon = espeak_phonemes if ipa and espeak_available() else None
        report = compute(terms, metaphone_encoder(), common_words(words), word_frequency, phon, threshold, threshold)
    except AsrEvalError as exc:
        raise _fail(exc)

    def show(c: Console) -> None:
        how = "espeak-ng IPA + Double Metaphone" if report.ipa else "Double Metaphone only (espeak-ng not found)"
        t = Table(title=f"Confusable terms ({_count(report.n_terms, 'term')}, {_count(report.common_words, 'common word')}; {how})")
        for col in ("risk", "kind", "term", "sounds like", "IPA", "metaphone", "note"):
            t.add_column(col, overflow="fold")
        for p in report.pairs:
            t.add_row(f"{p.risk:.2f}", p.kind, escape(p.a), escape(p.b), f"{p.a_ipa} / {p.b_ipa}" if p.a_ipa else "", f"{p.a_metaphone} / {p.b_metaphone}", p.note)
        c.print(t)
        if not report.pairs:
            c.print("No risky pair found.")

    _emit(report.to_dict(), [p.to_dict() for p in report.pairs], as_json, csv_path, show)


# --------------------------------------------------------------------------- history


@app.command()
def history(
    run_dir: Path = typer.Argument(..., help="A run folder written by `asr-eval run` (reads its terms.csv)."),
    baseline: str = typer.Option("baseline", help="Condition the others are compared with."),
    by_accent: bool = typer.Option(True, help="Show a row per accent group (or --group-by group) as well as all groups together."),
    group_by: options.GroupBy = None,
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """Per-term recall and false insertions under each condition and accent group (or --group-by), and whether biasing helped or hurt."""
    from ..vocab.history import ALL
    from ..vocab.history import history as compute
    from ..vocab.sources import read_term_events

    try:
        grouping = _one_grouping(group_by)
        events = read_term_events(run_dir)
        if group_by:
            events = _regroup(events, Path(run_dir), grouping)
        report = compute(events, baseline)
    except AsrEvalError as exc:
        raise _fail(exc)
    gcol = grouping.noun

    def show(c: Console) -> None:
        t = Table(title=f"Term history: {run_dir} (baseline: {report.baseline or 'none'})")
        for col in ("term", "condition", gcol, "occ.", "hits", "exact", "partial", "misses", "recall", "Δ recall", "false ins.", "Δ FI", "in force", "verdict"):
            t.add_column(col, no_wrap=col in ("term", "condition", gcol, "verdict"), overflow="fold")
        for r in report.rows:
            if not by_accent and r.accent_group != ALL:
                continue
            tl = r.tally
            colour = {"hurts": "red", "helps": "green", "mixed": "yellow"}.get(r.verdict)
            verdict = f"[{colour}]{r.verdict}[/]" if colour else r.verdict
            t.add_row(escape(r.term), escape(r.condition), escape(r.accent_group), str(tl.occurrences), str(tl.hits), str(tl.exact), str(tl.partial), str(tl.misses), _fmt(tl.recall),
                      _fmt(r.recall_delta), str(tl.false_insertions), _fmt(r.fi_delta), str(tl.in_force), verdict)
        c.print(t)
        if report.skipped:
            c.print(f"[yellow]{_count(report.skipped, 'row')} with an unknown outcome {'was' if report.skipped == 1 else 'were'} skipped[/]")

    _emit(report.to_dict(), [r.to_dict() for r in report.rows], as_json, csv_path, show)


# --------------------------------------------------------------------------- probe


@app.command()
def probe(
    dictionary: Optional[Path] = DictArg,
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the audio and manifest.csv."),
    directory: options.Directory = None,
    manifest: List[Path] = typer.Option([], "--manifest", help="Existing test manifests: only terms they never mention are probed."),
    all_terms: bool = typer.Option(False, "--all", help="Probe every term, covered or not."),
    voice: List[str] = typer.Option([], "--voice", help="piper:joe or espeak:<voice> (repeatable). Default: piper:joe, espeak:en-us, espeak:en-gb-scotland."),
    sentences: int = typer.Option(1, min=1, max=4, help="Carrier sentences per term and voice."),
    limit: Optional[int] = typer.Option(None, help="At most this many terms (in file order)."),
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """Synthesize carrier sentences for untested terms in several voices and write a manifest `asr-eval run` accepts."""
    from ..vocab.probe import DEFAULT_VOICES, carrier_items, write_probe_set

    try:
        terms = _terms(dictionary, directory)
        if manifest and not all_terms:
            untested = {c.display for c in _coverage(terms, manifest).untested}
            terms = [t for t in terms if t.display in untested]
        if limit is not None:
            terms = terms[:limit]
        items = carrier_items(terms, sentences)
        voices = voice or list(DEFAULT_VOICES)
        path = write_probe_set(items, voices, out) if items else None
    except AsrEvalError as exc:
        raise _fail(exc)
    rows = [{"id": i.id, "term": i.term, "text": i.text, "say": i.say} for i in items]
    payload = {"manifest": str(path) if path else None, "terms": len(terms), "voices": voices, "clips": len(items) * len(voices), "items": rows}

    def show(c: Console) -> None:
        t = Table(title=f"Probe sentences ({_count(len(terms), 'term')} x {_count(len(voices), 'voice')} = {_count(len(items) * len(voices), 'clip')})")
        for col in ("id", "term", "reference", "spoken as"):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(escape(r["id"]), escape(r["term"]), escape(r["text"]), escape(r["say"]))
        c.print(t)
        c.print(f"manifest: {path}" if path else "Every term is covered by the manifests: nothing to probe (use --all).")

    _emit(payload, rows, as_json, csv_path, show)


# --------------------------------------------------------------------------- export


@app.command()
def export(
    dictionary: Optional[Path] = DictArg,
    fmt: str = typer.Option(..., "--format", "-f", help="aws | google | azure | deepgram | assemblyai | whisper"),
    out: Path = typer.Option(..., "--out", "-o", help="File to write ('-' for standard output)."),
    directory: options.Directory = None,
    model: str = ModelOpt,
    boost: Optional[float] = typer.Option(None, help="google: phrase-set boost (0-20)."),
    force: bool = typer.Option(False, help="Write the file even when the engine's limits are exceeded."),
    as_json: bool = JsonOpt,
    csv_path: Optional[Path] = CsvOpt,
) -> None:
    """Write the vocabulary in an engine's input format after checking that engine's documented limits."""
    from ..vocab import engines as eng
    from ..vocab.sources import load_limits, token_counter, try_token_counter

    if fmt not in eng.ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(eng.ENGINES)}", param_hint="--format")
    try:
        vocabs = _load(dictionary, directory)
        counter = token_counter(model) if fmt == "whisper" else try_token_counter(model) if fmt == "deepgram" else None
        options = {"boost": boost} if fmt == "google" else {}
        plan = eng.plan(fmt, eng.located(vocabs), load_limits(), counter, **options)
    except AsrEvalError as exc:
        raise _fail(exc)
    written = plan.ok or force
    if written:
        if str(out) == "-":
            sys.stdout.write(plan.text)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(plan.text, encoding="utf-8")
    payload = {"format": fmt, "out": str(out), "written": written, "entries": len(plan.entries), "dropped": list(plan.dropped), "findings": [f.to_dict() for f in plan.findings]}

    def show(c: Console) -> None:
        c = Console(stderr=True) if str(out) == "-" else c
        for f in plan.findings:
            c.print(f"[{'red' if f.severity == 'error' else 'yellow'}]{escape(str(f))}[/]")
        if written:
            c.print(f"wrote {_count(len(plan.entries), f'{fmt} entry', f'{fmt} entries')} to {out}" + (f" ({_count(len(plan.dropped), 'term')} dropped by the budget)" if plan.dropped else ""))
        else:
            c.print(f"[red]not written[/]: {fmt} limits exceeded (fix the errors above, or --force)")

    _emit(payload, [f.to_dict() for f in plan.findings], as_json and str(out) != "-", csv_path, show)
    if not written:
        raise typer.Exit(1)


def _regroup(events: list, run_dir: Path, grouping) -> list:
    """terms.csv rows with each clip's group under ``grouping`` in place of its accent group (from the run folder)."""
    from ..grouping import check_columns, label_of
    from ..runfolder import iter_utterance_rows, read_metadata, read_metadata_columns

    folder = run_dir if run_dir.is_dir() else run_dir.parent
    check_columns([grouping], read_metadata_columns(folder), f"run folder {folder}")
    meta = read_metadata(folder)
    seconds: dict[str, float] = {}
    if "duration_band" in grouping.columns and (folder / "utterances.csv").exists():
        for u in iter_utterance_rows(folder / "utterances.csv"):
            seconds.setdefault(str(u["utt_id"]), u["audio_seconds"])
    out = []
    for e in events:
        uid = str(e.get("utt_id") or "")
        row = {**e, "audio_seconds": seconds.get(uid)}
        out.append({**e, "accent_group": label_of(grouping, row, meta.get(uid))})
    return out
