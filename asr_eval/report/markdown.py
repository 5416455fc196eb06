"""Render the report model as Markdown (report.md).

Same model, same formatting helpers as the HTML report, so both show the same
numbers. Table cells are escaped for Markdown (pipes, backticks, angle
brackets) because references and terms are user-supplied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import stats as st
from .format import fmt_ci, fmt_ci_or_na, fmt_p, fmt_value, na_speakers
from .numbers import ALL
from .tables import group_key

MD_MAX_EXPLANATIONS = 150  # a person reads the Markdown; the HTML and JSON hold every row
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|#])")


def md_escape(s: Any) -> str:
    """Escape a user-supplied string for a Markdown table cell or paragraph."""
    text = "" if s is None else str(s)
    text = text.replace("\r", " ").replace("\n", " ")
    # Entities rather than backslashes for markup: every Markdown renderer (and a
    # plain-text reader's eye) treats &lt; as a character, never as a tag.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out + [""]


def _metric_cell(row: Mapping[str, Any], name: str) -> str:
    e = row["metrics"].get(name) or {}
    v = fmt_value(name, e.get("value"))
    if v == "n/a":
        return v
    if row.get("too_few_speakers"):
        return f"{v} ({na_speakers(row['speakers'])})"
    return f"{v} {fmt_ci(name, e.get('low'), e.get('high'))}"


def _gap_ci(g: Mapping[str, Any]) -> str:
    """The gap's interval, or which group has too few speakers for one."""
    if not g.get("too_few_speakers"):
        return fmt_ci(g["metric"], g["diff"]["low"], g["diff"]["high"], True)
    n = {g["worst"]: g["worst_speakers"], g["best"]: g["best_speakers"]}
    return "; ".join(f"{na_speakers(n[x])} in {md_escape(x)}" for x in g["too_few_speakers"])


def _names(sec: Mapping[str, Any]) -> tuple[str, str, str]:
    """(row key, noun, plural) of a model's first grouping or of a grouping section."""
    g = sec if "key" in sec else (sec.get("group_by") or [{"key": "accent_group", "noun": "accent group"}])[0]
    noun = str(g["noun"])
    return str(g["key"]), noun, noun + "s" if noun.endswith("group") else noun + " groups"


def _group_cell(r: Mapping[str, Any], key: str) -> str:
    return md_escape(r[key]) if r[key] != ALL else "**ALL**"


def _clip_group(e: Mapping[str, Any], model: Mapping[str, Any]) -> Any:
    """The group a clip is shown under: its label in the report's first grouping (its accent group by default)."""
    by = model.get("group_by") or []
    groups = e.get("groups") or {}
    return groups.get(by[0]["name"], e.get("accent_group", "")) if by else e.get("accent_group", "")


def _fairness(model: Mapping[str, Any], sec: Mapping[str, Any] | None = None, level: str = "##") -> list[str]:
    sec = sec if sec is not None else model
    key, noun, plural = _names(sec)
    f = sec["fairness"]
    out = [f"{level} Fairness across {plural}", ""]
    # When groups differ the gap lines already lead the verdicts above.
    lines = f["gain_verdicts"] if f["groups_differ"] else f["verdicts"]
    out += [f"- {md_escape(v)}" for v in lines] + [""]
    if f["gaps"]:
        out += _table(
            ["Condition", "Metric", "Best group", "Worst group", "Gap (worst - best)", "95% CI", "Ratio", "95% CI"],
            [
                [md_escape(g["condition"]), st.METRICS[g["metric"]].label, f"{md_escape(g['best'])} {fmt_value(g['metric'], g['best_value'])}",
                 f"{md_escape(g['worst'])} {fmt_value(g['metric'], g['worst_value'])}",
                 fmt_value(g["metric"], g["diff"]["value"], True), _gap_ci(g),
                 "n/a" if g["ratio"]["value"] is None else f"{g['ratio']['value']:.2f}",
                 "n/a" if g["ratio"]["low"] is None else f"[{g['ratio']['low']:.2f}, {g['ratio']['high']:.2f}]"]
                for g in f["gaps"]
            ],
        )
    if f["gains"]:
        out += [f"{level}# Biasing gain per {noun} (baseline WER minus biased WER; positive = helped)", ""]
        out += _table(
            ["Condition", "Group", "Baseline WER", "Biased WER", "Gain", "95% CI", "Relative gain", "Significance"],
            [
                [md_escape(g["condition"]), md_escape(g[key]), fmt_value("wer", g["base"]), fmt_value("wer", g["cond"]),
                 fmt_value("wer", g["gain"], True),
                 fmt_ci_or_na("wer", g["low"], g["high"], g["too_few_speakers"], g["n_speakers"], True),
                 "n/a" if g["relative_gain"] is None else f"{100 * g['relative_gain']:+.0f}%", md_escape(g["verdict_note"])]
                for g in f["gains"]
            ],
        )
    if f["gain_correlation"]:
        out += ["Correlation across groups between baseline WER and gain (negative: groups that already did well gained more):", ""]
        out += _table(
            ["Condition", "Gain", "r", "95% CI", "Groups"],
            [[md_escape(c["condition"]), "relative" if c["relative"] else "absolute",
              "n/a" if c["r"] is None else f"{c['r']:.2f}",
              "n/a" if c["low"] is None else f"[{c['low']:.2f}, {c['high']:.2f}]", c["n_groups"]]
             for c in f["gain_correlation"]],
        )
    return out


