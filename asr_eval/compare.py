"""``asr-eval compare``: set runs B, C... against run A on the clips they share, and gate CI on the result.

Orchestration: read the run (or score) folders, refuse pairs that are not the
same test (reference text, normaliser, manifest), rescore both sides against
one vocabulary when their vocabularies differ, build the comparison model
(``report.compare``), write it into ``--out`` under the folder lock and index,
and, given rules, evaluate the gate (``gate``). ``gate_folder`` runs the gate
later on a comparison folder alone, which is what CI does.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import pairing
from .counts import COUNT_COLUMNS
from .files import RunLock, record_outputs, write_atomic
from .gate import PairRecords, RuleResult, evaluate, explanation, junit_xml, summary_markdown
from .rules import load_rules
from .runfolder import Run, load_run, read_transcripts
from .tabular import read_csv, read_json, read_text
from .types import InputError, Term, Utterance

KIND = "compare"
MODEL_FILE = "compare.json"
PAIRED_FILE = "paired.csv"  # every pair's per-clip counts, both sides: what the gate recomputes its bounds from
PAIRED_COLUMNS = ("pair", "side", "a_condition", "b_condition", "utt_id", "speaker", "group", *COUNT_COLUMNS)
GATE_FILE = "gate.json"


@dataclass(frozen=True)
class CompareOutcome:
    out_dir: Path
    pairs: int
    written: dict[str, Path]
    differences: tuple[str, ...]  # what --force let through
    only: Mapping[str, int]  # run label -> clips only that run scored (against A)
    gate: tuple[RuleResult, ...] | None = None

    @property
    def gate_passed(self) -> bool | None:
        return None if self.gate is None else all(r.passed for r in self.gate)


# --------------------------------------------------------------------------- loading and checking


def _load(run_dirs: Sequence[str | Path]) -> dict[str, Run]:
    if len(run_dirs) < 2:
        raise InputError("compare", "give at least two run folders (A, then B, C... each compared with A)")
    if len(run_dirs) > len(pairing.LABELS):
        raise InputError("compare", f"at most {len(pairing.LABELS)} run folders")
    return {label: load_run(d) for label, d in zip(pairing.LABELS, run_dirs)}


def _check_group_column(runs: Mapping[str, Run], group_by: str) -> None:
    for label, run in runs.items():
        if run.utterances and group_by not in run.utterances[0]:
            have = sorted(k for k in run.utterances[0] if not k.startswith("_") and k not in COUNT_COLUMNS
                          and k not in ("ref", "hyp", "ref_norm", "hyp_norm", "audio_seconds", "decode_seconds"))
            raise InputError(str(run.path / "utterances.csv"), f"--group-by {group_by!r}: run {label} has no such "
                                                               f"column (it has {', '.join(have)})")


def check_comparable(runs: Mapping[str, Run], group_by: str, force: bool) -> list[str]:
    """Every later run against A: same normaliser, same manifest bytes, same reference/speaker/group per clip.

    Returns the differences found (empty when all agree). Without ``force`` the
    first one is raised as an ``InputError`` (exit 2) naming the clip and both values.
    """
    labels = list(runs)
    a = runs[labels[0]]
    a_rows = pairing.first_rows(a.utterances)
    found: list[str] = []
    for label in labels[1:]:
        b = runs[label]
        b_rows = pairing.first_rows(b.utterances)
        diffs = pairing.run_differences(a.run, b.run) + pairing.clip_differences(a_rows, b_rows, group_by)
        for d in diffs:
            text = d.describe(f"{labels[0]} ({a.path})", f"{label} ({b.path})")
            if d.clip is not None:
                key = {"reference text": "ref", "speaker": "speaker"}.get(d.what, group_by)
                n = pairing.count_differences(a_rows, b_rows, key)
                text += f" ({n} clip{'s' if n != 1 else ''} differ)" if n > 1 else ""
            if not force:
                raise InputError(str(b.path), f"cannot compare with run {labels[0]}: {text}; these are not the same "
                                              "test, so the scores are not comparable (--force compares anyway and "
                                              "records it in the report)")
            found.append(f"{label} vs {labels[0]}: {text}")
    return found


# --------------------------------------------------------------------------- one vocabulary for both sides


def _term_key(t: Term) -> tuple:
    return (t.display, tuple(t.aliases), t.source, t.category)


def _vocabularies_differ(runs: Mapping[str, Run]) -> bool:
    keys = [None if r.vocabulary is None else tuple(sorted(_term_key(t) for t in r.vocabulary.scoring))
            for r in runs.values()]
    return len(set(keys)) > 1


def union_vocabulary(runs: Mapping[str, Run]) -> tuple[Term, ...]:
    """Every term any run scored, A's definition first when two runs define one display form."""
    out: dict[str, Term] = {}
    for label, run in runs.items():
        if run.vocabulary is None:
            raise InputError(str(run.path / "vocabulary.json"),
                             f"run {label} has no vocabulary snapshot (written by an older asr-eval), and the runs' "
                             "vocabularies must be made the same to compare term accuracy; rerun it (the transcript "
                             "cache makes that quick)")
        for t in run.vocabulary.scoring:
            out.setdefault(t.display, t)
    return tuple(out.values())


