"""Shape manipulation rules: exact symbolic shapes and values along exporter-style chains,
conditions, and differential checks against onnxruntime at many sizes."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
from onnx import helper

from graphcheck.symbolic.expr import Expr, ceildiv, emax, floordiv
from tests.infer.ops._shapekit import (
    I64,
    F,
    S,
    const_init,
    differential,
    failing,
    holds,
    make_model,
    notes,
    run,
    shape_at,
)

N, C, H, W, L = S("N"), S("C"), S("H"), S("W"), S("L")


def _n(op: str, ins: list[str], outs: list[str], **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs, name=f"{op}_{outs[0]}", **attrs)


def _gather_dim(src: str, axis: int, out: str) -> list[onnx.NodeProto]:
    """Shape -> Gather(scalar index) -> Unsqueeze: the 1-D value (size of src on axis)."""
    return [
        _n("Shape", [src], [f"{out}_shape"]),
        _n("Gather", [f"{out}_shape", f"idx{axis}"], [f"{out}_scalar"], axis=0),
        _n("Unsqueeze", [f"{out}_scalar", "zero_axes"], [out]),
    ]


def _dim_inits(*axes: int) -> list[onnx.TensorProto]:
    return [const_init(f"idx{a}", a) for a in axes] + [const_init("zero_axes", [0])]


# -- Reshape -------------------------------------------------------------------------------------------------------


def test_torch_flatten_chain_keeps_exact_values() -> None:
    """Shape -> Gather -> Unsqueeze -> Concat(-1) -> Reshape (torch's x.view(x.size(0), -1))."""
    nodes = _gather_dim("x", 0, "n") + [
        _n("Concat", ["n", "minus1"], ["target"], axis=0),
        _n("Reshape", ["x", "target"], ["y"]),
    ]
    m = make_model(nodes, {"x": ["N", "C", "H", "W"]}, ["y"], _dim_inits(0) + [const_init("minus1", [-1])])
    a = run(m)
    assert a.facts["n_shape"].value == (N, C, H, W)
    assert a.facts["n_scalar"].shape == () and a.facts["n_scalar"].value == (N,)
    assert a.facts["target"].value == (N, -1)
    assert a.facts["y"].shape == (N, C * H * W)
    assert not [r for r in a.requirements if r.code == "GC006"]  # N*C*H*W / N divides as polynomials
    assert a.complete


def test_tf2onnx_zero_one_one_minus_one() -> None:
    """tf2onnx's (0, 1, 1, -1) on [N, 1, L, 1] is exactly [N, 1, 1, L]: 0 copies N, -1 is N*L / N."""
    m = make_model([_n("Reshape", ["x", "t"], ["y"])], {"x": ["N", 1, "L", 1]}, ["y"], [const_init("t", [0, 1, 1, -1])])
    a = run(m)
    assert a.facts["y"].shape == (N, 1, 1, L)
    assert not [r for r in a.requirements if r.code == "GC006"]


def test_reshape_minus_one_constant_divisor() -> None:
    m = make_model([_n("Reshape", ["x", "t"], ["y"])], {"x": ["N", "L"]}, ["y"], [const_init("t", [0, -1, 4])])
    a = run(m)
    assert a.facts["y"].shape == (N, floordiv(L, 4), 4)
    [r] = [r for r in a.requirements if r.code == "GC006"]
    assert r.formula == "the -1 in [N, -1, 4] is L*N / (4*N): L must be divisible by 4"
    assert r.fix
    assert holds(a, N=3, L=8) and holds(a, N=1, L=4)
    assert failing(a, N=3, L=6) == {"GC006"}
    d = differential([(m, [{"N": n, "L": v} for n in (1, 2) for v in range(1, 18)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 8 and d.rejected == 26  # L in {4, 8, 12, 16} for each N


def test_reshape_constant_target_pins_the_size() -> None:
    m = make_model([_n("Reshape", ["x", "t"], ["y"])], {"x": ["L"]}, ["y"], [const_init("t", [2, 3])])
    a = run(m)
    assert a.facts["y"].shape == (2, 3)
    assert [L0 for L0 in range(1, 20) if holds(a, L=L0)] == [6]
    d = differential([(m, [{"L": v} for v in range(1, 10)])])
    assert not d.mismatches and d.ran == 1


def test_reshape_cancels_common_factors() -> None:
    """Target (L, -1) on [N, L, C]: the -1 is N*C, found by cancelling L, without any condition."""
    nodes = _gather_dim("x", 1, "l") + [
        _n("Concat", ["l", "minus1"], ["target"], axis=0),
        _n("Reshape", ["x", "target"], ["y"]),
    ]
    m = make_model(nodes, {"x": ["N", "L", "C"]}, ["y"], _dim_inits(1) + [const_init("minus1", [-1])])
    a = run(m)
    assert a.facts["y"].shape == (L, N * C)
    assert not [r for r in a.requirements if r.code == "GC006"]


def test_reshape_with_a_traced_constant_pins_the_size() -> None:
    """torch's legacy MHA export bakes the traced length into a target: [L, N, 16] -> (16, 2*N, 8)
    keeps 16*L*N elements only if they are 256*N, i.e. L = 16 (the common factor N cancels)."""
    nodes = _gather_dim("x", 1, "n") + [
        _n("Mul", ["n", "two"], ["n2"]),
        _n("Concat", ["sixteen", "n2", "eight"], ["target"], axis=0),
        _n("Reshape", ["x", "target"], ["y"]),
    ]
    inits = _dim_inits(1) + [const_init("two", [2]), const_init("sixteen", [16]), const_init("eight", [8])]
    m = make_model(nodes, {"x": ["L", "N", 16]}, ["y", ("target", I64)], inits)
    a = run(m)
    assert a.facts["target"].value == (16, 2 * N, 8)
    assert a.facts["y"].shape == (16, 2 * N, 8)
    [r] = [r for r in a.requirements if r.code == "GC006"]
    assert str(r.cond) == "L = 16"
    assert r.formula == "16*L*N elements of [L, N, 16] must equal the 256*N of [16, 2*N, 8]"
    d = differential([(m, [{"L": v, "N": n} for v in range(13, 20) for n in (1, 3)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 2


def test_reshape_computed_zero_copies_the_input_size() -> None:
    """Target (L // 2, 6) on [L, 6]: at L = 1 the entry is 0, which copies L = 1 (allowzero=0), so the
    reshape of 6 elements to [1, 6] is valid; for L >= 2 the element count L*6 = floor(L/2)*6 fails.

    The target is also a graph output: with its default optimizations onnxruntime 1.32 folds this
    Shape -> Gather -> Div -> Concat target into the constant (-1, 6) and then runs every L (its
    unoptimized session and the spec reject L >= 2); the extra output keeps the subgraph alive."""
    nodes = _gather_dim("x", 0, "l") + [
        _n("Div", ["l", "two"], ["half"]),
        _n("Concat", ["half", "six"], ["target"], axis=0),
        _n("Reshape", ["x", "target"], ["y"]),
    ]
    inits = _dim_inits(0) + [const_init("two", [2]), const_init("six", [6])]
    m = make_model(nodes, {"x": ["L", 6]}, ["y", ("target", I64)], inits)
    a = run(m)
    assert a.facts["target"].value == (floordiv(L, 2), 6)
    assert shape_at(a, "y", L=1) == (1, 6)
    assert shape_at(a, "y", L=4) == (2, 6)
    assert [v for v in range(1, 12) if holds(a, L=v)] == [1]
    d = differential([(m, [{"L": v} for v in range(1, 9)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 1


def test_reshape_minus_one_with_symbolic_non_monomial_divisor_is_unsupported() -> None:
    """(A - 1, -1) on [A, B]: A - 1 may be 0 (a copy) and the -1 is not a polynomial quotient."""
    nodes = _gather_dim("x", 0, "a") + [
        _n("Sub", ["a", "one"], ["am1"]),
        _n("Concat", ["am1", "minus1"], ["target"], axis=0),
        _n("Reshape", ["x", "target"], ["y"]),
    ]
    inits = _dim_inits(0) + [const_init("one", [1]), const_init("minus1", [-1])]
    a = run(make_model(nodes, {"x": ["A", "B"]}, ["y"], inits))
    assert a.facts["y"].shape is None
    assert "GC102" in notes(a)


def test_reshape_opset1_attribute_and_allowzero() -> None:
    m1 = make_model([_n("Reshape", ["x"], ["y"], shape=[-1, 2])], {"x": ["L", 4]}, ["y"], opset=1)
    a1 = run(m1)
    assert a1.facts["y"].shape == (L * 2, 2)
    # allowzero=1: a 0 is a real 0-sized axis, not a copy
    m2 = make_model(
        [_n("Reshape", ["x", "t"], ["y"], allowzero=1)], {"x": ["L", 3]}, ["y"], [const_init("t", [0, 3])], opset=14
    )
    a2 = run(m2)
    assert a2.facts["y"].shape == (0, 3)
    assert not holds(a2, L=1)
    m3 = make_model(
        [_n("Reshape", ["x", "t"], ["y"], allowzero=0)], {"x": ["L", 3]}, ["y"], [const_init("t", [0, 3])], opset=14
    )
    assert run(m3).facts["y"].shape == (L, 3)


# -- Flatten, Transpose --------------------------------------------------------------------------------------------


def test_flatten_axes() -> None:
    def flat(axis: int) -> tuple[Expr, ...] | None:
        m = make_model([_n("Flatten", ["x"], ["y"], axis=axis)], {"x": ["N", "C", "H", "W"]}, ["y"], opset=13)
        return run(m).facts["y"].shape

    assert flat(1) == (N, C * H * W)
    assert flat(0) == (1, N * C * H * W)
    assert flat(4) == (N * C * H * W, 1)
    assert flat(-1) == (N * C * H, W)


def test_transpose_shapes_and_values() -> None:
    m = make_model(
        [_n("Transpose", ["x"], ["y"]), _n("Transpose", ["x"], ["z"], perm=[0, 2, 1]), _n("Transpose", ["k"], ["kt"])],
        {"x": ["N", "C", "L"]},
        ["y", "z", ("kt", I64)],
        [const_init("k", [[1, 2, 3], [4, 5, 6]])],
    )
    a = run(m)
    assert a.facts["y"].shape == (L, C, N)
    assert a.facts["z"].shape == (N, L, C)
    assert a.facts["kt"].shape == (3, 2)
    assert a.facts["kt"].value == (1, 4, 2, 5, 3, 6)  # numpy: [[1,2,3],[4,5,6]].T row-major


# -- Squeeze / Unsqueeze -------------------------------------------------------------------------------------------


def test_squeeze_requires_size_one() -> None:
    m = make_model([_n("Squeeze", ["x", "ax"], ["y"])], {"x": ["N", 1, "L"]}, ["y"], [const_init("ax", [0, 1])])
    a = run(m)
    assert a.facts["y"].shape == (L,)
    [r] = [r for r in a.requirements if r.code == "GC010"]
    assert r.formula == "axis 0 has size N, it must be 1 to be squeezed"
    assert holds(a, N=1, L=5) and failing(a, N=2, L=5) == {"GC010"}
    d = differential([(m, [{"N": n, "L": 3} for n in (1, 2, 3)])])
    assert not d.mismatches and d.ran == 1 and d.rejected == 2


def test_squeeze_without_axes() -> None:
    fixed = run(make_model([_n("Squeeze", ["x"], ["y"])], {"x": [2, 1, 3, 1]}, ["y"]))
    assert fixed.facts["y"].shape == (2, 3)
    # a symbolic size might be 1: the rule cannot know which axes go
    dyn = run(make_model([_n("Squeeze", ["x"], ["y"])], {"x": ["N", 1, "L"]}, ["y"]))
    assert dyn.facts["y"].shape is None and "GC102" in notes(dyn)


def test_unsqueeze_attribute_and_input_forms() -> None:
    m11 = make_model([_n("Unsqueeze", ["x"], ["y"], axes=[0, -1])], {"x": ["N", "L"]}, ["y"], opset=11)
    assert run(m11).facts["y"].shape == (1, N, L, 1)
    m13 = make_model([_n("Unsqueeze", ["x", "ax"], ["y"])], {"x": ["N", "L"]}, ["y"], [const_init("ax", [1, 3])])
    assert run(m13).facts["y"].shape == (N, 1, L, 1)
    bad = run(make_model([_n("Unsqueeze", ["x", "ax"], ["y"])], {"x": ["N"]}, ["y"], [const_init("ax", [0, 0])]))
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in bad.requirements)


# -- Expand, Tile --------------------------------------------------------------------------------------------------


def test_expand_to_another_inputs_shape() -> None:
    m = make_model(
        [_n("Shape", ["z"], ["s"]), _n("Expand", ["x", "s"], ["y"])], {"x": ["L", 1], "z": ["A", "M"]}, ["y"]
    )
    a = run(m)
    A, M = S("A"), S("M")
    assert a.facts["y"].shape == (emax(L, A), M)
    # either side may be 1
    assert holds(a, L=3, A=1, M=2) and holds(a, L=1, A=3, M=2) and holds(a, L=3, A=3, M=2)
    assert failing(a, L=2, A=3, M=2) == {"GC003"}
    d = differential([(m, [{"L": x, "A": y, "M": 2} for x in (1, 2, 3) for y in (1, 2, 3)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 7 and d.rejected == 2  # (2, 3) and (3, 2) do not broadcast


def test_expand_constant_target() -> None:
    m = make_model([_n("Expand", ["x", "t"], ["y"])], {"x": ["L"]}, ["y"], [const_init("t", [2, 1, 3])])
    a = run(m)
    assert a.facts["y"].shape == (2, 1, 3)
    assert [v for v in range(1, 6) if holds(a, L=v)] == [1, 3]
    d = differential([(m, [{"L": v} for v in range(1, 6)])])
    assert not d.mismatches and d.ran == 2


def test_tile_constant_and_symbolic_repeats() -> None:
    m = make_model(
        [_n("Tile", ["x", "r"], ["y"]), _n("Shape", ["z"], ["zs"]), _n("Tile", ["x", "zs"], ["w"])],
        {"x": ["N", "L"], "z": ["A", "B"]},
        ["y", "w"],
        [const_init("r", [2, 3])],
    )
    a = run(m)
    assert a.facts["y"].shape == (2 * N, 3 * L)
    assert a.facts["w"].shape == (N * S("A"), L * S("B"))
    d = differential([(m, [{"N": 2, "L": 3, "A": 2, "B": 1}, {"N": 1, "L": 1, "A": 3, "B": 2}])])
    assert not d.mismatches and d.ran == 2
    kt = run(
        make_model([_n("Tile", ["k", "r"], ["y"])], {}, [("y", I64)], [const_init("k", [1, 2]), const_init("r", [2])])
    )
    assert kt.facts["y"].value == (1, 2, 1, 2)


# -- ConstantOfShape, Range, Constant, Size, Shape -----------------------------------------------------------------


def test_constant_of_shape() -> None:
    m = make_model([_n("Shape", ["x"], ["s"]), _n("ConstantOfShape", ["s"], ["y"])], {"x": ["N", "L"]}, ["y"])
    a = run(m)
    assert a.facts["y"].shape == (N, L) and a.facts["y"].dtype == F
    seven = helper.make_tensor("v", I64, [1], [7])
    k = run(make_model([_n("ConstantOfShape", ["t"], ["y"], value=seven)], {}, [("y", I64)], [const_init("t", [2, 3])]))
    assert k.facts["y"].shape == (2, 3) and k.facts["y"].dtype == I64
    assert k.facts["y"].value == (7,) * 6


def test_range_integer_symbolic_limit() -> None:
    nodes = [
        _n("Shape", ["x"], ["s"]),
        _n("Gather", ["s", "idx1"], ["l"], axis=0),
        _n("Range", ["zero", "l", "one"], ["r"]),
        _n("Range", ["ten", "l", "mtwo"], ["q"]),
    ]
    inits = [
        const_init("idx1", 1),
        const_init("zero", 0),
        const_init("one", 1),
        const_init("ten", 10),
        const_init("mtwo", -2),
    ]
    m = make_model(nodes, {"x": ["N", "L"]}, [("r", I64), ("q", I64)], inits)
    a = run(m)
    assert a.facts["r"].shape == (L,)  # max(L, 0) simplified: L >= 1
    assert a.facts["q"].shape == (emax(ceildiv(L - 10, -2), 0),)
    for v in range(1, 16):
        assert shape_at(a, "q", N=1, L=v) == (len(range(10, v, -2)),)
    d = differential([(m, [{"N": 1, "L": v} for v in range(1, 12)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 11  # q is empty at L = 10, 11: an index list, which may be empty


def test_range_float_constants_exact() -> None:
    def f32(v: float) -> float:
        return float(np.float32(v))

    def model(start: float, limit: float, delta: float) -> onnx.ModelProto:
        inits = [const_init(n, v, np.float32) for n, v in (("s", start), ("l", limit), ("d", delta))]
        return make_model([_n("Range", ["s", "l", "d"], ["r"])], {}, ["r"], inits)

    cases = [(0.0, 1.0, 0.1), (0.0, 0.3, 0.1), (1.0, 2.5, 0.5), (1.0, 0.0, -0.1), (0.0, 0.7, 0.1)]
    models = [model(*c) for c in cases]
    for (start, lim, delta), m in zip(cases, models):
        exact = (Fraction(f32(lim)) - Fraction(f32(start))) / Fraction(f32(delta))
        assert run(m).facts["r"].shape == (max(math.ceil(exact), 0),)
    # float32(0.1) is slightly above 0.1: 1 / it is just below 10 (10 elements), 0.3f / 0.1f just above 3 (4)
    assert run(models[0]).facts["r"].shape == (10,) and run(models[1]).facts["r"].shape == (4,)
    assert run(models[2]).facts["r"].value == (1, Fraction(3, 2), 2)
    diff = differential([(m, [{}]) for m in models])
    assert not diff.mismatches and diff.ran == len(cases)


def test_constant_attribute_forms() -> None:
    m = make_model(
        [
            _n("Constant", [], ["a"], value_ints=[3, -1]),
            _n("Constant", [], ["b"], value_float=0.5),
            _n("Constant", [], ["c"], value_int=4),
            _n("Constant", [], ["d"], value=helper.make_tensor("t", I64, [2, 2], [1, 2, 3, 4])),
        ],
        {},
        [("a", I64), "b", ("c", I64), ("d", I64)],
        opset=13,
    )
    a = run(m)
    assert a.facts["a"].shape == (2,) and a.facts["a"].value == (3, -1)
    assert a.facts["b"].shape == () and a.facts["b"].value == (Fraction(1, 2),)
    assert a.facts["c"].shape == () and a.facts["c"].value == (4,)
    assert a.facts["d"].shape == (2, 2) and a.facts["d"].value == (1, 2, 3, 4)


def test_size_and_shape_slices() -> None:
    m = make_model(
        [
            _n("Size", ["x"], ["n"]),
            _n("Shape", ["x"], ["hw"], start=-2),
            _n("Shape", ["x"], ["ch"], start=1, end=-1),
            _n("Shape", ["x"], ["all"], start=-100, end=100),
        ],
        {"x": ["N", "C", "H", "W"]},
        [("n", I64), ("hw", I64), ("ch", I64), ("all", I64)],
        opset=15,
    )
    a = run(m)
    assert a.facts["n"].shape == () and a.facts["n"].value == (N * C * H * W,)
    assert a.facts["hw"].value == (H, W)
    assert a.facts["ch"].value == (C, H)
    assert a.facts["all"].value == (N, C, H, W)
    d = differential([(m, [{"N": 2, "C": 3, "H": 4, "W": 5}])])
    assert not d.mismatches and d.ran == 1


# -- OneHot, EyeLike -----------------------------------------------------------------------------------------------


def test_one_hot_depth_from_a_size() -> None:
    nodes = [_n("Shape", ["z"], ["s"]), _n("Gather", ["s", "idx0"], ["depth"], axis=0)]
    nodes += [_n("OneHot", ["i", "depth", "v"], ["y"]), _n("OneHot", ["i", "depth", "v"], ["y0"], axis=0)]
    m = make_model(
        nodes,
        [("i", ["N", "L"], I64), ("z", ["D"], F)],
        ["y", "y0"],
        [const_init("idx0", 0), const_init("v", [0.0, 1.0], np.float32)],
    )
    a = run(m)
    D = S("D")
    assert a.facts["y"].shape == (N, L, D)
    assert a.facts["y0"].shape == (D, N, L)
    d = differential([(m, [{"N": 2, "L": 3, "D": 4}, {"N": 1, "L": 1, "D": 1}])])
    assert not d.mismatches and d.ran == 2


def test_eye_like() -> None:
    a = run(make_model([_n("EyeLike", ["x"], ["y"])], {"x": ["N", "M"]}, ["y"]))
    assert a.facts["y"].shape == (N, S("M"))
    k = run(make_model([_n("EyeLike", ["x"], ["y"], k=1, dtype=I64)], {"x": [2, 3]}, [("y", I64)]))
    assert k.facts["y"].value == (0, 1, 0, 0, 0, 1)


# -- DepthToSpace, SpaceToDepth, Col2Im ----------------------------------------------------------------------------


def test_depth_to_space_divisibility() -> None:
    m = make_model([_n("DepthToSpace", ["x"], ["y"], blocksize=2)], {"x": [1, "C", 2, 3]}, ["y"])
    a = run(m)
    assert a.facts["y"].shape == (1, floordiv(C, 4), 4, 6)
    assert [v for v in range(1, 13) if holds(a, C=v)] == [4, 8, 12]
    d = differential([(m, [{"C": v} for v in range(1, 10)])])
    assert not d.mismatches and d.ran == 2


def test_space_to_depth_divisibility() -> None:
    m = make_model([_n("SpaceToDepth", ["x"], ["y"], blocksize=2)], {"x": [1, 3, "H", "W"]}, ["y"])
    a = run(m)
    assert a.facts["y"].shape == (1, 12, floordiv(H, 2), floordiv(W, 2))
    assert failing(a, H=3, W=4) == {"GC010"} and holds(a, H=4, W=6)
    d = differential([(m, [{"H": h, "W": w} for h in range(1, 6) for w in range(1, 6)])])
    assert not d.mismatches and d.ran == 4


def test_col2im() -> None:
    m = make_model(
        [_n("Col2Im", ["x", "img", "blk"], ["y"])],
        {"x": [1, "K", "L"]},
        ["y"],
        [const_init("img", [5, 5]), const_init("blk", [2, 2])],
    )
    a = run(m)
    K = S("K")
    assert a.facts["y"].shape == (1, floordiv(K, 4), 5, 5)
    # 4 x 4 sliding 2x2 blocks in a 5x5 image
    assert holds(a, K=8, L=16) and not holds(a, K=8, L=15) and not holds(a, K=6, L=16)
    d = differential([(m, [{"K": k, "L": v} for k in (3, 4, 8) for v in (15, 16, 17)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 2
