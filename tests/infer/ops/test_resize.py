"""Pad, Resize, Upsample, CenterCropPad, AffineGrid, GridSample, RoiAlign, MaxRoiPool,
NonMaxSuppression: exact shapes and conditions, checked against onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphcheck
from graphcheck.symbolic.expr import const, floordiv
from tests.infer.ops._mrc import (
    S,
    codes_failing,
    differential,
    grid,
    holds_all,
    init,
    make_model,
    run,
    shape_of,
    sym_env,
    weight,
)
from tests.ortprobe import probe, probe_many

L_SIZES = list(range(1, 13))


# ---------------------------------------------------------------------------
# Pad


def _pad(mode: str, pads: list[int], opset: int = 18, axes: list[int] | None = None) -> onnx.ModelProto:
    dims: list[int | str] = ["A", "L"]
    if opset < 11:
        node = helper.make_node("Pad", ["x"], ["y"], mode=mode, pads=pads)
        return make_model([node], {"x": dims}, ["y"], opset=opset)
    ins = ["x", "p"]
    inits = [init("p", pads, np.int64)]
    if axes is not None:
        ins += ["", "ax"]
        inits.append(init("ax", axes, np.int64))
    node = helper.make_node("Pad", ins, ["y"], mode=mode)
    return make_model([node], {"x": dims}, ["y"], inits, opset=opset)


def test_pad_shapes() -> None:
    A, L = S("A"), S("L")
    assert shape_of(run(_pad("constant", [0, 2, 1, -3])), "y") == (A + 1, L - 1)
    assert shape_of(run(_pad("constant", [2, 3], axes=[-1])), "y") == (A, L + 5)
    assert shape_of(run(_pad("edge", [1, 0, 1, 0], opset=2)), "y") == (A + 2, L)
    m = make_model([helper.make_node("Pad", ["x"], ["y"], paddings=[0, 1, 0, 1])], {"x": ["A", "L"]}, ["y"], opset=1)
    assert shape_of(run(m), "y") == (A, L + 2)


def test_pad_reflect_conditions() -> None:
    a = run(_pad("reflect", [0, 3, 0, -1]))
    # after cropping 1 on the right, the axis must still be longer than the pad of 3
    assert not holds_all(a, {"A": 1, "L": 4}) and holds_all(a, {"A": 1, "L": 5})
    failing = [r for r in a.requirements if not r.cond.holds(sym_env(a, {"A": 1, "L": 4}))]
    assert [r.code for r in failing] == ["GC010"]
    assert failing[0].formula.startswith("pad 3 must be <= L - 2 (the axis size after cropping, L - 1,")
    assert "edge" in failing[0].fix
    # unpadded axes carry no condition
    a = run(_pad("reflect", [0, 1, 0, 1]))
    assert holds_all(a, {"A": 1, "L": 2}) and not holds_all(a, {"A": 1, "L": 1})


def test_pad_edge_needs_something_to_copy() -> None:
    a = run(_pad("edge", [0, 2, 0, -2]))
    assert codes_failing(a, {"A": 1, "L": 2}) == {"GC002"}
    assert holds_all(a, {"A": 1, "L": 3})


def test_pad_differential_against_onnxruntime() -> None:
    cases = []
    for mode in ("constant", "reflect", "edge", "wrap"):
        for pads in (
            [0, 1, 0, 1],
            [0, 3, 0, 0],
            [0, -1, 0, 2],
            [0, 2, 0, -3],
            [0, -2, 0, -2],
            [1, 4, 2, 4],
            [0, 0, 0, 0],
        ):
            cases.append((_pad(mode, pads, opset=19), grid(["A", "L"], [1, 2]) + [{"A": 2, "L": n} for n in L_SIZES]))
        cases.append((_pad(mode, [1, -1], opset=19, axes=[-1]), [{"A": 1, "L": n} for n in L_SIZES]))
    for mode in ("constant", "reflect", "edge"):
        cases.append((_pad(mode, [0, 2, 0, -1], opset=10), [{"A": 1, "L": n} for n in L_SIZES]))
        cases.append((_pad(mode, [1, 2, 0, 1], opset=11), [{"A": a, "L": n} for a in (1, 2) for n in L_SIZES]))
    checked, ran, bad = differential(cases)
    assert not bad, bad[:10]
    assert ran > 200 and checked - ran > 50


# ---------------------------------------------------------------------------
# Resize / Upsample


def _resize_scales(scales: list[float], opset: int = 13, **attrs: Any) -> onnx.ModelProto:
    ins = ["x", "s"] if opset == 10 else ["x", "roi" if opset == 11 else "", "s"]
    node = helper.make_node("Resize", ins, ["y"], **attrs)
    inits = [init("s", scales)] + ([init("roi", [], np.float32)] if opset == 11 else [])
    return make_model([node], {"x": ["N", "C", "H", "W"]}, ["y"], inits, opset=opset)


def _resize_sizes(
    sizes: list[int], opset: int = 19, dims: list[int | str] | None = None, **attrs: Any
) -> onnx.ModelProto:
    node = helper.make_node("Resize", ["x", "", "", "sz"], ["y"], **attrs)
    return make_model([node], {"x": dims or ["N", "C", "H", "W"]}, ["y"], [init("sz", sizes, np.int64)], opset=opset)


def test_resize_scales_exact_floor() -> None:
    N, C, H, W = S("N"), S("C"), S("H"), S("W")
    a = run(_resize_scales([1.0, 1.0, 2.0, 0.6]))
    # 0.6f is 5033165 / 2**23 exactly
    assert shape_of(a, "y") == (N, C, 2 * H, floordiv(W * 5033165, 8388608))
    assert shape_of(run(_resize_scales([1.0, 1.0, 1.5, 0.5], opset=10)), "y") == (
        N,
        C,
        floordiv(3 * H, 2),
        floordiv(W, 2),
    )
    # the output must not be empty: W >= 2 for W * 0.6
    assert codes_failing(a, {"N": 1, "C": 1, "H": 1, "W": 1}) == {"GC002"}
    assert holds_all(a, {"N": 1, "C": 1, "H": 1, "W": 2})


def test_resize_roi_is_ignored_and_empty_scales_mean_sizes() -> None:
    node = helper.make_node("Resize", ["x", "roi", "s", "sz"], ["y"], mode="linear")
    inits = [init("roi", [], np.float32), init("s", [], np.float32), init("sz", [1, 3, 8, 9], np.int64)]
    a = run(make_model([node], {"x": ["N", "C", "H", "W"]}, ["y"], inits, opset=11))
    assert shape_of(a, "y") == (const(1), const(3), const(8), const(9))


def test_resize_sizes_axes_and_aspect_policy() -> None:
    N, C = S("N"), S("C")
    assert shape_of(run(_resize_sizes([8, 7], axes=[3, 2])), "y") == (N, C, const(7), const(8))
    # constant input sizes: exact rational min/max, halves rounded up
    fixed: list[int | str] = ["N", "C", 6, 27]
    assert shape_of(
        run(_resize_sizes([7, 5], dims=fixed, axes=[2, 3], keep_aspect_ratio_policy="not_smaller")), "y"
    ) == (
        N,
        C,
        const(7),
        const(32),  # round(7/6 * 27) = round(31.5) = 32
    )
    assert shape_of(
        run(_resize_sizes([7, 5], dims=fixed, axes=[2, 3], keep_aspect_ratio_policy="not_larger")), "y"
    ) == (
        N,
        C,
        const(1),  # round(5/27 * 6) = 1
        const(5),
    )
    # related symbolic sizes (W = 2H, made by a first Resize): the ratios compare exactly and
    # the result is constant: min(10/H, 10/(2H)) = 5/H, so (round(5/H * H), round(5/H * 2H))
    up = helper.make_node("Resize", ["x", "", "s"], ["x2"])
    fit = helper.make_node("Resize", ["x2", "", "", "sz"], ["y"], axes=[2, 3], keep_aspect_ratio_policy="not_larger")
    inits = [init("s", [1.0, 1.0, 1.0, 2.0]), init("sz", [10, 10], np.int64)]
    a = run(make_model([up, fit], {"x": ["N", "C", "H", "H"]}, ["y"], inits, opset=19))
    assert shape_of(a, "x2") == (N, C, S("H"), 2 * S("H"))
    assert shape_of(a, "y") == (N, C, const(5), const(10))
    # unrelated symbolic sizes: not expressible, reported as unsupported
    a = run(_resize_sizes([10, 10], axes=[2, 3], keep_aspect_ratio_policy="not_larger"))
    assert a.facts["y"].shape is None
    assert any(n.code == "GC102" and "not expressible" in n.message for n in a.notes)


def test_resize_11_needs_roi_input() -> None:
    node = helper.make_node("Resize", ["x", "", "s"], ["y"])
    a = run(make_model([node], {"x": ["H", "W"]}, ["y"], [init("s", [1.0, 2.0])], opset=11))
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in a.requirements)


def test_resize_both_or_neither_is_invalid() -> None:
    node = helper.make_node("Resize", ["x", "", "s", "sz"], ["y"])
    inits = [init("s", [1.0, 2.0]), init("sz", [1, 2], np.int64)]
    a = run(make_model([node], {"x": ["H", "W"]}, ["y"], inits, opset=13))
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in a.requirements)


def test_upsample() -> None:
    N, C, H, W = S("N"), S("C"), S("H"), S("W")
    m7 = make_model(
        [helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 3.0])],
        {"x": ["N", "C", "H", "W"]},
        ["y"],
        opset=7,
    )
    assert shape_of(run(m7), "y") == (N, C, 2 * H, 3 * W)
    m9 = make_model(
        [helper.make_node("Upsample", ["x", "s"], ["y"])],
        {"x": ["N", "C", "H", "W"]},
        ["y"],
        [init("s", [1.0, 1.0, 1.5, 2.0])],
        opset=9,
    )
    assert shape_of(run(m9), "y") == (N, C, floordiv(3 * H, 2), 2 * W)
    bad = make_model([helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 0.5])], {"x": ["H", "W"]}, ["y"], opset=7)
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in run(bad).requirements)


def test_resize_differential_against_onnxruntime() -> None:
    sizes = [{"N": 1, "C": 1, "H": h, "W": w} for h in range(1, 9) for w in (1, 2, 3, 5, 8, 13, 31, 64)]
    cases = [
        (_resize_scales([1.0, 1.0, 2.0, 0.5]), sizes),
        (_resize_scales([1.0, 1.0, 1.5, 0.25], mode="linear"), sizes),
        (_resize_scales([1.0, 1.0, 0.6, 1.25], opset=10), sizes),
        (_resize_scales([1.0, 1.0, 3.0, 0.125], opset=11), sizes),
        (_resize_sizes([1, 2, 5, 7], opset=13), sizes),
        (_resize_sizes([3, 4], axes=[2, 3], keep_aspect_ratio_policy="stretch"), sizes),
        (
            make_model(
                [helper.make_node("Upsample", ["x", "s"], ["y"])],
                {"x": ["N", "C", "H", "W"]},
                ["y"],
                [init("s", [1.0, 1.0, 2.0, 1.5])],
                opset=9,
            ),
            sizes,
        ),
    ]
    for policy in ("not_larger", "not_smaller"):
        for h, w in ((4, 6), (5, 5), (3, 8), (7, 2)):
            m = _resize_sizes([6, 9], dims=["N", "C", h, w], axes=[2, 3], keep_aspect_ratio_policy=policy)
            cases.append((m, [{"N": 1, "C": c} for c in (1, 2)]))
    checked, ran, bad = differential(cases)
    assert not bad, bad[:10]
    assert ran > 300


def test_resize_float_rounding_deviation_of_onnxruntime() -> None:
    """0.7f * 10 = 6.99999988...: the spec's floor gives 6; onnxruntime's float32 product gives 7."""
    m = _resize_scales([1.0, 1.0, 1.0, 0.7])
    rep = graphcheck.check(m)
    assert rep.at({"N": 1, "C": 1, "H": 1, "W": 10}).outputs["y"] == (1, 1, 1, 6)
    [r] = probe(m, [{"x": (1, 1, 1, 10)}])
    assert r.ok and r.shapes[0] == (1, 1, 1, 7)  # documented in graphcheck/ops/resize.py
    assert rep.ort_report.at({"N": 1, "C": 1, "H": 1, "W": 10}).outputs["y"] == (1, 1, 1, 7)


def test_resize_scales_as_onnxruntime_multiplies_them() -> None:
    """semantics="ort": the float32 product, truncated, at every probed size (the multiples of the
    scale's denominator decide); past the proven bound the node is not followed (GC110)."""
    scales = [0.7, 1.3, 2.0 / 3.0, 0.1, 1.5, 0.35]
    ws = [*range(1, 64), 99, 100, 101, 999, 1000, 1001, 65535, 65536, 99999, 100000, 1864130, 1864135]
    jobs = [(_resize_scales([1.0, 1.0, 1.0, sc]), [{"x": (1, 1, 1, w)} for w in ws]) for sc in scales]
    decided = 0
    for (m, shapes), results in zip(jobs, probe_many(jobs)):
        ort = graphcheck.check(m).ort_report
        for sh, r in zip(shapes, results):
            sizes = {"N": 1, "C": 1, "H": 1, "W": sh["x"][3]}
            ok = ort.accepts(sizes)
            if ok is None:
                continue  # past the proven bound (1.3f: floor(fl(13*w/10)) depends on the binade)
            decided += 1
            assert ok == (r.ok and 0 not in r.shapes[0]), (m.graph.initializer[0].raw_data, sizes)
            if r.ok:
                assert ort.at(sizes).outputs["y"] == r.shapes[0], (m.graph.initializer[0].raw_data, sizes)
    assert decided > 0.8 * len(scales) * len(ws)
    seven = graphcheck.check(_resize_scales([1.0, 1.0, 1.0, 0.7])).ort_report
    assert seven.accepts({"N": 1, "C": 1, "H": 1, "W": 1864135}) is True
    assert seven.accepts({"N": 1, "C": 1, "H": 1, "W": 1864136}) is None  # past the proven bound
    assert seven.first_unknown is not None and seven.first_unknown.code == "GC110"


# ---------------------------------------------------------------------------
# CenterCropPad, AffineGrid, GridSample, RoiAlign, MaxRoiPool, NonMaxSuppression


def test_center_crop_pad() -> None:
    node = helper.make_node("CenterCropPad", ["x", "s"], ["y"], axes=[-2, -1])
    a = run(make_model([node], {"x": ["N", "H", "W"]}, ["y"], [init("s", [5, 7], np.int64)]))
    assert shape_of(a, "y") == (S("N"), const(5), const(7))


def test_affine_grid() -> None:
    node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"])
    a = run(make_model([node], {"theta": ["N", "R", "Q"]}, ["grid"], [init("size", [2, 3, 6, 8], np.int64)], opset=20))
    assert shape_of(a, "grid") == (const(2), const(6), const(8), const(2))
    assert holds_all(a, {"N": 2, "R": 2, "Q": 3})
    assert codes_failing(a, {"N": 1, "R": 2, "Q": 3}) == {"GC010"}
    assert codes_failing(a, {"N": 2, "R": 3, "Q": 4}) == {"GC010"}


def test_grid_sample_and_rois_differential() -> None:
    gs = make_model(
        [helper.make_node("GridSample", ["x", "g"], ["y"])],
        {"x": ["N", "C", "H", "W"], "g": ["M", "P", "Q", "K"]},
        ["y"],
        opset=16,
    )
    a = run(gs)
    assert shape_of(a, "y") == (S("N"), S("C"), S("P"), S("Q"))
    ra = make_model(
        [helper.make_node("RoiAlign", ["x", "rois", "bi"], ["y"], output_height=3, output_width=2)],
        [
            ("x", [1, "C", "H", "W"], TensorProto.FLOAT),
            ("rois", ["R", "F"], TensorProto.FLOAT),
            ("bi", ["RB"], TensorProto.INT64),
        ],
        ["y"],
        opset=16,
    )
    assert shape_of(run(ra), "y") == (S("R"), S("C"), const(3), const(2))
    mrp = make_model(
        [helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 2])],
        {"x": [1, "C", 4, 4], "rois": ["R", "F"]},
        ["y"],
    )
    assert shape_of(run(mrp), "y") == (S("R"), S("C"), const(2), const(2))
    cases = [
        (gs, [{**e, "C": 2, "H": 3, "W": 4, "P": 2, "Q": 5} for e in grid(["N", "M", "K"], [1, 2, 3])]),
        (ra, [{"C": 2, "H": 5, "W": 6, **e} for e in grid(["R", "F", "RB"], [1, 2, 4])]),
        # with 5 columns the run depends on the (random) batch ids in the data: only wrong widths here
        (mrp, [{"C": 2, **e} for e in grid(["R", "F"], [1, 4, 6])]),
    ]
    checked, ran, bad = differential(cases)
    assert not bad, bad[:10]
    assert ran >= 6 and checked - ran > 20


