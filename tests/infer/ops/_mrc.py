"""Helpers for the matmul/rnn/resize/control rule tests: tiny models and ORT differential checks."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import graphcheck
from graphcheck.infer.engine import Analysis, analyze
from graphcheck.model.load import load
from graphcheck.symbolic.expr import Expr, Sym, sym
from tests.ortprobe import ProbeResult, probe_many

F = TensorProto.FLOAT
I64 = TensorProto.INT64

Dims = Sequence[int | str]


def S(name: str) -> Expr:
    return sym(name)


def init(name: str, values: Any, dtype: Any = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def weight(name: str, shape: Sequence[int], dtype: Any = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(tuple(shape), dtype=dtype), name)


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Dims] | Sequence[tuple[str, Dims, int]],
    outputs: Sequence[str | tuple[str, int]],
    inits: Sequence[onnx.TensorProto] = (),
    opset: int = 18,
) -> onnx.ModelProto:
    items = inputs.items() if isinstance(inputs, Mapping) else [(n, d) for n, d, _ in inputs]
    types = {} if isinstance(inputs, Mapping) else {n: t for n, _, t in inputs}
    vis = [helper.make_tensor_value_info(n, types.get(n, F), list(d)) for n, d in items]
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


def shape_of(a: Analysis, name: str) -> tuple[Expr, ...] | None:
    return a.facts[name].shape


def sym_env(a: Analysis, env: Mapping[str, int]) -> dict[Sym, int]:
    """Symbol name -> value, as the analysis's symbols."""
    return {s: env[s.name] for s in a.symbols if s.name in env}


def holds_all(a: Analysis, env: Mapping[str, int]) -> bool:
    """Every requirement holds at ``env`` (symbol name -> value)."""
    senv = {s: env[s.name] for s in a.symbols if s.name in env}
    return all(r.cond.holds(senv) for r in a.requirements)


def codes_failing(a: Analysis, env: Mapping[str, int]) -> set[str]:
    senv = {s: env[s.name] for s in a.symbols if s.name in env}
    return {r.code for r in a.requirements if not r.cond.holds(senv)}


def grid(names: Sequence[str], values: Iterable[int]) -> list[dict[str, int]]:
    vals = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(vals, repeat=len(names))]


def input_shapes(m: onnx.ModelProto, env: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    inits = {t.name for t in m.graph.initializer}
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        dims = []
        for d in vi.type.tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else env[d.dim_param])
        out[vi.name] = tuple(dims)
    return out


def differential(
    cases: Sequence[tuple[onnx.ModelProto, Sequence[Mapping[str, int]]]],
) -> tuple[int, int, list[str]]:
    """Run every model in onnxruntime at every env; compare verdicts and output shapes.

    Returns (checked, valid-and-run, mismatches). Our verdict is "every requirement holds"
    (the analysis must be complete); onnxruntime's is "ran and produced no empty tensor".
    """
    jobs: list[tuple[onnx.ModelProto | str | Path, list[dict[str, tuple[int, ...]]]]] = [
        (m, [input_shapes(m, e) for e in envs]) for m, envs in cases
    ]
    results: list[list[ProbeResult]] = probe_many(jobs)
    checked = ran = 0
    bad: list[str] = []
    for (m, envs), res in zip(cases, results):
        rep = graphcheck.check(m)
        assert rep.complete, rep.analysis.notes
        outs = [o.name for o in m.graph.output]
        known = {s.name for s in rep.analysis.symbols}
        for full_env, r in zip(envs, res):
            env = {k: v for k, v in full_env.items() if k in known}
            checked += 1
            ours = rep.accepts(dict(env))
            if ours != r.nonempty:
                bad.append(f"{m.graph.node[0].op_type} {dict(env)}: ours {ours}, ort {r.ok} {r.shapes} {r.error[:120]}")
                continue
            if ours:
                ran += 1
                got = rep.at(dict(env)).outputs
                for name, shape in zip(outs, r.shapes):
                    if got[name] != tuple(shape):
                        bad.append(f"{m.graph.node[0].op_type} {dict(env)}: {name} ours {got[name]}, ort {shape}")
    return checked, ran, bad
