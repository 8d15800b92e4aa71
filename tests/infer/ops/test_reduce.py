"""Reductions, softmax-like ops, TopK and the normalizations: exact shapes, GC009/GC010 conditions,
reduced values, and verdicts/shapes checked against onnxruntime at many sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper

from graphcheck.infer.engine import Analysis
from graphcheck.infer.facts import Fact
from graphcheck.symbolic.expr import const, emax, product
from tests.infer.ops._elemtest import (
    I64,
    F,
    S,
    as_fracs,
    differential,
    grid,
    holds,
    init,
    ivec,
    make_model,
    numbers,
    ort_outputs,
    rule_call,
    run,
    shape_ops,  # noqa: F401  (fixture)
    sym_of,
    verdict,
)

N, L, C, D, H = S("N"), S("L"), S("C"), S("D"), S("H")
LS, NS = sym_of(L), sym_of(N)
ONE = const(1)


def node(op: str, ins: list[str], outs: list[str] | None = None, **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs or ["y"], **attrs)


def _gc010_invalid(a: Analysis) -> bool:
    return any(r.code == "GC010" and not r.cond.symbols() for r in a.requirements)


# -- reductions -----------------------------------------------------------------------------------------------------


def test_reduce_axes_input_keepdims_0() -> None:
    m = make_model(
        [node("ReduceSum", ["x", "ax"], keepdims=0)], {"x": ["N", "L", 3]}, ["y"], [init("ax", [1])], opset=13
    )
    assert run(m).facts["y"].shape == (N, const(3))


def test_reduce_axes_attribute_before_18() -> None:
    m = make_model([node("ReduceMean", ["x"], axes=[-1])], {"x": ["N", "L", 3]}, ["y"], opset=13)
    assert run(m).facts["y"].shape == (N, L, ONE)
    m = make_model([node("ReduceSum", ["x"], axes=[0, 2], keepdims=0)], {"x": ["N", "L", 3]}, ["y"], opset=11)
    assert run(m).facts["y"].shape == (L,)


def test_reduce_without_axes_reduces_all_unless_noop() -> None:
    m = make_model([node("ReduceProd", ["x"])], {"x": ["N", "L", 3]}, ["y"], opset=18)
    assert run(m).facts["y"].shape == (ONE, ONE, ONE)
    m = make_model([node("ReduceMax", ["x"], noop_with_empty_axes=1)], {"x": ["N", "L", 3]}, ["y"], opset=18)
    assert run(m).facts["y"].shape == (N, L, const(3))
    m = make_model([node("ReduceMin", ["x"], keepdims=0)], {"x": ["N", "L"]}, ["y"], opset=18)
    assert run(m).facts["y"].shape == ()


def test_reduce_unknown_axes() -> None:
    # axes computed at run time: with as many axes as the rank (no repeats allowed) they are all of them
    m = make_model([node("ReduceSum", ["x", "ax"])], [("x", ["N", "L", 3], F), ("ax", [3], I64)], ["y"], opset=13)
    assert run(m).facts["y"].shape == (ONE, ONE, ONE)
    m = make_model([node("ReduceSum", ["x", "ax"])], [("x", ["N", "L", 3], F), ("ax", [1], I64)], ["y"], opset=13)
    a = run(m)
    assert a.facts["y"].shape is None and any(n.code == "GC102" for n in a.notes)


def test_reduce_bad_axes_are_invalid() -> None:
    for axes in ([0, 0], [3], [-4]):
        m = make_model([node("ReduceSum", ["x"], axes=axes)], {"x": ["N", "L", 3]}, ["y"], opset=11)
        a = run(m)
        assert _gc010_invalid(a) and verdict(a, {"N": 1, "L": 1}) is False


def test_reduce_values_of_a_shape() -> None:
    s = ivec(N, L, 3)
    expect = {
        "ReduceProd": 3 * N * L,
        "ReduceSum": N + L + 3,
        "ReduceMax": emax(N, L, 3),
        "ReduceSumSquare": N * N + L * L + 9,
        "ReduceL1": N + L + 3,
    }
    for op, want in expect.items():
        outs, _ = rule_call(op, [s], {"keepdims": 0}, opset=13)
        assert outs[0].shape == () and outs[0].value == (want,), op
    outs, _ = rule_call("ReduceMin", [ivec(L + 2, 1)], {"keepdims": 1}, opset=13)
    assert outs[0].shape == (ONE,) and outs[0].value == (ONE,)  # sizes are >= 1
    outs, _ = rule_call("ReduceMean", [ivec(2 * L, 4 * L)], {}, opset=13)
    assert outs[0].value == (3 * L,)
    outs, _ = rule_call("ReduceMean", [ivec(L, 4)], {}, opset=13)
    assert outs[0].value is None  # (L + 4) / 2 is not exact
    outs, _ = rule_call("ReduceL2", [ivec(3, 4)], {}, opset=13)
    assert outs[0].value is None


def test_reduce_values_along_an_axis() -> None:
    f = Fact((const(2), const(3)), I64, tuple(const(v) for v in (1, 2, 3, 4, 5, 6)))
    outs, _ = rule_call("ReduceSum", [f, ivec(1)], {"keepdims": 1}, opset=13)
    assert outs[0].shape == (const(2), ONE) and outs[0].value == (const(6), const(15))
    outs, _ = rule_call("ReduceProd", [f], {"axes": (0,), "keepdims": 0}, opset=13)
    assert outs[0].value == (const(4), const(10), const(18))


def test_constant_reductions_match_onnxruntime() -> None:
    arr = np.array([[3, -1, 4], [1, -5, 9]], np.int64)
    farr = np.array([[0.5, -1.0, 4.0], [1.5, 2.0, -0.25]], np.float32)
    for op in ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceSumSquare", "ReduceMean"):
        for x in (arr, farr):
            for axes in ([0], [1], [0, 1]):
                m = make_model([node(op, ["c"], axes=axes, keepdims=0)], [], ["y"], [init("c", x, x.dtype)], opset=11)
                a = run(m)
                want = ort_outputs(m)[0]
                assert a.facts["y"].shape == tuple(const(d) for d in want.shape)
                got = numbers(a.facts["y"].value)
                if op == "ReduceMean" and (x is arr or axes != [0]):
                    # integer means are not specified; 3.5 / 3 is no float: values only when exact
                    assert got is None or got == as_fracs(want)
                    continue
                assert got is not None and got == as_fracs(want), (op, x.dtype, axes, got, want)


def test_arg_reductions() -> None:
    m = make_model([node("ArgMax", ["x"], axis=1, keepdims=0)], {"x": ["N", "L", 3]}, ["y"], opset=13)
    f = run(m).facts["y"]
    assert f.shape == (N, const(3)) and f.dtype == I64
    m = make_model([node("ArgMin", ["x"])], {"x": ["N", "L", 3]}, ["y"], opset=13)
    assert run(m).facts["y"].shape == (ONE, L, const(3))


# -- softmax family, cumulative ops -----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
def test_softmax_family_keeps_shape(op: str) -> None:
    for opset in (11, 13):
        a = run(make_model([node(op, ["x"])], {"x": ["N", "L", 4]}, ["y"], opset=opset))
        assert a.facts["y"].shape == (N, L, const(4)) and not a.requirements
    # before 13 the default axis is 1: a 1-D input has no axis 1 (onnxruntime agrees, below)
    a = run(make_model([node(op, ["x"])], {"x": ["L"]}, ["y"], opset=11))
    assert _gc010_invalid(a)
    a = run(make_model([node(op, ["x"])], {"x": ["L"]}, ["y"], opset=13))
    assert a.facts["y"].shape == (L,) and not a.requirements


def test_cumsum_axis_checks() -> None:
    m = make_model([node("CumSum", ["x", "ax"])], {"x": ["N", "L"]}, ["y"], [init("ax", 1)], opset=14)
    assert run(m).facts["y"].shape == (N, L)
    m = make_model([node("CumSum", ["x", "ax"])], {"x": ["N", "L"]}, ["y"], [init("ax", [[1]])], opset=14)
    assert _gc010_invalid(run(m))
    m = make_model([node("CumSum", ["x", "ax"])], {"x": ["N", "L"]}, ["y"], [init("ax", 2)], opset=14)
    assert _gc010_invalid(run(m))


# -- TopK ----------------------------------------------------------------------------------------------------


def test_topk_k_must_fit_the_axis() -> None:
    m = make_model(
        [node("TopK", ["x", "k"], ["v", "i"], axis=1)], {"x": ["N", "L"]}, ["v", "i"], [init("k", [5])], opset=11
    )
    a = run(m)
    assert a.facts["v"].shape == (N, const(5)) and a.facts["i"].dtype == I64
    gc9 = [r for r in a.requirements if r.code == "GC009"]
    assert len(gc9) == 1 and "k = 5" in gc9[0].formula
    assert [v for v in range(1, 9) if holds(a, {"N": 1, "L": v})] == [5, 6, 7, 8]


def test_topk_attribute_k_opset1() -> None:
    a = run(make_model([node("TopK", ["x"], ["v", "i"], k=3)], {"x": ["N", "L"]}, ["v", "i"], opset=1))
    assert a.facts["v"].shape == (N, const(3))
    assert not holds(a, {"N": 1, "L": 2}) and holds(a, {"N": 1, "L": 3})


def test_topk_unknown_k_is_a_fresh_size() -> None:
    m = make_model(
        [node("TopK", ["x", "k"], ["v", "i"])], [("x", ["N", "L"], F), ("k", [1], I64)], ["v", "i"], opset=11
    )
    a = run(m)
    shape = a.facts["v"].shape
    assert shape is not None and shape[0] == N and shape[1].has_opaque()
    assert any(n.code == "GC104" for n in a.notes) and a.complete
    assert all(not r.decidable for r in a.requirements if r.code == "GC009")


def test_topk_k_must_be_a_1d_tensor() -> None:
    m = make_model([node("TopK", ["x", "k"], ["v", "i"])], {"x": ["N", "L"]}, ["v", "i"], [init("k", 2)], opset=11)
    assert _gc010_invalid(run(m))


def test_topk_symbolic_k_from_a_value() -> None:
    outs, ctx = rule_call("TopK", [Fact((N, L)), ivec(L - 1)], {"axis": 1}, opset=11)
    assert outs[0].shape == (N, L - 1) and not ctx.requirements  # L - 1 <= L always
    outs, ctx = rule_call("TopK", [Fact((N, L)), ivec(N)], {"axis": 1}, opset=11)
    assert outs[0].shape == (N, N)
    env = [{LS: lv, NS: 3} for lv in range(1, 6)]
    assert [all(r.cond.holds(e) for r in ctx.requirements) for e in env] == [False, False, True, True, True]


# -- normalizations ------------------------------------------------------------------------------------------


def _bn(opset: int = 15, training: bool = False) -> onnx.ModelProto:
    outs = ["y", "rm", "rv"] if training else ["y"]
    attrs = {"training_mode": 1} if training else {}
    params = [init(n, np.ones(3), np.float32) for n in ("s", "b", "m", "v")]
    return make_model(
        [node("BatchNormalization", ["x", "s", "b", "m", "v"], outs, **attrs)],
        {"x": ["N", "C", "H"]},
        outs,
        params,
        opset=opset,
    )


def test_batchnorm_parameters_match_channels() -> None:
    a = run(_bn())
    assert a.facts["y"].shape == (N, C, H)
    assert {r.code for r in a.requirements} == {"GC010"}
    assert [c for c in range(1, 6) if holds(a, {"N": 1, "C": c, "H": 2})] == [3]
    t = run(_bn(training=True))
    assert t.facts["rm"].shape == (C,) and t.facts["rv"].shape == (C,)


def test_batchnorm_non_spatial_legacy() -> None:
    params = [init(n, np.ones((3, 4)), np.float32) for n in ("s", "b", "m", "v")]
    m = make_model(
        [node("BatchNormalization", ["x", "s", "b", "m", "v"], spatial=0)],
        {"x": ["N", "C", "H"]},
        ["y"],
        params,
        opset=7,
    )
    a = run(m)
    assert [(c, h) for c in range(1, 5) for h in range(1, 6) if holds(a, {"N": 1, "C": c, "H": h})] == [(3, 4)]


def test_layernorm_scale_broadcasts_to_input() -> None:
    m = make_model(
        [node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"], axis=1)],
        {"x": ["N", "L", "D"]},
        ["y", "mean", "inv"],
        [init("s", np.ones(4), np.float32)],
        opset=17,
    )
    a = run(m)
    assert a.facts["y"].shape == (N, L, D)
    assert a.facts["mean"].shape == (N, ONE, ONE) and a.facts["inv"].shape == (N, ONE, ONE)
    assert [d for d in range(1, 7) if holds(a, {"N": 1, "L": 2, "D": d})] == [4]


def test_groupnorm_channels_divisible_by_groups() -> None:
    for opset, ps in ((18, 3), (21, 6)):
        params = [init(n, np.ones(ps), np.float32) for n in ("s", "b")]
        m = make_model(
            [node("GroupNormalization", ["x", "s", "b"], num_groups=3)],
            {"x": ["N", "C", 5]},
            ["y"],
            params,
            opset=opset,
        )
        a = run(m)
        assert a.facts["y"].shape == (N, C, const(5))
        ok = [c for c in range(1, 13) if holds(a, {"N": 1, "C": c})]
        assert ok == ([3, 6, 9, 12] if opset == 18 else [6])


def test_instancenorm_and_lrn_ranks_under_ort() -> None:
    params = [init(n, np.ones(3), np.float32) for n in ("s", "b")]
    m = make_model([node("InstanceNormalization", ["x", "s", "b"])], {"x": ["N", "C"]}, ["y"], params, opset=15)
    assert not _gc010_invalid(run(m)) and _gc010_invalid(run(m, "ort"))
    m = make_model([node("LRN", ["x"], size=3)], {"x": ["N", "C", "H"]}, ["y"], opset=13)
    assert run(m).facts["y"].shape == (N, C, H) and _gc010_invalid(run(m, "ort"))


def test_other_normalizations_keep_shape() -> None:
    x: dict[str, list[int | str]] = {"x": ["N", "C", "H", 4]}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("LpNormalization", {"axis": 1}),
        ("MeanVarianceNormalization", {}),
        ("LRN", {"size": 3}),
    ]
    for op, attrs in cases:
        a = run(make_model([node(op, ["x"], **attrs)], x, ["y"], opset=13))
        assert a.facts["y"].shape == (N, C, H, const(4)) and not a.requirements, op
    a = run(make_model([node("MeanVarianceNormalization", ["x"])], {"x": ["N", "C"]}, ["y"], opset=13))
    assert _gc010_invalid(a)  # default axes (0, 2, 3) need rank 4
    a = run(make_model([node("LpNormalization", ["x"], p=3)], x, ["y"], opset=13))
    assert _gc010_invalid(a)


# -- against onnxruntime -------------------------------------------------------------------------------------


def test_reduce_and_topk_shapes_agree_with_onnxruntime() -> None:
    cases = []
    for op, attrs, opset, inits in (
        ("ReduceSum", {"keepdims": 0}, 13, [init("ax", [1])]),
        ("ReduceMean", {"axes": [0, -1]}, 13, []),
        ("ReduceMax", {"keepdims": 0}, 18, []),
        ("ReduceL2", {"noop_with_empty_axes": 1}, 18, []),
        ("ArgMax", {"axis": -1, "keepdims": 0}, 13, []),
        ("CumSum", {}, 14, [init("ax", 0)]),
        ("Softmax", {"axis": 1}, 11, []),
        ("LogSoftmax", {}, 13, []),
    ):
        ins = ["x"] + [t.name for t in inits]
        m = make_model([node(op, ins, **attrs)], {"x": ["N", "L", 3]}, ["y"], inits, opset=opset)
        cases.append((m, grid(["N", "L"], range(1, 4))))
    topk = make_model(
        [node("TopK", ["x", "k"], ["v", "i"], axis=1)], {"x": ["N", "L"]}, ["v", "i"], [init("k", [5])], opset=11
    )
    cases.append((topk, grid(["N", "L"], range(1, 9))))
    soft1d = make_model([node("Softmax", ["x"])], {"x": ["L"]}, ["y"], opset=11)
    cases.append((soft1d, [{"L": v} for v in (1, 2, 5)]))
    checked, ran, bad = differential(cases)
    assert not bad, bad[:5]
    assert checked == 8 * 9 + 64 + 3 and ran == 8 * 9 + 8 * 4  # TopK runs for L in 5..8


def test_normalization_verdicts_agree_with_onnxruntime() -> None:
    ln = make_model(
        [node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"])],
        {"x": ["N", "L", "D"]},
        ["y", "mean", "inv"],
        [init("s", np.ones(4), np.float32)],
        opset=17,
    )
    rms = make_model(
        [node("RMSNormalization", ["x", "s"])],
        {"x": ["N", "D"]},
        ["y"],
        [init("s", np.ones((1, 4)), np.float32)],
        opset=23,
    )
    inorm = make_model(
        [node("InstanceNormalization", ["x", "s", "b"])],
        {"x": ["N", "C", 2]},
        ["y"],
        [init(n, np.ones(3), np.float32) for n in ("s", "b")],
        opset=15,
    )
    gn = make_model(
        [node("GroupNormalization", ["x", "s", "b"], num_groups=3)],
        {"x": ["N", "C", 2]},
        ["y"],
        [init(n, np.ones(3), np.float32) for n in ("s", "b")],
        opset=18,
    )
    cases = [
        (_bn(), grid(["N", "C", "H"], range(1, 5))),
        (_bn(opset=14, training=True), [{"N": 2, "C": c, "H": 3} for c in range(1, 6)]),
        (ln, [{"N": 2, "L": 3, "D": d} for d in range(1, 7)]),
        (rms, [{"N": 2, "D": d} for d in range(1, 7)]),
        (inorm, [{"N": 2, "C": c} for c in range(1, 6)]),
        (gn, [{"N": 1, "C": c} for c in range(1, 13)]),
    ]
    checked, ran, bad = differential(cases)
    assert not bad, bad[:5]
    assert ran == 16 + 1 + 1 + 1 + 1 + 4


@pytest.mark.usefixtures("shape_ops")
def test_reduced_shape_values_agree_with_onnxruntime() -> None:
    # Reshape(x, [prod(Shape(x))]) always works; Reshape(x, [max(Shape(x))]) only when N or L is 1
    inits = [init("ax", [0])]
    prod = make_model(
        [node("Shape", ["x"], ["s"]), node("ReduceProd", ["s"], ["t"], keepdims=1), node("Reshape", ["x", "t"], ["y"])],
        {"x": ["N", "L", 1]},
        ["y"],
        opset=13,
    )
    mx = make_model(
        [
            node("Shape", ["x"], ["s"]),
            node("ReduceMax", ["s", "ax"], ["t"], keepdims=1),
            node("Reshape", ["x", "t"], ["y"]),
        ],
        {"x": ["N", "L", 1]},
        ["y"],
        inits,
        opset=18,
    )
    a = run(prod)
    assert a.facts["t"].value == (product([N, L]),)
    b = run(mx)
    assert b.facts["t"].value == (emax(N, L),)
    sizes = grid(["N", "L"], range(1, 5))
    assert [verdict(b, s) for s in sizes] == [s["N"] == 1 or s["L"] == 1 for s in sizes]
    checked, ran, bad = differential([(prod, sizes), (mx, sizes)])
    assert not bad, bad[:5]
    assert ran == 16 + 7
