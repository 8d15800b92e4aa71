"""Element-wise rules: broadcast shapes and GC003 conditions, dtypes, quantization scale checks,
and exact value propagation — checked against onnxruntime (verdicts at many sizes, and the
values it computes for constant inputs)."""

from __future__ import annotations

import copy
import random
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import graphcheck.infer.ops  # noqa: F401  (registers every rule)
from graphcheck.infer.facts import Fact
from graphcheck.infer.ops import elementwise, reduce
from graphcheck.infer.registry import _RULES
from graphcheck.symbolic.expr import Expr, const, emax, floordiv
from graphcheck.symbolic.floats import FloatRange, FloatSize
from tests.infer.ops._elemtest import (
    I32,
    I64,
    B,
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
from tests.nodecases import node_cases, run_case

N, L, A, Bs, C = S("N"), S("L"), S("A"), S("B"), S("C")
LS = sym_of(L)
I8 = 3


def node(op: str, ins: list[str], outs: list[str] | None = None, **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs or ["y"], **attrs)


# -- shapes and broadcast conditions -----------------------------------------------------------------------


def test_same_symbol_broadcasts_without_conditions() -> None:
    a = run(make_model([node("Add", ["x", "b"])], {"x": ["N", "L"], "b": ["L"]}, ["y"]))
    assert a.facts["y"].shape == (N, L)
    assert not [r for r in a.requirements if r.code == "GC003"]


def test_symbol_against_constant_must_match_or_be_one() -> None:
    m = make_model([node("Mul", ["x", "w"])], {"x": ["N", "L"]}, ["y"], [init("w", np.ones(5), np.float32)])
    a = run(m)
    assert a.facts["y"].shape == (N, const(5))
    gc3 = [r for r in a.requirements if r.code == "GC003"]
    assert len(gc3) == 1 and "must equal 5 or be 1" in gc3[0].formula
    assert [Lv for Lv in range(1, 8) if holds(a, {"N": 2, "L": Lv})] == [1, 5]


def test_two_symbols_either_may_be_one() -> None:
    # the numpy rule: on an axis the sizes other than 1 must agree; (1, 3) and (3, 1) are fine
    a = run(make_model([node("Add", ["p", "q"])], {"p": ["A"], "q": ["B"]}, ["y"]))
    assert a.facts["y"].shape == (emax(A, Bs),)
    ok = {(x, y) for x in range(1, 5) for y in range(1, 5) if holds(a, {"A": x, "B": y})}
    assert ok == {(x, y) for x in range(1, 5) for y in range(1, 5) if x == y or x == 1 or y == 1}


def test_constant_mismatch_fails_for_every_size() -> None:
    m = make_model([node("Add", ["x", "w"])], {"x": ["N", 3]}, ["y"], [init("w", np.ones(4), np.float32)])
    a = run(m)
    assert any(r.code == "GC003" and not r.cond.symbols() and not holds(a, {"N": 1}) for r in a.requirements)
    assert verdict(a, {"N": 1}) is False


def test_where_broadcasts_three_ways() -> None:
    m = make_model([node("Where", ["c", "x", "z"])], [("c", ["A", 1], B), ("x", [1, "B"], F), ("z", ["B"], F)], ["y"])
    a = run(m)
    assert a.facts["y"].shape == (A, Bs)
    assert a.facts["y"].dtype == F
    assert holds(a, {"A": 3, "B": 5})


def test_variadic_max_broadcasts_all_inputs() -> None:
    m = make_model([node("Max", ["a", "b", "c"])], {"a": ["N", 1], "b": ["L"], "c": [1, 1]}, ["y"])
    a = run(m)
    assert a.facts["y"].shape == (N, L)


def test_legacy_broadcast_aligns_b_at_axis() -> None:
    # opset 6: B = (3,) broadcast into A = (N, C, H) at axis 1, so C must be 3
    m = make_model(
        [node("Add", ["x", "b"], broadcast=1, axis=1)],
        {"x": ["N", "C", "H"]},
        ["y"],
        [init("b", np.ones(3), np.float32)],
        opset=6,
    )
    a = run(m)
    assert a.facts["y"].shape == (N, C, S("H"))
    assert [c for c in range(1, 6) if holds(a, {"N": 1, "C": c, "H": 2})] == [3]


def test_legacy_without_broadcast_needs_equal_shapes() -> None:
    a = run(make_model([node("Sub", ["x", "z"])], {"x": ["N", "L"], "z": ["N", "C"]}, ["y"], opset=6))
    assert a.facts["y"].shape == (N, L)
    assert holds(a, {"N": 2, "L": 3, "C": 3}) and not holds(a, {"N": 2, "L": 3, "C": 1})


def test_legacy_variadic_needs_equal_shapes() -> None:
    a = run(make_model([node("Max", ["x", "z"])], {"x": ["L"], "z": ["C"]}, ["y"], opset=6))
    assert holds(a, {"L": 4, "C": 4}) and not holds(a, {"L": 4, "C": 1})


def test_prelu_spec_unidirectional_ort_multidirectional() -> None:
    m = make_model([node("PRelu", ["x", "s"])], {"x": ["N", "C", 2]}, ["y"], [init("s", np.ones((3, 1)), np.float32)])
    spec = run(m)
    assert spec.facts["y"].shape == (N, C, const(2))
    assert [c for c in range(1, 6) if holds(spec, {"N": 1, "C": c})] == [3]
    ortm = run(m, "ort")
    assert [c for c in range(1, 6) if holds(ortm, {"N": 1, "C": c})] == [1, 3]
    assert ortm.facts["y"].shape == (N, const(3), const(2))


def test_dtypes_of_outputs() -> None:
    m = make_model(
        [
            node("Less", ["x", "x"], ["lt"]),
            node("IsNaN", ["x"], ["nan"]),
            node("Cast", ["x"], ["c16"], to=10),
            node("CastLike", ["x", "i"], ["cl"]),
            node("Not", ["lt"], ["nt"]),
            node("Dropout", ["x"], ["d", "mask"]),
        ],
        [("x", ["N"], F), ("i", [1], I32)],
        ["lt", "nan", "c16", "cl", "nt", "d", "mask"],
        opset=13,
    )
    a = run(m)
    f = a.facts
    assert (f["lt"].dtype, f["nan"].dtype, f["c16"].dtype, f["cl"].dtype, f["nt"].dtype) == (B, B, 10, I32, B)
    assert f["mask"].shape == (N,) and f["mask"].dtype == B and f["d"].dtype == F


def test_cast_opset1_type_name() -> None:
    a = run(make_model([node("Cast", ["x"], to="INT64")], {"x": ["N"]}, ["y"], opset=1))
    assert a.facts["y"].dtype == I64 and a.facts["y"].shape == (N,)


def test_trilu_needs_a_matrix() -> None:
    a = run(make_model([node("Trilu", ["x"])], {"x": ["N"]}, ["y"], opset=14))
    assert any(r.code == "GC010" and not holds(a, {"N": 3}) for r in a.requirements)
    a = run(make_model([node("Trilu", ["x"])], {"x": ["N", "L", 4]}, ["y"], opset=14))
    assert a.facts["y"].shape == (N, L, const(4))


def test_clip_bounds_must_be_scalars() -> None:
    a = run(make_model([node("Clip", ["x", "lo"])], [("x", ["N"], F), ("lo", ["C"], F)], ["y"], opset=13))
    assert a.facts["y"].shape == (N,)
    assert holds(a, {"N": 3, "C": 1}) and not holds(a, {"N": 3, "C": 2})


def test_float_mod_needs_fmod() -> None:
    a = run(make_model([node("Mod", ["x", "x"])], {"x": ["N"]}, ["y"], opset=13))
    assert verdict(a, {"N": 2}) is False
    a = run(make_model([node("Mod", ["x", "x"], fmod=1)], {"x": ["N"]}, ["y"], opset=13))
    assert verdict(a, {"N": 2}) is True


def test_quantize_per_axis_scale_must_match_axis() -> None:
    m = make_model(
        [node("QuantizeLinear", ["x", "s", "z"], axis=1)],
        {"x": ["N", "C"]},
        ["y"],
        [init("s", np.ones(4), np.float32), init("z", np.zeros(4), np.int8)],
        opset=13,
    )
    a = run(m)
    assert a.facts["y"].dtype == I8  # the zero point's type
    assert [c for c in range(1, 7) if holds(a, {"N": 1, "C": c})] == [4]


def test_dequantize_blocked_scale_counts_blocks() -> None:
    # 4 scales of block 32 along axis 1: ceil(K / 32) == 4, i.e. 97 <= K <= 128
    m = make_model(
        [node("DequantizeLinear", ["x", "s"], axis=1, block_size=32)],
        [("x", [2, "K"], I8)],
        ["y"],
        [init("s", np.ones((2, 4)), np.float32)],
        opset=21,
    )
    a = run(m)
    assert a.facts["y"].dtype == F
    assert [k for k in range(90, 135) if holds(a, {"K": k})] == list(range(97, 129))


# -- differential checks against onnxruntime --------------------------------------------------------------------


def _random_broadcast_models() -> list[tuple[onnx.ModelProto, list[dict[str, int]]]]:
    rnd = random.Random(11)
    choices: list[int | str] = [1, 1, 2, 3, "A", "A", "B"]
    cases = []
    for i in range(36):
        op = ["Add", "Mul", "Where", "Max", "Sum", "Greater"][i % 6]
        n_in = 3 if op in ("Where", "Max", "Sum") else 2
        shapes = [[rnd.choice(choices) for _ in range(rnd.randint(0, 3))] for _ in range(n_in)]
        names = ["c", "p", "q"] if op == "Where" else ["p", "q", "r"][:n_in]
        types = [B, F, F] if op == "Where" else [F] * n_in
        m = make_model([node(op, names)], list(zip(names, shapes, types)), ["y"], opset=17)
        cases.append((m, grid(["A", "B"], range(1, 4))))
    return cases


def test_broadcast_verdicts_agree_with_onnxruntime() -> None:
    checked, ran, bad = differential(_random_broadcast_models())
    assert not bad, bad[:5]
    assert checked == 36 * 9 and 0 < ran < checked


def test_prelu_and_quantize_agree_with_onnxruntime() -> None:
    slope = [init("s", np.ones((3, 1)), np.float32)]
    prelu = make_model([node("PRelu", ["x", "s"])], {"x": ["N", "C", 2]}, ["y"], slope)
    dq = make_model(
        [node("DequantizeLinear", ["x", "s"], axis=1, block_size=32)],
        [("x", [2, "K"], I8)],
        ["y"],
        [init("s", np.ones((2, 4)), np.float32)],
        opset=21,
    )
    qa = make_model(
        [node("QuantizeLinear", ["x", "s", "z"], axis=1)],
        {"x": ["N", "C"]},
        ["y"],
        [init("s", np.ones(4), np.float32), init("z", np.zeros(4), np.int8)],
        opset=13,
    )
    checked, _, bad = differential([(prelu, grid(["N", "C"], range(1, 5)))], semantics="ort")
    assert not bad and checked == 16, bad
    checked, ran, bad = differential(
        [(dq, [{"K": k} for k in (1, 64, 96, 97, 100, 128, 129, 160)]), (qa, grid(["N", "C"], range(1, 6)))]
    )
    assert not bad, bad
    assert ran == 3 + 5  # K = 97, 100, 128; C = 4 for each N


def _shape_chain(
    ops: list[onnx.NodeProto], target: str, inits: list[onnx.TensorProto], opset: int = 17
) -> onnx.ModelProto:
    """x: (N, L, 1); s = Shape(x); ops compute target from s; y = Reshape(x, target).

    The targets are built to stay >= 1, so Reshape's "0 copies the input size" never applies."""
    nodes = [node("Shape", ["x"], ["s"])] + ops + [node("Reshape", ["x", target], ["y"])]
    return make_model(nodes, {"x": ["N", "L", 1]}, ["y"], inits, opset=opset)


@pytest.mark.usefixtures("shape_ops")
def test_value_chains_agree_with_onnxruntime() -> None:
    sizes = grid(["N", "L"], range(1, 13))[::5] + [{"N": 2, "L": v} for v in range(1, 13)]
    chains = {
        # [N, (L + 1) / 2, 2]: valid iff L is even
        "div_mul": _shape_chain(
            [node("Add", ["s", "inc"], ["p"]), node("Div", ["p", "two"], ["h"]), node("Mul", ["h", "last2"], ["t"])],
            "t",
            [init("inc", [0, 1, 0]), init("two", [1, 2, 1]), init("last2", [1, 1, 2])],
        ),
        # [N, max(L, 4), 1]: valid iff L >= 4
        "max": _shape_chain([node("Max", ["s", "four"], ["t"])], "t", [init("four", [1, 4, 1])]),
        # [N, max(L + L mod 4, 1), 1]: valid iff L is a multiple of 4 (the max only spares Reshape a
        # positivity proof it does not attempt)
        "mod": _shape_chain(
            [node("Mod", ["s", "m4"], ["r"]), node("Add", ["s", "r"], ["p"]), node("Max", ["p", "one"], ["t"])],
            "t",
            [init("m4", [1, 4, 1]), init("one", [1])],
        ),
        # [N, int(float(L) * 2.0), 1]: never the element count
        "cast": _shape_chain(
            [
                node("Cast", ["s"], ["sf"], to=F),
                node("Mul", ["sf", "k"], ["p"]),
                node("Cast", ["p"], ["t"], to=I64),
            ],
            "t",
            [init("k", [1.0, 2.0, 1.0], np.float32)],
        ),
        # Where(s > 0, |-s|, 7): sizes are positive, so the shape itself: always valid
        "where": _shape_chain(
            [
                node("Greater", ["s", "zero"], ["g"]),
                node("Neg", ["s"], ["ng"]),
                node("Abs", ["ng"], ["ab"]),
                node("Where", ["g", "ab", "seven"], ["t"]),
            ],
            "t",
            [init("zero", [0]), init("seven", [7, 7, 7])],
        ),
        # [N, L + 1 - 1, 1] via Add/Sub and Min with a large bound: always valid
        "addsub_min": _shape_chain(
            [node("Add", ["s", "one"], ["p"]), node("Sub", ["p", "one"], ["q"]), node("Min", ["q", "big"], ["t"])],
            "t",
            [init("one", [1]), init("big", [1 << 40] * 3)],
        ),
    }
    expected = {
        "div_mul": lambda n, v: v % 2 == 0,
        "max": lambda n, v: v >= 4,
        "mod": lambda n, v: v % 4 == 0,
        "cast": lambda n, v: False,
        "where": lambda n, v: True,
        "addsub_min": lambda n, v: True,
    }
    for name, m in chains.items():
        a = run(m)
        assert a.complete, (name, a.notes)
        for sz in sizes:
            assert verdict(a, sz) == expected[name](sz["N"], sz["L"]), (name, sz)
    checked, ran, bad = differential([(m, sizes) for m in chains.values()])
    assert not bad, bad[:5]
    assert checked == len(chains) * len(sizes) and ran > 0


@pytest.mark.usefixtures("shape_ops")
def test_undecidable_comparison_leaves_value_unknown() -> None:
    m = _shape_chain(
        [node("Greater", ["s", "three"], ["g"]), node("Where", ["g", "s", "s2"], ["t"])],
        "t",
        [init("three", [0, 3, 0]), init("s2", [1, 1, 1])],
    )
    a = run(m)
    assert a.facts["g"].shape == (const(3),) and a.facts["g"].value is None
    assert a.facts["y"].shape is None and not a.complete  # Reshape cannot know its target


# -- constant values against onnxruntime's results ---------------------------------------------------------------

_INT_OPS = ["Add", "Sub", "Mul", "Div", "Mod", "Max", "Min"] + [
    "Equal",
    "Greater",
    "Less",
    "GreaterOrEqual",
    "LessOrEqual",
]


def _const_model(op: str, arrays: list[np.ndarray], opset: int = 18, **attrs: Any) -> onnx.ModelProto:
    names = [f"c{i}" for i in range(len(arrays))]
    inits = [init(n, arr, arr.dtype) for n, arr in zip(names, arrays)]
    return make_model([node(op, names, **attrs)], [], ["y"], inits, opset=opset)


def _check_const(m: onnx.ModelProto, expect_value: bool = True) -> None:
    a = run(m)
    got = numbers(a.facts["y"].value)
    want = ort_outputs(m)[0]
    assert a.facts["y"].shape == tuple(const(d) for d in want.shape)
    if expect_value:
        assert got is not None, m
    if got is not None:
        assert got == as_fracs(want), (got, want)


def test_integer_binary_values_match_onnxruntime() -> None:
    rnd = np.random.default_rng(3)
    for i in range(60):
        op = _INT_OPS[i % len(_INT_OPS)]
        a = rnd.integers(-20, 21, size=(2, 3)).astype(np.int64)
        b = rnd.integers(-6, 7, size=(3,) if i % 2 else (2, 1)).astype(np.int64)
        attrs: dict[str, int] = {}
        if op in ("Div", "Mod"):
            b[b == 0] = 5
        if op == "Mod":
            attrs["fmod"] = i % 3 == 0
        _check_const(_const_model(op, [a, b], **attrs))


def test_integer_power_values_match_onnxruntime() -> None:
    base = np.array([[-3, -2, 0, 1, 2, 5]], np.int64)
    _check_const(_const_model("Pow", [base, np.array([[0], [1], [2], [3]], np.int64)]))
    outs, _ = rule_call("Pow", [ivec(L, 3), ivec(2)])
    assert outs[0].value == (L * L, const(9))


def test_integer_division_truncates_and_mod_signs() -> None:
    num = np.array([7, -7, 7, -7, 0, 6], np.int64)
    for den in (np.array([2, 2, -2, -2, 3, -4], np.int64), np.array([3], np.int64)):
        for op, attrs in (("Div", {}), ("Mod", {"fmod": 0}), ("Mod", {"fmod": 1})):
            _check_const(_const_model(op, [num, den], **attrs))


def test_logic_bitwise_and_shift_values_match_onnxruntime() -> None:
    p = np.array([True, False, True, False])
    q = np.array([True, True, False, False])
    for op in ("And", "Or", "Xor"):
        _check_const(_const_model(op, [p, q]))
    _check_const(_const_model("Not", [p]))
    u = np.array([1, 200, 255, 16], np.uint8)
    v = np.array([3, 7, 1, 0], np.uint8)
    for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor"):
        _check_const(_const_model(op, [u, v]))
    _check_const(_const_model("BitwiseNot", [u]))
    _check_const(_const_model("BitwiseNot", [np.array([0, 5, -6], np.int32)]))
    for d in ("LEFT", "RIGHT"):
        _check_const(_const_model("BitShift", [u, v], direction=d))


def test_float_values_round_once_as_onnxruntime_does() -> None:
    x = np.array([1.5, -2.25, 3.0, 0.5], np.float32)
    y = np.array([0.5, 4.0, -0.75, 2.0], np.float32)
    for op in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Less", "Equal"):
        _check_const(_const_model(op, [x, y]))
    for op in ("Floor", "Ceil", "Neg", "Abs", "Relu", "Sign"):
        _check_const(_const_model(op, [np.array([2.5, -2.5, 0.5, -1.75], np.float32)]))
    _check_const(_const_model("Reciprocal", [np.array([0.5, -4.0, 0.25, 2.0, 3.0, 7.0], np.float32)]))
    _check_const(_const_model("Round", [np.array([0.5, 1.5, 2.5, -2.5, -0.5, 2.25], np.float32)]))
    _check_const(_const_model("Sqrt", [np.array([0.25, 4.0, 9.0], np.float32)]))
    _check_const(_const_model("Pow", [x, np.array([2.0], np.float32)]))
    _check_const(_const_model("Pow", [np.array([64.0, 16.0, 2.25], np.float32), np.array([0.5], np.float32)]))
    # one IEEE operation rounds once: 1/3, 0.1 + 0.2, 10 * 0.7f are the runtime's bits, in float and double
    for dt in (np.float32, np.float64):
        a = np.array([1.0, 0.1, 10.0, 1e8, 16777217.0], dt)
        b = np.array([3.0, 0.2, 0.7, 3.0, 1.0], dt)
        for op in ("Add", "Sub", "Mul", "Div"):
            _check_const(_const_model(op, [a, b]))
    # float16 is computed in float32 and rounded again by onnxruntime: only exact results are kept
    m = _const_model("Div", [np.array([1.0], np.float16), np.array([3.0], np.float16)])
    assert run(m).facts["y"].value is None
    _check_const(_const_model("Div", [np.array([1.0], np.float16), np.array([4.0], np.float16)]))


def test_square_roots_of_non_squares_are_not_integers() -> None:
    """Sqrt is correctly rounded (IEEE 754): the exact runtime bits. Pow(x, 0.5) is the runtime's
    libm: an interval within an ulp of the root, which holds what onnxruntime computes; its integer
    part is exact (``int(15 ** 0.5) == 3``) unless the interval straddles an integer."""
    xs = np.array([15.0, 2.0, 1e6 + 1, 0.3, 99.0, 16777215.0], np.float32)
    _check_const(_const_model("Sqrt", [xs]))
    half = np.array([0.5], np.float32)
    m = _const_model("Pow", [xs, half])
    vals = run(m).facts["y"].value
    assert vals is not None
    for v, g in zip(vals, ort_outputs(m)[0].tolist()):
        assert isinstance(v, FloatRange) and v.lo <= Fraction(g) <= v.hi, (v, g)
    for op, extra in (("Sqrt", []), ("Pow", [half])):
        chain = make_model(
            [node(op, ["c0", *(["c1"] if extra else [])], ["r"]), node("Cast", ["r"], ["y"], to=I64)],
            [],
            ["y"],
            [init("c0", xs[:-1], np.float32), *([init("c1", half, np.float32)] if extra else [])],
        )
        _check_const(chain)
    # sqrt(2**24 - 1) = 4095.99988: correctly rounded it is 4096.0; pow's ulp of slack straddles 4096
    top = make_model(
        [node("Pow", ["c0", "c1"], ["r"]), node("Cast", ["r"], ["y"], to=I64)],
        [],
        ["y"],
        [init("c0", xs[-1:], np.float32), init("c1", half, np.float32)],
    )
    assert run(top).facts["y"].value is None


def test_cast_values_match_onnxruntime() -> None:
    f = np.array([2.75, -2.75, 0.5, -0.5], np.float32)
    _check_const(_const_model("Cast", [f], to=I64))  # truncation toward zero
    _check_const(_const_model("Cast", [f], to=B))
    _check_const(_const_model("Cast", [np.array([300, -1, 127], np.int64)], to=3))  # int8: wraps
    _check_const(_const_model("Cast", [np.array([300, -1, 127], np.int64)], to=2))  # uint8
    _check_const(_const_model("Cast", [np.array([(1 << 24) + 1, 7], np.int64)], to=F))  # rounds to 2**24
    _check_const(_const_model("Cast", [np.array([0.1], np.float64)], to=F))  # double -> float rounding
    m = _const_model("CastLike", [np.array([3, -4], np.int32), np.array([0.0], np.float32)])
    _check_const(m)


def test_variadic_and_where_values_match_onnxruntime() -> None:
    a = np.array([[1, -5, 3]], np.int64)
    b = np.array([[4], [-2]], np.int64)
    c = np.array([0, 9, -9], np.int64)
    for op in ("Max", "Min"):
        _check_const(_const_model(op, [a, b, c]))
    fa = np.array([0.5, 1.0, -3.0], np.float32)
    fb = np.array([1.5, 2.0, 3.0], np.float32)
    _check_const(_const_model("Mean", [fa, fb]))
    _check_const(_const_model("Sum", [fa, fb, fa]))
    cond = np.array([True, False, True])
    _check_const(_const_model("Where", [cond, a, c]))
    bounds = [np.array(0, np.int64), np.array(6, np.int64)]
    _check_const(_const_model("Clip", [np.array([-3, 0, 5, 9], np.int64), *bounds]))


# -- symbolic values: the rule's expression evaluated at each size against onnxruntime on the numbers ---------


def _ort_binary(op: str, xs: np.ndarray, d: np.ndarray, **attrs: Any) -> np.ndarray:
    return ort_outputs(_const_model(op, [xs, d], **attrs))[0]


@pytest.mark.parametrize("op,attrs", [("Div", {}), ("Mod", {"fmod": 0}), ("Mod", {"fmod": 1})])
@pytest.mark.parametrize("den", [2, 3, -2, -3])
def test_symbolic_division_and_mod_are_exact(op: str, attrs: dict[str, int], den: int) -> None:
    e = L - 7  # negative for small L: trunc and floor differ there
    outs, _ = rule_call(op, [ivec(e), ivec(den)], attrs)
    v = outs[0].value
    assert v is not None and isinstance(v[0], Expr)
    sizes = np.arange(1, 16)
    want = _ort_binary(op, sizes - 7, np.array([den], np.int64), **attrs)
    got = [v[0].evaluate({LS: int(s)}) for s in sizes]
    assert got == want.tolist()


def test_nonnegative_division_is_a_plain_floor() -> None:
    outs, _ = rule_call("Div", [ivec(N, 2 * L + 1), ivec(2)])
    assert outs[0].value == (floordiv(N, 2), L)


def test_symbolic_divisor_only_when_exact() -> None:
    outs, _ = rule_call("Div", [ivec(N * L), ivec(L)])
    assert outs[0].value == (N,)
    outs, _ = rule_call("Div", [ivec(N), ivec(L)])
    assert outs[0].value is None and outs[0].shape == (const(1),)


def test_comparisons_decide_only_when_every_size_agrees() -> None:
    def cmp(op: str, x: Expr, y: Expr | int) -> int | None:
        outs, _ = rule_call(op, [ivec(x), ivec(y)])
        v = outs[0].value
        if v is None:
            return None
        assert isinstance(v[0], Expr)
        return v[0].value

    assert cmp("Greater", L, 0) == 1  # sizes are >= 1
    assert cmp("Greater", L, 3) is None
    assert cmp("Equal", L + 1, 1) == 0
    assert cmp("LessOrEqual", L, L + 2) == 1
    assert cmp("Less", N * L, 0) == 0
    assert cmp("GreaterOrEqual", L - 1, 0) == 1
    outs, _ = rule_call("Less", [Fact((const(1),), F, (L,)), Fact((const(1),), F, (Fraction(1, 2),))])
    assert outs[0].value == (const(0),)


def test_max_abs_where_on_symbols() -> None:
    outs, _ = rule_call("Max", [ivec(L, N), ivec(4, 1)])
    assert outs[0].value == (emax(L, 4), N)
    outs, _ = rule_call("Abs", [ivec(L - 3)])
    v = outs[0].value
    assert v is not None and isinstance(v[0], Expr)
    assert [v[0].evaluate({LS: k}) for k in range(1, 7)] == [2, 1, 0, 1, 2, 3]
    outs, _ = rule_call("Where", [ivec(L, dtype=B), ivec(N), ivec(5)])
    assert outs[0].value == (N,)


def test_float_values_of_sizes() -> None:
    """Sizes in float tensors are ``fl(e * c)`` (tests/infer/ops/test_floats.py checks them against
    onnxruntime): exact while the format holds them, integers again only where that is proven."""
    outs, _ = rule_call("Cast", [ivec(L)], {"to": F})
    (v,) = outs[0].value or ()
    assert isinstance(v, FloatSize) and (v.e, v.c) == (L, 1) and outs[0].dtype == F
    assert v.exact is not None and v.exact.holds({LS: 2**24}) and not v.exact.holds({LS: 2**24 + 1})
    outs, _ = rule_call("Mul", [outs[0], Fact((const(1),), F, (Fraction(2),))])
    (w,) = outs[0].value or ()
    assert isinstance(w, FloatSize) and (w.e, w.c, w.pre) == (L, 2, v.pre)  # a power of two: no new condition
    outs, _ = rule_call("Cast", [ivec(L)], {"to": 3})
    assert outs[0].value is None  # int8 may wrap a large size
    outs, _ = rule_call("Cast", [ivec(L, 2049)], {"to": 10})
    assert outs[0].value is None  # float16 holds integers exactly only up to 2048 (constants: exact only)
    outs, _ = rule_call("Cast", [ivec(2048, 7)], {"to": 10})
    assert outs[0].value == (const(2048), const(7))
    outs, _ = rule_call("Floor", [Fact((const(2),), F, (L, Fraction(-3, 2)))])
    assert outs[0].value is not None and outs[0].value[1] == Fraction(-2)
    assert isinstance(outs[0].value[0], FloatSize) and outs[0].value[0].e == L  # an integer: Floor keeps it


def test_unknown_shape_propagates_quietly() -> None:
    m = make_model([node("Relu", ["x"])], [("x", None, F)], ["y"])
    a = run(m)
    assert a.facts["y"].shape is None and not a.notes


# -- onnx's own node tests ----------------------------------------------------------------------------------------


def _my_ops() -> set[str]:
    mods = {elementwise.__name__, reduce.__name__}
    return {op for (dom, op), lst in _RULES.items() if dom == "" and any(fn.__module__ in mods for _, fn in lst)}


def _as_arrays(case: Any) -> Any:
    """The case with numpy scalars and TensorProto inputs as arrays (the harness skips those)."""

    def fix(a: Any) -> Any:
        if isinstance(a, np.generic):
            return np.asarray(a)
        if isinstance(a, onnx.TensorProto):
            return numpy_helper.to_array(a)
        return a

    c = copy.copy(case)
    c.data_sets = [(tuple(fix(a) for a in i), tuple(fix(a) for a in o)) for i, o in case.data_sets]
    return c


def test_onnx_node_cases_for_these_ops_pass() -> None:
    mine = _my_ops()
    results = []
    for case in node_cases():
        if {n.op_type for n in case.model.graph.node} <= mine:
            r = run_case(case)
            if r.status == "skip":  # scalar inputs (Clip bounds, CumSum axis, scales): as 0-D arrays
                r = run_case(_as_arrays(case))
            results.append(r)
    bad = [(r.name, r.status, r.detail) for r in results if r.status != "pass"]
    assert [b[0] for b in bad] == ["test_identity_sequence", "test_identity_opt"], bad[:5]  # sequence values
    assert len(results) > 800
