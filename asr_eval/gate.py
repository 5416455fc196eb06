"""CI gates on a comparison: non-inferiority rules over the paired clips of two runs (pure).

A gate answers "may B ship instead of A?" with rules such as "WER of B is not
worse than A's by more than 0.5 pp in any group with at least 8 speakers, at
95 %". Each rule is a one-sided test whose burden of proof is on B:

- ``non_inferior``: the rule passes when the one-sided upper confidence bound
  of B's *worsening* (B - A for a lower-is-better metric such as WER, A - B
  for term recall) is at most ``margin``. A real loss larger than the margin
  therefore passes in at most 1 - ``confidence`` of test sets (the test's
  level); noise alone passes whenever the test set is large enough to bound
  the difference within the margin. With too few speakers the bound is wide
  and the rule fails with "cannot show non-inferiority" rather than with a
  claim that B is worse: the message says which it is.
- ``at_most`` / ``at_least``: B's own value, bounded one-sidedly (upper bound
  at most ``limit``; lower bound at least ``limit``), for caps such as false
  insertions per 100 clips.

Bounds are the speaker-bootstrap intervals the reports use
(``stats.paired_compare`` and ``stats.summarize``, studentized, speakers
resampled, paired by clip); a one-sided bound at confidence c is the end of
the two-sided interval at level 2c - 1. A rule over every group passes only
if it passes in each group (an intersection-union test), so no multiplicity
correction is needed for the gate to keep its level: each group's loss must
be ruled out on its own. Groups under three speakers get no interval anywhere
in asr-eval, so no rule can pass on them; ``min_speakers`` leaves smaller
groups out of a rule, and the result lists them as not gated.

Any metric of ``stats.metrics.METRICS`` can be gated (harm metrics included).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import stats as st

NON_INFERIOR = "non_inferior"
AT_MOST = "at_most"
AT_LEAST = "at_least"
COMPARISONS = (NON_INFERIOR, AT_MOST, AT_LEAST)
SCOPE_ALL = "all"
SCOPE_EACH = "each_group"
SCOPES = (SCOPE_ALL, SCOPE_EACH)
ALL = "ALL"

PASS, FAIL, CANNOT_SHOW, NO_DATA, NOT_GATED = "pass", "fail", "cannot show", "no data", "not gated"


@dataclass(frozen=True)
class Rule:
    """One gate rule; values in the metric's own units (a fraction for percent metrics: 0.005 = 0.5 pp)."""

    name: str
    metric: str
    comparison: str = NON_INFERIOR
    margin: float = 0.0
    limit: float | None = None
    scope: str = SCOPE_EACH
    min_speakers: int = st.MIN_SPEAKERS
    confidence: float = 0.95
    conditions: tuple[str, ...] = ()  # condition names this rule applies to (either side); empty: every pair
    line: int | None = None  # in the rules file

    def describe(self) -> str:
        m = st.METRICS[self.metric]
        where = ("overall" if self.scope == SCOPE_ALL
                 else f"in every group with at least {self.min_speakers} speakers")
        conf = f"{100 * self.confidence:g}% one-sided"
        if self.comparison == NON_INFERIOR:
            worse = "higher" if m.lower_is_better else "lower"
            return (f"{m.label} of B is not worse ({worse}) than A's by more than "
                    f"{_fmt(self.metric, self.margin, diff=True, unsigned=True)} {where} ({conf})")
        word = "at most" if self.comparison == AT_MOST else "at least"
        return f"{m.label} of B is {word} {_fmt(self.metric, self.limit)} {where} ({conf})"


