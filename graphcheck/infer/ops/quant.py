"""Quantized and deformable convolutions, dynamic quantization, BitCast.

* ConvInteger / QLinearConv: Conv's output sizes (``graphcheck.infer.ops.conv._window``: explicit pads,
  SAME_UPPER/SAME_LOWER ``ceil(in/stride)``, VALID; GC001 when the window does not fit) and
  channel check ``C == W[1] * group`` (GC010); the weight's output channels are a multiple of
  group. Per-tensor parameters are scalars (a one-element 1-D tensor is accepted, as
  onnxruntime does); per-channel ones (``w_scale``, ``w_zero_point``) may be 1-D of size M; the
  bias is ``(M)``. ConvInteger's output is int32, QLinearConv's has y_zero_point's type.
  onnxruntime (1.32) deviation: its ConvInteger takes only a per-tensor w_zero_point
  (``semantics="ort"`` requires one element).
* DeformConv: the same window formula (explicit pads only); ``offset`` is
  ``(N, offset_group * prod(kernel) * n, o1, ..., on)``, ``mask``
  ``(N, offset_group * prod(kernel), o1, ..., on)`` with the output's spatial sizes (GC010);
  ``C`` is a multiple of ``offset_group``.
* DynamicQuantizeLinear: y has x's shape (uint8); y_scale and y_zero_point are scalars.
* BitCast: same shape; the two element types must have the same bit width.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import per_axis
from graphcheck.infer.ops._xutil import FLOAT, INT32, UINT8, divide, lazy, require_dims, scalar_like
from graphcheck.infer.ops.conv import _spatial, _window
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, rule
from graphcheck.symbolic.cond import FALSE, any_of, eq
from graphcheck.symbolic.expr import Expr, const, product

ONE = const(1)


def _kernel(ctx: OpContext, w: tuple[Expr, ...], n: int) -> tuple[int, ...]:
    ks = ctx.attr_ints("kernel_shape")
    if ks is None:
        vals = [d.const_value() for d in w[2:]]
        if any(v is None for v in vals):
            raise Unsupported("the kernel size depends on a dynamic weight shape")
        ks = tuple(v for v in vals if v is not None)
    if len(ks) != n:
        raise Invalid(f"kernel_shape has {len(ks)} values for {n} spatial axes")
    return ks


def _conv_like(ctx: OpContext, xi: int, wi: int) -> tuple[tuple[Expr, ...], tuple[Expr, ...], list[Expr]]:
    """Shared by ConvInteger/QLinearConv/DeformConv: (x, w, output spatial sizes)."""
    x, w = ctx.shape(xi), ctx.shape(wi)
    n = _spatial(ctx, x)
    if len(w) != len(x):
        raise Invalid(f"weight rank {len(w)} differs from input rank {len(x)}")
    group = ctx.attr_int("group", 1)
    if group < 1:
        raise Invalid(f"group must be >= 1, got {group}")
    kernel = _kernel(ctx, w, n)
    ctx.require(
        eq(x[1], w[1] * group),
        "GC010",
        "input channels (axis 1)",
        formula=lazy("{} must equal weight channels {} x group {}", x[1], w[1], group),
        fix="feed the layer as many channels as its weights expect (channels-first, NCHW)",
    )
    if group > 1:
        divide(
            ctx, w[0], group, "GC010", "weight output channels vs group", "output channels must be a multiple of group"
        )
    dil = per_axis(ctx, "dilations", n, 1)
    spatial = _window(ctx, x, kernel, pool=False, ceil_mode=False, dilations=dil)
    return x, w, spatial


def _per_channel(ctx: OpContext, i: int, m: Expr, what: str) -> None:
    """A scalar, or a 1-D tensor of one value per output channel (M)."""
    if not ctx.has(i):
        return
    s = ctx.shape(i)
    if len(s) > 1:
        raise Invalid(f"{what} must be a scalar or 1-D, got rank {len(s)}")
    if len(s) == 1:
        ctx.require(
            any_of([eq(s[0], 1), eq(s[0], m)]),
            "GC010",
            f"{what} size",
            formula=lazy("{} must be 1 or the output channels {}", s[0], m),
            fix="give one value per tensor, or one per output channel",
        )


@rule("ConvInteger", since=10)
def conv_integer(ctx: OpContext) -> list[Fact]:
    x, w, spatial = _conv_like(ctx, 0, 1)
    scalar_like(ctx, 2, "x_zero_point")
    if ctx.semantics == "ort":
        scalar_like(ctx, 3, "w_zero_point (onnxruntime: per-tensor only)")
    else:
        _per_channel(ctx, 3, w[0], "w_zero_point")
    return [Fact((x[0], w[0], *spatial), INT32)]


@rule("QLinearConv", since=10)
def qlinear_conv(ctx: OpContext) -> list[Fact]:
    x, w, spatial = _conv_like(ctx, 0, 3)
    for i, name in ((1, "x_scale"), (2, "x_zero_point"), (6, "y_scale"), (7, "y_zero_point")):
        scalar_like(ctx, i, name)
    _per_channel(ctx, 4, w[0], "w_scale")
    _per_channel(ctx, 5, w[0], "w_zero_point")
    if ctx.has(8):
        require_dims(ctx, "bias", ctx.shape(8), (w[0],), ("output channels",), fix="one bias per output channel")
    dtype = ctx.fact(7).dtype if ctx.has(7) and ctx.fact(7).dtype else ctx.fact(0).dtype
    return [Fact((x[0], w[0], *spatial), dtype)]


@rule("DeformConv", since=19)
def deform_conv(ctx: OpContext) -> list[Fact]:
    x, w, spatial = _conv_like(ctx, 0, 1)
    n = len(x) - 2
    og = ctx.attr_int("offset_group", 1)
    if og < 1:
        raise Invalid(f"offset_group must be >= 1, got {og}")
    if og > 1:
        divide(
            ctx,
            x[1],
            og,
            "GC010",
            "input channels vs offset_group",
            "input channels must be a multiple of offset_group",
        )
    kernel = _kernel(ctx, w, n)
    taps = og * product(const(k) for k in kernel).value
    labels = ("batch", "channels") + tuple(f"output spatial axis {i}" for i in range(n))
    fix = "offset and mask are laid out per output position: (N, offset_group * kernel taps [* n], output sizes)"
    require_dims(ctx, "offset", ctx.shape(2), (x[0], const(taps * n), *spatial), labels, fix=fix)
    if ctx.has(3):
        require_dims(ctx, "B", ctx.shape(3), (w[0],), ("output channels",), fix="one bias per output channel")
    if ctx.has(4):
        require_dims(ctx, "mask", ctx.shape(4), (x[0], const(taps), *spatial), labels, fix=fix)
    return [Fact((x[0], w[0], *spatial), ctx.fact(0).dtype)]


@rule("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    return [Fact(x, UINT8), Fact((), FLOAT), Fact((), UINT8)]


# bits per element of each TensorProto data type (string has none)
_BITS = {
    1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128,
    16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2,
}  # fmt: skip


@rule("BitCast", since=26)
def bitcast(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    to = ctx.attr("to")
    if not isinstance(to, int) or to not in _BITS:
        raise Invalid(f"BitCast needs a non-string element type 'to', got {to!r}")
    src = ctx.fact(0).dtype
    if src == 8:
        raise Invalid("BitCast does not take strings")
    if src and _BITS.get(src) != _BITS[to]:
        ctx.require(
            FALSE,
            "GC010",
            "element bit widths",
            formula=f"input type {src} has {_BITS.get(src)} bits, 'to' type {to} has {_BITS[to]}",
            fix="BitCast needs element types of the same bit width",
        )
    return [Fact(x, to)]
