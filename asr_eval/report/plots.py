"""Plots for report.html as inline SVG strings (matplotlib's SVG writer).

Inline SVG keeps report.html one self-contained file that opens without
network access. Text stays text (svg.fonttype 'none': searchable, small);
matplotlib escapes it as XML, so group and term names cannot inject markup.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .. import cache_root

# matplotlib writes a font cache on first import; keep it in asr-eval's documented cache folder
# (unless the user chose a place) rather than in the home folder.
os.environ.setdefault("MPLCONFIGDIR", str(cache_root() / "matplotlib"))

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def pyplot():
    """matplotlib.pyplot on the Agg backend, its cache in asr-eval's folder (for figures saved as files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

# Figures are made with the object API (no pyplot): no global backend switch, no
# figure registry to leak, safe to call from any process or thread.

PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "asr-eval",  # stable element ids: same input, same file
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    # Drop the XML prolog and DOCTYPE: the SVG is embedded in HTML.
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def group_condition_plot(summary: Sequence[Mapping[str, Any]], conditions: Sequence[str], groups: Sequence[str],
                         metric: str = "wer", label: str = "WER (%)", key: str = "accent_group") -> str:
    """Grouped points with 95% CI whiskers: one colour per condition, one slot per group (ALL last)."""
    slots = [*groups, "ALL"]
    with rc_context(_RC):
        fig = Figure(figsize=(max(5.0, 0.9 * len(slots) + 2), 3.2))
        ax = fig.subplots()
        width = 0.8 / max(1, len(conditions))
        for ci, cond in enumerate(conditions):
            xs, ys, lo, hi = [], [], [], []
            for gi, g in enumerate(slots):
                row = next((r for r in summary if r[key] == g and r["condition"] == cond), None)
                if row is None:
                    continue
                e = row["metrics"][metric]
                if e["value"] is None:
                    continue
                v = 100 * e["value"]
                xs.append(gi - 0.4 + width * (ci + 0.5))
                ys.append(v)
                lo.append(v - 100 * _num(e["low"]) if e["low"] is not None else 0)
                hi.append(100 * _num(e["high"]) - v if e["high"] is not None else 0)
            ax.bar(xs, ys, width=width * 0.9, color=PALETTE[ci % len(PALETTE)], label=cond, alpha=0.85)
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="#222", elinewidth=1, capsize=2)
        ax.set_xticks(range(len(slots)))
        ax.set_xticklabels(slots, rotation=30 if len(slots) > 5 else 0, ha="right" if len(slots) > 5 else "center")
        ax.set_ylabel(label)
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(fig)


def gain_plot(gains: Sequence[Mapping[str, Any]], conditions: Sequence[str], groups: Sequence[str],
              key: str = "accent_group") -> str:
    """Horizontal bars of WER gain per group (baseline minus biased) with CI whiskers."""
    conds = [c for c in conditions if any(g["condition"] == c for g in gains)]
    with rc_context(_RC):
        fig = Figure(figsize=(6.0, max(2.0, 0.35 * len(groups) * max(1, len(conds)) + 1)))
        ax = fig.subplots()
        height = 0.8 / max(1, len(conds))
        for ci, cond in enumerate(conds):
            ys, xs, lo, hi = [], [], [], []
            for gi, grp in enumerate(groups):
                row = next((r for r in gains if r[key] == grp and r["condition"] == cond), None)
                if row is None or row["gain"] is None:
                    continue
                v = 100 * row["gain"]
                ys.append(gi - 0.4 + height * (ci + 0.5))
                xs.append(v)
                lo.append(v - 100 * row["low"] if row["low"] is not None else 0)
                hi.append(100 * row["high"] - v if row["high"] is not None else 0)
            ax.barh(ys, xs, height=height * 0.9, color=PALETTE[(ci + 1) % len(PALETTE)], label=cond, alpha=0.85)
            ax.errorbar(xs, ys, xerr=[lo, hi], fmt="none", ecolor="#222", elinewidth=1, capsize=2)
        ax.axvline(0, color="#666", linewidth=0.8)
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels(groups)
        ax.invert_yaxis()
        ax.set_xlabel("WER gain vs baseline (percentage points; right = biasing helped)")
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(fig)


def term_plot(terms: Sequence[Mapping[str, Any]], conditions: Sequence[str], baseline: str) -> str:
    """Per term: recall change vs false insertions, one colour per biased condition."""
    conds = [c for c in conditions if c != baseline]
    with rc_context(_RC):
        fig = Figure(figsize=(6.0, 3.6))
        ax = fig.subplots()
        labelled: list[tuple[float, float]] = []
        x_span = max([1] + [t["false_ins"] for t in terms])
        for ci, cond in enumerate(conds):
            rows = [t for t in terms if t["condition"] == cond and t["recall_change"] is not None]
            if not rows:
                continue
            # Conditions side by side around each integer count, so their points do not hide each other.
            offset = (ci - (len(conds) - 1) / 2) * 0.12
            xs = [r["false_ins"] + offset for r in rows]
            ys = [100 * r["recall_change"] for r in rows]
            ax.scatter(xs, ys, s=[12 + 6 * r["refs"] for r in rows], color=PALETTE[(ci + 1) % len(PALETTE)],
                       alpha=0.7, label=cond, edgecolors="white", linewidths=0.5)
            # Label the most extreme terms, skipping any that would sit on a label already drawn.
            extreme = sorted(zip(rows, xs, ys), key=lambda p: -(abs(p[0]["recall_change"]) + 0.2 * p[0]["false_ins"]))
            for r, x, y in extreme[:8]:
                if any(abs(x - lx) < 0.08 * x_span + 0.3 and abs(y - ly) < 8 for lx, ly in labelled):
                    continue
                labelled.append((x, y))
                ax.annotate(r["display"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(0, color="#666", linewidth=0.8)
        ax.set_xlabel("False insertions of the term (count)")
        ax.set_ylabel("Recall change vs baseline (points)")
        if conds:
            ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(fig)
