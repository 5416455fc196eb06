"""The layers of docs/architecture.md, enforced: no module imports from a layer above its own.

Every module of the package must be placed in a layer here (a new module
fails this test until it is), and every import, lazy ones inside functions
included, must go to the module's own layer or one it may depend on. The
point is the one the issue that introduced it made: the pure core stays free
of I/O, engines, reports and the CLI, and reports never reach into
evaluation, so each can be tested and changed on its own.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "asr_eval"

# layer -> module patterns (dotted, relative to asr_eval; "pkg" is the package's __init__)
LAYERS: dict[str, tuple[str, ...]] = {
    "values": ("__init__", "types", "counts"),
    "pure": ("fold", "matching", "align", "normalize", "normalize_whisper", "scoring", "alternatives", "formatted", "synonyms",
             "stats", "stats.*", "annotations", "correct",
             "redact", "bias", "context", "shard", "score_run", "harms", "grouping", "vocab.text", "vocab.findings", "vocab.lint", "vocab.budget",
             "vocab.coverage", "vocab.confusable", "vocab.history", "vocab.engines", "backends.whisper_rules",
             "backends.native", "wordtimes", "pairing", "gate"),
    "io": ("audio", "files", "cache", "tabular", "manifest", "formats", "formats.*", "hypotheses", "hypformats", "hypformats.*",
           "trn", "vocab", "vocab.load", "synonyms_load", "spill",
           "vocab.distractors", "runfolder", "provenance", "whisper_spellings", "rules"),
    "engines": ("backends", "backends.*"),
    "tooling": ("vocab.sources", "vocab.probe"),
    "stages": ("transcribe", "ray_executor"),
    "reports": ("report", "report.*"),
    "orchestration": ("evaluate", "merge", "sweep", "compare"),
    "cli": ("cli", "cli.*"),
}
MAY_USE: dict[str, set[str]] = {
    "values": set(),
    "pure": {"values"},
    "io": {"values", "pure"},
    "engines": {"values", "pure", "io"},
    "tooling": {"values", "pure", "io", "engines"},
    "stages": {"values", "pure", "io", "engines"},
    "reports": {"values", "pure", "io"},
    "orchestration": {"values", "pure", "io", "engines", "stages", "reports"},
    "cli": {"values", "pure", "io", "engines", "tooling", "stages", "reports", "orchestration"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> str | None:
    for layer, patterns in LAYERS.items():
        if any(fnmatch(module, p) for p in patterns):
            return layer
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Modules of the package that ``path`` imports (absolute names relative to asr_eval)."""
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and node.module.split(".")[0] == "asr_eval":
                target = node.module[len("asr_eval"):].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            for n in names:  # 'from . import stats' imports a module, 'from .x import y' a name of x
                candidate = f"{target}.{n}" if target else n
                out.add(candidate if _is_module(candidate) else target)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "asr_eval":
                    out.add(a.name[len("asr_eval"):].lstrip("."))
    return {m for m in out if m}


def _is_module(name: str) -> bool:
    p = PACKAGE.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in _all_modules() if _layer(m) is None)
    assert not unplaced, f"place these modules in a layer of tests/test_layers.py (and docs/architecture.md): {unplaced}"


def test_no_module_imports_from_a_layer_it_may_not_use():
    bad = []
    for module, path in _all_modules().items():
        layer = _layer(module)
        if layer is None:
            continue
        for target in sorted(_imports(path, module)):
            t_layer = _layer(target)
            if t_layer is None:
                t_layer = _layer(target.rsplit(".", 1)[0]) if "." in target else None
            if t_layer is not None and t_layer != layer and t_layer not in MAY_USE[layer]:
                bad.append(f"{module} ({layer}) imports {target} ({t_layer})")
    assert not bad, "imports that run up the layers:\n" + "\n".join(bad)


def test_the_layer_check_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: a lazy relative import inside a function is found and resolved."""
    path = PACKAGE / "report" / "__init__.py"
    assert "runfolder" in _imports(path, "report")
