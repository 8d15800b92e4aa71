"""Random conv/pool stacks that include what onnxruntime refuses, checked against onnxruntime.

The stacks of ``test_random_stacks`` leave out the configurations onnxruntime refuses although the
spec allows them; these include them on purpose: Conv with dilations and SAME auto_pad, pools whose
pads reach or pass the kernel, ConvTranspose whose output_padding reaches the stride, and the
attributes that change which onnxruntime kernel runs (MaxPool's storage_order and Indices output,
AveragePool's count_include_pad, dilated pools at opset 19). Each model runs in onnxruntime (a
subprocess) at every length from 1 to past the last change of the valid set, and at large ones:

* with ``semantics="ort"`` graphcheck agrees with onnxruntime at every size, on whether it runs
  without an empty tensor and on the output shape (0 disagreements);
* by the spec, a model onnxruntime refuses at every size while the spec accepts some is reported
  with a GC111 finding naming the node, and a GC111 finding is never wrong: onnxruntime runs no size.

``python -m tests.test_ort_refusals [N] [SEED]`` runs N models (default 300) outside pytest and
prints the counts.
"""

from __future__ import annotations

import random
import sys
from collections import Counter

import numpy as np
import onnx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import graphcheck
from tests.ortprobe import ProbeResult, expose_all, last_change, probe_many

C = 2
# onnxruntime's words for the refusals ("Pad should be smaller than kernel" is cut off by the probe: its
# message starts with the place it was raised, PoolAttributes::PoolAttributes)
REFUSED = (
    "Dilation not supported",
    "Pad should be smaller than kernel",
    "PoolAttributes::PoolAttributes",
    "output_padding",
)


@st.composite
def layer(draw: st.DrawFn, spatial: int) -> dict:
    kind = draw(st.sampled_from(["conv", "conv", "convT", "maxpool", "avgpool", "lppool", "pad", "relu"]))
    k = draw(st.integers(1, 5))
    return {
        "kind": kind,
        "k": k,
        "s": draw(st.integers(1, 3)),
        "d": draw(st.integers(1, 3)),
        "auto": draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])),
        # now and then up to one past the kernel: onnxruntime's pools refuse pads not smaller than it
        "pads": [draw(st.integers(0, k + 1 if draw(st.integers(0, 5)) == 0 else k - 1)) for _ in range(2 * spatial)],
        "ceil": draw(st.integers(0, 1)),
        "outpad": draw(st.sampled_from([0, 0, 0, 1, 2, 3])),
        "storage": draw(st.sampled_from([None, 0, 1])),
        "indices": draw(st.booleans()),
        "include_pad": draw(st.integers(0, 1)),
        "p": draw(st.sampled_from([1, 2])),
    }


class Builder:
    def __init__(self, spatial: int, opset: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.spatial = spatial
        self.opset = opset
        self.n = 0

    def add(self, op: str, ins: list[str], extra_outputs: int = 0, **attrs: object) -> str:
        self.n += 1
        out = f"{op.lower()}{self.n}"
        outs = [out] + [f"{out}_extra{i}" for i in range(extra_outputs)]
        self.nodes.append(helper.make_node(op, ins, outs, name=out, **attrs))
        return out

    def const(self, arr: np.ndarray) -> str:
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(arr, name))
        return name