def _summary(model: Mapping[str, Any], sec: Mapping[str, Any] | None = None, level: str = "##") -> list[str]:
    sec = sec if sec is not None else model
    key, noun, _ = _names(sec)
    out = [f"{level} Summary per {noun} and condition", "",
           (f"Rates are summed errors over summed words; 95% intervals from a bootstrap over speakers "
            f"({model['settings']['n_boot']} draws). B-WER is the WER on the words of vocabulary terms, U-WER on all "
            f"other words; formatted WER counts case and punctuation (each mark a token, as fstalign's does). Groups with fewer than {model['settings']['min_speakers']} speakers get no interval "
            f"(n/a); groups marked ⚠ also include those with fewer than {model['settings']['min_words']} words, "
            "whose intervals are wide and unstable."), ""]
    names = ["wer", "cer", "fwer", "term_recall", "term_precision", "term_f1", "false_ins_per_100", "bwer", "uwer", "display_accuracy"]
    rows = []
    for r in sec["summary"]:
        flag = f"⚠ {md_escape(r['small_reason'])}" if r["small"] else ""
        rows.append([_group_cell(r, key), md_escape(r["condition"]),
                     r["clips"], r["speakers"], r["words"],
                     *[_metric_cell(r, n) for n in names],
                     "{:.1f}/{:.1f}/{:.1f}".format(*(100 * (r["metrics"][k]["value"] or 0) for k in ("sub_rate", "del_rate", "ins_rate"))),
                     flag])
    out += _table(["Group", "Condition", "Clips", "Speakers", "Words", *[st.METRICS[n].label for n in names], "S/D/I %", "Note"], rows)
    return out


def _p_cells(r: Mapping[str, Any]) -> list[str]:
    """p (Holm-adjusted p) per test; none for a row with too few speakers, which is not tested."""
    if r["too_few_speakers"]:
        return ["n/a"] * 4
    return [f"{fmt_p(r[f'{t}_p'])} ({fmt_p(r.get(f'holm_{t}'))})" for t in ("wilcoxon", "sign", "speaker_t", "mapsswe")]


