"""The house rules that tools can check: ruff clean, mypy clean (type hints everywhere)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_clean() -> None:
    res = subprocess.run(
        ["ruff", "check", "graphcheck", "tests", "bench", "fixtures"], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_clean() -> None:
    pytest.importorskip("mypy")
    res = subprocess.run([sys.executable, "-m", "mypy", "graphcheck"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def _contracts() -> list[dict[str, object]]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(cfg["tool"]["importlinter"]["contracts"])


def test_import_contracts_kept() -> None:
    """The house's arrows (pyproject's import-linter contracts) hold: `lint-imports` passes."""
    exe = shutil.which("lint-imports")
    assert exe is not None, "import-linter is a test dependency (pip install -e '.[test]')"
    res = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_import_contracts_are_the_house() -> None:
    """The contracts say what the README says: every top-level module in one layer, in the
    documented order, no circles at any depth, and nothing ignored."""
    contracts = _contracts()
    assert all("ignore_imports" not in c for c in contracts)
    layers = next(c for c in contracts if c["type"] == "layers")
    assert layers["exhaustive"] is True and "exhaustive_ignores" not in layers
    order = [name.strip() for layer in layers["layers"] for name in str(layer).replace(":", "|").split("|")]
    flow = ["cli", "gate", "api", "render", "report", "infer", "model", "symbolic", "errors"]
    assert [n for n in order if n in flow] == flow
    assert any(c["type"] == "acyclic_siblings" and c["ancestors"] == ["graphcheck"] for c in contracts)
    top = {p.stem for p in (ROOT / "graphcheck").iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert top - {"__init__"} == set(order)


def test_onnx_is_imported_by_the_loader_and_frontends_only() -> None:
    """No module outside graphcheck.model.load and the frontends imports onnx, not even the
    package's __init__ (so `import graphcheck` and `graphcheck rule` never load it)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("graphcheck", include_external_packages=True, cache_dir=None)
    importers = {m for m in graph.find_modules_that_directly_import("onnx")}
    frontends = {m for m in importers if m.startswith("graphcheck.frontends.")}
    assert "graphcheck.model.load" in importers and importers - {"graphcheck.model.load"} <= frontends
    assert "onnxruntime" not in graph.modules  # nothing in graphcheck imports it at all


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is not decorative: a lazy upward import (symbolic importing a renderer inside a
    function) in a copy of the package makes `lint-imports` fail, naming the import."""
    exe = shutil.which("lint-imports")
    assert exe is not None
    shutil.copytree(ROOT / "graphcheck", tmp_path / "graphcheck", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "graphcheck" / "symbolic" / "cond.py", "a") as f:
        f.write("\n\ndef _upward() -> None:\n    from graphcheck.render.text import render_check  # noqa: F401\n")
    res = subprocess.run([exe, "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "graphcheck.symbolic is not allowed to import graphcheck.render" in res.stdout
    assert "graphcheck.symbolic.cond -> graphcheck.render.text" in res.stdout


def test_cold_paths_import_only_what_they_need() -> None:
    """At run time: `import graphcheck` and `graphcheck rule` load no onnx; a text check of an ONNX
    file loads neither the gate, MLflow, the SARIF/GitHub/JSON renderers, networkx, nor the
    frontends beyond the format detection (graphcheck.frontends.files and .formats: the standard library only)."""
    code = (
        "import sys, graphcheck\n"
        "assert graphcheck.__version__\n"
        "assert 'onnx' not in sys.modules, 'import graphcheck loaded onnx'\n"
        "from graphcheck.cli import main\n"
        "sys.argv = ['graphcheck', 'rule', 'GC001']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'onnx' not in sys.modules, 'graphcheck rule loaded onnx'\n"
        "sys.argv = ['graphcheck', 'check', 'fixtures/toy.onnx']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('graphcheck.gate', 'graphcheck.render.', "
        "'graphcheck.keras', 'graphcheck.torch', 'graphcheck.frontends', 'networkx', 'mlflow')))\n"
        "print(loaded)\n"
        # of the frontends, only the format detection (standard library only) for an ONNX file
        "assert loaded == ['graphcheck.frontends', 'graphcheck.frontends.files', 'graphcheck.frontends.formats', "
        "'graphcheck.render.text'], loaded\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
