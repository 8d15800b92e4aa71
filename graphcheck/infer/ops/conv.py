"""Convolutions and pooling: Conv, ConvTranspose, MaxPool, AveragePool, LpPool, Global*Pool, MaxUnpool.

Output sizes follow the ONNX spec exactly:

* explicit pads: ``floor((in + pad_begin + pad_end - dilation*(kernel-1) - 1) / stride) + 1``;
* pools with ``ceil_mode``: ``ceil(...)`` instead of ``floor``, and a window that would start
  in the right padding is dropped (``min(ceil(num/s) + 1, floor((in + pad_begin - 1)/s) + 1)``);
* ``SAME_UPPER``/``SAME_LOWER``: ``ceil(in / stride)``; ``VALID``: no padding (for pools in
  ceil mode the spec's ``ceil((in - span + 1) / stride)``).

``semantics="ort"`` reproduces onnxruntime where it deviates: its pools truncate a negative
numerator toward zero (``trunc(num/s) + 1``), treat ``VALID`` with ``ceil_mode`` like zero
explicit pads, and size SAME padding from the undilated kernel when pooling with dilations;
its ConvTranspose with SAME padding gives ``(in - 1)*stride + output_padding + span`` where that is
less than the spec's ``in*stride`` (it clamps the spec's negative padding at 0).

Where onnxruntime refuses a node the spec allows, at every size (GC111, :func:`_refusal`): Conv
with dilations and SAME auto_pad, pools whose pads are not smaller than the kernel, ConvTranspose
whose output_padding is not smaller than the stride. By the spec that is a finding and the sizes
stay valid; with ``semantics="ort"`` it is a condition no size meets.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import per_axis, spatial_name, window_formula
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.cond import FALSE, eq, ge
from graphcheck.symbolic.expr import Expr, ceildiv, const, emax, emin, floordiv

INT64 = 7


def _spatial(ctx: OpContext, x: tuple[Expr, ...]) -> int:
    if len(x) < 3:
        raise Invalid(f"{ctx.node.op_type} needs an input of rank >= 3 (N, C, spatial...), got rank {len(x)}")
    return len(x) - 2


def _pads(ctx: OpContext, n: int) -> tuple[int, ...]:
    pads = ctx.attr_ints("pads")
    if pads is None:
        return (0,) * (2 * n)
    if len(pads) != 2 * n:
        raise Invalid(f"pads has {len(pads)} values for {n} spatial axes (needs {2 * n})")
    return pads


def _trunc_div(num: Expr, s: int) -> Expr:
    """``trunc(num / s)`` for s > 0: floor for num >= 0, ceil for num < 0."""
    return emax(floordiv(num, s), emin(0, ceildiv(num, s)))


def _refusal(ctx: OpContext, what: str, why: str, fix: str) -> None:
    """onnxruntime refuses the node at every size although the spec allows it (GC111): a finding by
    the spec, a condition no size meets with ``semantics="ort"``."""
    if ctx.semantics == "ort":
        ctx.require(FALSE, "GC111", what, formula=f"onnxruntime refuses it: {why}", fix=fix)
    else:
        ctx.note("GC111", f"{what}: onnxruntime refuses the model at every size ({why}); the spec allows it. {fix}")


def _pool_pads_refusal(ctx: OpContext, kernel: tuple[int, ...]) -> None:
    """onnxruntime's pools reject explicit pads not smaller than the kernel ("Pad should be smaller
    than kernel", PoolAttributes), whatever auto_pad says."""
    pads = ctx.attr_ints("pads")
    n = len(kernel)
    if not pads or len(pads) != 2 * n:
        return
    bad = [i for i in range(n) if pads[i] >= kernel[i] or pads[i + n] >= kernel[i]]
    if bad:
        i = bad[0]
        _refusal(
            ctx,
            f"pads {list(pads)}",
            f"a pool's pads must be smaller than its kernel; axis {i + 2} pads ({pads[i]}, {pads[i + n]}) "
            f"with kernel {kernel[i]}",
            f"Pad the input with a Pad node before the pool, or use pads below {kernel[i]}.",
        )