def _comparisons(model: Mapping[str, Any], sec: Mapping[str, Any] | None = None, level: str = "##") -> list[str]:
    rows = (sec if sec is not None else model)["comparisons"]
    key, noun, plural = _names(sec if sec is not None else model)
    if not rows:
        return []
    if sec is not None:  # a further grouping: its ALL rows are the report's own, shown once above
        per_group = [r for r in rows if r[key] != ALL]
        if not per_group:
            return []
        return ([f"{level} Each condition vs {md_escape(model['baseline'])} per {noun} (exploratory; Holm over all "
                 f"per-{noun} rows)", ""] + _comparison_table(per_group, key))
    out = [f"## Each condition vs {md_escape(model['baseline'])} (paired, same clips)", "",
           ("Difference = condition minus baseline. Tests: Wilcoxon signed-rank, sign and paired t-test over "
            "speakers, MAPSSWE (NIST sc_stats) over segments (for WER cut exactly as sc_stats cuts them, for the "
            "other metrics whole clips); p-values Holm-adjusted within the overall comparisons and within the "
            "per-group ones (formatted WER in families of its own). The verdict is decided by a speaker-level test, named in its cell: the Wilcoxon test "
            "when enough speakers changed for it to pass the Holm correction at all (its smallest p is 2/2^n: "
            f"{st.WILCOXON_MIN_DIFFER} speakers for one comparison, more for a family), the "
            "paired t-test over speakers otherwise; 'significant' = that test's Holm-adjusted p below "
            f"{model['settings']['alpha']}. MAPSSWE never decides: it treats the segments of one speaker as "
            "independent and overstates the evidence when speakers respond differently. Groups with fewer than "
            f"{model['settings']['min_speakers']} speakers get no interval, no test and no verdict."), ""]
    out += [f"### All {plural} together", ""] + _comparison_table([r for r in rows if r[key] == ALL], key)
    per_group = [r for r in rows if r[key] != ALL]
    if per_group:
        out += [f"### Per {noun} (exploratory; Holm over all per-group rows)", ""] + _comparison_table(per_group, key)
    return out


