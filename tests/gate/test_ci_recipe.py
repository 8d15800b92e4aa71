"""The README's GitHub Actions recipe works: its YAML parses as a workflow, and each of its
``graphcheck gate`` steps, run in a checkout-like directory (``models/`` holding fixtures) with the
environment GitHub sets, gives the exit code, the annotations and the SARIF file the next step uploads."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gate.test_gate import assert_valid_sarif, parse_commands

ROOT = Path(__file__).resolve().parents[2]
yaml = pytest.importorskip("yaml")


def workflow() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"```yaml\n(# \.github/workflows/[^\n]*\n.*?)```", text, re.S)
    assert m, "the README's GitHub Actions recipe"
    doc = yaml.safe_load(m.group(1))
    assert isinstance(doc, dict)
    return doc


def test_the_recipe_is_a_workflow_that_uploads_sarif() -> None:
    steps = workflow()["jobs"]["gate"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "github/codeql-action/upload-sarif"]
    assert workflow()["jobs"]["gate"]["permissions"]["security-events"] == "write"
    upload = steps[-1]
    assert upload["if"] == "always()"  # the SARIF is uploaded when the gate fails too
    sarif_step = next(s for s in steps if "run" in s and "--format sarif" in s["run"])
    assert sarif_step["run"].endswith(f"> {upload['with']['sarif_file']}")


def _gate_steps() -> list[str]:
    return [
        s["run"] for s in workflow()["jobs"]["gate"]["steps"] if str(s.get("run", "")).startswith("graphcheck gate")
    ]


@pytest.mark.parametrize("good", [True, False], ids=["passing", "failing"])
def test_the_recipe_steps_run(tmp_path: Path, good: bool, sarif_validator: Any) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(ROOT / "fixtures" / "toy.onnx", models / "toy.onnx")
    (tmp_path / "graphcheck.toml").write_text(
        f'[[model]]\npath = "models/*.onnx"\ndims = ["unk__68=L"]\nrequire = ["L in {9 if good else 8}..16000"]\n'
    )
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    github, sarif = _gate_steps()
    assert github == "graphcheck gate models/ --format github"
    for step in (github, sarif):
        cmd, _, redirect = step.partition(" > ")
        args = shlex.split(cmd)[1:]
        res = subprocess.run(
            [sys.executable, "-m", "graphcheck", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert res.returncode == (0 if good else 1), res.stderr
        if redirect:
            log = json.loads(res.stdout)
            assert_valid_sarif(log, sarif_validator)
            results = log["runs"][0]["results"]
            files = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
            assert files == {"models/toy.onnx"}
            assert any(r["level"] == "error" for r in results) is not good
        else:
            cmds = parse_commands(res.stdout)
            assert {c[1].get("file") for c in cmds[:-1]} == {"models/toy.onnx"}
            assert cmds[-1][0] == ("notice" if good else "error")
