"""Conv/ConvTranspose/pool rules: exact formulas, checked against onnxruntime at many sizes.

Every configuration is run in onnxruntime (in a subprocess) at L = 1..48 and a few large
sizes. The spec analysis must agree with ORT wherever ORT follows the spec; where it does
not (pools truncating a negative numerator toward zero, VALID with ceil_mode), the
analysis in ``semantics="ort"`` must reproduce ORT exactly and the spec answer stands.
"""

from __future__ import annotations

import random

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphcheck
from graphcheck.symbolic.expr import floordiv, sym
from tests.ortprobe import probe_many

SIZES = list(range(1, 49)) + [63, 64, 65, 97, 128, 255, 1000]


def _model(op: str, attrs: dict, spatial: int = 1, weight: tuple[int, ...] | None = None) -> onnx.ModelProto:
    dims = ["N", 2] + ["L"] * spatial if spatial == 1 else ["N", 2, "H", "W"]
    inits = []
    ins = ["x"]
    if weight is not None:
        inits.append(numpy_helper.from_array(np.ones(weight, np.float32), "w"))
        ins.append("w")
    outs = ["y", "idx"] if op == "MaxPool" else ["y"]
    node = helper.make_node(op, ins, outs, name="layer", **attrs)
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT if o == "y" else TensorProto.INT64, None) for o in outs],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)])
    m.ir_version = 10
    return m