def _comparison_table(rs: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return _table(
        ["Group", "Condition", "Metric", "Baseline", "Condition value", "Difference", "95% CI", "Speakers",
         "Wilcoxon p (Holm)", "Sign p (Holm)", "Paired t p (Holm)", "MAPSSWE p (Holm)", "Verdict (deciding test)"],
        [[_group_cell(r, key), md_escape(r["condition"]),
          st.METRICS[r["metric"]].label, fmt_value(r["metric"], r["base"]), fmt_value(r["metric"], r["cond"]),
          fmt_value(r["metric"], r["diff"], True),
          fmt_ci_or_na(r["metric"], r["low"], r["high"], r["too_few_speakers"], r["n_speakers"], True), r["n_speakers"],
          *_p_cells(r), md_escape(r["verdict_note"])]
         for r in rs],
    )


def _terms(model: Mapping[str, Any]) -> list[str]:
    out = []
    for cond, ch in model["term_changes"].items():
        if not any(ch.values()):
            continue
        out += [f"## Terms that changed most: {md_escape(cond)} vs {md_escape(model['baseline'])}", ""]
        for title, rows in (("Gained recall", ch["gained"]), ("Lost recall", ch["lost"]),
                            ("Most false insertions", ch["false_insertions"])):
            if not rows:
                continue
            out += [(f"**{title}** (offered / dropped: occurrences where the term was in the prompt/hotwords / cut by"
                     " the token budget)"), ""]
            out += _table(["Term", "Category", "Occurrences", "Offered / dropped", "Baseline recall", "Recall", "Change",
                           "False insertions (change)"],
                          [[md_escape(r["display"]), md_escape(r["category"]), r["refs"], f"{r['in_force']} / {r['dropped']}",
                            fmt_value("term_recall", r["base_recall"]), fmt_value("term_recall", r["recall"]),
                            fmt_value("term_recall", r["recall_change"], True),
                            f"{r['false_ins']} ({r['false_ins_change']:+d})"] for r in rows])
    return out


def _pairs_text(pairs: Sequence[Sequence[Any]]) -> str:
    bits = []
    for op, r, h in pairs:
        if op == "C":
            bits.append(md_escape(r))
        elif op == "S":
            bits.append(f"~~{md_escape(r)}~~→**{md_escape(h)}**")
        elif op == "D":
            bits.append(f"~~{md_escape(r)}~~")
        else:
            bits.append(f"+**{md_escape(h)}**")
    return " ".join(bits)


def _explanations(model: Mapping[str, Any]) -> list[str]:
    ex = model["explanations"]
    if not ex:
        return []
    shown = ex[:MD_MAX_EXPLANATIONS]
    out = ["## Why terms were missed or inserted", "",
           f"{model['explanations_total']} missed, partial or falsely inserted terms"
           + (f" (the first {len(shown)}, biased conditions first; report.html and report.json hold {len(ex)})"
              if len(shown) < model["explanations_total"] else "") + ". "
           "Context: aligned words around the term (~~reference~~→**hypothesis**).", ""]
    if model.get("failure_causes"):
        out += _table(["Condition", "Term was", "Missed", "Partial", "Falsely inserted"],
                      [[md_escape(c["condition"]), c["cause"], c["miss"], c["partial"], c["false_insertion"]]
                       for c in model["failure_causes"]])
    out += _table(["Condition", "Clip", "Group", "Term", "Outcome", "Heard", "In prompt/hotwords", "Why", "Aligned words"],
                  [[md_escape(e["condition"]), md_escape(e["utt_id"]), md_escape(_clip_group(e, model)), md_escape(e["term"]),
                    e["outcome"], md_escape(e["hyp_text"]), {True: "yes", False: "no", None: "n/a"}[e["in_force"]]
                    + (" (dropped: budget)" if e["dropped"] else ""), md_escape(e["reason"]), _pairs_text(e["context"])]
                   for e in shown])
    return out


def _worst(model: Mapping[str, Any]) -> list[str]:
    if not model["worst"]:
        return []
    out = ["## Worst utterances", ""]
    for w in model["worst"]:
        out += [f"**{md_escape(w['utt_id'])}** ({md_escape(_clip_group(w, model))}, speaker {md_escape(w['speaker'])})", ""]
        rows = [["reference", md_escape(w["ref"]), ""]]
        rows += [[md_escape(c), md_escape(h["hyp"]), f"{h['errors']} errors"] for c, h in w["hyps"].items()]
        out += _table(["", "Text", "Errors"], rows)
    return out


def _provenance(model: Mapping[str, Any]) -> list[str]:
    r = model["run"]
    eng = r.get("engine") or {}
    lines = ["## How this run was made", ""]
    lines.append(f"- Tool: {md_escape(r.get('tool'))} {md_escape(r.get('version'))}; created {md_escape(r.get('created'))}")
    if r.get("command"):
        lines.append(f"- Command: {md_escape(r['command'])}")
    if isinstance(eng, dict):
        dec = eng.get("decode") or {}
        lines.append(f"- Engine: {md_escape(eng.get('backend'))} {md_escape(eng.get('model'))} on {md_escape(eng.get('device'))} "
                     f"({md_escape(eng.get('compute_type'))}), beam {md_escape(dec.get('beam_size'))}, "
                     f"{md_escape(dec.get('decoding') or 'windowed')} decoding")
    for key in ("manifest", "dictionary", "directory"):
        v = r.get(key)
        if v:
            lines.append(f"- {key.title()}: {md_escape(v.get('path'))} (sha256 {md_escape(str(v.get('sha256') or '')[:12])})")
    if r.get("normalizer"):
        lines.append(f"- Normaliser: {md_escape(r['normalizer'])}")
    t = r.get("timing_summary") or {}
    if t:
        lines.append(f"- Timing: {t.get('wall_seconds')} s wall, {t.get('audio_seconds')} s audio, RTFx {t.get('rtfx')}")
    for c in r.get("conditions") or []:
        if c.get("per_clip"):
            lines.append(f"- Condition {md_escape(c['name'])}: method {md_escape(c['method'])}, a list per clip "
                         f"(plans.jsonl): {c['terms_in_force']} terms in force and {c['terms_dropped']} dropped by the "
                         f"budget per clip on average (at most {c.get('tokens')}/{c.get('budget')} tokens)")
            continue
        lines.append(f"- Condition {md_escape(c['name'])}: method {md_escape(c['method'])}, {c['terms_in_force']} terms in force, "
                     f"{c['terms_dropped']} dropped by the budget ({c.get('tokens')}/{c.get('budget')} tokens)")
    lines.append(f"- Redaction: {md_escape(model['redaction']['note'])}")
    lines.append(f"- Statistics: {md_escape(model['settings']['interval'])}, {model['settings']['n_boot']} draws, seed {model['settings']['seed']}")
    return lines + [""]


def _harm_rates(h: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    names = list(h["metrics"])
    return _table(["Group", "Clips", "Non-speech", *[st.METRICS[n].label for n in names]],
                  [[md_escape(r[key]), r["clips"], r["nonspeech_clips"],
                    *[_metric_cell(r, n) for n in names]] for r in rows])


def _harms(model: Mapping[str, Any]) -> list[str]:
    """Per condition: harm rates per group with intervals, the change against the baseline, and examples."""
    h = model.get("harms")
    if not h or not h["summary"]:
        return []
    key = group_key(model)
    out = ["## Harms", "",
           "Beyond term errors: output on clips with no speech (never part of WER), prompt echo (a run of the "
           "prompt copied where the reference does not have it), repetition loops and dropped tails (the "
           "transcript stops early). Shares of clips, with 95% speaker-bootstrap intervals; definitions in "
           "docs/scoring.md.", ""]
    events = {e["condition"]: e for e in h["events"]}
    for cond in model["conditions"]:
        rows = [r for r in h["summary"] if r["condition"] == cond]
        if not rows:
            continue
        out += [f"### {md_escape(cond)}", ""]
        out += _harm_rates(h, rows, key)
        e = events.get(cond)
        if e:
            out += ["Events: " + ", ".join(f"{e[k]} {k.replace('_', ' ')}" for k in e if k != "condition"), ""]
        comp = [r for r in h["comparisons"] if r["condition"] == cond and r[key] == ALL]
        if comp:
            out += [f"Against {md_escape(model['baseline'])} (paired, same clips; Holm over the harm comparisons):", ""]
            out += _table(["Metric", md_escape(model["baseline"]), md_escape(cond), "Change", "95% CI", "Holm p",
                           "Verdict"],
                          [[st.METRICS[r["metric"]].label, fmt_value(r["metric"], r["base"]),
                            fmt_value(r["metric"], r["cond"]), fmt_value(r["metric"], r["diff"], True),
                            fmt_ci(r["metric"], r["low"], r["high"], True), fmt_p(r.get("holm_wilcoxon")),
                            r.get("significance", "")] for r in comp])
        ex = h["examples"].get(cond) or []
        if ex:
            out += ["Examples:", ""]
            out += [f"- `{md_escape(x['utt_id'])}` ({md_escape(_clip_group(x, model))}), {md_escape(x['label'])}: "
                    f"{md_escape(x['detail'])}: \"{md_escape(x['text'])}\"" for x in ex] + [""]
    return out


def _grouping(model: Mapping[str, Any], sec: Mapping[str, Any]) -> list[str]:
    """A further grouping (``--group-by``): its verdicts, summary, per-group comparisons, fairness and harm rates."""
    key, noun, plural = _names(sec)
    out = [f"## Grouped by {md_escape(noun)}", ""]
    lines = list(sec["verdicts"])  # a real gap and the small groups; the rest is under Fairness below
    out += [f"- {md_escape(v)}" for v in lines] + ([""] if lines else [])
    out += _summary(model, sec, "###")
    out += _comparisons(model, sec, "###")
    out += _fairness(model, sec, "###")
    h = sec.get("harms") or {}
    if h.get("summary"):
        out += [f"### Harms per {md_escape(noun)}", ""]
        for cond in model["conditions"]:
            rows = [r for r in h["summary"] if r["condition"] == cond]
            if rows:
                out += [f"**{md_escape(cond)}**", ""] + _harm_rates(h, rows, key)
    return out


def render_markdown(model: Mapping[str, Any]) -> str:
    """The whole report.md text."""
    out = ["# asr-eval comparison report", ""]
    out += [f"> {md_escape(model['redaction']['note'])}", ""]
    if model["redaction"].get("problem"):
        out += [f"> **Warning:** {md_escape(model['redaction']['problem'])}", ""]
    out += ["## Verdicts", ""] + [f"- {md_escape(v)}" for v in model["verdicts"]] + [""]
    if model.get("grouping_notes"):
        out += [f"> **Grouping:** {md_escape(n)}" for n in model["grouping_notes"]] + [""]
    fairness_first = model["fairness"]["groups_differ"]
    if fairness_first:
        out += _fairness(model)
    out += _summary(model)
    out += _comparisons(model)
    if not fairness_first:
        out += _fairness(model)
    out += _terms(model)
    out += _explanations(model)
    out += _worst(model)
    out += _harms(model)
    for sec in model.get("groupings") or []:
        out += _grouping(model, sec)
    if model["skipped"]:
        out += ["## Skipped inputs", ""]
        out += _table(["File", "Line", "Severity", "Problem"],
                      [[md_escape(s.get("path")), md_escape(s.get("line")), md_escape(s.get("severity")), md_escape(s.get("problem"))]
                       for s in model["skipped"]])
    out += _provenance(model)
    return "\n".join(out) + "\n"
