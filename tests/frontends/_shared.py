"""Helpers shared by the Keras and PyTorch front-end tests.

Every valid set asserted in these tests is derived by hand from the layer formulas (written out in
a comment at each test), then checked three ways: the solved statement (``report.valid``), exact
membership (``report.accepts``) against the derived predicate at every size up to a bound, and
onnxruntime (in a subprocess, :mod:`tests.ortprobe`) on the exported model at a failing size and at
the smallest valid size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import onnx

from graphcheck.report.diagnostics import Diagnostic
from graphcheck.report.report import Report
from tests.ortprobe import ProbeResult, probe_many

# TensorFlow reads these when it loads: no oneDNN notices, no C++ INFO lines in the test output
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

Shape = tuple[int, ...]


def ort(jobs: Sequence[tuple[onnx.ModelProto, Sequence[Mapping[str, Shape]]]]) -> list[list[ProbeResult]]:
    """Run each model at each input shape in onnxruntime (one worker process for all of them)."""
    return probe_many([(m, [dict(s) for s in shapes]) for m, shapes in jobs])


def ort_ok(model: onnx.ModelProto, shapes: Sequence[Mapping[str, Shape]]) -> list[bool]:
    """Whether onnxruntime runs the model at each shape and produces no empty tensor."""
    return [r.nonempty for r in ort([(model, shapes)])[0]]


def symbolic(model: onnx.ModelProto, inp: str, axis: int, name: str) -> onnx.ModelProto:
    """A copy whose fixed input axis is made dynamic (what ``dims={"inp:axis": name}`` asks)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    vi = next(v for v in m.graph.input if v.name == inp)
    d = vi.type.tensor_type.shape.dim[axis]
    d.Clear()
    d.dim_param = name
    return m


def findings(report: Report, code: str | None = None) -> list[Diagnostic]:
    return [d for d in report.diagnostics if code is None or d.code == code]


def layers_with(report: Report, code: str) -> list[tuple[str, str]]:
    """(layer, layer_type) of each finding with that code, in graph order, without repeats."""
    out: list[tuple[str, str]] = []
    for d in findings(report, code):
        if (d.layer, d.layer_type) not in out:
            out.append((d.layer, d.layer_type))
    return out


def assert_membership(report: Report, name: str, derived: Callable[[int], bool], upto: int, **fixed: int) -> None:
    """``report.accepts`` equals the hand-derived predicate at every size 1..upto."""
    wrong = [n for n in range(1, upto + 1) if report.accepts({name: n, **fixed}) is not derived(n)]
    assert not wrong, f"{name}: graphcheck disagrees with the derivation at {wrong[:10]}"