def test_non_max_suppression_is_data_dependent() -> None:
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores", "k"], ["idx"])
    m = make_model(
        [node],
        {"boxes": ["B", "S", 4], "scores": ["B2", "C", "S2"]},
        [("idx", TensorProto.INT64)],
        [init("k", [3], np.int64)],
        opset=11,
    )
    a = run(m)
    shape = shape_of(a, "idx")
    assert shape is not None and shape[1] == 3 and shape[0].has_opaque()
    assert any(n.code == "GC104" for n in a.notes)
    assert codes_failing(a, {"B": 1, "S": 5, "B2": 2, "C": 1, "S2": 5}) == {"GC010"}
    assert codes_failing(a, {"B": 1, "S": 5, "B2": 1, "C": 1, "S2": 4}) == {"GC010"}
    assert holds_all(a, {"B": 1, "S": 5, "B2": 1, "C": 3, "S2": 5})


@pytest.mark.parametrize("opset", [10, 11, 13, 18, 19])
def test_resize_all_opsets(opset: int) -> None:
    m = _resize_scales([1.0, 1.0, 2.0, 2.0], opset=opset)
    assert shape_of(run(m), "y") == (S("N"), S("C"), 2 * S("H"), 2 * S("W"))


def test_weight_unused_helper_kept_honest() -> None:
    # the ORT-facing helper builds float initializers of the requested shape
    assert tuple(weight("w", (2, 3)).dims) == (2, 3)


