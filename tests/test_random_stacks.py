"""Hypothesis-generated conv/pool/pad stacks, checked against onnxruntime.

Random kernels, strides, dilations, pads, auto_pad modes and ceil_mode; branches joined by
Concat or Add; some heads Flatten -> Gemm sized for one particular length (pinning it).
Each model is run in onnxruntime (subprocess) at every length from 1 to past the last
change of our valid set, plus large random lengths. Checked at every size:

* the analysis with onnxruntime's documented deviations (``semantics="ort"``) agrees with
  whether ORT ran without producing any empty tensor (every node output is exposed, so an
  empty intermediate that an ORT kernel passes along is seen), and with ORT's output shapes;
* the spec analysis differs from it only on models with pools (the documented deviation);
* the solved statement (``report.solution``) agrees with exact membership (``accepts``).
"""

from __future__ import annotations

import random

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import graphcheck
from tests.ortprobe import expose_all, last_change, probe_many

C = 2


class Builder:
    def __init__(self, spatial: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        self.spatial = spatial
        self.has_pool = False

    def name(self, p: str) -> str:
        self.n += 1
        return f"{p}{self.n}"

    def add(self, op: str, ins: list[str], **attrs: object) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def const(self, arr: np.ndarray) -> str:
        nm = self.name("c")
        self.inits.append(numpy_helper.from_array(arr, nm))
        return nm


@st.composite
def layer(draw: st.DrawFn, spatial: int) -> dict:
    kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "pad", "relu"]))
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    auto = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "VALID"]))
    pads = [draw(st.integers(0, 2)) for _ in range(2 * spatial)]
    ceil = draw(st.integers(0, 1))
    return {"kind": kind, "k": k, "s": s, "d": d, "auto": auto, "pads": pads, "ceil": ceil}


def emit(b: Builder, x: str, spec: dict) -> str:
    n = b.spatial
    kind, k, s, d = spec["kind"], spec["k"], spec["s"], spec["d"]
    if kind == "relu":
        return b.add("Relu", [x])
    if kind == "pad":
        pads = [0, 0] + spec["pads"][:n] + [0, 0] + spec["pads"][n:]
        return b.add("Pad", [x, b.const(np.array(pads, np.int64))], mode="constant")
    attrs: dict[str, object] = {"strides": [s] * n}
    if spec["auto"] != "NOTSET":
        if spec["auto"].startswith("SAME") and kind == "conv":
            d = 1  # onnxruntime's Conv rejects dilations with SAME (a documented deviation, tested elsewhere)
        attrs["auto_pad"] = spec["auto"]
    else:
        pads = spec["pads"] if kind == "conv" else [min(p, k - 1) for p in spec["pads"]]
        attrs["pads"] = pads
    if kind == "conv":
        w = b.const(np.full((C, C) + (k,) * n, 0.1, np.float32))
        return b.add("Conv", [x, w], dilations=[d] * n, **attrs)
    b.has_pool = True
    attrs["kernel_shape"] = [k] * n
    attrs["ceil_mode"] = spec["ceil"]
    if kind == "maxpool":
        attrs["dilations"] = [d] * n
        return b.add("MaxPool", [x], **attrs)
    return b.add("AveragePool", [x], **attrs)


@st.composite
def model(draw: st.DrawFn) -> tuple[onnx.ModelProto, bool, int]:
    spatial = draw(st.sampled_from([1, 1, 1, 2]))
    b = Builder(spatial)
    x = "x"
    for spec in draw(st.lists(layer(spatial), min_size=1, max_size=4)):
        x = emit(b, x, spec)
    if draw(st.booleans()):
        left, right = x, x
        for spec in draw(st.lists(layer(spatial), min_size=0, max_size=2)):
            left = emit(b, left, spec)
        for spec in draw(st.lists(layer(spatial), min_size=1, max_size=2)):
            right = emit(b, right, spec)
        x = b.add("Concat", [left, right], axis=1) if draw(st.booleans()) else b.add("Add", [left, right])
    head = draw(st.sampled_from(["none", "gap", "flatten"]))
    design = draw(st.integers(8, 40))
    if head == "gap":
        x = b.add("GlobalAveragePool", [x])
    dims: list[object] = ["N", "C"] + (["L"] if spatial == 1 else ["H", "W"])
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C] + dims[2:])]
    g = helper.make_graph(
        b.nodes, "stack", inputs, [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], initializer=b.inits
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    if head == "flatten":
        # size the Gemm for the output at one design length: pins the length
        probe_rep = graphcheck.check(m)
        sizes = {"N": 1, "L": design} if spatial == 1 else {"N": 1, "H": design, "W": design}
        ev = probe_rep.at(sizes)
        out = ev.outputs.get(x)
        if ev.ok and out is not None:
            feat = int(np.prod(out[1:]))
            flat = b.add("Flatten", [x], axis=1)
            w = b.const(np.full((feat, 3), 0.01, np.float32))
            x = b.add("Gemm", [flat, w])
            g = helper.make_graph(
                b.nodes,
                "stack",
                inputs,
                [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
                initializer=b.inits,
            )
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
            m.ir_version = 9
    return m, b.has_pool, spatial


def _probe_sizes(rep: graphcheck.report.report.Report, spatial: int, rnd: random.Random) -> list[dict[str, int]]:
    last = min(max(last_change(rep), 48), 400)
    big = [rnd.randint(last, 3000) for _ in range(4)]
    if spatial == 1:
        return [{"N": 1, "L": v} for v in list(range(1, last + 1)) + big]
    pts = [{"N": 1, "H": h, "W": w} for h in range(1, min(last, 40) + 1) for w in (h, 17)]
    pts += [{"N": 1, "H": v, "W": v} for v in big[:2]]
    return pts


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(model(), min_size=25, max_size=25))
def test_random_stacks_agree_with_onnxruntime(models: list[tuple[onnx.ModelProto, bool, int]]) -> None:
    rnd = random.Random(3)
    jobs = []
    reports = []
    for m, has_pool, spatial in models:
        spec = graphcheck.check(m)
        ortm = graphcheck.check(m, semantics="ort")
        assert spec.complete, [d.message for d in spec.diagnostics if d.code.startswith("GC1")]
        sizes = _probe_sizes(spec, spatial, rnd)
        shapes = []
        for sz in sizes:
            dims = (1, C, sz["L"]) if spatial == 1 else (1, C, sz["H"], sz["W"])
            shapes.append({"x": dims})
        jobs.append((expose_all(m), shapes))  # so that empty intermediate tensors are seen too
        reports.append((spec, ortm, sizes, has_pool))
    results = probe_many(jobs)
    total = 0
    for (m, _, _), (spec, ortm, sizes, has_pool), res in zip(models, reports, results):
        out_name = spec.analysis.graph.outputs[0].name
        for sz, r in zip(sizes, res):
            ours = spec.accepts(sz)
            ours_ort = ortm.accepts(sz)
            assert ours_ort == r.nonempty, (sz, r, ortm.at(sz).first_failure, onnx.printer.to_text(m.graph))
            if r.ok and ours_ort:
                assert ortm.at(sz).outputs[out_name] == r.shapes[0], sz
            if ours != ours_ort:
                assert has_pool, sz
            # the solved statement agrees with exact membership
            env = {spec.analysis.symbol(k): v for k, v in sz.items()}
            assert spec.solution.contains(env) == ours, (sz, spec.valid)
            total += 1
    assert total > 0
