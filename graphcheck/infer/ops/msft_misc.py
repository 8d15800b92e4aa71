"""onnxruntime's other contrib ops with a CPU kernel (domain ``com.microsoft``) whose shapes follow
from their inputs: fused and transposed products, NHWC pooling, and com.microsoft versions of ONNX
ops. Checked against onnxruntime 1.32 over grids of sizes (tests/infer/ops/test_msft_misc.py).

* **FusedGemm** (Gemm + activation, written by onnxruntime's GemmActivationFusion): Gemm's shapes.
* **TransposeMatMul**: ``numpy.matmul`` with A/B transposed on their last two axes (transA/transB).
* **NhwcMaxPool** (the NHWC transformer's uint8/int8 MaxPool): MaxPool's window formula on
  ``(N, H, W, C)``; onnxruntime's truncation under ``semantics="ort"``.
* **Pad**, **Range**, **Trilu**, **GatherND**, **GridSample** (com.microsoft versions that predate
  the ONNX ops): the ONNX rules (Pad 11, Range, Trilu, GatherND 11, GridSample 16).
* **ExpandDims**: inserts a size-1 axis at the (known) ``axis`` value, in ``[-r - 1, r]``.
* **Inverse**: square matrices ``(..., M, M)`` (onnxruntime does not check and reads out of bounds on
  others: some run, some crash the process; required under both semantics).
* **CDist**: ``(M, N)`` and ``(K, N)`` give ``(M, K)``.
* **ScaledSiLU**, **MurmurHash3**: the input's shape.
* **Unique** (com.microsoft, 1-D): ``uniques (U)``, ``idx (n)``, ``counts (U)`` with U the number of
  distinct values (data: GC104).
* **CropAndResize**: ``X (N, C, H, W)``, ``rois (R, 4)``, ``batch_indices (R)``, ``crop_size`` (2 known
  values) give ``(R, C, crop_h, crop_w)``.
* **NGramRepeatBlock**: scores ``(B, V)`` for input_ids ``(B, L)``: the scores' shape.
* **MaxpoolWithMask**: MaxPool's sizes; the mask has the input's spatial sizes.
* **MoE**: see its rule (the output has the input's shape; router and expert weights must agree).
* **UnfoldTensor** (torch's ``unfold``): axis ``dim`` of size d becomes ``floor((d - size) / step) + 1``
  windows (>= 1: GC001) and a last axis of ``size``.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import lazy, per_axis
from graphcheck.infer.ops._xutil import INT64, require_dims, require_eq
from graphcheck.infer.ops.conv import _pool, _window
from graphcheck.infer.ops.elementwise import trilu
from graphcheck.infer.ops.matmul import _gemm
from graphcheck.infer.ops.msft import fused_matmul
from graphcheck.infer.ops.resize import grid_sample, pad_11
from graphcheck.infer.ops.shape import range_op
from graphcheck.infer.ops.slicing import gather_nd
from graphcheck.infer.registry import Invalid, OpContext, norm_axis, rule
from graphcheck.symbolic.cond import ge
from graphcheck.symbolic.expr import const, floordiv

MS = "com.microsoft"


@rule("FusedGemm", domain=MS)
def fused_gemm(ctx: OpContext) -> list[Fact]:
    if not ctx.attr_str("activation", ""):
        raise Invalid("FusedGemm needs an activation (onnxruntime: 'unknown kernel type')")
    return _gemm(ctx, legacy=False, needs_c=False)


@rule("TransposeMatMul", domain=MS)
def transpose_matmul(ctx: OpContext) -> list[Fact]:
    return list(fused_matmul(ctx))


@rule("Pad", domain=MS)
def ms_pad(ctx: OpContext) -> list[Fact]:
    return list(pad_11(ctx))


@rule("Range", domain=MS)
def ms_range(ctx: OpContext) -> list[Fact]:
    return list(range_op(ctx))


@rule("Trilu", domain=MS)
def ms_trilu(ctx: OpContext) -> list[Fact]:
    return list(trilu(ctx))


@rule("GatherND", domain=MS)
def ms_gather_nd(ctx: OpContext) -> list[Fact]:
    return list(gather_nd(ctx))


@rule("GridSample", domain=MS)
def ms_grid_sample(ctx: OpContext) -> list[Fact]:
    if len(ctx.shape(0)) != 4:
        raise Invalid("com.microsoft GridSample takes 4-D inputs")
    return list(grid_sample(ctx))


@rule("NhwcMaxPool", domain=MS)
def nhwc_max_pool(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) < 3:
        raise Invalid(f"NhwcMaxPool needs rank >= 3 (N, spatial..., C), got {len(x)}")
    n = len(x) - 2
    kernel = ctx.attr_ints("kernel_shape")
    if kernel is None or len(kernel) != n:
        raise Invalid("NhwcMaxPool needs kernel_shape, one value per spatial axis")
    nchw = (x[0], x[-1], *x[1:-1])
    spatial = _window(
        ctx,
        nchw,
        kernel,
        pool=True,
        ceil_mode=bool(ctx.attr_int("ceil_mode", 0)),
        dilations=per_axis(ctx, "dilations", n, 1),
    )
    return [Fact((x[0], *spatial, x[-1]), ctx.fact(0).dtype)]


@rule("ExpandDims", domain=MS)
def expand_dims(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    vals = ctx.const_ints(1, "axis")
    if len(vals) != 1:
        raise Invalid("ExpandDims' axis holds one value")
    a = vals[0]
    if not -len(x) - 1 <= a <= len(x):
        raise Invalid(f"ExpandDims axis {a} is out of range for rank {len(x)}")
    a = a + len(x) + 1 if a < 0 else a
    return [Fact((*x[:a], const(1), *x[a:]), ctx.fact(0).dtype)]


@rule("Inverse", domain=MS)
def inverse(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) < 2:
        raise Invalid(f"Inverse needs rank >= 2, got {len(x)}")
    # onnxruntime does not check it and reads out of bounds on non-square matrices (it returns garbage for
    # some shapes and crashes on others): required under both semantics
    require_eq(ctx, x[-1], x[-2], "GC010", "square matrices (last two axes)", "Inverse takes square matrices")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("CDist", domain=MS)
def cdist(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    if len(a) != 2 or len(b) != 2:
        raise Invalid("CDist takes two 2-D inputs")
    require_eq(ctx, b[1], a[1], "GC005", "B's features (axis 1) vs A's", "both collections need the same features")
    return [Fact((a[0], b[0]), ctx.fact(0).dtype)]


@rule("ScaledSiLU", domain=MS)
def scaled_silu(ctx: OpContext) -> list[Fact]:
    return [Fact(ctx.shape(0), ctx.fact(0).dtype)]


@rule("MurmurHash3", domain=MS)
def murmur_hash3(ctx: OpContext) -> list[Fact]:
    return [Fact(ctx.shape(0), 12 if ctx.attr_int("positive", 1) else 6)]


@rule("Unique", domain=MS)
def ms_unique(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) != 1:
        raise Invalid(f"com.microsoft Unique takes a 1-D input, got rank {len(x)}")
    u = ctx.fresh("unique")
    ctx.note("GC104", "Unique: the output size is the number of distinct values (data-dependent)")
    return [Fact((u,), ctx.fact(0).dtype), Fact(x, INT64), Fact((u,), INT64)]


@rule("CropAndResize", domain=MS)
def crop_and_resize(ctx: OpContext) -> list[Fact]:
    x, rois, idx = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(x) != 4:
        raise Invalid(f"CropAndResize needs a 4-D X, got rank {len(x)}")
    if len(rois) != 2:
        raise Invalid(f"rois must be 2-D (num_rois, 4), got rank {len(rois)}")
    require_dims(ctx, "rois", rois, (None, const(4)), ("rois", "box"), fix="each roi is 4 coordinates")
    require_dims(ctx, "batch_indices", idx, (rois[0],), ("rois",), fix="one batch index per roi")
    crop = ctx.ints(3, "crop_size")
    if len(crop) != 2:
        raise Invalid("crop_size holds (height, width)")
    return [Fact((rois[0], x[1], crop[0], crop[1]), ctx.fact(0).dtype)]


@rule("NGramRepeatBlock", domain=MS)
def ngram_repeat_block(ctx: OpContext) -> list[Fact]:
    ids, scores = ctx.shape(0), ctx.shape(1)
    if len(ids) != 2 or len(scores) != 2:
        raise Invalid("NGramRepeatBlock takes 2-D input_ids (batch, length) and scores (batch, vocab)")
    require_eq(ctx, scores[0], ids[0], "GC010", "scores batch (axis 0)", "one row of scores per sequence")
    return [Fact(scores, ctx.fact(1).dtype)]


@rule("UnfoldTensor", domain=MS)
def unfold_tensor(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    a = norm_axis(ctx.attr_int("dim", -1), len(x), ctx.node)
    size, step = ctx.attr_int("size", 0), ctx.attr_int("step", 1)
    if size < 1 or step < 1:
        raise Invalid(f"UnfoldTensor needs size >= 1 and step >= 1, got {size} and {step}")
    n = floordiv(x[a] - size, step) + 1
    ctx.require(
        ge(n, 1),
        "GC001",
        f"windows along axis {a}",
        formula=lazy("floor(({} - {}) / {}) + 1", x[a], size, step),
        value=n,
        fix=f"the axis must hold at least one window of {size}",
    )
    return [Fact((*x[:a], n, *x[a + 1 :], const(size)), ctx.fact(0).dtype)]


@rule("MoE", domain=MS)
def moe(ctx: OpContext) -> list[Fact]:
    """Mixture of experts: input ``(tokens, H)`` or ``(B, S, H)``; ``router_probs (tokens, E)``;
    ``fc1 (E, f*I, H)`` (f = 2 for fused SwiGLU/GeGLU), ``fc2 (E, H, I)``, ``fc3 (E, I, H)``; biases
    ``(E, f*I)``, ``(E, H)``, ``(E, I)``; the output has the input's shape."""
    x = ctx.shape(0)
    if len(x) not in (2, 3):
        raise Invalid(f"MoE needs a 2-D or 3-D input, got rank {len(x)}")
    h = x[-1]
    tokens = x[0] if len(x) == 2 else x[0] * x[1]
    w1, w2 = ctx.shape(2), ctx.shape(4)
    if len(w1) != 3 or len(w2) != 3:
        raise Invalid("MoE's expert weights are 3-D (experts, out, in)")
    e, inter = w2[0], w2[2]
    fused = ctx.attr_str("activation_type", "relu") in ("swiglu", "geglu") and ctx.attr_int("swiglu_fusion", 0) != 0
    f1 = inter * 2 if fused else inter
    require_dims(ctx, "fc2_experts_weights", w2, (None, h, None), ("experts", "hidden size", "inter size"))
    require_dims(ctx, "fc1_experts_weights", w1, (e, f1, h), ("experts", "inter size", "hidden size"))
    require_dims(ctx, "router_probs", ctx.shape(1), (tokens, e), ("tokens", "experts"), fix="one row per token")
    for i, name, want in (
        (3, "fc1_experts_bias", (e, f1)),
        (5, "fc2_experts_bias", (e, h)),
        (7, "fc3_experts_bias", (e, inter)),
    ):
        if ctx.has(i):
            require_dims(ctx, name, ctx.shape(i), want, ("experts", "features"))
    if ctx.has(6):
        require_dims(ctx, "fc3_experts_weights", ctx.shape(6), (e, inter, h), ("experts", "inter size", "hidden size"))
    k = ctx.attr_int("k", 1)
    ev = e.const_value()
    if k < 1 or (ev is not None and k > ev):
        raise Invalid(f"MoE's k ({k}) must be between 1 and the number of experts")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("MaxpoolWithMask", domain=MS)
def maxpool_with_mask(ctx: OpContext) -> list[Fact]:
    """MaxPool's window formula (onnxruntime's truncation under ``semantics="ort"``); the mask has the
    input's rank and spatial sizes (onnxruntime checks only those)."""
    x, m = ctx.shape(0), ctx.shape(1)
    if len(m) != len(x):
        raise Invalid(f"the mask has rank {len(m)}, the input rank {len(x)}")
    for i in range(2, len(x)):
        require_eq(ctx, m[i], x[i], "GC010", f"mask spatial axis {i}", "the mask covers the input's spatial positions")
    return [_pool(ctx, has_dilations=False, has_ceil=False)[1]]
