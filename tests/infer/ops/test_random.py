"""RandomUniform/RandomNormal(+Like), Bernoulli, Multinomial: shapes and element types, checked
against onnxruntime (opset 21: onnxruntime 1.32 has no opset-22 kernels for the *Like ops)."""

from __future__ import annotations

from typing import Any

import onnx
from onnx import TensorProto, helper

from tests.infer.ops._mrc import S, make_model, run, shape_of
from tests.infer.ops._xref import against_ort

F, D, I32, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT32, TensorProto.INT64


def test_shapes_and_types() -> None:
    m = make_model([helper.make_node("RandomNormal", [], ["y"], shape=[2, 3, 4], dtype=D)], {}, ["y"], opset=21)
    a = run(m)
    assert shape_of(a, "y") == (2, 3, 4) and a.facts["y"].dtype == D and a.facts["y"].value is None
    for op in ("RandomUniformLike", "RandomNormalLike", "Bernoulli"):
        m = make_model([helper.make_node(op, ["x"], ["y"])], [("x", ["N", 5], D)], ["y"], opset=21)
        a = run(m)
        assert shape_of(a, "y") == (S("N"), 5) and a.facts["y"].dtype == D
        m = make_model([helper.make_node(op, ["x"], ["y"], dtype=F)], [("x", ["N", 5], D)], ["y"], opset=21)
        assert run(m).facts["y"].dtype == F
    m = make_model([helper.make_node("Multinomial", ["x"], ["y"], sample_size=7)], {"x": ["B", "C"]}, ["y"], opset=21)
    a = run(m)
    assert shape_of(a, "y") == (S("B"), 7) and a.facts["y"].dtype == I32
    bad = make_model([helper.make_node("Multinomial", ["x"], ["y"])], {"x": ["B"]}, ["y"], opset=21)
    assert any(str(r.cond) == "false" for r in run(bad).requirements)


def _cases() -> list[tuple[onnx.ModelProto, list[dict[str, int]]]]:
    envs = [{"N": n, "C": c} for n in (1, 2, 5) for c in (1, 3)]
    cases = []
    likes: list[tuple[str, dict[str, Any], int]] = [
        ("RandomUniformLike", {}, F),
        ("RandomNormalLike", {"dtype": D}, D),
        ("Bernoulli", {}, F),
    ]
    for op, attrs, out in likes:
        node = helper.make_node(op, ["x"], ["y"], **attrs)
        cases.append((make_model([node], {"x": ["N", "C", 2]}, [("y", out)], opset=21), envs))
    multis: list[tuple[dict[str, Any], int]] = [({}, I32), ({"sample_size": 4, "dtype": I64}, I64)]
    for attrs, out in multis:
        node = helper.make_node("Multinomial", ["x"], ["y"], **attrs)
        cases.append((make_model([node], {"x": ["N", "C"]}, [("y", out)], opset=21), envs))
    for op in ("RandomUniform", "RandomNormal"):
        node = helper.make_node(op, [], ["r"], shape=[3, 1, 2])
        add = helper.make_node("Add", ["r", "x"], ["y"])  # the random tensor meets a sized input
        cases.append((make_model([node, add], {"x": ["N", "C"]}, ["y"], opset=21), envs))
    return cases


def test_agree_with_onnxruntime() -> None:
    n, bad = against_ort(_cases(), semantics="spec")
    assert n == 42
    assert not bad, "\n".join(bad[:10])