def rescore(run: Run, terms: Sequence[Term]) -> Run:
    """The run's own transcripts scored again against ``terms``, with the normaliser it was scored with.

    Term accuracy of two runs means something only over the same terms: a
    dictionary v2 that drops a term would otherwise stop counting that term's
    misses. Refused when this asr-eval's normaliser is not the one the run
    recorded (the scores would move for another reason).
    """
    from .normalize import make_normalizer
    from .score_run import score_transcripts

    normalizer = make_normalizer(tuple(terms))
    if normalizer.version != run.run.get("normalizer"):
        raise InputError(str(run.path / "run.json"), f"scored with normaliser {run.run.get('normalizer')!r}, but this "
                                                     f"asr-eval has {normalizer.version!r}; it cannot rescore the run "
                                                     "against the other run's vocabulary")
    transcripts = read_transcripts(run.path, run.conditions)
    first = pairing.first_rows(run.utterances)
    utts = [Utterance(id=uid, audio="", text=str(r["ref"]), speaker=str(r["speaker"]),
                      accent_group=str(r["accent_group"]), meta={"speech": "false"} if r.get("ns_clips") else {})
            for uid, r in first.items()]
    scored = score_transcripts(utts, transcripts, run.conditions, tuple(terms), normalizer)
    extra = {uid: {k: v for k, v in r.items() if k not in scored.utterance_rows[0] and k not in COUNT_COLUMNS}
             for uid, r in first.items()} if scored.utterance_rows else {}
    rows = [{**extra.get(r["utt_id"], {}), **r} for r in scored.utterance_rows]
    alignments = {(r["utt_id"], r["condition"]): [(str(op), ref, hyp) for op, ref, hyp in r["pairs"]]
                  for r in scored.alignment_rows}
    return dataclasses.replace(run, utterances=rows, terms=[dict(t) for t in scored.term_rows], alignments=alignments,
                               harms=[dict(h) for h in scored.harm_rows])


# --------------------------------------------------------------------------- writing


def _csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return buf.getvalue()


def paired_rows(runs: Mapping[str, Run], pairs: Sequence[pairing.ConditionPair], group_by: str) -> list[dict[str, Any]]:
    """paired.csv's rows: per pair, each shared clip's counts under A and under B (A's speaker and group)."""
    from .report.compare import pair_run

    out = []
    for p in pairs:
        synth = pair_run(runs[p.a_run], runs[p.b_run], p, group_by)
        for u in synth.utterances:
            side = "A" if u["condition"] == p.a_label else "B"
            out.append({"pair": p.name, "side": side, "a_condition": p.a_label, "b_condition": p.b_label,
                        "utt_id": u["utt_id"], "speaker": u["speaker"], "group": u["accent_group"],
                        **{c: u.get(c, 0) for c in COUNT_COLUMNS}})
    return out


