"""The gate's rules file (YAML), read and checked: every problem is ``file:line: problem``, exit code 2.

A rules file lives in the repository whose CI runs the gate and is edited by
hand, so each value is checked where it is written: an unknown metric lists
the known ones, a margin in the wrong unit or a confidence of 95 (not 0.95)
is refused with its line. The YAML is read from the parser's events, as the
vocabulary loader reads it: aliases are refused (they can expand without
bound), nesting and size are limited, and every value keeps its line.

Format (docs/ci.md)::

    confidence: 0.95          # default for every rule
    rules:
      - name: wer-no-worse
        metric: wer
        comparison: non_inferior   # or at_most / at_least
        margin: 0.5                # percentage points for percent metrics
        scope: each_group          # or all
        min_speakers: 8
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from . import stats as st
from .gate import COMPARISONS, NON_INFERIOR, SCOPE_ALL, SCOPE_EACH, SCOPES, Rule
from .tabular import Limits, read_text
from .types import InputError

RULES_LIMITS = Limits(max_bytes=1024**2, max_rows=10_000, max_line_chars=16 * 1024)
MAX_RULES = 500
MAX_DEPTH = 6
MAX_VALUES = 20_000
TOP_KEYS = ("confidence", "n_boot", "seed", "rules")
RULE_KEYS = ("name", "metric", "comparison", "margin", "limit", "scope", "min_speakers", "confidence", "conditions",
             "description")


class _Node:
    """A YAML value with the line it starts on."""

    __slots__ = ("value", "line")

    def __init__(self, value: Any, line: int):
        self.value = value
        self.line = line


def _parse(path: Path, text: str) -> _Node | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    stack: list[list[Any]] = []  # [container node, pending key node or None]
    root: _Node | None = None
    count = 0

    def put(node: _Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        frame = stack[-1]
        container = frame[0].value
        if isinstance(container, list):
            container.append(node)
        elif frame[1] is None:
            if not isinstance(node.value, str):
                raise InputError(str(path), "a mapping key must be text", node.line)
            if node.value in container:
                raise InputError(str(path), f"key {node.value!r} is given twice", node.line)
            frame[1] = node
        else:
            container[frame[1].value] = node
            frame[1] = None

    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                raise InputError(str(path), f"YAML alias *{event.anchor} is not allowed in a rules file; write the "
                                            "value out", line)
            if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                count += 1
                if count > MAX_VALUES:
                    raise InputError(str(path), f"more than {MAX_VALUES} YAML values", line)
            if isinstance(event, yaml.ScalarEvent):
                plain = event.implicit[0]
                value: Any = event.value
                if plain and value in ("", "~", "null", "Null", "NULL"):
                    value = None
                put(_Node(_scalar(value) if plain else value, line))
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise InputError(str(path), f"YAML nested more than {MAX_DEPTH} levels deep", line)
                stack.append([_Node([] if isinstance(event, yaml.SequenceStartEvent) else {}, line), None])
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                node, _ = stack.pop()
                put(node)
            elif isinstance(event, yaml.DocumentStartEvent) and root is not None:
                raise InputError(str(path), "more than one YAML document", line)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = "; ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        raise InputError(str(path), f"not valid YAML: {what or type(exc).__name__}",
                         mark.line + 1 if mark else None) from None
    return root


def _scalar(text: str | None) -> Any:
    """A plain scalar as YAML 1.1 would read the few types rules use: numbers and booleans; else text."""
    if text is None:
        return None
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        x = float(text)
    except ValueError:
        return text
    return x if math.isfinite(x) else text


def _number(path: Path, node: _Node, key: str, *, percent_metric: bool | None = None) -> float:
    """A number; for a margin/limit of a percent metric also '0.5pp' or '0.5%' (both mean 0.5 points)."""
    v = node.value
    if isinstance(v, str) and percent_metric:
        s = v.strip().lower().replace(" ", "")
        for suffix in ("pp", "%"):
            if s.endswith(suffix):
                v = _scalar(s[: -len(suffix)])
                break
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(str(path), f"{key}: expected a number, got {node.value!r}", node.line)
    return float(v)


def _confidence(path: Path, node: _Node) -> float:
    c = _number(path, node, "confidence")
    if not 0.5 < c < 1:
        hint = f" (write {c / 100:g} for {c:g}%)" if 50 < c < 100 else ""
        raise InputError(str(path), f"confidence: expected a number between 0.5 and 1, got {node.value!r}{hint}",
                         node.line)
    return c


def _rule(path: Path, node: _Node, index: int, confidence: float, names: set[str]) -> Rule:
    if not isinstance(node.value, dict):
        raise InputError(str(path), f"rule {index}: expected a mapping (name, metric, comparison, ...)", node.line)
    d: dict[str, _Node] = node.value
    for k, v in d.items():
        if k not in RULE_KEYS:
            raise InputError(str(path), f"rule {index}: unknown key {k!r} (known: {', '.join(RULE_KEYS)})", v.line)
    if "metric" not in d:
        raise InputError(str(path), f"rule {index}: 'metric' is required", node.line)
    metric = d["metric"].value
    if not isinstance(metric, str) or metric not in st.METRICS:
        raise InputError(str(path), f"rule {index}: unknown metric {metric!r} (known: {', '.join(st.METRICS)})",
                         d["metric"].line)
    m = st.METRICS[metric]
    name = d["name"].value if "name" in d else f"{metric}-{index}"
    if not isinstance(name, str) or not name.strip():
        raise InputError(str(path), f"rule {index}: name must be text", d["name"].line)
    if name in names:
        raise InputError(str(path), f"rule {index}: name {name!r} is used by an earlier rule", d["name"].line)
    names.add(name)
    comparison = d["comparison"].value if "comparison" in d else NON_INFERIOR
    if comparison not in COMPARISONS:
        raise InputError(str(path), f"rule {name!r}: comparison must be one of {', '.join(COMPARISONS)}, "
                                    f"got {comparison!r}", d["comparison"].line)
    scale = 100.0 if m.percent else 1.0  # percent metrics are written in (percentage) points
    margin, limit = 0.0, None
    if comparison == NON_INFERIOR:
        if "limit" in d:
            raise InputError(str(path), f"rule {name!r}: 'limit' is for at_most/at_least; a non_inferior rule "
                                        "takes a 'margin'", d["limit"].line)
        if "margin" not in d:
            raise InputError(str(path), f"rule {name!r}: a non_inferior rule needs a 'margin' (how much worse B "
                                        f"may be{', in percentage points' if m.percent else ''}; 0 for none)",
                             node.line)
        margin = _number(path, d["margin"], "margin", percent_metric=m.percent) / scale
        if margin < 0:
            raise InputError(str(path), f"rule {name!r}: margin must be 0 or more", d["margin"].line)
    else:
        if "margin" in d:
            raise InputError(str(path), f"rule {name!r}: 'margin' is for non_inferior; {comparison} takes a "
                                        "'limit'", d["margin"].line)
        if "limit" not in d:
            raise InputError(str(path), f"rule {name!r}: {comparison} needs a 'limit'"
                                        + (" (in percent)" if m.percent else ""), node.line)
        limit = _number(path, d["limit"], "limit", percent_metric=m.percent) / scale
    scope = d["scope"].value if "scope" in d else SCOPE_EACH
    if scope not in SCOPES:
        raise InputError(str(path), f"rule {name!r}: scope must be {SCOPE_ALL} or {SCOPE_EACH}, got {scope!r}",
                         d["scope"].line)
    min_speakers = st.MIN_SPEAKERS
    if "min_speakers" in d:
        v = d["min_speakers"].value
        if scope != SCOPE_EACH:
            raise InputError(str(path), f"rule {name!r}: min_speakers applies to scope {SCOPE_EACH} only",
                             d["min_speakers"].line)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(str(path), f"rule {name!r}: min_speakers must be a whole number >= 1, got {v!r}",
                             d["min_speakers"].line)
        min_speakers = v
    conf = _confidence(path, d["confidence"]) if "confidence" in d else confidence
    conditions: tuple[str, ...] = ()
    if "conditions" in d:
        v = d["conditions"].value
        items = [v] if isinstance(v, str) else v if isinstance(v, list) else None
        if items is None or not all(isinstance(getattr(i, "value", i), str) for i in items):
            raise InputError(str(path), f"rule {name!r}: conditions must be a condition name or a list of them",
                             d["conditions"].line)
        conditions = tuple(getattr(i, "value", i) for i in items)
    return Rule(name=name, metric=metric, comparison=comparison, margin=margin, limit=limit, scope=scope,
                min_speakers=min_speakers, confidence=conf, conditions=conditions, line=node.line)


def load_rules(path: str | Path) -> tuple[list[Rule], dict[str, Any]]:
    """The rules of a rules file and its settings (n_boot, seed); InputError at file:line for anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "rules file not found")
    text = read_text(path, "rules file", RULES_LIMITS)
    root = _parse(path, text)
    if root is None or not isinstance(root.value, dict):
        raise InputError(str(path), "expected a mapping with a 'rules' list (see docs/ci.md)",
                         root.line if root else 1)
    top: dict[str, _Node] = root.value
    for k, v in top.items():
        if k not in TOP_KEYS:
            raise InputError(str(path), f"unknown key {k!r} (known: {', '.join(TOP_KEYS)})", v.line)
    confidence = _confidence(path, top["confidence"]) if "confidence" in top else 0.95
    settings: dict[str, Any] = {}
    for key, lo in (("n_boot", 100), ("seed", 0)):
        if key in top:
            v = top[key].value
            if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > 1_000_000:
                raise InputError(str(path), f"{key}: expected a whole number from {lo} to 1000000, got {v!r}",
                                 top[key].line)
            settings[key] = v
    if "rules" not in top or not isinstance(top["rules"].value, list) or not top["rules"].value:
        raise InputError(str(path), "'rules' must be a non-empty list of rules",
                         top["rules"].line if "rules" in top else root.line)
    items = top["rules"].value
    if len(items) > MAX_RULES:
        raise InputError(str(path), f"more than {MAX_RULES} rules", items[MAX_RULES].line)
    names: set[str] = set()
    return [_rule(path, n, i, confidence, names) for i, n in enumerate(items, start=1)], settings
