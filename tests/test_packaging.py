"""pyproject.toml and environment.yml list the same dependencies; README and CI agree on the test command."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(d) for d in project["dependencies"]} | {
        _name(d) for d in project["optional-dependencies"]["dev"]
    }
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        else:
            conda.add(_name(dep))
    env_names = (conda | pip) - {"python", "pip"}
    assert env_names == pip_names, (sorted(env_names - pip_names), sorted(pip_names - env_names))


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = re.search(r"```(?:bash|sh)\n(.*?)```", readme, re.S).group(1)
    commands = [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2, commands
    assert commands[1] in ci, commands[1]