def _configs() -> list[tuple[str, dict, tuple[int, ...] | None]]:
    rnd = random.Random(7)
    out: list[tuple[str, dict, tuple[int, ...] | None]] = []
    for _ in range(110):
        op = rnd.choice(["Conv", "Conv", "MaxPool", "AveragePool", "LpPool", "ConvTranspose"])
        k = rnd.choice([1, 2, 3, 4, 5, 7])
        s = rnd.choice([1, 1, 2, 3, 4])
        d = rnd.choice([1, 1, 2, 3])
        auto = rnd.choice(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
        attrs: dict = {"strides": [s]}
        if auto != "NOTSET":
            attrs["auto_pad"] = auto
        else:
            pb, pe = rnd.choice([(0, 0), (1, 1), (2, 0), (0, 3), (k // 2, k // 2)])
            if op != "Conv" and op != "ConvTranspose":
                pb, pe = min(pb, k - 1), min(pe, k - 1)  # ORT rejects pool pads >= kernel
            attrs["pads"] = [pb, pe]
        weight = None
        if op in ("Conv", "ConvTranspose"):
            attrs["dilations"] = [d]
            weight = (3, 2, k) if op == "Conv" else (2, 3, k)
            if op == "ConvTranspose":
                if rnd.random() < 0.3:
                    attrs["output_padding"] = [rnd.randrange(0, s)] if s > 1 else [0]
                if rnd.random() < 0.2:
                    attrs.pop("pads", None)
                    attrs.pop("auto_pad", None)
                    attrs["output_shape"] = [rnd.choice([5, 9, 16, 33])]
        else:
            attrs["kernel_shape"] = [k]
            if op in ("MaxPool", "AveragePool", "LpPool"):
                if op != "AveragePool" or rnd.random() < 0.5:
                    attrs["dilations"] = [d]
                if op != "LpPool" or rnd.random() < 0.5:
                    attrs["ceil_mode"] = rnd.choice([0, 1])
        out.append((op, attrs, weight))
    return out


CONFIGS = _configs()


def _ort_ok(r) -> bool:  # type: ignore[no-untyped-def]
    return r.nonempty


@pytest.fixture(scope="module")
def ort_results() -> list[list]:
    jobs = [(_model(op, attrs, weight=w), [{"x": (1, 2, L)} for L in SIZES]) for op, attrs, w in CONFIGS]
    return probe_many(jobs)


def test_window_ops_agree_with_onnxruntime(ort_results: list[list]) -> None:
    checked = deviations = 0
    for (op, attrs, w), results in zip(CONFIGS, ort_results):
        m = _model(op, attrs, weight=w)
        spec = graphcheck.check(m)
        ortm = graphcheck.check(m, semantics="ort")
        for L, r in zip(SIZES, results):
            ours = spec.accepts({"L": L, "N": 1})
            ours_ort = ortm.accepts({"L": L, "N": 1})
            assert ours is not None and ours_ort is not None
            assert ours_ort == _ort_ok(r), (op, attrs, L, r, ortm.at({"L": L, "N": 1}).outputs)
            if r.ok and ours_ort:
                got = ortm.at({"L": L, "N": 1}).outputs["y"]
                assert got == r.shapes[0], (op, attrs, L, got, r.shapes)
            if ours != ours_ort:
                deviations += 1
                # only the documented deviations: pools (truncation, VALID+ceil, SAME with
                # dilations) and Conv's refusal of dilations with SAME auto_pad
                same_dilated = attrs.get("auto_pad", "").startswith("SAME") and attrs.get("dilations", [1]) != [1]
                assert op in ("MaxPool", "AveragePool", "LpPool") or same_dilated, (op, attrs, L)
            checked += 1
    assert checked == len(CONFIGS) * len(SIZES)
    assert deviations > 0  # the grid does exercise ORT's truncation


def test_spec_formula_examples() -> None:
    L = sym("L")
    r = graphcheck.check(_model("Conv", {"strides": [2], "pads": [1, 1], "dilations": [2]}, weight=(3, 2, 3)))
    f = r.analysis.facts["y"].shape
    assert f is not None and f[2] == floordiv(L + 2 - 4 - 1, 2) + 1
    assert r.valid.startswith("L >= 3")
    assert r.accepts({"L": 2, "N": 1}) is False and r.accepts({"L": 3, "N": 1}) is True


def test_ceil_mode_drops_window_starting_in_right_padding() -> None:
    r = graphcheck.check(_model("MaxPool", {"kernel_shape": [2], "strides": [2], "pads": [1, 1], "ceil_mode": 1}))
    at5 = r.at({"L": 5, "N": 1}).outputs["y"]
    assert at5 == (1, 2, 3)  # ceil((5+2-2)/2)+1 = 4 windows, the last starts in the right pad


def test_channel_mismatch_is_a_finding() -> None:
    r = graphcheck.check(_model("Conv", {}, weight=(3, 5, 3)))  # weight expects 5 channels, input has 2
    assert r.any_valid is False
    assert any(d.code == "GC010" for d in r.diagnostics)


def test_2d_conv_sets_independent_minimums() -> None:
    m = _model("Conv", {"strides": [2, 1], "pads": [0, 0, 0, 0]}, spatial=2, weight=(3, 2, 5, 3))
    r = graphcheck.check(m)
    assert r.valid_set("H") is not None and r.valid_set("H").min() == 5
    assert r.valid_set("W") is not None and r.valid_set("W").min() == 3


def test_same_padding_pools_match_onnxruntime() -> None:
    """SAME pools in onnxruntime size their padding from the undilated kernel, reject a negative
    pad in MaxPool without dilation, and truncate; ``semantics="ort"`` reproduces all of it, while
    the spec answer (``ceil(L / stride)``) stands."""
    rnd = random.Random(11)
    configs = []
    for _ in range(150):
        op = rnd.choice(["MaxPool", "AveragePool", "LpPool"])
        attrs = {
            "kernel_shape": [rnd.choice([1, 2, 3])],
            "strides": [rnd.choice([1, 2, 3, 4])],
            "auto_pad": rnd.choice(["SAME_UPPER", "SAME_LOWER"]),
            "ceil_mode": rnd.choice([0, 1]),
        }
        if op != "AveragePool":
            attrs["dilations"] = [rnd.choice([1, 2])]
        configs.append((op, attrs))
    sizes = list(range(1, 20))
    results = probe_many([(_model(op, attrs), [{"x": (1, 2, L)} for L in sizes]) for op, attrs in configs])
    for (op, attrs), res in zip(configs, results):
        m = _model(op, attrs)
        spec, ortm = graphcheck.check(m), graphcheck.check(m, semantics="ort")
        for L, r in zip(sizes, res):
            assert ortm.accepts({"L": L}) == r.nonempty, (op, attrs, L, r)
            if r.ok and r.nonempty:
                assert ortm.at({"L": L}).outputs["y"] == r.shapes[0]
            assert spec.at({"L": L}).outputs["y"] == (1, 2, -(-L // attrs["strides"][0]))
