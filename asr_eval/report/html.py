"""report.html: one self-contained page (inline CSS, JS and SVG; no network).

Every user-supplied string goes through jinja2 autoescaping. The only strings
marked safe are the SVG plots (matplotlib escapes their text as XML) and the
embedded JSON, which ``script_json`` makes safe inside a <script> element.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jinja2

from .. import stats as st
from . import plots
from .format import fmt_ci, fmt_ci_or_na, fmt_p, fmt_value, na_speakers
from .numbers import ALL
from .tables import group_key

_ENV: jinja2.Environment | None = None


def script_json(obj: Any) -> str:
    """JSON that cannot end a <script> element or open a comment inside it.

    ``json.dumps`` leaves '<', '>' and '&' alone, so a reference containing
    '</script>' would close the element; escaping them (and the JS line
    separators U+2028/9) as \\uXXXX keeps the JSON identical when parsed.
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("asr_eval.report", "templates"),
            autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.do"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals.update(fmt_value=fmt_value, fmt_ci=fmt_ci, fmt_ci_or_na=fmt_ci_or_na, fmt_p=fmt_p,
                           na_speakers=na_speakers, METRICS=st.METRICS, ALL=ALL, st=st)
        _ENV = env
    return _ENV


def _plots(model: Mapping[str, Any]) -> dict[str, Any]:
    key = group_key(model)
    out: dict[str, Any] = {"wer": None, "recall": None, "gain": None, "terms": None, "groupings": []}
    if model["summary"]:
        out["wer"] = plots.group_condition_plot(model["summary"], model["conditions"], model["groups"], key=key)
        if any(r["metrics"]["term_recall"]["value"] is not None for r in model["summary"]):
            out["recall"] = plots.group_condition_plot(model["summary"], model["conditions"], model["groups"],
                                                       metric="term_recall", label="Term recall (%)", key=key)
    if model["fairness"]["gains"]:
        out["gain"] = plots.gain_plot(model["fairness"]["gains"], model["conditions"], model["groups"], key=key)
    if any(t["recall_change"] is not None for t in model["terms"]):
        out["terms"] = plots.term_plot(model["terms"], model["conditions"], model["baseline"])
    for sec in model.get("groupings") or []:  # each further grouping: its WER and gain plots
        out["groupings"].append({
            "wer": plots.group_condition_plot(sec["summary"], model["conditions"], sec["groups"], key=sec["key"])
            if sec["summary"] else None,
            "gain": plots.gain_plot(sec["fairness"]["gains"], model["conditions"], sec["groups"], key=sec["key"])
            if sec["fairness"]["gains"] else None,
        })
    return out


def render_html(model: Mapping[str, Any]) -> str:
    """The whole report.html text."""
    data = {k: model[k] for k in ("schema", "verdicts", "summary", "comparisons", "conditions", "groups", "redaction")}
    term_names = sorted({t["display"] for t in model["terms"]})
    return _env().get_template("report.html.j2").render(
        m=model,
        plots=_plots(model),
        data_json=script_json(data),
        term_names=term_names,
    )
