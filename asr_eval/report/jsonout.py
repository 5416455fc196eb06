"""report.json: the report model as it is, for machines (CI gates, dashboards)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: what ``--group-by`` added to the model; absent from report.json when a report is grouped by accent group alone
GROUPING_KEYS = ("group_by", "groupings", "grouping_notes")


def _as_before(model: Mapping[str, Any]) -> Mapping[str, Any]:
    """The model without the grouping additions when they say nothing new, so such a report.json is what it always was.

    Absent ``group_by`` therefore means: grouped by ``accent_group`` alone.
    """
    from .model import is_default_grouping

    if not is_default_grouping(dict(model)) or model.get("grouping_notes"):
        return model
    out = {k: v for k, v in model.items() if k not in GROUPING_KEYS}
    for name in ("utterances", "explanations"):
        if name in out:
            out[name] = [{k: v for k, v in r.items() if k != "groups"} for r in out[name]]
    return out


def render_json(model: Mapping[str, Any]) -> str:
    # allow_nan=False: JSON has no NaN; the model already turned undefined values into null.
    return json.dumps(_as_before(model), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
