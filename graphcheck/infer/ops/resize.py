"""Padding, resampling and region ops: Pad, Resize, Upsample, CenterCropPad, AffineGrid,
GridSample, RoiAlign, MaxRoiPool, NonMaxSuppression.

Pad: ``out = in + pad_begin + pad_end`` (negative pads crop). With ``edge``, ``wrap`` or
``reflect`` there must be something left to copy from: on an axis with a positive pad the
extent that remains after the negative pads, ``in + min(begin, 0) + min(end, 0)``, must be
>= 1 (GC002). ``reflect`` also needs every positive pad <= that extent - 1 (so an extent >= 2),
as onnxruntime (and PyTorch's reflection padding) enforce; ``numpy.pad``, which the ONNX
reference implementation calls, would reflect repeatedly instead, and the spec's words
("mirrored on the first and last values") do not cover a pad longer than the axis, so we
take onnxruntime's reading (GC010).

Resize/Upsample with scales: ``out = floor(in * scale)`` computed exactly, the float32 scale
taken as the rational it encodes: ``floordiv(in * numerator, denominator)``. The ``roi`` input
does not enter the output size (onnxruntime, the ONNX reference implementation and ONNX's own
shape inference all ignore it, although the Resize text writes ``(roi_end - roi_start)`` in
the formula). ``keep_aspect_ratio_policy`` (opset 18) is computed with exact rationals,
``round_int`` rounding halves up as the spec says.

onnxruntime deviations found with tests/ortprobe.py (1.32), where we follow the spec:

* Resize scales: onnxruntime computes ``(int64)(float)(scale * (float)in)`` in float32, so a
  product just below an integer rounds up to it: scale 0.7f (= 0.699999988...) with in = 10
  gives 7 in onnxruntime and floor(6.99999988) = 6 by the spec (numpy's reference gives 6).
  ``semantics="ort"`` follows the float32 product exactly: ``floor(7*in/10)`` for this scale,
  proven for ``in <= 1864135`` (:func:`graphcheck.symbolic.floats.snap`), unknown beyond (GC110);
  exact binary fractions (0.5, 2, 1.25, ...) agree with the spec while float32 holds the input
  size (``in <= 2**24``), past which the float32 product is not the spec's either.
* keep_aspect_ratio_policy: onnxruntime rounds ``scale * in`` in float32, so an exact half
  can come out below .5: sizes (7, 5), input (6, 27), not_smaller gives width round(31.5) = 32
  by the spec and 31 in onnxruntime.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops import _floats as F
from graphcheck.infer.ops._common import lazy
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.cond import all_of, any_of, eq, ge
from graphcheck.symbolic.expr import Expr, ExprLike, as_expr, const, emin, floordiv, product
from graphcheck.symbolic.floats import FLOAT32, FloatSize

INT64 = 7


def _axes(ctx: OpContext, axes: tuple[int, ...] | None, rank: int) -> list[int]:
    if axes is None:
        return list(range(rank))
    out = [norm_axis(a, rank, ctx.node) for a in axes]
    if len(set(out)) != len(out):
        raise Invalid(f"axes {list(axes)} repeat an axis")
    return out


# ---------------------------------------------------------------------------
# Pad


def _pad(ctx: OpContext, pads: tuple[Expr, ...], axes: list[int], mode: str) -> list[Fact]:
    x = ctx.shape(0)
    n = len(axes)
    if len(pads) != 2 * n:
        raise Invalid(f"pads has {len(pads)} values for {n} axes (needs {2 * n})")
    if mode not in ("constant", "reflect", "edge", "wrap") or (mode == "wrap" and ctx.opset < 19):
        raise Invalid(f"unknown Pad mode {mode!r} (opset {ctx.opset})")
    out = list(x)
    for j, axis in enumerate(axes):
        b, e = pads[j], pads[j + n]
        d = x[axis]
        out[axis] = d + b + e
        if mode == "constant":
            continue
        # The extent left after cropping by the negative pads; copying modes need it.
        extent = d + emin(b, 0) + emin(e, 0)
        positive = [p for p in (b, e) if not (p.is_const and p.value <= 0)]
        if not positive:
            continue  # nothing copied: the output is the cropped extent, checked as an output size
        ctx.require(
            any_of([all_of(ge(0, p) for p in positive), ge(extent, 1)]),
            "GC002",
            f"axis {axis} left for '{mode}' padding",
            formula=f"{extent} (the axis after cropping) must be >= 1",
            fix=f"'{mode}' padding copies input values: axis {axis} must keep at least one value after cropping",
        )
        if mode == "reflect":
            for side, p in (("begin", b), ("end", e)):
                if p.is_const and p.value <= 0:
                    continue
                ctx.require(
                    any_of([ge(0, p), ge(extent - 1, p)]),
                    "GC010",
                    f"reflect pad ({side}) on axis {axis}",
                    formula=f"pad {p} must be <= {extent - 1} (the axis size after cropping, {extent}, minus 1)",
                    fix=f"reflection cannot pad more than the axis size - 1: feed at least {p} + 1 on axis {axis}, "
                    "or use 'edge' or 'constant' padding",
                )
    return [Fact(tuple(out), ctx.fact(0).dtype)]


@rule("Pad", since=1)
def pad_1(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    pads = ctx.attr_ints("paddings" if ctx.opset < 2 else "pads")
    if pads is None:
        raise Invalid("Pad needs the pads attribute")
    return _pad(ctx, tuple(const(p) for p in pads), list(range(len(x))), ctx.attr_str("mode", "constant"))


@rule("Pad", since=11)
def pad_11(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    pads = ctx.ints(1, "pads")
    axes: list[int] = list(range(len(x)))
    if ctx.opset >= 18 and ctx.has(3):
        axes = _axes(ctx, ctx.const_ints(3, "axes"), len(x))
    return _pad(ctx, pads, axes, ctx.attr_str("mode", "constant"))


# ---------------------------------------------------------------------------
# Resize / Upsample


def _present(ctx: OpContext, i: int) -> bool | None:
    """Whether optional input ``i`` is given and non-empty (None: cannot tell)."""
    if not ctx.has(i):
        return False
    shape = ctx.fact(i).shape
    if shape is None:
        return None
    n = product(shape)
    if n.is_const:
        return n.value > 0
    return True if n.positive_trivially() else None


def _scaled(
    ctx: OpContext, x: tuple[Expr, ...], axes: list[int], scales: tuple[Fraction, ...], at_least_one: bool
) -> list[Expr]:
    if len(scales) != len(axes):
        raise Invalid(f"scales has {len(scales)} values for {len(axes)} axes")
    out = list(x)
    ort = ctx.semantics == "ort"
    for axis, s in zip(axes, scales):
        if s <= 0 or (at_least_one and s < 1):
            raise Invalid(f"scale {float(s)} on axis {axis} must be {'>= 1' if at_least_one else '> 0'}")
        out[axis] = _ort_scaled(ctx, x[axis], s, axis) if ort else floordiv(x[axis] * s.numerator, s.denominator)
    ctx.dim_fix = "floor(size * scale) must stay >= 1: a scale below 1 needs a large enough input"
    return out


def _ort_scaled(ctx: OpContext, d: Expr, s: Fraction, axis: int) -> Expr:
    """onnxruntime's output size: ``(int64)(scale * (float)in)``, the product rounded to float32 and
    truncated, followed exactly (``graphcheck.symbolic.floats.snap``) where that is proven; the node
    is followed only there (GC110)."""
    fin = F.from_int(d, FLOAT32)
    prod = None if fin is None else F.binary("Mul", fin, s, FLOAT32)
    if isinstance(prod, Fraction):
        return const(int(prod))  # truncation toward zero of a positive float
    got = F.truncated(prod) if isinstance(prod, FloatSize) else None
    if got is None:
        raise Unsupported(f"onnxruntime's float32 product of scale {float(s)!r} and {d} is not decided")
    out, where = got
    if not ctx.always(where):
        ctx.covers(
            where,
            f"onnxruntime's float32 scale product on axis {axis}",
            formula=lazy("(int64)(float)({} * {}) is proven to be {} where {}", float(s), d, out, where),
        )
    return out


def _content(e: Expr) -> tuple[int, Expr]:
    """``e = g * p`` with ``g`` the gcd of the coefficients (``p`` = 1 for a constant)."""
    if e.is_const:
        return e.value, const(1)
    g = 0
    for _, c in e.terms:
        g = gcd(g, c)
    p = e.exact_div(g)
    assert p is not None
    return g, p


def _round_half_up(q: Fraction) -> int:
    return (q.numerator * 2 + q.denominator) // (2 * q.denominator)


def _keep_aspect(
    ctx: OpContext, x: tuple[Expr, ...], axes: list[int], sizes: tuple[Expr, ...], policy: str
) -> list[Expr]:
    """``scale = min/max_j(sizes[j] / in[j])``, ``out[i] = round_int(scale * in[i])``, exactly."""
    if not all(s.is_const for s in sizes):
        raise Unsupported(f"keep_aspect_ratio_policy={policy} with sizes that depend on the input sizes")
    parts = [_content(x[a]) for a in axes]
    if any(c <= 0 for c, _ in parts):
        raise Unsupported(f"keep_aspect_ratio_policy={policy} on an axis of size <= 0")
    base = parts[0][1]
    if any(p != base for _, p in parts):
        raise Unsupported(
            f"keep_aspect_ratio_policy={policy}: the output size is a rational min/max of sizes/input over "
            "unrelated symbolic input sizes, not expressible exactly"
        )
    # in[j] = c_j * p with the same p > 0, so sizes[j] / in[j] compare as sizes[j] / c_j.
    ratios = [Fraction(s.value, c) for s, (c, _) in zip(sizes, parts)]
    r = min(ratios) if policy == "not_larger" else max(ratios)
    out = list(x)
    for a, (c, _) in zip(axes, parts):
        out[a] = const(_round_half_up(r * c))
    return out


def _resize(ctx: OpContext, scales_i: int, sizes_i: int | None, opset18: bool) -> list[Fact]:
    x = ctx.shape(0)
    axes = _axes(ctx, ctx.attr_ints("axes"), len(x)) if opset18 else list(range(len(x)))
    sc = _present(ctx, scales_i)
    sz = _present(ctx, sizes_i) if sizes_i is not None else False
    if sc and sz:
        raise Invalid("Resize takes scales or sizes, not both")
    if sc is None or sz is None:
        raise Unsupported("cannot tell whether Resize uses scales or sizes (an input's shape is unknown)")
    if not sc and not sz:
        raise Invalid("Resize needs non-empty scales or sizes")
    if sc:
        out = _scaled(ctx, x, axes, ctx.fractions(scales_i, "scales"), at_least_one=False)
        return [Fact(tuple(out), ctx.fact(0).dtype)]
    assert sizes_i is not None
    sizes = ctx.ints(sizes_i, "sizes")
    if len(sizes) != len(axes):
        raise Invalid(f"sizes has {len(sizes)} values for {len(axes)} axes")
    policy = ctx.attr_str("keep_aspect_ratio_policy", "stretch") if opset18 else "stretch"
    if policy == "stretch":
        out = list(x)
        for a, s in zip(axes, sizes):
            out[a] = s
    elif policy in ("not_larger", "not_smaller"):
        out = _keep_aspect(ctx, x, axes, sizes, policy)
    else:
        raise Invalid(f"unknown keep_aspect_ratio_policy {policy!r}")
    return [Fact(tuple(out), ctx.fact(0).dtype)]


@rule("Resize", since=10)
def resize_10(ctx: OpContext) -> list[Fact]:
    return _resize(ctx, 1, None, opset18=False)


@rule("Resize", since=11)
def resize_11(ctx: OpContext) -> list[Fact]:
    if not ctx.has(1) or not ctx.has(2):  # roi and scales are required inputs (possibly empty) in opset 11
        raise Invalid("Resize (opset 11) needs the roi and scales inputs (they may be empty tensors)")
    return _resize(ctx, 2, 3, opset18=False)


@rule("Resize", since=13)
def resize_13(ctx: OpContext) -> list[Fact]:
    return _resize(ctx, 2, 3, opset18=False)


@rule("Resize", since=18)
def resize_18(ctx: OpContext) -> list[Fact]:
    return _resize(ctx, 2, 3, opset18=True)


@rule("Upsample", since=1)
def upsample_1(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) != 4:
        raise Invalid(f"Upsample (opset 1) needs a 4-D input, got rank {len(x)}")
    if "height_scale" not in ctx.node.attrs or "width_scale" not in ctx.node.attrs:
        raise Invalid("Upsample (opset 1) needs height_scale and width_scale")
    hs = Fraction(ctx.attr_float("height_scale", 1.0))
    ws = Fraction(ctx.attr_float("width_scale", 1.0))
    return [Fact(tuple(_scaled(ctx, x, [2, 3], (hs, ws), at_least_one=True)), ctx.fact(0).dtype)]


@rule("Upsample", since=7)
def upsample_7(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    v = ctx.node.attrs.get("scales")
    if not isinstance(v, tuple) or not all(isinstance(s, int | float) for s in v):
        raise Invalid("Upsample needs the scales attribute")
    scales = tuple(Fraction(s) for s in v)
    return [Fact(tuple(_scaled(ctx, x, list(range(len(x))), scales, at_least_one=True)), ctx.fact(0).dtype)]


@rule("Upsample", since=9)
def upsample_9(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    scales = ctx.fractions(1, "scales")
    return [Fact(tuple(_scaled(ctx, x, list(range(len(x))), scales, at_least_one=True)), ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------
# CenterCropPad, AffineGrid, GridSample


@rule("CenterCropPad", since=18)
def center_crop_pad(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    axes = _axes(ctx, ctx.attr_ints("axes"), len(x))
    vals = ctx.ints(1, "shape")
    if len(vals) != len(axes):
        raise Invalid(f"shape has {len(vals)} values for {len(axes)} axes")
    out = list(x)
    for a, v in zip(axes, vals):
        out[a] = v
    return [Fact(tuple(out), ctx.fact(0).dtype)]


def _require_eq(ctx: OpContext, a: Expr, b: ExprLike, what: str, fix: str = "") -> None:
    ctx.require(eq(a, b), "GC010", what, formula=f"{a} must equal {as_expr(b)}", fix=fix)


@rule("AffineGrid", since=20)
def affine_grid(ctx: OpContext) -> list[Fact]:
    theta = ctx.shape(0)
    size = ctx.ints(1, "size")
    if len(size) not in (4, 5):
        raise Invalid(f"size must be (N, C, H, W) or (N, C, D, H, W), got {len(size)} values")
    if len(theta) != 3:
        raise Invalid(f"theta must be 3-D (N, 2, 3) or (N, 3, 4), got rank {len(theta)}")
    n, spatial = size[0], size[2:]
    r = len(spatial)
    _require_eq(ctx, theta[0], n, "theta batch (axis 0) vs size[0]", "theta needs one affine matrix per batch item")
    _require_eq(ctx, theta[1], r, f"theta axis 1 ({r}-D grid)")
    _require_eq(ctx, theta[2], r + 1, f"theta axis 2 ({r}-D grid)")
    return [Fact((n, *spatial, const(r)), ctx.fact(0).dtype)]


@rule("GridSample", since=16)
def grid_sample(ctx: OpContext) -> list[Fact]:
    x, grid = ctx.shape(0), ctx.shape(1)
    if ctx.opset < 20 and len(x) != 4:
        raise Invalid(f"GridSample (opset {ctx.opset}) needs a 4-D input, got rank {len(x)}")
    if len(x) < 3:
        raise Invalid(f"GridSample needs an input of rank >= 3 (N, C, spatial...), got rank {len(x)}")
    if len(grid) != len(x):
        raise Invalid(f"grid has rank {len(grid)}, the input rank {len(x)}")
    r = len(x) - 2
    _require_eq(ctx, grid[0], x[0], "grid batch (axis 0) vs X batch", "the grid needs one sampling map per batch item")
    _require_eq(ctx, grid[-1], r, f"grid last axis (coordinates for {r} spatial axes)")
    return [Fact((x[0], x[1], *grid[1:-1]), ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------
# RoiAlign, MaxRoiPool, NonMaxSuppression


@rule("RoiAlign", since=10)
def roi_align(ctx: OpContext) -> list[Fact]:
    x, rois, idx = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(x) != 4 or len(rois) != 2 or len(idx) != 1:
        raise Invalid(f"RoiAlign needs X 4-D, rois 2-D, batch_indices 1-D; got ranks {len(x)}, {len(rois)}, {len(idx)}")
    _require_eq(ctx, rois[1], 4, "rois axis 1 (x1, y1, x2, y2)")
    _require_eq(ctx, idx[0], rois[0], "batch_indices length vs number of rois", "give one batch index per roi")
    oh, ow = ctx.attr_int("output_height", 1), ctx.attr_int("output_width", 1)
    return [Fact((rois[0], x[1], const(oh), const(ow)), ctx.fact(0).dtype)]


@rule("MaxRoiPool", since=1)
def max_roi_pool(ctx: OpContext) -> list[Fact]:
    x, rois = ctx.shape(0), ctx.shape(1)
    if len(x) != 4 or len(rois) != 2:
        raise Invalid(f"MaxRoiPool needs X 4-D and rois 2-D; got ranks {len(x)}, {len(rois)}")
    pooled = ctx.attr_ints("pooled_shape")
    if pooled is None or len(pooled) != 2:
        raise Invalid("MaxRoiPool needs pooled_shape (height, width)")
    _require_eq(ctx, rois[1], 5, "rois axis 1 (batch_id, x1, y1, x2, y2)")
    return [Fact((rois[0], x[1], const(pooled[0]), const(pooled[1])), ctx.fact(0).dtype)]


@rule("NonMaxSuppression", since=10)
def non_max_suppression(ctx: OpContext) -> list[Fact]:
    boxes, scores = ctx.shape(0), ctx.shape(1)
    if len(boxes) != 3 or len(scores) != 3:
        raise Invalid(f"NonMaxSuppression needs 3-D boxes and scores; got ranks {len(boxes)}, {len(scores)}")
    _require_eq(ctx, boxes[0], scores[0], "boxes batch vs scores batch (axis 0)")
    _require_eq(ctx, boxes[1], scores[2], "boxes axis 1 vs scores axis 2 (number of boxes)")
    _require_eq(ctx, boxes[2], 4, "boxes axis 2 (4 coordinates)")
    max_out = ctx.fact(2).const_ints() if ctx.has(2) else (0,)
    if max_out is not None and len(max_out) == 1 and max_out[0] <= 0:
        count: Expr = const(0)  # "Default to 0, which means no output"
    else:
        count = ctx.fresh("nms_selected")
        ctx.note("GC104", "NonMaxSuppression: the number of selected boxes depends on the data")
    return [Fact((count, const(3)), INT64)]
