"""The small real models that ship with onnx (pytorch-converted, pytorch-operator, simple, light:
PyTorch exports and classic CNNs with their test inputs and expected outputs): with every input
size symbolic, our output shapes at the test's sizes equal the expected ones and no condition fails.
"""

from __future__ import annotations

import collections
import glob
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import graphcheck

BASE = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
DIRS = sorted(
    d
    for kind in ("pytorch-converted", "pytorch-operator", "simple", "light")
    for d in glob.glob(os.path.join(BASE, kind, "*", ""))
    if os.path.exists(os.path.join(d, "model.onnx")) and glob.glob(os.path.join(d, "test_data_set_*"))
)
RESULTS: collections.Counter[str] = collections.Counter()


def _case(d: str) -> str:
    m = onnx.load(os.path.join(d, "model.onnx"))
    ds = sorted(glob.glob(os.path.join(d, "test_data_set_*")))[0]
    ins = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(ds, "input_*.pb")))]
    outs = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(ds, "output_*.pb")))]
    inits = {t.name for t in m.graph.initializer}
    real = [vi for vi in m.graph.input if vi.name not in inits]
    if len(real) != len(ins) or not all(isinstance(a, np.ndarray) for a in ins):
        return "skip"
    dims: dict[str, int | str] = {}
    values: dict[str, int] = {}
    for vi, a in zip(real, ins):
        if a.ndim <= 1 and a.size <= 16 and np.issubdtype(a.dtype, np.integer):
            m.graph.initializer.append(numpy_helper.from_array(a, vi.name))  # shape-like input: a constant
            continue
        for axis, n in enumerate(a.shape):
            name = f"d{len(values)}"
            dims[f"{vi.name}:{axis}"] = name
            values[name] = n
    keep = [vi for vi in m.graph.input if vi.name not in {t.name for t in m.graph.initializer}]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    rep = graphcheck.check(m, dims)
    if not rep.complete:
        return "unknown"
    ev = rep.at(values)
    env = {s: values[s.name] for s in rep.analysis.symbols}
    real_failures = [
        f for f in ev.failures if not (f.code == "GC002" and f.value is not None and f.value.evaluate(env) == 0)
    ]
    assert not real_failures, (d, real_failures[0].node, real_failures[0].what)
    got = [ev.outputs.get(vi.name) for vi in m.graph.output]
    if any(g is None for g in got):
        return "unknown"  # a data-dependent size (string ops)
    assert got == [tuple(o.shape) for o in outs], d
    return "pass"


@pytest.mark.parametrize("d", DIRS, ids=[d.split(os.sep)[-2] for d in DIRS])
def test_onnx_bundled_model(d: str) -> None:
    RESULTS[_case(d)] += 1


def test_most_bundled_models_are_followed_exactly() -> None:
    if len(RESULTS) == 0:
        for d in DIRS:
            RESULTS[_case(d)] += 1
    assert RESULTS["pass"] >= 0.8 * len(DIRS), dict(RESULTS)