@dataclass(frozen=True)
class PairRecords:
    """One compared pair: its name, the two condition names and the paired per-clip rows of each side."""

    name: str
    a_condition: str
    b_condition: str
    a: Sequence[Mapping[str, Any]]
    b: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Check:
    """One rule on one pair and group."""

    pair: str
    group: str
    speakers: int
    status: str  # PASS, FAIL, CANNOT_SHOW, NO_DATA, NOT_GATED
    a_value: float | None = None
    b_value: float | None = None
    diff: float | None = None  # B - A
    bound: float | None = None  # the one-sided bound the rule tests
    threshold: float | None = None  # margin (as a bound on the worsening) or limit
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: _clean(getattr(self, k)) for k in ("pair", "group", "speakers", "status", "a_value", "b_value",
                                                       "diff", "bound", "threshold", "reason")}


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not any(c.status in (FAIL, CANNOT_SHOW) for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status in (FAIL, CANNOT_SHOW)]

    def explain(self) -> str:
        """Plain words: what the rule asked, and for each failing pair and group why it failed."""
        head = f"{'PASS' if self.passed else 'FAIL'} {self.rule.name}: {self.rule.describe()}"
        lines = [head]
        gated = [c for c in self.checks if c.status not in (NOT_GATED,)]
        if self.passed:
            n = sum(c.status == PASS for c in gated)
            lines.append(f"  passed in {n} check{'s' if n != 1 else ''}"
                         + (f" ({sum(c.status == NO_DATA for c in gated)} without data)"
                            if any(c.status == NO_DATA for c in gated) else ""))
        for c in self.failures:
            lines.append(f"  {c.pair}, {c.group}: {c.reason}")
        skipped = [c for c in self.checks if c.status == NOT_GATED]
        if skipped:
            lines.append("  not gated (fewer than %d speakers): %s" % (
                self.rule.min_speakers, ", ".join(f"{c.group} ({c.speakers})" for c in skipped[:20])
                + (" ..." if len(skipped) > 20 else "")))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        r = self.rule
        return {"name": r.name, "metric": r.metric, "comparison": r.comparison, "margin": r.margin, "limit": r.limit,
                "scope": r.scope, "min_speakers": r.min_speakers, "confidence": r.confidence,
                "conditions": list(r.conditions), "line": r.line, "description": r.describe(), "passed": self.passed,
                "checks": [c.as_dict() for c in self.checks]}