def emit(b: Builder, x: str, spec: dict) -> str:
    n, kind, k, s, d = b.spatial, spec["kind"], spec["k"], spec["s"], spec["d"]
    if kind == "relu":
        return b.add("Relu", [x])
    if kind == "pad":
        pads = [0, 0] + spec["pads"][:n] + [0, 0] + spec["pads"][n:]
        return b.add("Pad", [x, b.const(np.array(pads, np.int64))], mode="constant")
    attrs: dict[str, object] = {"strides": [s] * n}
    if spec["auto"] != "NOTSET":
        attrs["auto_pad"] = spec["auto"]
    else:
        attrs["pads"] = spec["pads"]
    if kind in ("conv", "convT"):
        attrs["dilations"] = [d] * n  # SAME with dilations is kept: onnxruntime refuses it (GC111)
        w = b.const(np.full((C, C) + (k,) * n, 0.1, np.float32))
        if kind == "conv":
            return b.add("Conv", [x, w], **attrs)
        if spec["outpad"]:
            attrs["output_padding"] = [min(spec["outpad"], s)] * n  # == the stride: refused
        return b.add("ConvTranspose", [x, w], **attrs)
    attrs["kernel_shape"] = [k] * n
    if kind == "maxpool":
        attrs["dilations"] = [d] * n
        attrs["ceil_mode"] = spec["ceil"]
        if spec["storage"] is not None:
            attrs["storage_order"] = spec["storage"]
        return b.add("MaxPool", [x], extra_outputs=int(spec["indices"]), **attrs)
    if kind == "avgpool":
        attrs["ceil_mode"] = spec["ceil"]
        attrs["count_include_pad"] = spec["include_pad"]
        if b.opset >= 19:
            attrs["dilations"] = [d] * n
        return b.add("AveragePool", [x], **attrs)
    attrs["p"] = spec["p"]
    if b.opset >= 18:
        attrs["ceil_mode"] = spec["ceil"]
        attrs["dilations"] = [d] * n
    return b.add("LpPool", [x], **attrs)


@st.composite
def model(draw: st.DrawFn) -> tuple[onnx.ModelProto, int]:
    spatial = draw(st.sampled_from([1, 1, 1, 2]))
    b = Builder(spatial, draw(st.sampled_from([17, 18, 19])))
    x = "x"
    for spec in draw(st.lists(layer(spatial), min_size=1, max_size=4)):
        x = emit(b, x, spec)
    dims: list[object] = ["N", C] + (["L"] if spatial == 1 else ["H", "W"])
    g = helper.make_graph(
        b.nodes,
        "stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
        initializer=b.inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", b.opset)])
    m.ir_version = 9
    return m, spatial


def _sizes(rep: graphcheck.api.Report, spatial: int, rnd: random.Random) -> list[dict[str, int]]:
    last = min(max(last_change(rep), 40), 300)
    big = [rnd.randint(last, 3000) for _ in range(3)]
    if spatial == 1:
        return [{"N": 1, "L": v} for v in list(range(1, last + 1)) + big]
    pts = [{"N": 1, "H": h, "W": w} for h in range(1, min(last, 32) + 1) for w in (h, 13)]
    return pts + [{"N": 1, "H": v, "W": v} for v in big[:2]]


def check_models(models: list[tuple[onnx.ModelProto, int]], seed: int = 5) -> Counter[str]:
    """Run every model in onnxruntime and compare; returns the counts (asserting as it goes)."""
    rnd = random.Random(seed)
    counts: Counter[str] = Counter()
    jobs, reports = [], []
    for m, spatial in models:
        spec = graphcheck.check(m)
        ortm = graphcheck.check(m, semantics="ort")
        assert spec.complete, [d.message for d in spec.diagnostics if d.code.startswith("GC1")]
        sizes = _sizes(spec, spatial, rnd)
        shapes = [{"x": (1, C, sz["L"]) if spatial == 1 else (1, C, sz["H"], sz["W"])} for sz in sizes]
        jobs.append((expose_all(m), shapes))
        reports.append((spec, ortm, sizes))
    for (m, _), (spec, ortm, sizes), res in zip(models, reports, probe_many(jobs)):
        out = spec.analysis.graph.outputs[0].name
        spec_ok = []
        for sz, r in zip(sizes, res):
            ours = ortm.accepts(sz)
            assert ours == r.nonempty, (sz, r, ortm.at(sz).first_failure, onnx.printer.to_text(m.graph))
            if r.ok and ours:
                assert ortm.at(sz).outputs[out] == r.shapes[0], (sz, onnx.printer.to_text(m.graph))
            spec_ok.append(spec.accepts(sz))
            counts["sizes"] += 1
            counts["spec disagrees with onnxruntime"] += spec_ok[-1] != r.nonempty
        refusals = [d for d in spec.diagnostics if d.code == "GC111"]
        ran_nothing = not any(r.ok for r in res)
        if refusals:
            counts["models with GC111"] += 1
            assert ran_nothing, [d.message for d in refusals]
            assert all(d.node for d in refusals)
            assert any(any(w in r.error for w in REFUSED) for r in res), {r.error for r in res}
            assert ortm.any_valid is False and ortm.solution.is_empty()
        if ran_nothing and any(spec_ok):
            assert refusals, (spec.valid, {r.error for r in res}, onnx.printer.to_text(m.graph))
            counts["sizes the spec allows that onnxruntime refuses"] += sum(spec_ok)
        counts["models"] += 1
    return counts


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure is printed whole: shrinking 20 models re-probes
)
@given(st.lists(model(), min_size=25, max_size=25))
def test_random_stacks_with_refusals_agree_with_onnxruntime(models: list[tuple[onnx.ModelProto, int]]) -> None:
    counts = check_models(models)
    assert counts["models"] == 25 and counts["sizes"] > 25 * 40