def _window(
    ctx: OpContext,
    x: tuple[Expr, ...],
    kernel: tuple[int, ...],
    *,
    pool: bool,
    ceil_mode: bool,
    dilations: tuple[int, ...],
) -> list[Expr]:
    n = len(kernel)
    strides = per_axis(ctx, "strides", n, 1)
    auto_pad = ctx.attr_str("auto_pad", "NOTSET")
    pads = _pads(ctx, n)
    ort = pool and ctx.semantics == "ort"  # (onnxruntime's convs follow the spec: only a pool asks)
    out: list[Expr] = []
    for i in range(n):
        in_, k, s, d = x[2 + i], kernel[i], strides[i], dilations[i]
        if k < 1 or s < 1 or d < 1:
            raise Invalid(f"kernel, stride and dilation must be >= 1 (got {k}, {s}, {d})")
        span = d * (k - 1) + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = ceildiv(in_, s)
            formula: str | Callable[[], str] = lambda in_=in_, s=s: f"ceil({in_} / {s})"
            if pool and ort:
                o, formula = _ort_same_pool(ctx, in_, k, s, d, span, ceil_mode, auto_pad, i, n)
        elif auto_pad == "VALID" and not (pool and ort):
            if ceil_mode and pool:
                o = ceildiv(in_ - span + 1, s)
                formula = lambda in_=in_, s=s, span=span: f"ceil(({in_} - {span} + 1) / {s})"
            else:
                o = floordiv(in_ - span, s) + 1
                formula = partial(window_formula, in_, 0, span, s)
        else:
            if auto_pad not in ("NOTSET", "VALID", ""):
                raise Invalid(f"unknown auto_pad {auto_pad!r}")
            pb, pe = (pads[i], pads[i + n]) if auto_pad != "VALID" else (0, 0)
            num = in_ + pb + pe - span
            if ceil_mode and pool:
                o = ceildiv(num, s) + 1
                if s + pe > span:  # only then can the last window start in the right padding
                    o = emin(o, floordiv(in_ + pb - 1, s) + 1)
                formula = partial(window_formula, in_, pb + pe, span, s, ceil=True)
            elif pool and ort:
                o = _trunc_div(num, s) + 1
                formula = lambda a=(in_, pb + pe, span, s): (
                    window_formula(*a) + "  (onnxruntime: trunc instead of floor)"
                )
            else:
                o = floordiv(num, s) + 1
                formula = partial(window_formula, in_, pb + pe, span, s)
        name = spatial_name(i, n)
        what = f"{name} (axis {i + 2})"
        ctx.require(
            ge(o, 1),
            "GC001",
            what,
            formula=formula,
            value=o,
            fix=(
                f"the {'window' if pool else 'kernel'} spans {span} (kernel {k}"
                + (f", dilation {d}" if d != 1 else "")
                + f"); the padded {name} must be at least {span}: pad the input, use SAME padding, "
                "or use a smaller kernel" + (" or dilation" if d != 1 else "")
            ),
        )
        out.append(o)
    ctx.dim_code = "GC001"
    return out


def _ort_same_pool(
    ctx: OpContext, in_: Expr, k: int, s: int, d: int, span: int, ceil_mode: bool, auto_pad: str, i: int, n: int
) -> tuple[Expr, Callable[[], str]]:
    """onnxruntime's SAME padding for pools (characterised against it over 4,560 configurations).

    The padding is sized from the *undilated* kernel, ``pad = (ceil(in/s) - 1)*s + k - in``; MaxPool
    without dilation (and without its Indices output) and AveragePool before opset 19 reject a
    negative pad; the output is ``trunc((in + pad - span)/s) + 1``, or in
    ceil mode ``ceil(...) + 1`` less one window if the last would start in the right padding.
    """
    c = ceildiv(in_, s)
    pad = (c - 1) * s + k - in_
    op = ctx.node.op_type
    wants_indices = len(ctx.node.outputs) > 1 and bool(ctx.node.outputs[1])
    row_major = ctx.attr_int("storage_order", 0) == 0
    include_pad = bool(ctx.attr_int("count_include_pad", 0))
    # which kernels check: MaxPool without dilation, Indices or column-major storage order (those
    # take the generic kernel, which accepts a negative pad); AveragePool before opset 19 unless in
    # ceil mode counting the pads (characterised against onnxruntime 1.32)
    undilated = all(v == 1 for v in per_axis(ctx, "dilations", n, 1))  # onnxruntime asks it of every axis
    checks = (op == "MaxPool" and undilated and not wants_indices and row_major) or (
        op == "AveragePool" and ctx.opset < 19 and not (ceil_mode and include_pad)
    )
    if checks:
        ctx.require(
            ge(pad),
            "GC010",
            f"{spatial_name(i, n)} (axis {i + 2}) SAME padding",
            formula=lambda: f"onnxruntime's SAME padding {pad} must not be negative",
            fix="use explicit pads, or a kernel at least as long as the stride",
        )
    num = in_ + pad - span
    if not ceil_mode:
        return _trunc_div(num, s) + 1, lambda: f"trunc(({num}) / {s}) + 1  (onnxruntime's SAME padding)"
    head = floordiv(pad, 2) if auto_pad == "SAME_UPPER" else pad - floordiv(pad, 2)
    o1 = ceildiv(num, s) + 1
    starts_in_pad = emin(1, emax(0, (o1 - 1) * s - in_ - head + 1))  # 1 when the last window starts in the pad
    return o1 - starts_in_pad, lambda: f"ceil(({num}) / {s}) + 1  (onnxruntime's SAME padding, ceil mode)"