def _clean(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


def _fmt(metric: str, x: float | None, diff: bool = False, unsigned: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    m = st.METRICS[metric]
    if abs(x) < 1e-9:
        x = 0.0  # never "-0.00 pp"
    sign = "+" if diff and not unsigned and x > 0 else ""
    if m.percent:
        return f"{sign}{100 * x:.2f} pp" if diff else f"{100 * x:.2f}%"
    return f"{sign}{x:.3g}"


def _strata(records: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """speaker -> group for a pooled bound (speakers resampled within groups, as the report's ALL rows are)."""
    strata = {str(r["speaker"]): str(r["accent_group"]) for r in records}
    sizes: dict[str, int] = {}
    for g in strata.values():
        sizes[g] = sizes.get(g, 0) + 1
    return strata if len(sizes) >= 2 and min(sizes.values()) >= 2 else None


def _applies(rule: Rule, pair: PairRecords) -> bool:
    return not rule.conditions or pair.a_condition in rule.conditions or pair.b_condition in rule.conditions


def _check(rule: Rule, pair: PairRecords, group: str, a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]],
           n_boot: int, seed: int) -> Check:
    m = st.METRICS[rule.metric]
    speakers = len({str(r["speaker"]) for r in a})
    alpha = 2 * (1 - rule.confidence)  # two-sided level whose ends are the one-sided bounds
    strata = _strata(a) if group == ALL else None
    s = st.stable_seed(seed, "gate", rule.name, pair.name, group)
    pct = f"{100 * rule.confidence:g}%"
    if rule.comparison == NON_INFERIOR:
        r = st.paired_compare(a, b, metrics=(rule.metric,), n_boot=n_boot, seed=s, alpha=alpha, strata=strata)[rule.metric]
        a_v, b_v, diff = r.base, r.cond, r.diff
        worsening = diff if m.lower_is_better else -diff
        bound = r.high if m.lower_is_better else (-r.low if not math.isnan(r.low) else math.nan)
        base = dict(pair=pair.name, group=group, speakers=speakers, a_value=a_v, b_value=b_v, diff=diff,
                    threshold=rule.margin)
        if math.isnan(diff):
            return Check(**base, status=NO_DATA, reason=f"no data for {m.label} on these clips")
        if speakers < st.MIN_SPEAKERS or math.isnan(bound):
            return Check(**base, status=CANNOT_SHOW, reason=(
                f"cannot show non-inferiority: {speakers} speaker{'s' if speakers != 1 else ''} give no interval "
                f"(at least {st.MIN_SPEAKERS} needed); B - A = {_fmt(rule.metric, diff, True)}; raise min_speakers "
                "to leave this group out, or add speakers"))
        bound = max(bound, worsening)
        ok = bound <= rule.margin + 1e-12
        change = ("no change" if abs(worsening) < 1e-12 else
                  f"{_fmt(rule.metric, abs(worsening), True, True)} {'worse' if worsening > 0 else 'better'}")
        shown = (f"B - A = {_fmt(rule.metric, diff, True)} ({change}); "
                 f"{pct} upper bound of the worsening {_fmt(rule.metric, bound, True)}")
        if ok:
            return Check(**base, bound=bound, status=PASS,
                         reason=f"{shown} <= margin {_fmt(rule.metric, rule.margin, True, True)}")
        if worsening > rule.margin:
            why = (f"{shown} > margin {_fmt(rule.metric, rule.margin, True, True)}: B is worse by more than the "
                   "margin")
        else:
            why = (f"cannot show non-inferiority: {shown} > margin {_fmt(rule.metric, rule.margin, True, True)}, "
                   f"although the estimate is within it: with {speakers} speakers the interval is too wide "
                   "(more speakers, or a wider margin, would settle it)")
        return Check(**base, bound=bound, status=FAIL if worsening > rule.margin else CANNOT_SHOW, reason=why)
    g = st.summarize(b, n_boot=n_boot, seed=s, alpha=alpha, metrics=(rule.metric,), strata=strata)
    e = g.metrics[rule.metric]
    a_v = st.summarize(a, n_boot=0, seed=s, metrics=(rule.metric,)).metrics[rule.metric].value if a else math.nan
    base = dict(pair=pair.name, group=group, speakers=speakers, a_value=a_v, b_value=e.value,
                diff=e.value - a_v if not math.isnan(a_v) else math.nan, threshold=rule.limit)
    if math.isnan(e.value):
        return Check(**base, status=NO_DATA, reason=f"no data for {m.label} on these clips")
    upper = rule.comparison == AT_MOST
    bound = e.high if upper else e.low
    if speakers < st.MIN_SPEAKERS or math.isnan(bound):
        return Check(**base, status=CANNOT_SHOW, reason=(
            f"cannot show B's {m.label} is {'at most' if upper else 'at least'} {_fmt(rule.metric, rule.limit)}: "
            f"{speakers} speaker{'s' if speakers != 1 else ''} give no interval (at least {st.MIN_SPEAKERS} needed); "
            f"B = {_fmt(rule.metric, e.value)}"))
    bound = max(bound, e.value) if upper else min(bound, e.value)
    ok = bound <= rule.limit + 1e-12 if upper else bound >= rule.limit - 1e-12
    rel = ("<=" if ok else ">") if upper else (">=" if ok else "<")
    shown = f"B = {_fmt(rule.metric, e.value)}, {pct} {'upper' if upper else 'lower'} bound {_fmt(rule.metric, bound)} {rel} {_fmt(rule.metric, rule.limit)}"
    if ok:
        return Check(**base, bound=bound, status=PASS, reason=shown)
    beyond = e.value > rule.limit if upper else e.value < rule.limit
    if beyond:
        return Check(**base, bound=bound, status=FAIL, reason=shown)
    return Check(**base, bound=bound, status=CANNOT_SHOW,
                 reason=f"cannot show it: {shown}, although the estimate is within the limit "
                        f"(with {speakers} speakers the interval is too wide)")


def evaluate(rules: Sequence[Rule], pairs: Sequence[PairRecords], *, n_boot: int = 2000,
             seed: int = 0) -> list[RuleResult]:
    """Every rule on every pair it applies to, overall or per group (``accent_group`` of the rows)."""
    out = []
    for rule in rules:
        checks: list[Check] = []
        for pair in pairs:
            if not _applies(rule, pair):
                continue
            if rule.scope == SCOPE_ALL:
                checks.append(_check(rule, pair, ALL, pair.a, pair.b, n_boot, seed))
                continue
            by_a: dict[str, list[Mapping[str, Any]]] = {}
            for r in pair.a:
                by_a.setdefault(str(r["accent_group"]), []).append(r)
            b_by = {str(r["utt_id"]): r for r in pair.b}
            for grp in sorted(by_a):
                a = by_a[grp]
                b = [b_by[str(r["utt_id"])] for r in a if str(r["utt_id"]) in b_by]
                n = len({str(r["speaker"]) for r in a})
                if n < rule.min_speakers:
                    checks.append(Check(pair.name, grp, n, NOT_GATED, reason=f"{n} speakers < {rule.min_speakers}"))
                    continue
                checks.append(_check(rule, pair, grp, a, b, n_boot, seed))
        out.append(RuleResult(rule, tuple(checks)))
    return out


# --------------------------------------------------------------------------- reports for CI


def explanation(results: Sequence[RuleResult]) -> str:
    """What the terminal shows: every rule's verdict, and why each failing check failed."""
    failed = [r for r in results if not r.passed]
    head = (f"gate: {len(results) - len(failed)} of {len(results)} rules passed"
            + (f"; failed: {', '.join(r.rule.name for r in failed)}" if failed else ""))
    return "\n".join([head, *(r.explain() for r in results)]) + "\n"


def junit_xml(results: Sequence[RuleResult], suite: str = "asr-eval gate") -> str:
    """JUnit XML (the schema CI systems read: testsuites/testsuite/testcase/failure): one test case per rule."""
    root = ET.Element("testsuites", name=suite, tests=str(len(results)),
                      failures=str(sum(not r.passed for r in results)))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(sum(not r.passed for r in results)), errors="0", skipped="0")
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname="asr-eval.gate", name=f"{r.rule.name}: {r.rule.describe()}")
        if not r.passed:
            f = r.failures[0]
            fail = ET.SubElement(tc, "failure", message=f"{f.pair}, {f.group}: {f.reason}",
                                 type="cannot show" if all(c.status == CANNOT_SHOW for c in r.failures) else "fail")
            fail.text = r.explain()
        out = ET.SubElement(tc, "system-out")
        out.text = "\n".join(f"{c.pair}, {c.group} ({c.speakers} speakers): {c.status}: {c.reason}" for c in r.checks)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md(text: Any) -> str:
    s = "" if text is None else str(text)
    for ch in "\\`*_[]|<>#":
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")


