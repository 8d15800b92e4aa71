"""Concat, Split, Slice, Gather and friends: exact symbolic shapes, values and conditions, checked
against onnxruntime at many sizes."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import onnx
from onnx import helper

from graphcheck.symbolic.expr import Expr, ceildiv, emin, floordiv
from tests.infer.ops._shapekit import (
    BOOL,
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
from tests.ortprobe import probe_many

N, C, L, A, B = S("N"), S("C"), S("L"), S("A"), S("B")
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def _n(op: str, ins: list[str], outs: list[str], **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs, name=f"{op}_{outs[0]}", **attrs)


# -- Concat -------------------------------------------------------------------------------------------------------


def test_concat_sizes_and_mismatch_conditions() -> None:
    m = make_model([_n("Concat", ["x", "y"], ["z"], axis=1)], {"x": ["N", "A"], "y": ["M", "B"]}, ["z"])
    a = run(m)
    assert a.facts["z"].shape == (N, A + B)
    [r] = [r for r in a.requirements if r.code == "GC004"]
    assert r.formula == "M must equal N (input 0 on axis 0)"
    assert r.fix
    assert holds(a, N=2, M=2, A=1, B=3) and failing(a, N=2, M=3, A=1, B=3) == {"GC004"}
    d = differential([(m, [{"N": n, "M": k, "A": 2, "B": 1} for n in (1, 2, 3) for k in (1, 2, 3)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 3 and d.rejected == 6


def test_concat_prefers_the_constant_size() -> None:
    a = run(make_model([_n("Concat", ["x", "y"], ["z"], axis=0)], {"x": ["A", "L"], "y": ["B", 16]}, ["z"]))
    assert a.facts["z"].shape == (A + B, 16)
    assert [v for v in range(1, 40) if holds(a, A=1, B=1, L=v)] == [16]


def test_concat_values_build_a_reshape_target() -> None:
    """Shape -> Slice -> Concat(constants) -> Reshape: [N, C, H, W] -> [N, C, H*W]."""
    nodes = [
        _n("Shape", ["x"], ["s"]),
        _n("Slice", ["s", "st", "en"], ["nc"]),
        _n("Concat", ["nc", "minus1"], ["t"], axis=0),
        _n("Reshape", ["x", "t"], ["y"]),
    ]
    inits = [const_init("st", [0]), const_init("en", [2]), const_init("minus1", [-1])]
    a = run(make_model(nodes, {"x": ["N", "C", "H", "W"]}, ["y"], inits))
    assert a.facts["nc"].value == (N, C)
    assert a.facts["t"].value == (N, C, -1)
    assert a.facts["y"].shape == (N, C, S("H") * S("W"))
    assert not [r for r in a.requirements if r.code == "GC006"]


def test_concat_values_along_an_inner_axis() -> None:
    m = make_model(
        [_n("Concat", ["p", "q"], ["z"], axis=1)],
        {},
        [("z", I64)],
        [const_init("p", [[1, 2], [3, 4]]), const_init("q", [[5], [6]])],
    )
    z = run(m).facts["z"]
    assert z.shape == (2, 3) and z.value == (1, 2, 5, 3, 4, 6)  # numpy.concatenate(axis=1), row-major


# -- Split ------------------------------------------------------------------------------------------------------------


def test_split_given_sizes_must_sum() -> None:
    m = make_model(
        [_n("Split", ["x", "sp"], ["a", "b"], axis=1)], {"x": ["N", "L"]}, ["a", "b"], [const_init("sp", [2, 3])]
    )
    a = run(m)
    assert a.facts["a"].shape == (N, 2) and a.facts["b"].shape == (N, 3)
    [r] = [r for r in a.requirements if r.code == "GC010"]
    assert r.formula == "the split sizes [2, 3] sum to 5, which must equal the axis size L"
    assert [v for v in range(1, 12) if holds(a, N=1, L=v)] == [5]
    d = differential([(m, [{"N": 2, "L": v} for v in range(1, 8)])])
    assert not d.mismatches and d.ran == 1


def test_split_equal_parts_needs_divisibility() -> None:
    m = make_model([_n("Split", ["x"], ["a", "b", "c"], axis=0)], {"x": ["L"]}, ["a", "b", "c"], opset=11)
    a = run(m)
    assert a.facts["a"].shape == (floordiv(L, 3),)
    assert [v for v in range(1, 13) if holds(a, L=v)] == [3, 6, 9, 12]
    d = differential([(m, [{"L": v} for v in range(1, 13)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 4


def test_split_num_outputs_uneven() -> None:
    """Opset 18 num_outputs: ceil(L/4)-sized chunks, the last one smaller (and never negative)."""
    m = make_model(
        [_n("Split", ["x"], ["a", "b", "c", "d"], axis=0, num_outputs=4)], {"x": ["L"]}, ["a", "b", "c", "d"]
    )
    a = run(m)
    assert a.facts["a"].shape == (ceildiv(L, 4),)
    assert a.facts["d"].shape == (L - 3 * ceildiv(L, 4),)
    for v in range(1, 30):
        k = -(-v // 4)
        assert shape_at(a, "d", L=v) == (v - 3 * k,)
    # the last chunk must be >= 1: L = 3 leaves it empty, L = 5 would make it negative
    assert [v for v in range(1, 14) if holds(a, L=v)] == [4, 7, 8, 10, 11, 12, 13]
    d = differential([(m, [{"L": v} for v in range(1, 17)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 10  # L in {4, 7, 8} and 10..16


def test_split_values_of_a_shape() -> None:
    m = make_model(
        [_n("Shape", ["x"], ["s"]), _n("Split", ["s", "sp"], ["p", "q"], axis=0)],
        {"x": ["N", "C", "L"]},
        [("p", I64), ("q", I64)],
        [const_init("sp", [1, 2])],
        opset=13,
    )
    a = run(m)
    assert a.facts["p"].value == (N,) and a.facts["q"].value == (C, L)
    assert not a.requirements


# -- Slice ------------------------------------------------------------------------------------------------------------


def _slice_model(start: int, end: int, step: int) -> onnx.ModelProto:
    return make_model(
        [_n("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
        {"x": [2, "L"]},
        ["y"],
        [const_init("st", [start]), const_init("en", [end]), const_init("ax", [1]), const_init("sp", [step])],
    )


def _spec_len(start: int, end: int, step: int, n: int, ort: bool = False) -> int:
    """The ONNX Slice spec, literally: adjust negatives by n, clamp starts to [0, n] / [0, n-1] and
    ends to [0, n] / [-1, n-1] for positive / negative steps. onnxruntime reads an end of INT32_MAX or
    INT64_MAX with a negative step as -1 (to the beginning)."""
    if ort and step < 0 and end in (2**31 - 1, INT64_MAX):
        end = -1
    else:
        end = end + n if end < 0 else end
    start = start + n if start < 0 else start
    if step > 0:
        start, end = min(max(start, 0), n), min(max(end, 0), n)
    else:
        start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
    return max(0, -((start - end) // step))


def test_slice_symbolic_clamping_matches_the_spec() -> None:
    bounds = [0, 1, 2, 3, 5, -1, -2, -4, -100, 100, 2**31 - 1, INT64_MAX, INT64_MIN]
    for start in bounds:
        for end in bounds:
            for step in (1, 2, 3, -1, -2):
                m = _slice_model(start, end, step)
                for semantics in ("spec", "ort"):
                    a = run(m, semantics)
                    assert a.complete
                    for n in range(1, 13):
                        got = shape_at(a, "y", L=n)[1]
                        want = _spec_len(start, end, step, n, ort=semantics == "ort")
                        assert got == want, (semantics, start, end, step, n, a.facts["y"].shape)


def test_slice_int_max_end_with_negative_step_is_an_ort_deviation() -> None:
    """x[:, 2:INT64_MAX:-1]: the spec clamps the start to min(2, L - 1) and the end to L - 1, which
    leaves nothing; onnxruntime slices down to the first element (min(3, L) elements)."""
    m = _slice_model(2, INT64_MAX, -1)
    spec, ort = run(m), run(m, "ort")
    assert [shape_at(spec, "y", L=n)[1] for n in range(1, 6)] == [0, 0, 0, 0, 0]
    assert [shape_at(ort, "y", L=n)[1] for n in range(1, 6)] == [1, 2, 3, 3, 3]
    d = differential([(m, [{"L": n} for n in range(1, 6)])], semantics="ort")
    assert not d.mismatches and d.ran == 5


def test_slice_simple_forms_are_tidy() -> None:
    def length(start: int, end: int, step: int) -> Expr:
        shape = run(_slice_model(start, end, step)).facts["y"].shape
        assert shape is not None
        return shape[1]

    assert length(1, INT64_MAX, 1) == L - 1  # x[:, 1:]
    assert length(0, -1, 1) == L - 1  # x[:, :-1]
    assert length(-3, INT64_MAX, 1) == emin(3, L)  # x[:, -3:]
    assert length(0, 4, 1) == emin(4, L)  # x[:, :4]
    assert length(-1, INT64_MIN, -1) == L  # x[:, ::-1]
    assert length(0, INT64_MAX, 2) == ceildiv(L, 2)  # x[:, ::2]


def test_slice_against_onnxruntime() -> None:
    """Random starts/ends/steps on a dynamic axis at L = 1..10 (onnxruntime's reading of INT_MAX ends)."""
    rnd = random.Random(3)
    bounds = [0, 1, 2, 3, -1, -2, -3, -7, 7, 100, INT64_MAX, INT64_MIN]
    configs = {(rnd.choice(bounds), rnd.choice(bounds), rnd.choice([1, 2, 3, -1, -2, -3])) for _ in range(70)}
    configs |= {(1, INT64_MAX, 1), (-1, INT64_MIN, -1), (0, -1, 1), (-3, INT64_MAX, 2), (5, 1, -2)}
    cases = [(_slice_model(s, e, k), [{"L": n} for n in range(1, 11)]) for s, e, k in sorted(configs)]
    d = differential(cases, semantics="ort")
    assert not d.mismatches, d.mismatches[:5]
    assert d.ran > 200 and d.rejected > 100


def test_slice_with_size_dependent_start() -> None:
    """x[:, L-k:] with the start computed from Shape. For L < k the start L - k is negative, so it
    counts from the end: 2L - k clamped at 0 (x[:, -1:] when L = 4, k = 5), whatever the sign the
    rule keeps it exact. x[:, L-1:] has a start that is never negative: length 1."""
    nodes = [
        _n("Shape", ["x"], ["s"]),
        _n("Gather", ["s", "one"], ["l"], axis=0),
        _n("Sub", ["l", "k"], ["st"]),
        _n("Slice", ["x", "st", "big", "ax"], ["y"]),
    ]
    base = [const_init("one", [1]), const_init("big", [INT64_MAX]), const_init("ax", [1])]
    models = {k: make_model(nodes, {"x": ["N", "L"]}, ["y"], base + [const_init("k", [k])]) for k in (1, 3, 5)}
    a1 = run(models[1])
    assert a1.facts["st"].value == (L - 1,)
    assert a1.facts["y"].shape == (N, 1)
    for k in (3, 5):
        a = run(models[k])
        assert a.complete and a.facts["st"].value == (L - k,)
        for v in range(1, 12):
            # numpy agrees with the spec here: a start of L - k < 0 becomes L - k + L, clamped at 0
            assert shape_at(a, "y", N=1, L=v) == (1, len(range(v)[v - k :])), (k, v)
    d = differential([(m, [{"N": 2, "L": v} for v in range(1, 9)]) for m in models.values()])
    assert not d.mismatches, d.mismatches
    assert d.ran == 24


def test_slice_values_of_a_shape() -> None:
    m = make_model(
        [
            _n("Shape", ["x"], ["s"]),
            _n("Slice", ["s", "st", "en"], ["mid"]),
            _n("Slice", ["s", "a", "b", "z", "m1"], ["rev"]),
        ],
        {"x": ["N", "C", "H", "W"]},
        [("mid", I64), ("rev", I64)],
        [
            const_init("st", [1]),
            const_init("en", [-1]),
            const_init("a", [-1]),
            const_init("b", [INT64_MIN]),
            const_init("z", [0]),
            const_init("m1", [-1]),
        ],
    )
    a = run(m)
    assert a.facts["mid"].value == (C, S("H"))
    assert a.facts["rev"].value == (S("W"), S("H"), C, N)


def test_slice_opset1_attributes() -> None:
    m = make_model(
        [_n("Slice", ["x"], ["y"], starts=[1, -2], ends=[INT64_MAX, INT64_MAX], axes=[0, 1])],
        {"x": ["A", "B"]},
        ["y"],
        opset=9,
    )
    a = run(m)
    assert a.facts["y"].shape == (A - 1, emin(2, B))


# -- Gather -----------------------------------------------------------------------------------------------------------


def test_gather_values_and_index_conditions() -> None:
    m = make_model(
        [
            _n("Shape", ["x"], ["s"]),
            _n("Gather", ["s", "last"], ["w"], axis=0),
            _n("Gather", ["x", "idx"], ["y"], axis=1),
        ],
        {"x": ["N", "L", "C"]},
        [("w", I64), "y"],
        [const_init("last", -1), const_init("idx", [[2, -3], [0, 1]])],
    )
    a = run(m)
    assert a.facts["w"].shape == () and a.facts["w"].value == (C,)
    assert a.facts["y"].shape == (N, 2, 2, C)
    gc9 = [r for r in a.requirements if r.code == "GC009"]
    assert gc9 and all(r.fix for r in gc9)
    assert [v for v in range(1, 6) if holds(a, N=1, L=v, C=1)] == [3, 4, 5]  # index 2 needs L >= 3, -3 needs L >= 3
    d = differential([(m, [{"N": 2, "L": v, "C": 2} for v in range(1, 6)])])
    assert not d.mismatches and d.ran == 3


def test_gather_negative_index_on_constant_values() -> None:
    m = make_model(
        [_n("Gather", ["k", "i"], ["y"], axis=1)],
        {},
        [("y", I64)],
        [const_init("k", [[1, 2, 3], [4, 5, 6]]), const_init("i", [-1, 0])],
    )
    y = run(m).facts["y"]
    assert y.shape == (2, 2) and y.value == (3, 1, 6, 4)  # numpy.take(k, [-1, 0], axis=1)


def test_gather_elements_conditions() -> None:
    m = make_model(
        [_n("GatherElements", ["x", "i"], ["y"], axis=0)], [("x", ["A", "B"], F), ("i", ["P", "Q"], I64)], ["y"]
    )
    a = run(m)
    assert a.facts["y"].shape == (S("P"), S("Q"))
    grid = [{"A": x, "B": y, "P": p, "Q": q} for x in (2, 3) for y in (2, 3) for p in (2, 3) for q in (2, 3)]
    d = differential([(m, grid)])
    assert not d.mismatches, d.mismatches
    assert d.ran == 12  # Q <= B; P is free (indices index along axis 0)


def test_gather_nd_batch_dims() -> None:
    m = make_model(
        [_n("GatherND", ["x", "i"], ["y"], batch_dims=1)],
        [("x", ["B", "L", "C"], F), ("i", ["D", "K", 1], I64)],
        ["y"],
    )
    a = run(m)
    assert a.facts["y"].shape == (S("D"), S("K"), C)
    # the spec: "the first b dimensions of the shape of indices tensor and data tensor must be equal"
    # (onnxruntime does not check it, so only matching batches are compared with it)
    assert failing(a, B=2, D=3, L=4, K=2, C=3) == {"GC010"}
    assert holds(a, B=3, D=3, L=4, K=2, C=3)
    grid = [{"B": b, "D": b, "L": v, "K": k, "C": 2} for b in (1, 2) for v in (1, 3) for k in (1, 2)]
    d = differential([(m, grid)])
    assert not d.mismatches, d.mismatches
    assert d.ran == 8


# -- Scatter ----------------------------------------------------------------------------------------------------------


def test_scatter_nd_updates_shape() -> None:
    m = make_model(
        [_n("ScatterND", ["x", "i", "u"], ["y"])],
        [("x", ["L", "C"], F), ("i", ["K", 1], I64), ("u", ["J", "D"], F)],
        ["y"],
    )
    a = run(m)
    assert a.facts["y"].shape == (L, C)
    grid = [{"L": 3, "C": c, "K": 2, "J": j, "D": dd} for c in (2, 3) for j in (1, 2) for dd in (2, 3)]
    d = differential([(m, grid)])
    assert not d.mismatches, d.mismatches
    assert d.ran == 2  # J = K and D = C


def test_scatter_elements_conditions() -> None:
    m = make_model(
        [_n("ScatterElements", ["x", "i", "u"], ["y"], axis=0)],
        [("x", ["A", "B"], F), ("i", ["P", "Q"], I64), ("u", ["P", "Q"], F)],
        ["y"],
    )
    a = run(m)
    assert a.facts["y"].shape == (A, B)
    grid = [{"A": x, "B": y, "P": p, "Q": q} for x in (2, 3) for y in (2, 3) for p in (2, 3) for q in (2, 3)]
    d = differential([(m, grid)])
    assert not d.mismatches, d.mismatches
    assert d.ran == 12


# -- data-dependent sizes ---------------------------------------------------------------------------------------------


def test_compress_known_condition() -> None:
    cond = [1, 0, 1, 1, 0]
    m = make_model(
        [_n("Compress", ["x", "c"], ["y"], axis=0)], {"x": ["L", 2]}, ["y"], [const_init("c", cond, np.bool_)]
    )
    a = run(m)
    for v in range(1, 10):  # only the first L entries of the condition count
        assert shape_at(a, "y", L=v) == (sum(cond[:v]), 2)
    assert "GC104" not in notes(a)
    d = differential([(m, [{"L": v} for v in range(1, 8)])])
    assert not d.mismatches and d.ran == 7


def test_compress_unknown_condition_is_data_dependent() -> None:
    a = run(make_model([_n("Compress", ["x", "c"], ["y"])], [("x", ["A", "B"], F), ("c", ["K"], BOOL)], ["y"]))
    shape = a.facts["y"].shape
    assert shape is not None and len(shape) == 1 and shape[0].has_opaque()
    assert "GC104" in notes(a)


def test_nonzero() -> None:
    dyn = run(make_model([_n("NonZero", ["x"], ["y"])], {"x": ["N", "L"]}, [("y", I64)]))
    shape = dyn.facts["y"].shape
    assert shape is not None and shape[0] == 2 and shape[1].has_opaque()
    assert "GC104" in notes(dyn)
    known = run(make_model([_n("NonZero", ["k"], ["y"])], {}, [("y", I64)], [const_init("k", [[0, 3], [5, 0]])]))
    assert known.facts["y"].shape == (2, 2)
    assert known.facts["y"].value == (0, 1, 1, 0)  # numpy.nonzero: rows (0, 1), columns (1, 0)


def test_unique() -> None:
    dyn = run(
        make_model(
            [_n("Unique", ["x"], ["y", "i", "inv", "cnt"])],
            {"x": ["N", "L"]},
            ["y", ("i", I64), ("inv", I64), ("cnt", I64)],
        )
    )
    y = dyn.facts["y"].shape
    assert y is not None and y[0].has_opaque() and "GC104" in notes(dyn)
    assert dyn.facts["inv"].shape == (N * L,)
    known = run(
        make_model(
            [_n("Unique", ["k"], ["y"], axis=0)],
            {},
            [("y", I64)],
            [const_init("k", [[1, 2], [1, 2], [3, 4]])],
            opset=11,
        )
    )
    assert known.facts["y"].shape == (2, 2)


def test_reverse_sequence() -> None:
    m = make_model(
        [_n("ReverseSequence", ["x", "s"], ["y"], batch_axis=1, time_axis=0)],
        {"x": ["T", "B", 3]},
        ["y"],
        [const_init("s", [3, 1])],
    )
    a = run(m)
    assert a.facts["y"].shape == (S("T"), B, 3)
    grid = [{"T": t, "B": b} for t in range(1, 5) for b in (1, 2, 3)]
    d = differential([(m, grid)])
    assert not d.mismatches, d.mismatches
    assert d.ran == 2  # B = 2 (one length per batch entry) and T >= 3


def test_broadcast_sizes_of_symbolic_slices_stay_exact() -> None:
    """A slice length feeding another rule keeps its min/max form: x[:, :4] on L gives min(4, L),
    and Concat of two such slices sums them."""
    nodes = [
        _n("Slice", ["x", "z", "four", "one"], ["p"]),
        _n("Slice", ["x", "m2", "big", "one"], ["q"]),
        _n("Concat", ["p", "q"], ["y"], axis=1),
    ]
    inits = [
        const_init("z", [0]),
        const_init("four", [4]),
        const_init("one", [1]),
        const_init("m2", [-2]),
        const_init("big", [INT64_MAX]),
    ]
    m = make_model(nodes, {"x": ["N", "L"]}, ["y"], inits)
    a = run(m)
    assert a.facts["y"].shape == (N, emin(4, L) + emin(2, L))
    d = differential([(m, [{"N": 1, "L": v} for v in range(1, 8)])])
    assert not d.mismatches and d.ran == 7


def test_repeated_mask_slices_stay_small() -> None:
    """GPT-2 style: each layer slices a 1024x1024 causal mask to the current length and applies it
    with Where. Broadcasting L with min(1024, L) gives max(L, min(1024, L)); the Shape rule
    simplifies that to L, so 40 layers do not nest 40 levels deep (exponential growth)."""
    nodes: list[onnx.NodeProto] = []
    x = "x"
    for i in range(40):
        nodes += [
            _n("Shape", [x], [f"s{i}"]),
            _n("Gather", [f"s{i}", "one"], [f"l{i}"], axis=0),
            _n("Slice", ["mask", "zero", f"l{i}", "ax0"], [f"r{i}"]),
            _n("Slice", [f"r{i}", "zero", f"l{i}", "ax1"], [f"m{i}"]),
            _n("Where", [f"m{i}", x, "neg"], [f"x{i}"]),
        ]
        x = f"x{i}"
    inits = [
        const_init("one", [1]),
        const_init("zero", [0]),
        const_init("ax0", [0]),
        const_init("ax1", [1]),
        const_init("neg", -1.0, np.float32),
        helper.make_tensor("mask", BOOL, [1024, 1024], [True] * (1024 * 1024)),
    ]
    a = run(make_model(nodes, {"x": ["L", "L"]}, [x], inits))
    assert a.facts["s39"].value == (L, L)
    shape = a.facts[x].shape
    assert shape is not None and all(len(str(d)) < 40 for d in shape)
    assert shape_at(a, x, L=7) == (7, 7)
    assert holds(a, L=1024) and not holds(a, L=1025)


def test_position_embedding_gathered_with_a_range_pins_the_length() -> None:
    """pos_emb[64, 16] gathered at Range(0, L): onnxruntime fails for L > 64 (index out of range)."""
    nodes = [
        _n("Shape", ["x"], ["s"]),
        _n("Gather", ["s", "one"], ["l"], axis=0),
        _n("Range", ["zero", "l", "one"], ["pos"]),
        _n("Gather", ["table", "pos"], ["y"], axis=0),
    ]
    inits = [const_init("one", 1), const_init("zero", 0), const_init("table", np.ones((64, 16)), np.float32)]
    a = run(make_model(nodes, {"x": ["N", "L"]}, ["y"], inits))
    assert a.facts["y"].shape == (L, 16)
    assert holds(a, N=1, L=64) and not holds(a, N=1, L=65)


# -- Gather with indices known by their range (position embeddings) -----------------------------------------------


def _positions_model(offset: int, table: int, compare: bool = False) -> onnx.ModelProto:
    """x[L] -> Shape -> Range(0, L) (+ offset) -> Gather(table[T, 4]): a position-embedding lookup.

    With ``compare``, the indices pass through ``Where(idx < T, idx, 0)`` first: bounds decide the
    comparison only when the whole range is known, so the guard is followed exactly.
    """
    nodes = [
        _n("Shape", ["x"], ["shp"]),
        _n("Gather", ["shp", "zero"], ["len"], axis=0),
        _n("Range", ["zero", "len", "one"], ["r"] if offset else ["idx"]),
    ]
    if offset:
        nodes.append(_n("Add", ["r", "off"], ["idx"]))
    src = "idx"
    if compare:
        nodes += [_n("Less", ["idx", "cap"], ["ok"]), _n("Where", ["ok", "idx", "zero"], ["safe"])]
        src = "safe"
    nodes.append(_n("Gather", ["table", src], ["y"], axis=0))
    inits = [
        const_init("zero", np.array(0)),
        const_init("one", np.array(1)),
        const_init("off", np.array(offset)),
        const_init("cap", np.array(table)),
        const_init("table", np.zeros((table, 4)), np.float32),
    ]
    return make_model(nodes, {"x": ["L"]}, ["y"], inits)


def test_gather_of_a_range_is_bounded_by_the_table() -> None:
    for offset, table in ((0, 8), (3, 8), (-2, 5)):
        a = run(_positions_model(offset, table))
        assert a.complete
        ok = [v for v in range(1, 20) if holds(a, L=v)]
        # indices offset .. offset + L - 1 must lie in [-table, table - 1]
        assert ok == [v for v in range(1, 20) if -table <= offset and offset + v - 1 <= table - 1], (offset, ok)
        assert "GC009" in failing(a, L=table - offset + 1)
    # offset 3: the Add between Range and Gather keeps onnxruntime's optimizer away; it agrees with the spec
    d = differential([(_positions_model(3, 8), [{"L": v} for v in range(1, 14)])])
    assert not d.mismatches, d.mismatches
    assert d.ran == 5 and d.rejected == 8


def test_onnxruntime_fuses_range_gather_into_a_clamping_slice() -> None:
    """A deviation found by the differential test: ``Gather(table, Range(0, L))`` with the Range used
    only there becomes a Slice in onnxruntime's default optimization level (GatherToSliceFusion), so
    past the table it does not fail: it silently returns the table's 8 rows for any L >= 8.
    The spec (an out-of-range index is an error) is asserted; ``semantics="ort"`` reproduces ORT."""
    m = _positions_model(0, 8)
    spec, ort = run(m), run(m, semantics="ort")
    assert [v for v in range(1, 20) if holds(spec, L=v)] == list(range(1, 9))
    assert all(holds(ort, L=v) for v in range(1, 40))
    assert [shape_at(ort, "y", L=v)[0] for v in (1, 7, 8, 9, 30)] == [1, 7, 8, 8, 8]
    assert shape_at(spec, "y", L=5) == (5, 4)
    d = differential([(m, [{"L": v} for v in range(1, 14)])], semantics="ort")
    assert not d.mismatches, d.mismatches
    assert d.ran == 13
    import graphcheck

    report = graphcheck.check(m)
    assert report.accepts({"L": 9}) is False and report.ort_accepts({"L": 9}) is True
    assert any(dg.code == "GC106" for dg in report.diagnostics)


def test_a_guarded_gather_of_a_range_is_not_bounded() -> None:
    """``Where(idx < T, idx, 0)`` keeps every index in range, but bounds alone cannot see that (the
    comparison depends on L): no limit is invented. The loose range [0, L - 1] fits the 8 rows for
    L <= 8, which is proven; beyond, the Gather is reported as undecided (GC110), not failing."""
    m = _positions_model(0, 8, compare=True)
    a = run(m)
    assert not failing(a, L=100)
    assert [r.code for r in a.requirements if r.covers] == ["GC110"]
    import graphcheck

    report = graphcheck.check(m)
    assert not report.complete and report.first_unknown is not None and report.first_unknown.code == "GC110"
    assert report.valid.startswith("L <= 8   [proven; unknown for L >= 9")
    assert report.accepts({"L": 40}) is None and report.accepts({"L": 8}) is True
    [res] = probe_many([(m, [{"x": (v,)} for v in (1, 8, 9, 40)])])
    assert [r.ok for r in res] == [True] * 4  # a bound L <= 8 would have been wrong