def _refused(m: onnx.ModelProto, sizes: list[tuple[int, ...]]) -> list[ProbeResult]:
    return probe_many([(m, [{"x": s} for s in sizes])])[0]


def test_each_refusal_is_a_finding_by_the_spec_and_no_size_with_ort_semantics() -> None:
    """One model per refusal: by the spec the sizes stay valid and GC111 names the node; with
    ``semantics="ort"`` no size is valid; onnxruntime refuses every size with its own message."""
    cases = []
    b = Builder(1, 18)
    b.add("Conv", ["x", b.const(np.full((C, C, 3), 0.1, np.float32))], auto_pad="SAME_UPPER", dilations=[2])
    cases.append((b, "Dilation not supported for AutoPadType::SAME_UPPER"))
    b = Builder(1, 18)
    b.add("MaxPool", ["x"], kernel_shape=[3], pads=[3, 0])
    cases.append((b, "PoolAttributes::PoolAttributes"))  # "Pad should be smaller than kernel", cut by the probe
    b = Builder(1, 18)
    b.add("ConvTranspose", ["x", b.const(np.full((C, C, 3), 0.1, np.float32))], strides=[2], output_padding=[2])
    cases.append((b, "output_padding"))
    for b, message in cases:
        out = b.nodes[-1].output[0]
        g = helper.make_graph(
            b.nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, "L"])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
            initializer=b.inits,
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
        m.ir_version = 9
        spec = graphcheck.check(m)
        (gc110,) = [d for d in spec.diagnostics if d.code == "GC111"]
        assert gc110.node == b.nodes[-1].name and "onnxruntime refuses the model at every size" in gc110.message
        assert spec.accepts({"N": 1, "L": 12}) is True and spec.ort_accepts({"N": 1, "L": 12}) is False
        assert not any(d.code == "GC106" for d in spec.diagnostics)  # not a deviation at some sizes
        ortm = graphcheck.check(m, semantics="ort")
        assert ortm.valid.startswith("no valid size") and ortm.any_valid is False
        assert [d.code for d in ortm.diagnostics if d.code in ("GC008", "GC111")] == ["GC008", "GC111"]
        res = _refused(m, [(1, C, L) for L in (3, 12, 100)])
        assert all(not r.ok and message in r.error for r in res), [r.error for r in res]


if __name__ == "__main__":  # a longer run: python -m tests.test_ort_refusals 300 7
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    total: Counter[str] = Counter()
    rnd_models: list[tuple[onnx.ModelProto, int]] = []

    @settings(max_examples=count, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=[Phase.generate])  # fmt: skip
    @given(model())
    def collect(m: tuple[onnx.ModelProto, int]) -> None:
        rnd_models.append(m)

    collect()
    for i in range(0, len(rnd_models), 50):
        total += check_models(rnd_models[i : i + 50], seed + i)
    print(dict(total))
