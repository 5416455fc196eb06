"""The finding type shared by ``vocab check`` and ``vocab export``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem in a vocabulary, located precisely enough to fix it.

    ``code`` is stable (CI scripts may filter on it); ``engine`` is set when
    the finding only matters for one engine's limits.
    """

    severity: str
    code: str
    message: str
    path: str
    line: int | None = None
    term: str | None = None
    engine: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "engine": self.engine,
            "path": self.path,
            "line": self.line,
            "term": self.term,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        scope = f"{self.engine}/" if self.engine else ""
        return f"{where}: {self.severity}: [{scope}{self.code}] {self.message}"


def count(findings: Iterable[Finding], severity: str) -> int:
    return sum(1 for f in findings if f.severity == severity)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by file and line, so the worst problem is read first."""
    return sorted(findings, key=lambda f: (f.severity != ERROR, f.path, f.line or 0, f.engine or "", f.code))