def summary_markdown(results: Sequence[RuleResult], title: str = "asr-eval gate") -> str:
    """A pull-request comment: the verdict first, then one row per rule, then the failing checks."""
    failed = [r for r in results if not r.passed]
    lines = [f"### {_md(title)}: {'❌ failed' if failed else '✅ passed'} "
             f"({len(results) - len(failed)}/{len(results)} rules)", "",
             "| Rule | Requirement | Result | Checks | Worst case |", "|---|---|---|---|---|"]
    for r in results:
        gated = [c for c in r.checks if c.status != NOT_GATED]
        worst = r.failures[0] if r.failures else max(
            (c for c in gated if c.bound is not None), key=lambda c: _headroom(r.rule, c), default=None)
        cell = f"{_md(worst.pair)}, {_md(worst.group)}: {_md(worst.reason)}" if worst else ""
        lines.append(f"| {_md(r.rule.name)} | {_md(r.rule.describe())} | {'✅ pass' if r.passed else '❌ fail'} | "
                     f"{sum(c.status == PASS for c in gated)}/{len(gated)} | {cell} |")
    if failed:
        lines += ["", "<details><summary>Every failing check</summary>", ""]
        for r in failed:
            lines += [f"- **{_md(r.rule.name)}**"] + [f"  - {_md(c.pair)}, {_md(c.group)}: {_md(c.reason)}"
                                                     for c in r.failures]
        lines += ["", "</details>"]
    lines += ["", "Bounds are one-sided speaker-bootstrap confidence bounds; a rule passes only when the data "
                  "show B within the margin (see docs/ci.md)."]
    return "\n".join(lines) + "\n"


def _headroom(rule: Rule, c: Check) -> float:
    """How close a passing check came to failing (larger = closer)."""
    if c.bound is None or c.threshold is None:
        return -math.inf
    return c.bound - c.threshold if rule.comparison != AT_LEAST else c.threshold - c.bound
