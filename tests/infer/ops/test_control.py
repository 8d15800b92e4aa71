"""If, Loop, Scan, sequences and optionals: bodies and sequences are followed
(tests/infer/test_control_flow.py checks them against onnxruntime); optional values stay unknown with
a GC103 note (so the analysis is never called complete past them), and what can be proven is kept."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import graphcheck
from graphcheck.symbolic.expr import const
from tests.infer.ops._mrc import S, init, make_model, run, shape_of, weight

F = TensorProto.FLOAT


def _branch(name: str, op: str) -> onnx.GraphProto:
    return helper.make_graph(
        [helper.make_node(op, ["h"], ["out"])], name, [], [helper.make_tensor_value_info("out", F, None)]
    )


def _if_model() -> onnx.ModelProto:
    """x [N, K] -> MatMul(w[4, 3]) -> h -> If(cond) {Relu(h) | Neg(h)} -> z -> Identity -> y."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="dense"),
        helper.make_node(
            "If", ["c"], ["z"], name="branch", then_branch=_branch("then", "Relu"), else_branch=_branch("else", "Neg")
        ),
        helper.make_node("MatMul", ["z", "w2"], ["y"], name="after"),
    ]
    inputs = [("x", ["N", "K"], F), ("c", [], TensorProto.BOOL)]
    return make_model(nodes, inputs, ["y"], [weight("w", (4, 3)), weight("w2", (3, 2))])


def test_if_on_a_boolean_input_follows_both_modes() -> None:
    """The If's condition is a graph input (a mode): each value's branch is followed."""
    rep = graphcheck.check(_if_model())
    a = rep.analysis
    assert shape_of(a, "h") == (S("N"), const(3))
    assert [v.label for v in a.variants] == ["c = true", "c = false"]
    for v in a.variants:
        assert v.analysis.facts["z"].shape == (S("N"), const(3)) and v.analysis.facts["y"].shape == (S("N"), const(2))
    assert rep.complete and not any(n.code in ("GC103", "GC901") for n in a.notes)
    assert rep.accepts({"N": 1, "K": 5}) is False  # the dense layer before the If needs K = 4
    assert rep.accepts({"N": 1, "K": 4}) is True
    assert rep.accepts({"N": 1, "K": 4, "c": 0}) is True


def test_loop_and_scan_are_followed() -> None:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "acc_in"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", F, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", F, None),
        ],
    )
    loop = helper.make_node("Loop", ["trip", "", "x"], ["acc"], body=body, name="loop")
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "e"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["scan_out"])],
        "sbody",
        [helper.make_tensor_value_info("s_in", F, None), helper.make_tensor_value_info("e", F, None)],
        [helper.make_tensor_value_info("s_out", F, None), helper.make_tensor_value_info("scan_out", F, None)],
    )
    scan = helper.make_node("Scan", ["x0", "xs"], ["s_final", "ys"], body=scan_body, num_scan_inputs=1, name="scan")
    m = make_model(
        [loop, scan, helper.make_node("Relu", ["acc"], ["r"])],
        {"x": ["N"], "x0": ["D"], "xs": ["T", "D"]},
        ["r", "s_final", "ys"],
        [init("trip", 3, np.int64)],
        opset=16,
    )
    a = run(m)
    assert not any(n.code in ("GC103", "GC901") for n in a.notes)
    assert shape_of(a, "r") == (S("N"),) and shape_of(a, "s_final") == (S("D"),)
    assert shape_of(a, "ys") == (S("T"), S("D"))
    assert graphcheck.check(m).accepts({"N": 2, "D": 3, "T": 4}) is True


def test_sequences_and_optionals() -> None:
    nodes = [
        helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0),
        helper.make_node("SequenceLength", ["seq"], ["n"]),
        helper.make_node("ConcatFromSequence", ["seq"], ["cat"], axis=0),
        helper.make_node("SequenceAt", ["seq", "zero"], ["first"]),
        helper.make_node("OptionalHasElement", ["x"], ["has"]),
        helper.make_node("OptionalGetElement", ["x"], ["same"]),
        helper.make_node("Optional", ["x"], ["opt"]),
        helper.make_node("OptionalGetElement", ["opt"], ["back"]),
    ]
    m = make_model(nodes, {"x": ["N", "D"]}, ["n", "cat", "first", "has", "same", "back"], [init("zero", 0, np.int64)])
    a = run(m)
    assert shape_of(a, "n") == () and a.facts["n"].value == (S("N"),)
    assert shape_of(a, "cat") == (S("N"), S("D"))  # N slices of [1, D] joined again
    assert shape_of(a, "first") == (const(1), S("D"))
    assert shape_of(a, "has") == () and a.facts["has"].value == (const(1),)  # a plain tensor always has one
    assert shape_of(a, "same") == (S("N"), S("D"))  # OptionalGetElement of a tensor is the identity
    for name in ("opt", "back"):
        assert a.facts[name].shape is None, name
    assert {n.op for n in a.notes if n.code == "GC103"} == {"Optional", "OptionalGetElement"}
    assert not a.complete
