"""onnx's own backend node tests, as a check of our inferred output shapes.

The node test cases ship with onnx as generators (``onnx.backend.test.case.node``); the
data directory is no longer in the wheel, so the cases are generated in memory. For each
case, small 0-D/1-D inputs (shape tensors, axes, scales, scalars) become constants with
the test's values; every other input dimension is made *symbolic*, the model is
analysed once, and the symbolic output shapes are evaluated at the test's concrete
input sizes and compared with the expected outputs' shapes. Every condition collected
must hold at those sizes (they are valid runs).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from graphcheck.infer.engine import analyze
from graphcheck.model.load import from_proto
from graphcheck.report.evaluate import evaluate

CONST_MAX = 16


@functools.lru_cache(maxsize=1)
def node_cases() -> tuple:  # tuple[TestCase, ...]
    import onnx.backend.test.case.node as node

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return tuple(node.collect_testcases(None))


@dataclass(frozen=True)
class CaseResult:
    name: str
    ops: tuple[str, ...]
    status: str  # "pass", "fail", "unsupported", "unknown", "skip"
    detail: str = ""


def _is_tensor(vi: onnx.ValueInfoProto) -> bool:
    return vi.type.HasField("tensor_type")


def prepare(case) -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]], list[tuple[int, ...]]] | None:  # noqa: ANN001
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    if not case.data_sets:
        return None
    inputs, outputs = case.data_sets[0]
    g = model.graph
    if len(inputs) != len(g.input) or not all(_is_tensor(v) for v in g.input):
        return None
    if not all(_is_tensor(v) for v in g.output) or len(outputs) != len(g.output):
        return None
    sizes: dict[str, tuple[int, ...]] = {}
    keep = []
    for vi, arr in zip(list(g.input), inputs):
        if isinstance(arr, np.generic):
            arr = np.asarray(arr)
        if not isinstance(arr, np.ndarray):
            return None
        if arr.ndim <= 1 and arr.size <= CONST_MAX and arr.dtype != object:
            g.initializer.append(numpy_helper.from_array(arr, vi.name))
        else:
            keep.append(vi)
            sizes[vi.name] = tuple(arr.shape)
    del g.input[:]
    g.input.extend(keep)
    expected = []
    for arr in outputs:
        if isinstance(arr, np.generic):
            arr = np.asarray(arr)
        if not isinstance(arr, np.ndarray):
            return None
        expected.append(tuple(arr.shape))
    return model, sizes, expected


def run_case(case, symbolic: bool = True) -> CaseResult:  # noqa: ANN001
    """All input sizes symbolic; where that leaves a size unknown (a kernel taken from a weight
    given as an input), only the first input symbolic; failing that, concrete sizes."""
    modes = ("all", "first", "none") if symbolic else ("none",)
    res = CaseResult(case.name, (), "skip")
    for mode in modes:
        res = _run_case(case, mode)
        if res.status != "unknown":
            return res
    return res


def _run_case(case, mode: str) -> CaseResult:  # noqa: ANN001
    ops = tuple(sorted({n.op_type for n in case.model.graph.node}))
    prep = prepare(case)
    if prep is None:
        return CaseResult(case.name, ops, "skip", "sequence/optional/map values")
    model, sizes, expected = prep
    graph = from_proto(model)
    dims: dict[str, int | str] = {}
    bind: dict[str, int] = {}
    for j, vi in enumerate(graph.inputs):
        shape = sizes[vi.name]
        for axis, n in enumerate(shape):
            key = f"{vi.name}:{axis}"
            if mode == "all" or (mode == "first" and j == 0):
                name = f"d{len(bind)}"
                dims[key] = name
                bind[name] = n
            else:
                dims[key] = n
        if vi.shape is not None and len(vi.shape) != len(shape):
            return CaseResult(case.name, ops, "skip", "declared rank differs from the data")
    a = analyze(graph, dims)
    unsupported = [n for n in a.notes if n.code == "GC101"]
    if unsupported:
        return CaseResult(case.name, ops, "unsupported", unsupported[0].message)
    env = {s: bind[s.name] for s in a.symbols}
    ev = evaluate(a, env)
    # ONNX allows empty (0-sized) tensors; graphcheck flags them as a policy (GC002). A GC002
    # failure where the size is exactly 0 is such a legitimate empty tensor, not an error.
    real = [r for r in ev.failures if not (r.code == "GC002" and r.value is not None and r.value.evaluate(env) == 0)]
    if real:
        r = real[0]
        return CaseResult(case.name, ops, "fail", f"condition fails on a valid run: {r.node} {r.what}: {r.cond}")
    got = [ev.outputs.get(vi.name) for vi in graph.outputs]
    if any(g_ is None for g_ in got):
        incompl = [n for n in a.notes]
        why = incompl[0].message if incompl else "an output shape is unknown"
        return CaseResult(case.name, ops, "unknown", why)
    if list(got) != list(expected):
        return CaseResult(case.name, ops, "fail", f"inferred {got}, expected {expected}")
    if not a.complete:
        return CaseResult(case.name, ops, "unknown", a.notes[0].message)
    return CaseResult(case.name, ops, "pass", mode)


def run_all(symbolic: bool = True) -> list[CaseResult]:
    return [run_case(c, symbolic) for c in node_cases()]


if __name__ == "__main__":  # pragma: no cover - a report for developers
    import collections
    import sys

    res = run_all(symbolic="--concrete" not in sys.argv)
    counts = collections.Counter(r.status for r in res)
    print(dict(counts))
    want = set(sys.argv[1:]) - {"--concrete"}
    for r in res:
        if r.status in ("fail", "unknown") and (not want or set(r.ops) & want):
            print(r.status, r.name, r.ops, r.detail)
