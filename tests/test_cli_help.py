"""The command tree as a whole: every command explains itself, and a flag means one thing everywhere.

Commands are found by walking typer's click tree, never listed by hand, so a new
command or option is checked the day it is added.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections import defaultdict

import pytest
import typer
from conftest import ROOT
from typer.testing import CliRunner

from asr_eval.cli import app, options


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _walk(sub, (*path, name))


TREE = list(_walk(typer.main.get_command(app)))
OPTIONS = [(path, p) for path, cmd in TREE for p in cmd.params if p.param_type_name == "option"]


def _long(param) -> str:
    return max(param.opts, key=len)


def _short_flags() -> dict[str, set[str]]:
    """Short flag -> the long names it stands for, over every command and subcommand."""
    found: dict[str, set[str]] = defaultdict(set)
    for _, p in OPTIONS:
        for opt in (*p.opts, *p.secondary_opts):
            if not opt.startswith("--"):
                found[opt].add(_long(p))
    return found


@pytest.mark.parametrize("path", [path for path, _ in TREE], ids=lambda path: " ".join(path) or "asr-eval")
def test_every_command_answers_help(path):
    command = dict(TREE)[path]
    r = CliRunner().invoke(app, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    assert "Usage:" in r.output and command.help.split()[0] in r.output


def test_every_option_and_argument_is_explained():
    missing = [f"{' '.join(path)} {p.name}" for path, cmd in TREE for p in cmd.params if not (p.help or "").strip()]
    assert not missing


def test_a_short_flag_means_one_thing_in_every_command():
    clashes = {short: sorted(longs) for short, longs in _short_flags().items() if len(longs) > 1}
    assert not clashes


def test_the_readme_table_of_short_flags_is_the_cli_s():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Short flags", 1)[1].split("\n#", 1)[0]
    table = dict(re.findall(r"^\| `(-\w)` \| `(--[\w-]+)` \|", section, re.M))
    assert table == {short: longs.pop() for short, longs in _short_flags().items()}


def test_no_flag_renders_as_no_no():
    assert not [f"{' '.join(path)} {o}" for path, p in OPTIONS for o in p.secondary_opts if o.startswith("--no-no-")]


@pytest.mark.parametrize("group", [options.Engine, options.Execution, options.VocabFiles])
def test_run_and_sweep_take_the_same_engine_execution_and_vocabulary_options(group):
    """sweep once re-declared run's engine options and lost some; the groups keep them one declaration."""
    commands = dict(TREE)
    for name in ("run", "sweep"):
        params = {p.name: p for p in commands[(name,)].params}
        for field in dataclasses.fields(group):
            assert field.name in params, f"{name} lacks --{field.name.replace('_', '-')}"
            assert params[field.name].default == field.default


def test_a_group_field_may_not_shadow_a_command_parameter():
    def command(engine: options.Engine = options.Engine(), seed: int = typer.Option(0)) -> None:
        """Two --seed options."""

    with pytest.raises(TypeError, match="seed"):
        options.with_groups(command)


def test_python_dash_m_runs_the_same_app():
    """scripts/check_outputs_unchanged.py drives the CLI through ``python -m asr_eval.cli``."""
    r = subprocess.run([sys.executable, "-m", "asr_eval.cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "sweep" in r.stdout and "vocab" in r.stdout
