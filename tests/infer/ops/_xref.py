"""Shared helpers for the attention/loss/quant/signal/random/text rule tests: a second oracle (the ONNX
reference implementation, run in-process) next to onnxruntime, and a differential check against both."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

import graphcheck
from graphcheck.report.report import Report
from tests.infer.ops._mrc import input_shapes
from tests.ortprobe import ProbeResult, probe_many

_NP = {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 3: np.int8, 2: np.uint8, 9: np.bool_}


@dataclass(frozen=True)
class RefResult:
    ok: bool
    shapes: tuple[tuple[int, ...], ...] = ()
    error: str = ""

    @property
    def nonempty(self) -> bool:
        return self.ok and all(all(d >= 1 for d in s) for s in self.shapes)


def ref_run(m: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> RefResult:
    """Run the model with onnx's reference evaluator on random data of the given input shapes."""
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    types = {vi.name: vi.type.tensor_type.elem_type for vi in m.graph.input}
    for name, shape in shapes.items():
        dt = _NP.get(types.get(name, 1), np.float32)
        if np.issubdtype(dt, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dt)
        elif dt is np.bool_:
            feeds[name] = np.ones(shape, dtype=dt)
        else:
            feeds[name] = np.zeros(shape, dtype=dt)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            outs = ReferenceEvaluator(m).run(None, feeds)
    except Exception as exc:  # the reference raises anything from ValueError to IndexError
        return RefResult(False, error=f"{type(exc).__name__}: {exc}"[:200])
    return RefResult(True, tuple(tuple(np.shape(o)) for o in outs))


def verdicts(rep: Report, env: Mapping[str, int]) -> tuple[bool | None, dict[str, tuple[int, ...] | None]]:
    known = {s.name for s in rep.analysis.symbols}
    e = {k: v for k, v in env.items() if k in known}
    ok = rep.accepts(e)
    outs = rep.at(e).outputs if ok else {}
    return ok, outs


def agree(rep: Report, m: onnx.ModelProto, env: Mapping[str, int], r: ProbeResult | RefResult, who: str) -> list[str]:
    """Our verdict and output shapes against one run of an oracle."""
    ours, outs = verdicts(rep, env)
    if ours != r.nonempty:
        return [f"{who} {m.graph.node[0].op_type} {dict(env)}: ours {ours}, {who} {r.ok} {r.shapes} {r.error[:150]}"]
    bad = []
    if ours:
        for o, s in zip([o.name for o in m.graph.output], r.shapes):
            if outs.get(o) != tuple(s):
                bad.append(f"{who} {m.graph.node[0].op_type} {dict(env)}: {o} ours {outs.get(o)}, {who} {s}")
    return bad


def against_ort(
    cases: Sequence[tuple[onnx.ModelProto, Sequence[Mapping[str, int]]]], semantics: str = "ort"
) -> tuple[int, list[str]]:
    """Every (model, env) run in onnxruntime; ``semantics`` analysis must agree on verdict and shapes."""
    jobs = [(m, [input_shapes(m, e) for e in envs]) for m, envs in cases]
    results = probe_many(jobs)  # type: ignore[arg-type]
    bad: list[str] = []
    n = 0
    for (m, envs), res in zip(cases, results):
        rep = graphcheck.check(m, semantics=semantics)
        for env, r in zip(envs, res):
            n += 1
            bad += agree(rep, m, env, r, "ort")
    return n, bad


def against_reference(cases: Sequence[tuple[onnx.ModelProto, Sequence[Mapping[str, int]]]]) -> tuple[int, list[str]]:
    """Every (model, env) run by onnx's reference implementation; the spec analysis must agree."""
    bad: list[str] = []
    n = 0
    for m, envs in cases:
        rep = graphcheck.check(m)
        for env in envs:
            n += 1
            bad += agree(rep, m, env, ref_run(m, input_shapes(m, env)), "reference")
    return n, bad
