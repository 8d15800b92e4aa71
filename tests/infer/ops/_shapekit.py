"""Helpers for the shape/slicing rule tests: tiny models, evaluation, onnxruntime differentials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from graphcheck.infer.engine import Analysis, analyze
from graphcheck.infer.facts import Fact
from graphcheck.model.load import load
from graphcheck.report.evaluate import evaluate
from graphcheck.symbolic.expr import Expr, Sym, sym
from tests.ortprobe import probe_many

F = TensorProto.FLOAT
I64 = TensorProto.INT64
BOOL = TensorProto.BOOL

Dims = Sequence[int | str]


def S(name: str) -> Expr:
    return sym(name)


def const_init(name: str, values: Any, dtype: Any = np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Dims] | Sequence[tuple[str, Dims, int]],
    outputs: Sequence[str | tuple[str, int]],
    inits: Sequence[onnx.TensorProto] = (),
    opset: int = 18,
) -> onnx.ModelProto:
    """Inputs as ``{name: dims}`` (float) or ``[(name, dims, elem_type)]``; outputs float unless typed."""
    items = [(n, d, F) for n, d in inputs.items()] if isinstance(inputs, Mapping) else list(inputs)
    vis = [helper.make_tensor_value_info(n, t, list(d)) for n, d, t in items]
    outs = [
        helper.make_tensor_value_info(o, F, None)
        if isinstance(o, str)
        else helper.make_tensor_value_info(o[0], o[1], None)
        for o in outputs
    ]
    g = helper.make_graph(list(nodes), "g", vis, outs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10 if opset >= 21 else 8
    return m


def run(m: onnx.ModelProto, semantics: str = "spec") -> Analysis:
    return analyze(load(m), semantics=semantics)


def env_of(a: Analysis, sizes: Mapping[str, int]) -> dict[Sym, int]:
    return {s: sizes[s.name] for s in a.symbols}


def holds(a: Analysis, **sizes: int) -> bool:
    """Every collected condition holds at these sizes."""
    env = env_of(a, sizes)
    return all(r.cond.holds(env) for r in a.requirements)


def failing(a: Analysis, **sizes: int) -> set[str]:
    env = env_of(a, sizes)
    return {r.code for r in a.requirements if r.decidable and not r.covers and not r.cond.holds(env)}


def shape_at(a: Analysis, name: str, **sizes: int) -> tuple[int, ...]:
    shape = a.facts[name].shape
    assert shape is not None, f"{name} has an unknown shape"
    env = env_of(a, sizes)
    return tuple(d.evaluate(env) for d in shape)


def notes(a: Analysis) -> set[str]:
    return {n.code for n in a.notes}


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


def may_be_empty(f: Fact) -> bool:
    """The engine's exemption from "every size >= 1": known values and 0-D/1-D int32/int64 tensors."""
    return f.value is not None or (f.dtype in (6, 7) and f.shape is not None and len(f.shape) <= 1)


@dataclass
class Differential:
    checked: int
    ran: int
    rejected: int
    mismatches: list[str]


def differential(
    cases: Sequence[tuple[onnx.ModelProto, Sequence[Mapping[str, int]]]], semantics: str = "spec"
) -> Differential:
    """Run every model in onnxruntime at every size assignment and compare with the analysis.

    Ours: every condition holds (the analysis must be complete and decide); ORT: it ran and
    produced no empty output (the engine counts an empty tensor as a failure, except computed
    shape/index tensors). Where both accept, every output shape must be equal.
    """
    jobs: list[tuple[onnx.ModelProto | str | Path, list[dict[str, tuple[int, ...]]]]] = [
        (m, [input_shapes(m, e) for e in envs]) for m, envs in cases
    ]
    results = probe_many(jobs)
    checked = ran = rejected = 0
    bad: list[str] = []
    for (m, envs), res in zip(cases, results):
        a = run(m, semantics)
        assert a.complete, [n.message for n in a.notes]
        outs = [o.name for o in m.graph.output]
        op = m.graph.node[-1].op_type
        for sizes, r in zip(envs, res):
            checked += 1
            ev = evaluate(a, env_of(a, sizes))
            assert ev.ok is not None, "the analysis must decide"
            ort_ok = r.ok and all(
                all(n >= 1 for n in shape) or may_be_empty(a.facts[name]) for name, shape in zip(outs, r.shapes)
            )
            if ev.ok != ort_ok:
                why = ev.failures[0].what if ev.failures else ""
                bad.append(f"{op} {dict(sizes)}: ours {ev.ok} ({why}), ort {r.ok} {r.shapes} {r.error[:100]}")
                continue
            if not ev.ok:
                rejected += 1
                continue
            ran += 1
            for name, shape in zip(outs, r.shapes):
                if ev.outputs[name] != tuple(shape):
                    bad.append(f"{op} {dict(sizes)}: {name} ours {ev.outputs[name]}, ort {tuple(shape)}")
    return Differential(checked, ran, rejected, bad)
