"""report.json: the report model as it is, for machines (CI gates, dashboards)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def render_json(model: Mapping[str, Any]) -> str:
    # allow_nan=False: JSON has no NaN; the model already turned undefined values into null.
    return json.dumps(model, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