def test_pad_with_symbolic_pads() -> None:
    """Pads computed from sizes (e.g. Shape arithmetic): the conditions stay exact."""
    from graphcheck.infer.facts import Fact
    from graphcheck.infer.ops.resize import pad_11
    from graphcheck.infer.registry import OpContext
    from graphcheck.model.ir import Node

    L, P = S("L"), S("P")
    node = Node(0, "pad", "Pad", "", ("x", "p"), ("y",), {"mode": "reflect"})
    x = Fact((L,), TensorProto.FLOAT)
    pads = Fact((const(2),), TensorProto.INT64, (P - 2, const(-1)))  # begin P - 2 (any sign), end -1
    ctx = OpContext(node, [x, pads], 18, 0)
    [y] = pad_11(ctx)
    assert y.shape == (L + P - 3,)
    conds = [r.cond for r in ctx.requirements]

    ls, ps = L.as_sym(), P.as_sym()
    assert ls is not None and ps is not None

    def ok(lv: int, pv: int) -> bool:
        return all(c.holds({ls: lv, ps: pv}) for c in conds)

    # begin pad P - 2 <= 0: nothing is reflected on the left, no condition from it
    assert ok(2, 1) and ok(2, 2)
    # begin pad 3 (P = 5) needs the extent left after cropping 1, L - 1, to be >= 3 + 1
    assert not ok(4, 5) and ok(5, 5)


def test_pad_wrap_needs_opset_19() -> None:
    a = run(_pad("wrap", [0, 1, 0, 1], opset=18))
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in a.requirements)
    assert shape_of(run(_pad("wrap", [0, 1, 0, 1], opset=19)), "y") == (S("A"), S("L") + 2)


def test_affine_grid_differential() -> None:
    node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"])
    m = make_model([node], {"theta": ["N", "R", "Q"]}, ["grid"], [init("size", [2, 3, 4, 5], np.int64)], opset=20)
    checked, ran, bad = differential([(m, grid(["N", "R", "Q"], [1, 2, 3, 4]))])
    assert not bad, bad[:10]
    assert ran == 1 and checked == 64
