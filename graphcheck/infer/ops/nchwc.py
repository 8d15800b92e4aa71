"""onnxruntime's NCHWc layout ops (domain ``com.microsoft.nchwc``): what offline optimization at
``ORT_ENABLE_ALL`` writes into a CNN (``SessionOptions.optimized_model_filepath``).

The NCHWc transformer reorders activations into blocks of ``b`` channels (MLAS's block size: 8 with
AVX2, 16 with AVX-512) and pads every channel count up to a multiple of ``b``: a blocked tensor is
``(N, ceil(C / b) * b, H, W)``, and the convolution weights are stored padded the same way (the
file is made for the block size of the machine that optimized it). Sizes follow the ops they
replace; checked against onnxruntime 1.32 (tests/infer/ops/test_nchwc.py):

* **ReorderInput**: NCHW -> blocked; C must be a multiple of 4; the output has ``ceil(C / b) * b``
  channels. Where the two block sizes give different counts (C % 16 in 1..8), the block size is
  not in the node and the output is not followed (GC102; GC110 for those sizes of a dynamic C).
  ``channels_last=1`` reads NHWC.
* **ReorderOutput** (``channels=c``): blocked -> NCHW with ``c`` channels; the input must have
  ``c`` rounded up to the block size (either block size's count is taken; the file's weights fix
  which).
* **Conv**: Conv's output sizes and conditions (``graphcheck.infer.ops.conv``: GC001 when the window
  does not fit); the input is blocked, or NCHW when it has fewer channels than a block; the optional
  4th input (a fused Add) has the output's shape.
* **MaxPool**, **AveragePool**: the ONNX pools' formulas (onnxruntime's truncation of a negative
  numerator under ``semantics="ort"``, as for its standard pools; a ceil-mode window that does not
  fit crashes onnxruntime's process, a failure either way). **GlobalAveragePool**,
  **GlobalMaxPool**: ``(N, C, 1, 1)``.
* **Upsample** (``scales`` attribute of integers, nearest or linear): ``(N, C, H * s_h, W * s_w)``.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import lazy
from graphcheck.infer.ops._xutil import divide, same_shape
from graphcheck.infer.ops.conv import _pool, conv
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, rule
from graphcheck.symbolic.cond import any_of, eq, ge
from graphcheck.symbolic.expr import Expr, ceildiv, const, mod

NCHWC = "com.microsoft.nchwc"
BLOCKS = (8, 16)  # MLAS's NCHWc block sizes (AVX2 / NEON: 8, AVX-512: 16)


def _rank4(ctx: OpContext, x: tuple[Expr, ...]) -> None:
    if len(x) != 4:
        raise Invalid(f"nchwc {ctx.node.op_type} needs a 4-D tensor, got rank {len(x)}")


def _round_up(c: int, b: int) -> int:
    return -(-c // b) * b


@rule("ReorderInput", domain=NCHWC)
def reorder_input(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _rank4(ctx, x)
    last = bool(ctx.attr_int("channels_last", 0))
    n, c = x[0], (x[3] if last else x[1])
    hw = (x[1], x[2]) if last else (x[2], x[3])
    divide(ctx, c, 4, "GC010", "channels (multiple of 4)", "NCHWc reorders channels in groups of 4")
    cv = c.const_value()
    if cv is None:
        # both block sizes pad alike exactly when C % 16 is 0 or more than 8: follow those sizes only
        ctx.covers(
            any_of([eq(mod(c, 16), 0), ge(mod(c, 16), 9)]),
            "ReorderInput's padded channel count",
            lazy("{} channels pad to a multiple of 8 or of 16 depending on the machine", c),
        )
        return [Fact((n, ceildiv(c, 16) * 16, *hw), ctx.fact(0).dtype)]
    counts = {_round_up(cv, b) for b in BLOCKS}
    if len(counts) != 1:
        raise Unsupported(
            f"ReorderInput: {cv} channels pad to {' or '.join(map(str, sorted(counts)))} depending on the machine's "
            "NCHWc block size (8 or 16), which the node does not say"
        )
    return [Fact((n, const(counts.pop()), *hw), ctx.fact(0).dtype)]


@rule("ReorderOutput", domain=NCHWC)
def reorder_output(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _rank4(ctx, x)
    ch = ctx.attr_int("channels", 0)
    if ch < 1:
        raise Invalid(f"ReorderOutput needs channels >= 1, got {ch}")
    padded = sorted({_round_up(ch, b) for b in BLOCKS})
    ctx.require(
        any_of([eq(x[1], p) for p in padded]),
        "GC010",
        "blocked channels vs channels",
        formula=lazy(
            "{} must be {} ({} channels rounded up to the block size)", x[1], " or ".join(map(str, padded)), ch
        ),
        fix="the blocked tensor holds the channels rounded up to the NCHWc block",
    )
    if ctx.attr_int("channels_last", 0):
        return [Fact((x[0], x[2], x[3], const(ch)), ctx.fact(0).dtype)]
    return [Fact((x[0], const(ch), x[2], x[3]), ctx.fact(0).dtype)]


@rule("Conv", domain=NCHWC)
def nchwc_conv(ctx: OpContext) -> list[Fact]:
    _rank4(ctx, ctx.shape(0))
    (y,) = conv(ctx)
    if ctx.has(3):
        assert y.shape is not None
        same_shape(ctx, y.shape, ctx.shape(3), "Sum (the fused Add's other input)")
    return [y]


@rule("MaxPool", "AveragePool", domain=NCHWC)
def nchwc_pool(ctx: OpContext) -> list[Fact]:
    _rank4(ctx, ctx.shape(0))
    return [_pool(ctx, has_dilations=ctx.node.op_type == "MaxPool", has_ceil=True)[1]]


@rule("GlobalAveragePool", "GlobalMaxPool", domain=NCHWC)
def nchwc_global_pool(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _rank4(ctx, x)
    return [Fact((x[0], x[1], const(1), const(1)), ctx.fact(0).dtype)]


@rule("Upsample", domain=NCHWC)
def nchwc_upsample(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _rank4(ctx, x)
    scales = ctx.attr_ints("scales")
    if scales is None or len(scales) != 4 or scales[0] != 1 or scales[1] != 1 or min(scales) < 1:
        raise Invalid(f"nchwc Upsample needs integer scales (1, 1, s_h, s_w), got {scales}")
    return [Fact((x[0], x[1], x[2] * scales[2], x[3] * scales[3]), ctx.fact(0).dtype)]
