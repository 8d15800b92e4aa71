"""Helpers for the element-wise and reduce rule tests: tiny models, verdicts, ORT oracles."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphcheck.infer.ops  # noqa: F401  (registers every rule)
from graphcheck.infer.engine import Analysis, analyze
from graphcheck.infer.facts import Fact, Val
from graphcheck.infer.registry import _RULES, OpContext, Unsupported, lookup
from graphcheck.model.ir import Node
from graphcheck.model.load import load
from graphcheck.report.evaluate import evaluate
from graphcheck.symbolic.cond import eq
from graphcheck.symbolic.expr import Expr, Sym, const, product, sym
from tests.ortprobe import ProbeResult, probe_many

F = TensorProto.FLOAT
I64 = TensorProto.INT64
I32 = TensorProto.INT32
B = TensorProto.BOOL

Dims = Sequence[int | str] | None


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[tuple[str, Dims, int]] | Mapping[str, Dims],
    outputs: Sequence[str],
    inits: Sequence[onnx.TensorProto] = (),
    opset: int = 18,
) -> onnx.ModelProto:
    items = [(n, d, F) for n, d in inputs.items()] if isinstance(inputs, Mapping) else list(inputs)
    vis = [helper.make_tensor_value_info(n, t, None if d is None else list(d)) for n, d, t in items]
    outs = [onnx.ValueInfoProto(name=o) for o in outputs]  # types and shapes left to the runtime
    g = helper.make_graph(list(nodes), "g", vis, outs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10 if opset >= 21 else 8
    return m


def init(name: str, values: Any, dtype: Any = np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def run(m: onnx.ModelProto, semantics: str = "spec") -> Analysis:
    return analyze(load(m), dims=None, semantics=semantics)


def S(name: str) -> Expr:
    return sym(name)


def sym_of(e: Expr) -> Sym:
    s = e.as_sym()
    assert s is not None
    return s


def env_of(a: Analysis, sizes: Mapping[str, int]) -> dict[Sym, int]:
    return {s: sizes[s.name] for s in a.symbols}


def holds(a: Analysis, sizes: Mapping[str, int]) -> bool:
    """Every collected requirement holds at these sizes."""
    env = env_of(a, sizes)
    return all(r.cond.holds(env) for r in a.requirements)


def verdict(a: Analysis, sizes: Mapping[str, int]) -> bool | None:
    """True: valid and the analysis is complete; False: a requirement fails; None: unknown."""
    return evaluate(a, env_of(a, sizes)).ok


def grid(names: Sequence[str], values: Iterable[int]) -> list[dict[str, int]]:
    vals = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(vals, repeat=len(names))]


def input_shapes(m: onnx.ModelProto, sizes: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    inits = {t.name for t in m.graph.initializer}
    out: dict[str, tuple[int, ...]] = {}
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        dims = []
        for d in vi.type.tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else sizes[d.dim_param])
        out[vi.name] = tuple(dims)
    return out


def differential(
    cases: Sequence[tuple[onnx.ModelProto, Sequence[Mapping[str, int]]]], semantics: str = "spec"
) -> tuple[int, int, list[str]]:
    """Our verdict (every requirement holds, analysis complete) against onnxruntime running without
    an empty output, at every size assignment; output shapes compared where both run.

    Returns (checked, ran, mismatches)."""
    jobs = [(m, [input_shapes(m, s) for s in sizes]) for m, sizes in cases]
    results: list[list[ProbeResult]] = probe_many(jobs)  # type: ignore[arg-type]
    checked = ran = 0
    bad: list[str] = []
    for (m, sizes), res in zip(cases, results):
        a = run(m, semantics)
        outs = [o.name for o in m.graph.output]
        for sz, r in zip(sizes, res):
            checked += 1
            ours = verdict(a, sz)
            if ours is None or ours != r.nonempty:
                bad.append(f"{[n.op_type for n in m.graph.node]} {dict(sz)}: ours {ours}, ort {r.ok} {r.error[:100]}")
                continue
            if ours:
                ran += 1
                ev = evaluate(a, env_of(a, sz))
                for name, shape in zip(outs, r.shapes):
                    if ev.outputs.get(name) != tuple(shape):
                        bad.append(f"{dict(sz)}: {name} ours {ev.outputs.get(name)}, ort {tuple(shape)}")
    return checked, ran, bad


def ort_outputs(m: onnx.ModelProto, feeds: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Run a (valid) model in-process: the oracle for constant values."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return list(sess.run(None, dict(feeds or {})))


def numbers(value: Sequence[Val] | None) -> list[Fraction] | None:
    """A known constant value as exact numbers (None when unknown or symbolic)."""
    if value is None:
        return None
    out: list[Fraction] = []
    for v in value:
        if isinstance(v, Expr):
            if not v.is_const:
                return None
            out.append(Fraction(v.value))
        elif isinstance(v, Fraction):
            out.append(v)
        else:
            return None  # computed from sizes, or known within an interval
    return out


def as_fracs(arr: np.ndarray) -> list[Fraction]:
    return [Fraction(bool(x)) if arr.dtype == np.bool_ else Fraction(x.item()) for x in arr.reshape(-1)]


def rule_call(
    op: str,
    facts: Sequence[Fact | None],
    attrs: Mapping[str, Any] | None = None,
    opset: int = 18,
    semantics: str = "spec",
) -> tuple[list[Fact], OpContext]:
    """Call the registered rule directly (a pure function of its inputs' facts)."""
    fn = lookup("", op, opset)
    assert fn is not None, op
    names = tuple(f"i{j}" if f is not None else "" for j, f in enumerate(facts))
    node = Node(0, "n", op, "", names, ("o0", "o1"), dict(attrs or {}))
    ctx = OpContext(node, list(facts), opset, 0, semantics)
    return list(fn(ctx)), ctx


def ivec(*vals: Expr | int, dtype: int = I64) -> Fact:
    """A 1-D integer fact with known (possibly symbolic) values."""
    return Fact((const(len(vals)),), dtype, tuple(v if isinstance(v, Expr) else const(v) for v in vals))


# -- Shape/Reshape for value-chain models when the shape family is not loaded ---------------------------------


def _shape_stub(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if ctx.attr("start") is not None or ctx.attr("end") is not None:
        raise Unsupported("stub")
    return [Fact((const(len(x)),), I64, tuple(x))]


def _reshape_stub(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    t = ctx.ints(1)
    if any(v.is_const and v.value <= 0 for v in t):
        raise Unsupported("stub: 0 / -1 in the target")
    ctx.require(eq(product(x), product(t)), "GC006", "element count")
    return [Fact(tuple(t), ctx.fact(0).dtype)]


@pytest.fixture
def shape_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shape and Reshape rules: the project's own when loaded, else minimal exact stand-ins."""
    for op, fn in (("Shape", _shape_stub), ("Reshape", _reshape_stub)):
        if lookup("", op, 18) is None:
            monkeypatch.setitem(_RULES, ("", op), [(1, fn)])