def compare_runs(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    pairs: Sequence[str] = (),
    group_by: str = "accent_group",
    force: bool = False,
    rules: str | Path | None = None,
    junit: str | Path | None = None,
    summary: str | Path | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    redact: bool = False,
    redact_names: bool = False,
    command: Sequence[str] | None = None,
) -> CompareOutcome:
    """Compare the runs, write the comparison into ``out_dir``; with ``rules``, gate it too."""
    from .report.compare import build_compare_report, shared_clips
    from .report.compare_render import render_compare_html, render_compare_markdown, tables

    out = Path(out_dir)
    for d in run_dirs:
        if Path(d).resolve() == out.resolve():
            raise InputError(str(out), "the comparison cannot be written into one of the run folders it compares")
    loaded_rules = load_rules(rules) if rules is not None else None  # a bad rules file fails before any work
    runs = _load(run_dirs)
    _check_group_column(runs, group_by)
    differences = check_comparable(runs, group_by, force)
    try:
        matched = pairing.match_conditions({k: r.conditions for k, r in runs.items()}, pairs)
    except ValueError as exc:
        raise InputError("--pair", str(exc)) from None
    rescored = None
    if _vocabularies_differ(runs):
        terms = union_vocabulary(runs)
        sizes = {label: len(r.vocabulary.scoring) for label, r in runs.items() if r.vocabulary is not None}
        runs = {label: rescore(r, terms) for label, r in runs.items()}
        rescored = {"terms": len(terms), "per_run": sizes,
                    "note": ("the runs were scored against different vocabularies (" + ", ".join(
                        f"{k}: {v} terms" for k, v in sizes.items()) + f"); both were rescored from their "
                        f"transcripts against the union ({len(terms)} terms), so term accuracy counts the same "
                        "terms on both sides")}
    only: dict[str, list[str]] = {}
    for p in matched:
        cs = shared_clips(runs[p.a_run], p.a_cond, runs[p.b_run], p.b_cond)
        only.setdefault(p.a_run, [])
        only.setdefault(p.b_run, [])
        only[p.a_run] += [u for u in cs.only_a if u not in only[p.a_run]]
        only[p.b_run] += [u for u in cs.only_b if u not in only[p.b_run]]
        if not cs.shared:
            raise InputError(str(runs[p.b_run].path), f"{p.name}: the two runs share no clip")
    only_files = {label: f"clips_only_in_{label}.txt" for label, ids in only.items() if ids}
    checks = {"forced": bool(force), "differences": differences, "rescored": rescored,
              "only": {label: {"count": len(ids), "file": only_files.get(label)} for label, ids in only.items()},
              "command": list(command) if command else None}
    model = build_compare_report(runs, matched, group_by=group_by, n_boot=n_boot, seed=seed, redact=redact,
                                 redact_names=redact_names, checks=checks)
    paired = paired_rows(runs, matched, group_by)
    results = None
    if loaded_rules is not None:
        rule_list, settings = loaded_rules
        results = tuple(evaluate(rule_list, records_by_pair(paired), n_boot=settings.get("n_boot", n_boot),
                                 seed=settings.get("seed", seed)))
        model["gate"] = gate_model(results, rules)
    texts: dict[str, str] = {}  # everything rendered before the folder is touched: a failure writes nothing
    texts["summary.csv"], texts["comparison.csv"], texts["terms.csv"], texts["changed.csv"] = tables(model)
    texts[PAIRED_FILE] = _csv(PAIRED_COLUMNS, paired)
    for label, name in only_files.items():
        texts[name] = "".join(u + "\n" for u in only[label])
    texts[MODEL_FILE] = json.dumps(model, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    texts["compare.md"] = render_compare_markdown(model)
    texts["compare.html"] = render_compare_html(model)
    if results is not None:
        texts[GATE_FILE] = json.dumps(model["gate"], indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    written: dict[str, Path] = {}
    with RunLock(out, kind=KIND):
        for name, text in texts.items():
            write_atomic(out / name, text)
            written[name] = out / name
        # files an earlier comparison into this folder wrote and this one did not (clip lists, gate.json)
        stale = [n for n in _listed(out) if n not in written and (n.startswith("clips_only_in_") or n == GATE_FILE)]
        for n in stale:
            (out / n).unlink(missing_ok=True)
        record_outputs(out, written, removed=stale, kind=KIND)
    if results is not None:
        write_gate_outputs(results, junit=junit, summary=summary)
    return CompareOutcome(out, len(matched), written, tuple(differences),
                          {label: len(ids) for label, ids in only.items()}, results)


def _listed(folder: Path) -> list[str]:
    from .files import listed_outputs

    return sorted(listed_outputs(folder))


# --------------------------------------------------------------------------- the gate


def records_by_pair(rows: Sequence[Mapping[str, Any]]) -> list[PairRecords]:
    """paired.csv rows -> one ``PairRecords`` per pair, both sides in the same clip order."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    names: dict[str, tuple[str, str]] = {}
    for r in rows:
        rec = {"utt_id": r["utt_id"], "speaker": r["speaker"], "accent_group": r["group"],
               **{c: r[c] for c in COUNT_COLUMNS}}
        by.setdefault(r["pair"], {"A": [], "B": []})[r["side"]].append(rec)
        names[r["pair"]] = (r["a_condition"], r["b_condition"])
    out = []
    for name, sides in by.items():
        a_cond, b_cond = names[name]
        b_by = {x["utt_id"]: x for x in sides["B"]}
        a = [x for x in sides["A"] if x["utt_id"] in b_by]
        out.append(PairRecords(name, a_cond.split(":", 1)[1], b_cond.split(":", 1)[1], a,
                               [b_by[x["utt_id"]] for x in a]))
    return out


def read_paired(folder: str | Path) -> list[dict[str, Any]]:
    """paired.csv of a comparison folder, checked: every count a whole number, every column present."""
    path = Path(folder) / PAIRED_FILE
    if not (Path(folder) / MODEL_FILE).is_file():
        raise InputError(str(Path(folder) / MODEL_FILE), "not found: is this a folder written by `asr-eval compare`?")
    header, records = read_csv(path, read_text(path, "comparison's paired.csv"))
    missing = [c for c in PAIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(str(path), f"missing columns {missing}", 1)
    out = []
    for rec in records:
        row: dict[str, Any] = dict(rec.fields)
        if row["side"] not in ("A", "B") or ":" not in row["a_condition"] or ":" not in row["b_condition"]:
            raise InputError(str(path), "side must be A or B, conditions RUN:NAME", rec.line)
        for c in COUNT_COLUMNS:
            raw = (row.get(c) or "0").strip()
            if not raw.isdigit():
                raise InputError(str(path), f"column {c!r}: expected a count, got {raw!r}", rec.line)
            row[c] = int(raw)
        out.append(row)
    if not out:
        raise InputError(str(path), "no paired clips")
    return out


def gate_model(results: Sequence[RuleResult], rules: str | Path | None) -> dict[str, Any]:
    return {"rules_file": None if rules is None else str(rules), "passed": all(r.passed for r in results),
            "rules": [r.as_dict() for r in results]}


def write_gate_outputs(results: Sequence[RuleResult], *, junit: str | Path | None = None,
                       summary: str | Path | None = None) -> None:
    """--junit and --summary: files the user named for CI (a test report and a pull-request comment)."""
    if junit is not None:
        write_atomic(Path(junit), junit_xml(results))
    if summary is not None:
        write_atomic(Path(summary), summary_markdown(results))


def gate_folder(folder: str | Path, rules: str | Path, *, junit: str | Path | None = None,
                summary: str | Path | None = None) -> tuple[RuleResult, ...]:
    """``asr-eval gate``: the rules evaluated on a comparison folder's paired clips (nothing else is read)."""
    rule_list, settings = load_rules(rules)
    if not (Path(folder) / MODEL_FILE).is_file():
        raise InputError(str(Path(folder) / MODEL_FILE), "not found: is this a folder written by `asr-eval compare`?")
    model = read_json(Path(folder) / MODEL_FILE, "compare.json")
    if not isinstance(model, dict) or model.get("schema", "").split("/")[0] != "asr-eval-compare":
        raise InputError(str(Path(folder) / MODEL_FILE), "not a comparison written by `asr-eval compare`")
    paired = read_paired(folder)
    settings_model = model.get("settings") or {}
    results = tuple(evaluate(rule_list, records_by_pair(paired),
                             n_boot=settings.get("n_boot", int(settings_model.get("n_boot") or 2000)),
                             seed=settings.get("seed", int(settings_model.get("seed") or 0))))
    write_gate_outputs(results, junit=junit, summary=summary)
    return results


__all__ = ["CompareOutcome", "compare_runs", "explanation", "gate_folder", "rescore", "union_vocabulary"]
