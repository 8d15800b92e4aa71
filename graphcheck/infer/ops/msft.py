"""onnxruntime contrib ops common in onnxruntime-optimized models (domain ``com.microsoft``, plus
``SimplifiedLayerNormalization``, which onnxruntime registers in the default domain).

These ops have no ONNX spec: the shapes and conditions follow onnxruntime's contrib operator docs
and were checked against onnxruntime (1.32) with tests/ortprobe.py over grids of sizes
(tests/ops/test_msft.py). One deviation from its own docs: onnxruntime does not check
SkipLayerNormalization's skip batch size (a 3-D skip of any batch runs), which ``semantics="ort"``
reproduces.

* FusedConv: Conv's output sizes and conditions (``graphcheck.infer.ops.conv``); the optional residual
  ``Z`` must have the output's shape (GC010).
* FusedMatMul: ``numpy.matmul`` of A and B, each optionally transposed on its last two axes
  (``transA``/``transB``; a 1-D operand is not transposed); the batch-transposing forms
  (``transBatchA``/``transBatchB``) are not followed (GC102).
* Gelu, QuickGelu: element-wise. FastGelu's optional bias and BiasGelu's bias are 1-D with the
  input's last size (GC010).
* SkipLayerNormalization: input ``(B, S, H)`` (or ``(N, H)``), skip of the same shape, or
  ``(1, S, H)`` / ``(S, H)`` for a 3-D input; gamma, beta and bias ``(H)``; output and
  input_skip_bias_sum have the input's shape. SkipSimplifiedLayerNormalization likewise without beta.
* SimplifiedLayerNormalization: Y has X's shape; the scale broadcasts to X (right-aligned, each
  size equal or 1), as onnxruntime accepts.

BiasAdd (and the other CUDA-only contrib ops) are left out: onnxruntime's CPU build does not run them.

The training-only statistics outputs (mean, inv_std_var) are not modelled: when a model uses them,
the rule notes it (GC102) and leaves them unknown.
"""

from __future__ import annotations

from graphcheck.infer.facts import UNKNOWN, Fact
from graphcheck.infer.ops._xutil import one_of, require_dims, same_shape
from graphcheck.infer.ops.conv import conv
from graphcheck.infer.ops.elementwise import unidirectional
from graphcheck.infer.ops.matmul import matmul_shape
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.expr import Expr, const

MS = "com.microsoft"
ONE = const(1)


def _unused_stats(ctx: OpContext, outputs: tuple[int, ...], what: str) -> None:
    used = [i for i in outputs if i < len(ctx.node.outputs) and ctx.node.outputs[i]]
    if used:
        ctx.note("GC102", f"{ctx.node.op_type}: the shape of its {what} output is not modelled")


@rule("FusedConv", domain=MS)
def fused_conv(ctx: OpContext) -> list[Fact]:
    (y,) = conv(ctx)
    if ctx.has(3):
        z = ctx.shape(3)
        assert y.shape is not None
        same_shape(ctx, y.shape, z, "Z (the residual added to the output)")
    return [y]


def _trans(s: tuple[Expr, ...]) -> tuple[Expr, ...]:
    return s if len(s) < 2 else (*s[:-2], s[-1], s[-2])


@rule("FusedMatMul", domain=MS)
def fused_matmul(ctx: OpContext) -> list[Fact]:
    if ctx.attr_int("transBatchA", 0) or ctx.attr_int("transBatchB", 0):
        raise Unsupported("FusedMatMul with transBatchA/transBatchB is not followed")
    a, b = ctx.shape(0), ctx.shape(1)
    if ctx.attr_int("transA", 0):
        a = _trans(a)
    if ctx.attr_int("transB", 0):
        b = _trans(b)
    return [Fact(matmul_shape(ctx, a, b), ctx.fact(0).dtype)]


@rule("Gelu", "QuickGelu", domain=MS)
def gelu(ctx: OpContext) -> list[Fact]:
    return [Fact(ctx.shape(0), ctx.fact(0).dtype)]


def _bias_last(ctx: OpContext, i: int, x: tuple[Expr, ...], name: str) -> None:
    if not x:
        raise Invalid(f"{ctx.node.op_type} needs an input of rank >= 1")
    require_dims(
        ctx, name, ctx.shape(i), (x[-1],), ("hidden size",), fix=f"{name} has one value per input channel (last axis)"
    )


@rule("FastGelu", domain=MS)
def fast_gelu(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if ctx.has(1):
        _bias_last(ctx, 1, x, "bias")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("BiasGelu", domain=MS)
def bias_gelu(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _bias_last(ctx, 1, x, "bias B")
    return [Fact(x, ctx.fact(0).dtype)]


def _skip_norm(ctx: OpContext, params: tuple[tuple[int, str], ...]) -> list[Fact]:
    x = ctx.shape(0)
    skip = ctx.shape(1)
    if len(x) not in (2, 3):
        raise Invalid(f"{ctx.node.op_type} needs a 2-D or 3-D input, got rank {len(x)}")
    h = x[-1]
    if len(x) == 3 and len(skip) == 2:
        require_dims(ctx, "skip", skip, x[1:], ("sequence", "hidden size"))
    elif len(x) == 3 and len(skip) == 3:
        if ctx.semantics != "ort":  # onnxruntime does not check the skip's batch size
            one_of(ctx, skip[0], [x[0], ONE], "GC010", "skip batch (axis 0)", "the skip's batch is the input's, or 1")
        require_dims(ctx, "skip", skip, (None, *x[1:]), ("batch", "sequence", "hidden size"))
    else:
        require_dims(ctx, "skip", skip, x, ("batch", "sequence", "hidden size")[-len(x) :])
    for i, name in params:
        if ctx.has(i):
            require_dims(ctx, name, ctx.shape(i), (h,), ("hidden size",), fix=f"{name} has one value per hidden unit")
    _unused_stats(ctx, (1, 2), "mean/inv_std_var")
    dtype = ctx.fact(0).dtype
    return [Fact(x, dtype), UNKNOWN, UNKNOWN, Fact(x, dtype)]


@rule("SkipLayerNormalization", domain=MS)
def skip_layer_norm(ctx: OpContext) -> list[Fact]:
    return _skip_norm(ctx, ((2, "gamma"), (3, "beta"), (4, "bias")))


@rule("SkipSimplifiedLayerNormalization", domain=MS)
def skip_simplified_layer_norm(ctx: OpContext) -> list[Fact]:
    return _skip_norm(ctx, ((2, "gamma"), (3, "bias")))


@rule("SimplifiedLayerNormalization", domain="")
@rule("SimplifiedLayerNormalization", domain=MS)
def simplified_layer_norm(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    unidirectional(ctx, x, ctx.shape(1), "scale", code="GC010")
    _unused_stats(ctx, (1,), "inv_std_var")
    return [Fact(x, ctx.fact(0).dtype), UNKNOWN]
