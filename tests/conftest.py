"""Test-suite hooks: print the node-test coverage at the end of a run."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    try:
        from tests.test_node_backend import SUMMARY
    except Exception:  # pragma: no cover
        return
    if SUMMARY:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(SUMMARY.items()))
        terminalreporter.write_line(f"onnx backend node tests: {parts}")
    try:
        from tests.test_onnx_models import RESULTS
    except Exception:  # pragma: no cover
        RESULTS = None  # type: ignore[assignment]
    if RESULTS:
        terminalreporter.write_line(f"onnx bundled real models: {dict(RESULTS)}")
    from tests.ortprobe import PROBES

    if PROBES["runs"]:
        terminalreporter.write_line(
            f"onnxruntime differential probes: {PROBES['runs']} runs of {PROBES['models']} models (in subprocesses)"
        )
