"""ConvInteger, QLinearConv, DeformConv, DynamicQuantizeLinear, BitCast: exact shapes (Conv's window
formula), channel and parameter conditions, checked against onnxruntime over grids of sizes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

import graphcheck
from graphcheck.symbolic.expr import ceildiv, floordiv
from tests.infer.ops._mrc import S, codes_failing, holds_all, init, make_model, run, shape_of
from tests.infer.ops._xref import against_ort, against_reference

F, U8, I8, I32 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32


def _grid(names: str, vals: dict[str, tuple[int, ...]]) -> list[dict[str, int]]:
    return [dict(zip(names, c)) for c in itertools.product(*(vals[n] for n in names))]


def _conv_integer(attrs: dict, weight: tuple[int, ...] = (4, 2, 3)) -> onnx.ModelProto:
    node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], **attrs)
    ins = [("x", ["N", "C", "L"], U8), ("xz", ["Z"], U8), ("wz", ["K"], U8)]
    return make_model([node], ins, [("y", I32)], [init("w", np.ones(weight), np.uint8)], opset=13)


def test_conv_integer_window_and_zero_points() -> None:
    a = run(_conv_integer({"strides": [2], "pads": [1, 0]}))
    assert shape_of(a, "y") == (S("N"), 4, floordiv(S("L") + 1 - 3, 2) + 1)
    assert a.facts["y"].dtype == I32
    ok = {"N": 1, "C": 2, "L": 2, "Z": 1, "K": 4}
    assert holds_all(a, ok) and codes_failing(a, {**ok, "L": 1}) == {"GC001"}
    assert codes_failing(a, {**ok, "C": 3}) == {"GC010"}
    assert codes_failing(a, {**ok, "Z": 2}) == {"GC010"}  # x_zero_point is per tensor
    assert codes_failing(a, {**ok, "K": 3}) == {"GC010"}  # w_zero_point: 1 or one per output channel
    o = run(_conv_integer({}), "ort")
    assert codes_failing(o, {**ok, "L": 3, "K": 4}) == {"GC010"}  # onnxruntime: per-tensor only
    same = run(_conv_integer({"auto_pad": "SAME_UPPER", "strides": [3]}))
    assert shape_of(same, "y") == (S("N"), 4, ceildiv(S("L"), 3))


def test_qlinear_conv_output_type_and_bias() -> None:
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], group=2)
    inits = [init("w", np.ones((4, 1, 3, 3)), np.int8), init("xs", 0.1, np.float32), init("xz", 0, np.int8),
             init("ys", 0.2, np.float32), init("yz", 0, np.int8)]  # fmt: skip
    m = make_model([node], [("x", ["N", 2, "H", "W"], I8), ("ws", ["S"], F), ("wz", ["S"], I8), ("b", ["B"], I32)],
                   [("y", I8)], inits, opset=13)  # fmt: skip
    a = run(m)
    assert shape_of(a, "y") == (S("N"), 4, S("H") - 2, S("W") - 2) and a.facts["y"].dtype == I8
    ok = {"N": 1, "H": 3, "W": 5, "S": 4, "B": 4}
    assert holds_all(a, ok) and holds_all(a, {**ok, "S": 1})
    assert codes_failing(a, {**ok, "B": 2}) == {"GC010"}
    assert codes_failing(a, {**ok, "H": 2}) == {"GC001"}


def test_deform_conv_offset_and_mask_follow_the_output() -> None:
    node = helper.make_node("DeformConv", ["x", "w", "off", "", "mask"], ["y"], strides=[2, 2], offset_group=2)
    m = make_model([node], {"x": [1, 4, "H", "W"], "off": [1, "O", "P", "Q"], "mask": [1, "M", "P", "Q"]}, ["y"],
                   [init("w", np.ones((3, 4, 3, 2)), np.float32)], opset=22)  # fmt: skip
    a = run(m)
    oh, ow = floordiv(S("H") - 3, 2) + 1, floordiv(S("W") - 2, 2) + 1
    assert shape_of(a, "y") == (1, 3, oh, ow)
    ok = {"H": 7, "W": 6, "O": 2 * 6 * 2, "P": 3, "Q": 3, "M": 2 * 6}
    assert holds_all(a, ok)
    assert codes_failing(a, {**ok, "P": 4}) == {"GC010"}
    assert codes_failing(a, {**ok, "O": 12}) == {"GC010"}
    assert codes_failing(a, {**ok, "H": 2}) == {"GC001", "GC010"}


def test_dynamic_quantize_and_bitcast() -> None:
    m = make_model(
        [helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], {"x": ["N", 3]}, ["y", "s", "z"]
    )
    a = run(m)
    assert shape_of(a, "y") == (S("N"), 3) and shape_of(a, "s") == () and shape_of(a, "z") == ()
    assert a.facts["y"].dtype == U8 and a.facts["z"].dtype == U8
    ok = make_model([helper.make_node("BitCast", ["x"], ["y"], to=I32)], {"x": ["N", 3]}, ["y"], opset=26)
    a = run(ok)
    assert shape_of(a, "y") == (S("N"), 3) and a.facts["y"].dtype == I32 and a.requirements == []
    bad = make_model([helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT64)], {"x": ["N"]}, ["y"], opset=26)
    assert graphcheck.check(bad).any_valid is False  # 32 bits into 64


def _cases() -> list[tuple[onnx.ModelProto, list[dict[str, int]]]]:
    cases = []
    for attrs in ({"pads": [1, 1]}, {"strides": [2]}, {"auto_pad": "SAME_UPPER", "strides": [2]}, {"dilations": [2]}):
        cases.append(
            (
                _conv_integer(attrs),
                _grid("NCLZK", {"N": (1,), "C": (1, 2), "L": tuple(range(1, 8)), "Z": (1, 2), "K": (1, 4)}),
            )
        )
    qattrs: list[dict[str, Any]] = [{"pads": [1, 1]}, {"strides": [3]}, {"auto_pad": "SAME_LOWER"}]
    for attrs in qattrs:
        inits = [init("w", np.ones((4, 2, 3)), np.uint8), init("xs", 0.1, np.float32), init("xz", 1, np.uint8),
                 init("ys", 0.2, np.float32), init("yz", 3, np.uint8)]  # fmt: skip
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], **attrs)
        m = make_model([node], [("x", ["N", "C", "L"], U8), ("ws", ["S"], F), ("wz", ["Z"], U8), ("b", ["B"], I32)],
                       [("y", U8)], inits, opset=13)  # fmt: skip
        cases.append(
            (m, _grid("NCLSZB", {"N": (1,), "C": (2, 3), "L": (1, 2, 3, 5), "S": (1, 4), "Z": (1, 4), "B": (3, 4)}))
        )
    dattrs: list[dict[str, Any]] = [
        {},
        {"pads": [1, 1, 1, 1], "strides": [2, 2]},
        {"offset_group": 2},
        {"dilations": [2, 1]},
    ]
    for dattr in dattrs:
        og = int(dattr.get("offset_group", 1))
        node = helper.make_node("DeformConv", ["x", "w", "off", "b", "mask"], ["y"], **dattr)
        ins: dict[str, Sequence[int | str]] = {
            "x": [1, "C", "H", 4],
            "off": [1, "O", "P", "Q"],
            "b": ["B"],
            "mask": [1, "M", "P", "Q"],
        }
        m = make_model([node], ins, ["y"], [init("w", np.ones((2, 2, 2, 2)), np.float32)], opset=19)
        vals = {"C": (2, 4), "H": (1, 2, 3, 5), "O": (8 * og, 8 * og + 2), "P": (1, 2, 4), "Q": (2, 3), "B": (2, 3),
                "M": (4 * og, 4 * og + 1)}  # fmt: skip
        cases.append((m, _grid("CHOPQBM", vals)))
    return cases


CASES = _cases()


def test_ort_semantics_agree_with_onnxruntime() -> None:
    n, bad = against_ort(CASES, semantics="ort")
    assert n > 1000
    assert not bad, "\n".join(bad[:20])


def test_spec_and_onnxruntime_differ_only_on_conv_integer_zero_points() -> None:
    _, bad = against_ort(CASES, semantics="spec")
    assert bad and all(b.startswith("ort ConvInteger") and "'K': 4" in b for b in bad), "\n".join(bad[:10])


def test_valid_sizes_run_in_the_reference_with_our_shapes() -> None:
    # the DeformConv reference is slow, and the ConvInteger/QLinearConv references only handle
    # per-channel parameters of 2-D convolutions (they reshape them over three axes): per-tensor here
    some = [(m, [e for e in envs if e["S"] == 1]) for m, envs in CASES if m.graph.node[0].op_type == "QLinearConv"]
    n, bad = against_reference(some)
    assert n > 90
    assert not [b for b in bad if "ours False, reference True" not in b], "\n".join(bad[:10])