@rule("Conv")
def conv(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    w = ctx.shape(1)
    n = _spatial(ctx, x)
    if len(w) != len(x):
        raise Invalid(f"weight rank {len(w)} differs from input rank {len(x)}")
    group = ctx.attr_int("group", 1)
    ks = ctx.attr_ints("kernel_shape")
    kernel: tuple[int, ...]
    if ks is not None:
        kernel = ks
    else:
        kc = [d.const_value() for d in w[2:]]
        if any(v is None for v in kc):
            from graphcheck.infer.registry import Unsupported

            raise Unsupported("the kernel size depends on a dynamic weight shape")
        kernel = tuple(v for v in kc if v is not None)
    if len(kernel) != n:
        raise Invalid(f"kernel_shape has {len(kernel)} values for {n} spatial axes")
    if not (x[1] == w[1] and group == 1):  # the common case needs no condition
        ctx.require(
            eq(x[1], w[1] * group),
            "GC010",
            "input channels (axis 1)",
            formula=lambda: f"{x[1]} must equal weight channels {w[1]} x group {group}",
            fix="feed the layer as many channels as its weights expect (channels-first, NCHW)",
        )
    if ctx.has(2):
        b = ctx.shape(2)
        if len(b) != 1:
            raise Invalid(f"bias must be 1-D, got rank {len(b)}")
        if b[0] != w[0]:
            ctx.require(
                eq(b[0], w[0]), "GC010", "bias size", formula=lambda: f"{b[0]} must equal output channels {w[0]}"
            )
    dil = per_axis(ctx, "dilations", n, 1)
    auto_pad = ctx.attr_str("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and any(d != 1 for d in dil):
        _refusal(
            ctx,
            f"auto_pad {auto_pad} with dilations {list(dil)}",
            f"'Dilation not supported for AutoPadType::{auto_pad}'",
            "Use explicit pads instead of auto_pad SAME.",
        )
    spatial = _window(ctx, x, kernel, pool=False, ceil_mode=False, dilations=dil)
    return [Fact((x[0], w[0], *spatial), ctx.fact(0).dtype)]


def _pool(ctx: OpContext, has_dilations: bool, has_ceil: bool) -> tuple[tuple[Expr, ...], Fact]:
    x = ctx.shape(0)
    n = _spatial(ctx, x)
    kernel = ctx.attr_ints("kernel_shape")
    if kernel is None:
        raise Invalid("kernel_shape is required")
    if len(kernel) != n:
        raise Invalid(f"kernel_shape has {len(kernel)} values for {n} spatial axes")
    dil = per_axis(ctx, "dilations", n, 1) if has_dilations else (1,) * n
    ceil_mode = bool(ctx.attr_int("ceil_mode", 0)) if has_ceil else False
    _pool_pads_refusal(ctx, kernel)
    spatial = _window(ctx, x, kernel, pool=True, ceil_mode=ceil_mode, dilations=dil)
    shape = (x[0], x[1], *spatial)
    return shape, Fact(shape, ctx.fact(0).dtype)


@rule("MaxPool", since=1)
def maxpool_1(ctx: OpContext) -> list[Fact]:
    shape, y = _pool(ctx, has_dilations=False, has_ceil=False)
    return [y, Fact(shape, INT64)]


@rule("MaxPool", since=10)
def maxpool_10(ctx: OpContext) -> list[Fact]:
    shape, y = _pool(ctx, has_dilations=True, has_ceil=True)
    return [y, Fact(shape, INT64)]


@rule("AveragePool", since=1)
def avgpool_1(ctx: OpContext) -> list[Fact]:
    return [_pool(ctx, has_dilations=False, has_ceil=False)[1]]


@rule("AveragePool", since=10)
def avgpool_10(ctx: OpContext) -> list[Fact]:
    return [_pool(ctx, has_dilations=False, has_ceil=True)[1]]


@rule("AveragePool", since=19)
def avgpool_19(ctx: OpContext) -> list[Fact]:
    return [_pool(ctx, has_dilations=True, has_ceil=True)[1]]


@rule("LpPool", since=1)
def lppool_1(ctx: OpContext) -> list[Fact]:
    return [_pool(ctx, has_dilations=False, has_ceil=False)[1]]


@rule("LpPool", since=18)
def lppool_18(ctx: OpContext) -> list[Fact]:
    return [_pool(ctx, has_dilations=True, has_ceil=True)[1]]


@rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    n = _spatial(ctx, x)
    return [Fact((x[0], x[1], *([const(1)] * n)), ctx.fact(0).dtype)]


@rule("ConvTranspose")
def conv_transpose(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    w = ctx.shape(1)
    n = _spatial(ctx, x)
    if len(w) != len(x):
        raise Invalid(f"weight rank {len(w)} differs from input rank {len(x)}")
    group = ctx.attr_int("group", 1)
    kernel = ctx.attr_ints("kernel_shape")
    if kernel is None:
        kc = [d.const_value() for d in w[2:]]
        if any(v is None for v in kc):
            from graphcheck.infer.registry import Unsupported

            raise Unsupported("the kernel size depends on a dynamic weight shape")
        kernel = tuple(v for v in kc if v is not None)
    if len(kernel) != n:
        raise Invalid(f"kernel_shape has {len(kernel)} values for {n} spatial axes")
    ctx.require(
        eq(x[1], w[0]),
        "GC010",
        "input channels (axis 1)",
        formula=f"{x[1]} must equal the weight's first dimension {w[0]}",
    )
    strides = per_axis(ctx, "strides", n, 1)
    dil = per_axis(ctx, "dilations", n, 1)
    out_pad = per_axis(ctx, "output_padding", n, 0)
    pads = _pads(ctx, n)
    too_big = [i for i in range(n) if out_pad[i] >= strides[i]]
    if too_big:
        i = too_big[0]
        _refusal(
            ctx,
            f"output_padding {list(out_pad)}",
            f"output_padding must be smaller than the stride; axis {i + 2} has {out_pad[i]} with stride {strides[i]}",
            "Use an output_padding below the stride (it only adds the last stride - 1 positions).",
        )
    auto_pad = ctx.attr_str("auto_pad", "NOTSET")
    output_shape = ctx.attr_ints("output_shape")
    if output_shape is not None:
        output_shape = output_shape[-n:]
        if len(output_shape) != n:
            raise Invalid(f"output_shape has {len(output_shape)} values for {n} spatial axes")
    spatial: list[Expr] = []
    for i in range(n):
        in_, k, s, d, op = x[2 + i], kernel[i], strides[i], dil[i], out_pad[i]
        span = d * (k - 1) + 1
        name = spatial_name(i, n)
        what = f"{name} (axis {i + 2})"
        if output_shape is not None:
            o = const(output_shape[i])
            # onnxruntime (the spec is silent): the requested size may exceed the unpadded
            # result by at most stride - 1, i.e. stride*in + dilation*(kernel-1) >= output_shape.
            ctx.require(
                ge(in_ * s + d * (k - 1), o),
                "GC001",
                what,
                formula=f"{s}*{in_} + {d * (k - 1)} must be >= output_shape {o}",
                value=None,
                fix=f"the input {name} is too short to produce output_shape {o}",
            )
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = in_ * s
            if op + span < s and ctx.semantics == "ort":
                # the spec's total padding s*(in - 1) + op + span - s*in is negative; onnxruntime
                # clamps it at 0, producing only what the window covers
                o = (in_ - 1) * s + op + span
        else:
            pb, pe = (0, 0) if auto_pad == "VALID" else (pads[i], pads[i + n])
            o = (in_ - 1) * s + op + span - pb - pe
            formula = f"{s}*({in_} - 1) + {op} + {span} - {pb + pe}"
            ctx.require(
                ge(o, 1),
                "GC001",
                what,
                formula=formula,
                value=o,
                fix=f"the pads ({pb}, {pe}) remove more than the transposed convolution produces; reduce pads",
            )
        spatial.append(o)
    ctx.dim_code = "GC001"
    return [Fact((x[0], w[1] * group, *spatial), ctx.fact(0).dtype)]


@rule("MaxUnpool")
def max_unpool(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    n = _spatial(ctx, x)
    if ctx.has(2):
        vals = ctx.ints(2, "output_shape")
        return [Fact(tuple(vals), ctx.fact(0).dtype)]
    kernel = ctx.attr_ints("kernel_shape")
    if kernel is None or len(kernel) != n:
        raise Invalid("kernel_shape is required, one value per spatial axis")
    strides = per_axis(ctx, "strides", n, 1)
    pads = _pads(ctx, n)
    spatial = [(x[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n] for i in range(n)]
    ctx.dim_code = "GC001"
    return [Fact((x[0], x[1], *spatial), ctx.fact(0).dtype)]
