"""onnxruntime contrib ops (com.microsoft FusedConv, FusedMatMul, Gelu, FastGelu, BiasGelu, QuickGelu,
SkipLayerNormalization, SkipSimplifiedLayerNormalization; SimplifiedLayerNormalization): exact shapes
and conditions, checked against onnxruntime itself (they have no ONNX spec)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from graphcheck.symbolic.expr import emax, floordiv
from tests.infer.ops._mrc import S, codes_failing, holds_all, run, shape_of
from tests.infer.ops._xref import against_ort

F = TensorProto.FLOAT
MS = "com.microsoft"


def _model(
    nodes: Sequence[onnx.NodeProto],
    ins: Sequence[tuple[str, Sequence[int | str]]],
    outs: Sequence[str],
    inits: Sequence[onnx.TensorProto] = (),
) -> onnx.ModelProto:
    g = helper.make_graph(
        list(nodes),
        "g",
        [helper.make_tensor_value_info(n, F, list(d)) for n, d in ins],
        [helper.make_tensor_value_info(o, F, None) for o in outs],
        initializer=list(inits),
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def _grid(names: str, vals: Sequence[int] = (1, 2, 3)) -> list[dict[str, int]]:
    return [dict(zip(names, c)) for c in itertools.product(vals, repeat=len(names))]


def _w(shape: tuple[int, ...]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, np.float32), "w")


def test_fused_conv_is_conv_plus_residual() -> None:
    node = helper.make_node(
        "FusedConv", ["x", "w", "", "z"], ["y"], domain=MS, activation="Relu", strides=[2], pads=[1, 1]
    )
    a = run(_model([node], [("x", ["N", 2, "L"]), ("z", ["N", "P", "Q"])], ["y"], [_w((3, 2, 3))]))
    out = floordiv(S("L") + 2 - 3, 2) + 1
    assert shape_of(a, "y") == (S("N"), 3, out)
    ok = {"N": 1, "L": 5, "P": 3, "Q": 3}
    assert holds_all(a, ok)
    assert codes_failing(a, {**ok, "Q": 2}) == {"GC010"}  # Z must have the output's shape
    assert "GC001" in codes_failing(a, {**ok, "L": 0})


def test_fused_matmul_transposes() -> None:
    node = helper.make_node("FusedMatMul", ["a", "b"], ["y"], domain=MS, transA=1, transB=1)
    a = run(_model([node], [("a", ["B", "K", "M"]), ("b", ["C", "N", "J"])], ["y"]))
    assert shape_of(a, "y") == (emax(S("B"), S("C")), S("M"), S("N"))
    assert codes_failing(a, {"B": 2, "C": 1, "K": 3, "M": 4, "N": 5, "J": 2}) == {"GC005"}
    batch = helper.make_node("FusedMatMul", ["a", "b"], ["y"], domain=MS, transBatchA=1)
    b = run(_model([batch], [("a", ["B", "K", "M"]), ("b", ["M", "N"])], ["y"]))
    assert shape_of(b, "y") is None and [n.code for n in b.notes] == ["GC102"]


def test_gelu_family_and_bias_sizes() -> None:
    for op in ("Gelu", "QuickGelu"):
        assert shape_of(
            run(_model([helper.make_node(op, ["x"], ["y"], domain=MS)], [("x", ["N", 7])], ["y"])), "y"
        ) == (S("N"), 7)
    for op in ("FastGelu", "BiasGelu"):
        a = run(
            _model([helper.make_node(op, ["x", "b"], ["y"], domain=MS)], [("x", ["N", "S", "H"]), ("b", ["K"])], ["y"])
        )
        assert shape_of(a, "y") == (S("N"), S("S"), S("H"))
        assert holds_all(a, {"N": 1, "S": 2, "H": 4, "K": 4}) and codes_failing(
            a, {"N": 1, "S": 2, "H": 4, "K": 1}
        ) == {"GC010"}


def test_skip_layer_norm_shapes() -> None:
    node = helper.make_node("SkipLayerNormalization", ["x", "s", "g", "", "bi"], ["y", "", "", "sum"], domain=MS)
    a = run(_model([node], [("x", ["N", "S", "H"]), ("s", ["M", "S", "H"]), ("g", ["H"]), ("bi", ["J"])], ["y", "sum"]))
    assert shape_of(a, "y") == shape_of(a, "sum") == (S("N"), S("S"), S("H"))
    ok = {"N": 2, "S": 3, "H": 4, "M": 2, "J": 4}
    assert holds_all(a, ok) and holds_all(a, {**ok, "M": 1})
    assert codes_failing(a, {**ok, "M": 3}) == {"GC010"} and codes_failing(a, {**ok, "J": 3}) == {"GC010"}
    assert holds_all(run(_model([node], [("x", ["N", "S", "H"]), ("s", ["M", "S", "H"]), ("g", ["H"]), ("bi", ["J"])],
                                ["y", "sum"]), "ort"), {**ok, "M": 3})  # fmt: skip
    stats = helper.make_node("SkipLayerNormalization", ["x", "s", "g"], ["y", "mean"], domain=MS)
    b = run(_model([stats], [("x", ["N", "S", "H"]), ("s", ["N", "S", "H"]), ("g", ["H"])], ["y", "mean"]))
    assert shape_of(b, "mean") is None and [n.code for n in b.notes] == ["GC102"]  # not modelled, and said so


def _cases() -> list[tuple[onnx.ModelProto, list[dict[str, int]]]]:
    cases = []
    fc = helper.make_node(
        "FusedConv", ["x", "w", "b", "z"], ["y"], domain=MS, activation="Relu", strides=[2], pads=[1, 1]
    )
    m = _model([fc], [("x", [1, "C", "L"]), ("b", ["B"]), ("z", [1, "P", "Q"])], ["y"], [_w((3, 2, 3))])
    cases.append(
        (
            m,
            [
                dict(C=c, L=n, B=b, P=p, Q=q)
                for c in (2, 3)
                for n in (1, 3, 4, 5)
                for b in (1, 3)
                for p in (1, 3)
                for q in (1, 2, 3)
            ],
        )
    )
    for ta, tb in itertools.product((0, 1), (0, 1)):
        for an, bn in (("MJ", "KN"), ("AMJ", "KN"), ("J", "KN"), ("AMJ", "CKN"), ("MJ", "K")):
            node = helper.make_node("FusedMatMul", ["a", "b"], ["y"], domain=MS, transA=ta, transB=tb, alpha=1.0)
            names = "".join(sorted(set(an + bn)))
            cases.append((_model([node], [("a", list(an)), ("b", list(bn))], ["y"]), _grid(names, (1, 2, 3))))
    for op in ("FastGelu", "BiasGelu"):
        m = _model([helper.make_node(op, ["x", "b"], ["y"], domain=MS)], [("x", ["N", "S", "H"]), ("b", ["K"])], ["y"])
        cases.append((m, _grid("NSHK", (1, 2, 4))))
    skips: list[list[int | str]] = [["N", "S", "H"], ["M", "T", "G"], ["T", "G"], [1, "T", "G"]]
    for skip in skips:
        node = helper.make_node("SkipLayerNormalization", ["x", "s", "g", "be", "bi"], ["y", "", "", "sum"], domain=MS)
        m = _model(
            [node], [("x", ["N", "S", "H"]), ("s", skip), ("g", ["K"]), ("be", ["K"]), ("bi", ["J"])], ["y", "sum"]
        )
        names = "".join(sorted(set("NSHKJ") | {d for d in skip if isinstance(d, str)}))
        cases.append((m, _grid(names, (1, 2))))
    node = helper.make_node("SkipSimplifiedLayerNormalization", ["x", "s", "g"], ["y", "", "", "sum"], domain=MS)
    cases.append((_model([node], [("x", ["N", "H"]), ("s", ["M", "G"]), ("g", ["K"])], ["y", "sum"]), _grid("GHKMN")))
    for axis, scale in ((-1, ["Q"]), (-1, ["P", "Q"]), (1, ["P", "Q"])):
        node = helper.make_node("SimplifiedLayerNormalization", ["x", "s"], ["y"], axis=axis)
        names = "NSH" + "".join(d for d in scale)
        cases.append((_model([node], [("x", ["N", "S", "H"]), ("s", scale)], ["y"]), _grid(names)))
    return cases


CASES = _cases()


def test_ort_semantics_agree_with_onnxruntime() -> None:
    n, bad = against_ort(CASES, semantics="ort")
    assert n > 1000
    assert not bad, "\n".join(bad[:20])


def test_contrib_docs_differ_from_onnxruntime_only_on_the_skip_batch() -> None:
    _, bad = against_ort(CASES, semantics="spec")
    assert bad and all(b.startswith("ort SkipLayerNormalization") and "ours False, ort True" in b for b in bad)
