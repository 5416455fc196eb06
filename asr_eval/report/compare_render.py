"""The comparison model rendered: CSV tables, compare.md and a self-contained compare.html.

Each pair is shaped as a two-condition run report (A's condition the
baseline), so the run report's Markdown sections (summary, paired
comparisons, fairness, harms) render it as they render a run, and the HTML
page takes the run report's stylesheet; only what is particular to two runs
(gap change, term gains and losses, clips side by side, clips in one run
only, the gate) is rendered here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import stats as st
from ..counts import COUNT_COLUMNS
from . import markdown as md
from .format import fmt_ci, fmt_value, na_speakers
from .numbers import SUMMARY_METRICS
from .tables import COMPARISON_COLUMNS, _csv

MD_CHANGED = 10  # clips shown per pair in the Markdown; the HTML and JSON hold more


# --------------------------------------------------------------------------- CSV


TERM_COLUMNS = ("pair", "term", "category", "source", "occurrences", "both_hit", "gained", "lost", "both_missed",
                "a_recall", "b_recall", "recall_change", "a_false_ins", "b_false_ins", "false_ins_change")
CHANGED_COLUMNS = ("pair", "utt_id", "group", "speaker", "ref_words", "a_errors", "b_errors", "change", "ref", "a_hyp",
                   "b_hyp")


def tables(model: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """summary.csv, comparison.csv, terms.csv, changed.csv of a comparison (one row per pair x ...)."""
    metric_cols = [c for m in SUMMARY_METRICS for c in (m, f"{m}_low", f"{m}_high")]
    s_rows = []
    for p in model["pairs"]:
        for r in p["summary"]:
            vals = [v for m in SUMMARY_METRICS for v in (r["metrics"][m]["value"], r["metrics"][m]["low"],
                                                         r["metrics"][m]["high"])]
            s_rows.append([p["name"], r["accent_group"], r["condition"], r["clips"], r["speakers"], r["words"],
                           r["too_few_speakers"], *vals, *(r["counts"][f] for f in COUNT_COLUMNS)])
    summary = _csv(["pair", "group", "side", "clips", "speakers", "words", "too_few_speakers", *metric_cols,
                    *COUNT_COLUMNS], s_rows)
    comparison = _csv(["pair", *COMPARISON_COLUMNS],
                      [[p["name"], *(r.get(c) for c in COMPARISON_COLUMNS)] for p in model["pairs"]
                       for r in p["comparisons"]])
    terms = _csv(list(TERM_COLUMNS), [[p["name"], *(t.get(c) for c in TERM_COLUMNS[1:])] for p in model["pairs"]
                                      for t in p["terms"]["rows"]])
    changed = _csv(list(CHANGED_COLUMNS), [[p["name"], *(c.get(k) for k in CHANGED_COLUMNS[1:])]
                                           for p in model["pairs"] for c in p["changed"]["clips"]])
    return summary, comparison, terms, changed


# --------------------------------------------------------------------------- Markdown


def _pair_model(model: Mapping[str, Any], p: Mapping[str, Any]) -> dict[str, Any]:
    """A pair shaped as a run report's model, for the run report's own section renderers."""
    return {**p, "settings": model["settings"]}


def _gate_md(gate: Mapping[str, Any]) -> list[str]:
    out = ["## Gate", "", f"**{'passed' if gate['passed'] else 'FAILED'}** ({md.md_escape(gate.get('rules_file'))})", ""]
    rows = []
    for r in gate["rules"]:
        bad = [c for c in r["checks"] if c["status"] in ("fail", "cannot show")]
        rows.append([md.md_escape(r["name"]), md.md_escape(r["description"]), "pass" if r["passed"] else "**fail**",
                     md.md_escape("; ".join(f"{c['pair']}, {c['group']}: {c['reason']}" for c in bad[:3]))])
    return out + md._table(["Rule", "Requirement", "Result", "Why"], rows)


def _gap_md(p: Mapping[str, Any]) -> list[str]:
    if not p["gap_changes"]:
        return []
    out = [f"### Does {md.md_escape(p['b_label'])} widen or narrow the gap between groups?", "",
           "Gap = worst group minus best group (each side's own worst and best); change = B's gap minus A's, with a "
           "paired 95% speaker-bootstrap interval.", ""]
    return out + md._table(
        ["Metric", "A: worst vs best", "A gap", "B: worst vs best", "B gap", "Change", "95% CI", "Verdict"],
        [[st.METRICS[g["metric"]].label, f"{md.md_escape(g['a_worst'])} vs {md.md_escape(g['a_best'])}",
          fmt_value(g["metric"], g["a_gap"]), f"{md.md_escape(g['b_worst'])} vs {md.md_escape(g['b_best'])}",
          fmt_value(g["metric"], g["b_gap"]), fmt_value(g["metric"], g["change"], True),
          fmt_ci(g["metric"], g["low"], g["high"], True), g["verdict"]] for g in p["gap_changes"]])


def _terms_md(p: Mapping[str, Any]) -> list[str]:
    t = p["terms"]
    if not t["rows"]:
        return []
    out = [f"### Terms: {md.md_escape(p['b_label'])} vs {md.md_escape(p['a_label'])}", "",
           f"{t['occurrences']} term occurrences on the shared clips: B recognised {t['gained_total']} that A missed "
           f"(gained) and missed {t['lost_total']} that A recognised (lost); partial hits count as missed.", ""]
    for title, rows in (("Lost (A recognised, B missed)", t["lost"]), ("Gained (B recognised, A missed)", t["gained"]),
                        ("False insertions changed", t["false_insertions"])):
        if not rows:
            continue
        out += [f"**{title}**", ""]
        out += md._table(["Term", "Category", "Occurrences", "Gained", "Lost", "Recall A", "Recall B",
                          "False insertions A / B"],
                         [[md.md_escape(r["term"]), md.md_escape(r["category"]), r["occurrences"], r["gained"],
                           r["lost"], fmt_value("term_recall", r["a_recall"]), fmt_value("term_recall", r["b_recall"]),
                           f"{r['a_false_ins']} / {r['b_false_ins']}"] for r in rows])
    return out


def _changed_md(p: Mapping[str, Any]) -> list[str]:
    ch = p["changed"]
    out = ["### Clips that changed most", "",
           f"{ch['better']} clips have fewer word errors under B, {ch['worse']} more, {ch['unchanged']} the same. "
           "Alignment: ~~reference~~→**hypothesis**, +**inserted**.", ""]
    for c in ch["clips"][:MD_CHANGED]:
        out += [f"**{md.md_escape(c['utt_id'])}** ({md.md_escape(c['group'])}, speaker {md.md_escape(c['speaker'])}): "
                f"{c['a_errors']} → {c['b_errors']} errors", ""]
        out += md._table(["", "Text"], [["reference", md.md_escape(c["ref"])],
                                        [f"A {md.md_escape(p['a_label'])}", md._pairs_text(c["a_pairs"]) or md.md_escape(c["a_hyp"])],
                                        [f"B {md.md_escape(p['b_label'])}", md._pairs_text(c["b_pairs"]) or md.md_escape(c["b_hyp"])]])
    return out


def _checks_md(model: Mapping[str, Any]) -> list[str]:
    ch = model["checks"]
    out = ["## What was compared", ""]
    for r in model["runs"]:
        info = r["info"]
        eng = info.get("engine") or {}
        what = f"{eng.get('backend')} {eng.get('model')}" if isinstance(eng, Mapping) and eng else "transcripts scored"
        out.append(f"- Run {r['label']}: {md.md_escape(r['path'])} ({md.md_escape(what)}; {r['clips']} clips; "
                   f"conditions {md.md_escape(', '.join(r['conditions']))})")
    out.append(f"- Grouped by: {md.md_escape(model['group_by'])}")
    for label, o in (ch.get("only") or {}).items():
        if o["count"]:
            out.append(f"- {o['count']} clips only in run {label}, left out of every pair with it (ids: {o['file']})")
    if ch.get("rescored"):
        out.append(f"- Rescored: {md.md_escape(ch['rescored']['note'])}")
    if ch.get("forced"):
        out.append("- **Forced** (--force): " + (md.md_escape("; ".join(ch["differences"])) if ch["differences"]
                                                  else "no differences were found"))
    return out + [""]


def render_compare_markdown(model: Mapping[str, Any]) -> str:
    out = ["# asr-eval comparison of runs", "", f"> {md.md_escape(model['redaction']['note'])}", ""]
    if model["checks"].get("forced") and model["checks"].get("differences"):
        out += [f"> **Warning:** compared with --force although {md.md_escape(model['checks']['differences'][0])}", ""]
    if model.get("gate"):
        out += _gate_md(model["gate"])
    out += ["## Verdicts", ""] + [f"- {md.md_escape(v)}" for v in model["verdicts"]] + [""]
    out += _checks_md(model)
    for p in model["pairs"]:
        sub = _pair_model(model, p)
        out += [f"# {md.md_escape(p['name'])}", "",
                f"{p['clips']} shared clips, {p['speakers']} speakers; difference = B minus A.", ""]
        out += ["#" + line if line.startswith("## ") else line for line in md._summary(sub)]
        out += ["#" + line if line.startswith("## ") else line for line in md._comparisons(sub)]
        out += ["#" + line if line.startswith("## ") else line for line in md._fairness(sub)]
        out += _gap_md(p)
        out += _terms_md(p)
        out += _changed_md(p)
        out += ["#" + line if line.startswith("## ") else line for line in md._harms(sub)]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _css() -> str:
    """The run report's stylesheet, so both pages look alike (one stylesheet to keep)."""
    from .html import _env

    env = _env()
    source, _, _ = env.loader.get_source(env, "report.html.j2")
    m = _STYLE.search(source)
    return m.group(1) if m else ""


def render_compare_html(model: Mapping[str, Any]) -> str:
    from markupsafe import Markup

    from .html import _env, script_json

    env = _env()
    template = env.get_template("compare.html.j2")
    data = {k: model[k] for k in ("schema", "verdicts", "group_by")}
    data["pairs"] = [{k: p[k] for k in ("name", "comparisons", "gap_changes")} for p in model["pairs"]]
    return template.render(m=model, css=Markup(_css()), data_json=script_json(data),
                           fmt_ci=fmt_ci, na_speakers=na_speakers)


__all__ = ["render_compare_html", "render_compare_markdown", "tables"]
