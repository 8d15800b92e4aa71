"""onnx's own backend node tests (generated from the onnx package): for every case whose ops
graphcheck supports, the output shapes inferred with symbolic input sizes, evaluated at the
test's sizes, equal the expected outputs' shapes, and no condition fails on these valid runs."""

from __future__ import annotations

import collections

import pytest

from tests.nodecases import run_all

SUMMARY: dict[str, int] = {}


@pytest.fixture(scope="module")
def results() -> list:
    return run_all(symbolic=True)


def test_no_supported_case_fails(results: list) -> None:
    counts = collections.Counter(r.status for r in results)
    SUMMARY.update(counts)
    fails = [f"{r.name} {r.ops}: {r.detail}" for r in results if r.status == "fail"]
    assert not fails, "\n".join(fails[:30])
    assert counts["pass"] > 0


def test_unknown_cases_are_rare_and_explained(results: list) -> None:
    unknown = [r for r in results if r.status == "unknown"]
    assert all(r.detail for r in unknown)  # every unknown names why
