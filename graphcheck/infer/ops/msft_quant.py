"""onnxruntime's quantized ops (domain ``com.microsoft``): what ``onnxruntime.quantization`` and the
LLM model builders emit.

Shapes and conditions follow the contrib docs and onnxruntime 1.32's CPU kernels, checked over grids
of sizes (tests/infer/ops/test_msft_quant.py). Scales and zero points are scalars (a one-element 1-D
tensor is taken too) unless said otherwise.

* **MatMulNBits** (4-bit LLM weights): A ``(..., K)`` times the logical ``(K, N)`` weight stored as
  ``B (N, ceil(K / block_size), block_size * bits / 8)`` bytes, ``scales (N, k_blocks)`` (or flat
  ``N * k_blocks``); Y ``(..., N)``. A's last axis must be the attribute K (GC005).
* **MatMulBnb4**: the same with ``transB`` (A ``(..., K)`` -> ``(..., N)``; ``transB=0``: A
  ``(..., N)`` -> ``(..., K)``).
* **GatherBlockQuantized**: Gather of a block-quantized table: ``data.shape[:axis] + indices.shape +
  data.shape[axis+1:]``; for uint8 data with ``bits < 8`` the last axis holds ``8 / bits`` values
  per byte. Out-of-range indices give zeros, not an error (no index condition).
* **MatMulIntegerToFloat**, **DynamicQuantizeMatMul**, **MatMulInteger16**: ``numpy.matmul``
  shapes (GC005 on the contracted axis); a 1-D bias has B's last size.
* **QGemm**: Gemm's ``(M, K) x (K, N)`` with transA/transB; C broadcasts to ``(M, N)``.
* **QLinearAdd**, **QLinearMul**: numpy broadcasting of A and B (GC003); **QLinearWhere**: of the
  condition, X and Y; **QLinearSigmoid**, **QLinearLeakyRelu**, **QLinearSoftmax**: the input's shape;
  **QLinearConcat**: Concat of the (tensor, scale, zero point) triples.
* **QLinearAveragePool**: AveragePool's window formula (``graphcheck.infer.ops.conv``; onnxruntime's
  truncation under ``semantics="ort"``), channels first (``channels_last=1`` is not followed);
  **QLinearGlobalAveragePool**: every spatial axis becomes 1 (``channels_last`` puts C last).
* **QuantizeLinear** / **DequantizeLinear** (com.microsoft): the input's shape; with ``axis`` the
  scale is 1-D of that axis's size.
* **QLinearConv** (com.microsoft, emitted by the NHWC transformer): QLinearConv's rule, channels
  last with ``channels_last=1``.
* **DynamicQuantizeLSTM**: LSTM's shapes (``graphcheck.infer.ops.rnn``) with W ``(nd, input, 4h)``
  and R ``(nd, h, 4h)`` stored transposed; scales and zero points ``(nd)`` or ``(nd, 4h)``.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import broadcast, lazy
from graphcheck.infer.ops._xutil import FLOAT, INT32, UINT8, int_attr_required, one_of, require_dims, require_eq
from graphcheck.infer.ops._xutil import scalar_like as _scalar_like
from graphcheck.infer.ops.conv import _pool
from graphcheck.infer.ops.matmul import matmul_shape
from graphcheck.infer.ops.quant import qlinear_conv
from graphcheck.infer.ops.rnn import _dims
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.cond import all_of, any_of, eq
from graphcheck.symbolic.expr import Expr, ceildiv, const

MS = "com.microsoft"
ONE = const(1)


def scalar_like(ctx: OpContext, *items: tuple[int, str]) -> None:
    for i, name in items:
        _scalar_like(ctx, i, name)


def _per_column(ctx: OpContext, i: int, n: Expr, what: str) -> None:
    """A scalar, or 1-D with one value per output column."""
    if not ctx.has(i):
        return
    s = ctx.shape(i)
    if len(s) > 1:
        raise Invalid(f"{what} must be a scalar or 1-D, got rank {len(s)}")
    if len(s) == 1:
        one_of(ctx, s[0], [ONE, n], "GC010", f"{what} size", "one value per tensor, or one per output column")


# ---------------------------------------------------------------------------------------------
# block-quantized weights


@rule("MatMulNBits", domain=MS)
def matmul_nbits(ctx: OpContext) -> list[Fact]:
    k = int_attr_required(ctx, "K")
    n = int_attr_required(ctx, "N")
    block = int_attr_required(ctx, "block_size")
    bits = ctx.attr_int("bits", 4)
    if k < 1 or n < 1 or block < 16 or block & (block - 1) or bits not in (2, 3, 4, 5, 6, 7, 8):
        raise Invalid(f"MatMulNBits: K={k}, N={n}, block_size={block} (a power of 2, >= 16), bits={bits}")
    if ctx.attr_int("weight_prepacked", 0):
        raise Unsupported("MatMulNBits with prepacked weights is not followed")
    a = ctx.shape(0)
    if not a:
        raise Invalid("MatMulNBits needs A of rank >= 1")
    require_eq(
        ctx, a[-1], const(k), "GC005", "A's last axis vs K",
        f"the quantized weight takes {k} input features: give A {k} on its last axis",
    )  # fmt: skip
    k_blocks = -(-k // block)
    require_dims(
        ctx, "B", ctx.shape(1), (const(n), const(k_blocks), const(block * bits // 8)),
        ("N", "k_blocks", "blob size"), fix="B is (N, ceil(K / block_size), block_size * bits / 8) bytes",
    )  # fmt: skip
    sc = ctx.shape(2)
    if len(sc) == 1:
        require_eq(ctx, sc[0], const(n * k_blocks), "GC010", "scales size", "one scale per block")
    else:
        require_dims(ctx, "scales", sc, (const(n), const(k_blocks)), ("N", "k_blocks"), fix="one scale per block")
    if ctx.has(5):
        require_dims(ctx, "bias", ctx.shape(5), (const(n),), ("N",), fix="one bias per output feature")
    return [Fact((*a[:-1], const(n)), ctx.fact(0).dtype)]


@rule("MatMulBnb4", domain=MS)
def matmul_bnb4(ctx: OpContext) -> list[Fact]:
    k = int_attr_required(ctx, "K")
    n = int_attr_required(ctx, "N")
    a = ctx.shape(0)
    if not a:
        raise Invalid("MatMulBnb4 needs A of rank >= 1")
    inner, outer = (k, n) if ctx.attr_int("transB", 1) else (n, k)
    require_eq(ctx, a[-1], const(inner), "GC005", "A's last axis", f"A's last axis must be {inner}")
    require_dims(ctx, "B", ctx.shape(1), (const((n * k + 1) // 2),), ("packed values",))
    return [Fact((*a[:-1], const(outer)), ctx.fact(0).dtype)]


@rule("GatherBlockQuantized", domain=MS)
def gather_block_quantized(ctx: OpContext) -> list[Fact]:
    data, idx = ctx.shape(0), ctx.shape(1)
    if not data:
        raise Invalid("GatherBlockQuantized needs data of rank >= 1")
    axis = norm_axis(ctx.attr_int("gather_axis", 0), len(data), ctx.node)
    qaxis = norm_axis(ctx.attr_int("quantize_axis", 1), len(data), ctx.node)
    logical = list(data)
    if ctx.fact(0).dtype == UINT8:
        bits = ctx.attr_int("bits", 4)
        if bits not in (2, 4, 8):
            raise Invalid(f"GatherBlockQuantized: bits must be 2, 4 or 8, got {bits}")
        logical[-1] = data[-1] * (8 // bits)
    out = (*logical[:axis], *idx, *logical[axis + 1 :])
    sc = ctx.shape(2)
    if len(sc) != len(data):
        raise Invalid(f"scales must have data's rank {len(data)}, got {len(sc)}")
    block = ctx.attr_int("block_size", 128)
    for i, (d, s) in enumerate(zip(logical, sc)):
        if i == qaxis:
            if block > 0:
                require_eq(
                    ctx, s, ceildiv(d, block), "GC010", f"scales axis {i} (blocks of {block})",
                    "one scale per block of the quantize axis",
                )  # fmt: skip
        else:
            require_eq(ctx, s, d, "GC010", f"scales axis {i}", "scales match data off the quantize axis")
    dtype = ctx.fact(2).dtype or FLOAT
    return [Fact(out, dtype)]


# ---------------------------------------------------------------------------------------------
# quantized matrix products


@rule("MatMulIntegerToFloat", domain=MS)
def matmul_integer_to_float(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    y = matmul_shape(ctx, a, b)
    n = b[-1] if len(b) > 1 else ONE
    _per_column(ctx, 3, n, "b_scale")
    _per_column(ctx, 5, n, "b_zero_point")
    if ctx.has(6):
        require_dims(ctx, "bias", ctx.shape(6), (n,), ("B's last axis",), fix="one bias per output column")
    return [Fact(y, ctx.fact(2).dtype or FLOAT)]


@rule("DynamicQuantizeMatMul", domain=MS)
def dynamic_quantize_matmul(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    y = matmul_shape(ctx, a, b)
    n = b[-1] if len(b) > 1 else ONE
    _per_column(ctx, 2, n, "b_scale")
    _per_column(ctx, 3, n, "b_zero_point")
    if ctx.has(4):
        require_dims(ctx, "bias", ctx.shape(4), (n,), ("B's last axis",), fix="one bias per output column")
    return [Fact(y, ctx.fact(0).dtype or FLOAT)]


@rule("MatMulInteger16", domain=MS)
def matmul_integer16(ctx: OpContext) -> list[Fact]:
    return [Fact(matmul_shape(ctx, ctx.shape(0), ctx.shape(1)), INT32)]


@rule("QGemm", domain=MS)
def qgemm(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(3)
    if len(a) != 2 or len(b) != 2:
        raise Invalid(f"QGemm needs 2-D A and B, got ranks {len(a)} and {len(b)}")
    ta, tb = ctx.attr_int("transA", 0), ctx.attr_int("transB", 0)
    m, ka = (a[1], a[0]) if ta else (a[0], a[1])
    kb, n = (b[1], b[0]) if tb else (b[0], b[1])
    require_eq(ctx, ka, kb, "GC005", "contracted size (A vs B)", "A's columns must match B's rows")
    scalar_like(ctx, (1, "a_scale"), (2, "a_zero_point"), (7, "y_scale"), (8, "y_zero_point"))
    _per_column(ctx, 4, n, "b_scale")
    _per_column(ctx, 5, n, "b_zero_point")
    if ctx.has(6):
        c = ctx.shape(6)
        if len(c) > 2:
            raise Invalid(f"QGemm's C has rank {len(c)}; it must broadcast to (M, N)")
        target = (m, n)[2 - len(c) :]
        ctx.require(
            all_of(any_of([eq(cd, td), eq(cd, 1)]) for cd, td in zip(c, target)),
            "GC003",
            "C broadcast to (M, N)",
            formula=lazy("C {} must broadcast to ({}, {})", tuple(c), m, n),
            fix="one value per output column (N), or the full (M, N)",
        )
    dtype = ctx.fact(8).dtype if ctx.has(8) and ctx.fact(8).dtype else FLOAT
    return [Fact((m, n), dtype)]


# ---------------------------------------------------------------------------------------------
# QLinear element-wise, softmax, concat


@rule("QLinearAdd", "QLinearMul", domain=MS)
def qlinear_binary(ctx: OpContext) -> list[Fact]:
    scalar_like(ctx, (1, "A_scale"), (2, "A_zero_point"), (4, "B_scale"), (5, "B_zero_point"))
    scalar_like(ctx, (6, "C_scale"), (7, "C_zero_point"))
    return [Fact(broadcast(ctx, [ctx.shape(0), ctx.shape(3)]), ctx.fact(0).dtype)]


@rule("QLinearSigmoid", "QLinearLeakyRelu", domain=MS)
def qlinear_unary(ctx: OpContext) -> list[Fact]:
    scalar_like(ctx, (1, "X_scale"), (2, "X_zero_point"), (3, "Y_scale"), (4, "Y_zero_point"))
    return [Fact(ctx.shape(0), ctx.fact(0).dtype)]


@rule("QLinearSoftmax", domain=MS)
def qlinear_softmax(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    scalar_like(ctx, (1, "X_scale"), (2, "x_zero_point"), (3, "y_scale"), (4, "y_zero_point"))
    return [Fact(x, ctx.fact(0).dtype)]


@rule("QLinearWhere", domain=MS)
def qlinear_where(ctx: OpContext) -> list[Fact]:
    scalar_like(ctx, (2, "x_scale"), (3, "x_zero_point"), (5, "y_scale"), (6, "y_zero_point"))
    scalar_like(ctx, (7, "z_scale"), (8, "z_zero_point"))
    return [Fact(broadcast(ctx, [ctx.shape(0), ctx.shape(1), ctx.shape(4)]), ctx.fact(1).dtype)]


@rule("QLinearConcat", domain=MS)
def qlinear_concat(ctx: OpContext) -> list[Fact]:
    n = len(ctx.node.inputs)
    if n < 5 or (n - 2) % 3:
        raise Invalid("QLinearConcat takes Y_scale, Y_zero_point, then (tensor, scale, zero point) triples")
    shapes = [ctx.shape(i) for i in range(2, n, 3)]
    r = len(shapes[0])
    if any(len(s) != r for s in shapes):
        raise Invalid("QLinearConcat's inputs must have the same rank")
    a = norm_axis(int_attr_required(ctx, "axis"), r, ctx.node)
    out: list[Expr] = []
    for j in range(r):
        if j == a:
            total = shapes[0][j]
            for s in shapes[1:]:
                total = total + s[j]
            out.append(total)
            continue
        for i, s in enumerate(shapes[1:], start=1):
            require_eq(
                ctx, s[j], shapes[0][j], "GC004", f"QLinearConcat input {i} axis {j}",
                f"the inputs must agree on every axis but {a}",
            )  # fmt: skip
        out.append(shapes[0][j])
    return [Fact(tuple(out), ctx.fact(1).dtype or UINT8)]


# ---------------------------------------------------------------------------------------------
# pooling, conv, (de)quantization


@rule("QLinearAveragePool", domain=MS)
def qlinear_average_pool(ctx: OpContext) -> list[Fact]:
    if ctx.attr_int("channels_last", 0):
        raise Unsupported("QLinearAveragePool with channels_last=1 is not followed")
    scalar_like(ctx, (1, "x_scale"), (2, "x_zero_point"), (3, "y_scale"), (4, "y_zero_point"))
    return [_pool(ctx, has_dilations=False, has_ceil=True)[1]]


@rule("QLinearGlobalAveragePool", domain=MS)
def qlinear_global_average_pool(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) < 3:
        raise Invalid(f"QLinearGlobalAveragePool needs rank >= 3, got {len(x)}")
    scalar_like(ctx, (1, "x_scale"), (2, "x_zero_point"), (3, "y_scale"), (4, "y_zero_point"))
    n = len(x) - 2
    if ctx.attr_int("channels_last", 0):
        return [Fact((x[0], *([ONE] * n), x[-1]), ctx.fact(0).dtype)]
    return [Fact((x[0], x[1], *([ONE] * n)), ctx.fact(0).dtype)]


@rule("QLinearConv", domain=MS)
def ms_qlinear_conv(ctx: OpContext) -> list[Fact]:
    if ctx.attr_int("channels_last", 0):
        raise Unsupported("com.microsoft QLinearConv with channels_last=1 is not followed")
    return list(qlinear_conv(ctx))


def _per_axis(ctx: OpContext, x: tuple[Expr, ...], i: int, what: str) -> None:
    if not ctx.has(i):
        return
    s = ctx.shape(i)
    if "axis" not in ctx.node.attrs or len(s) == 0:
        _scalar_like(ctx, i, what)
        return
    if len(s) != 1:
        raise Invalid(f"{what} must be a scalar or 1-D")
    a = norm_axis(ctx.attr_int("axis", 1), len(x), ctx.node)
    one_of(ctx, s[0], [ONE, x[a]], "GC010", f"{what} size vs axis {a}", "one value per index of the axis")


@rule("QuantizeLinear", domain=MS)
def ms_quantize_linear(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _per_axis(ctx, x, 1, "y_scale")
    _per_axis(ctx, x, 2, "y_zero_point")
    return [Fact(x, ctx.fact(2).dtype if ctx.has(2) and ctx.fact(2).dtype else UINT8)]


@rule("DequantizeLinear", domain=MS)
def ms_dequantize_linear(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _per_axis(ctx, x, 1, "x_scale")
    _per_axis(ctx, x, 2, "x_zero_point")
    return [Fact(x, ctx.fact(1).dtype or FLOAT)]


# ---------------------------------------------------------------------------------------------
# DynamicQuantizeLSTM


@rule("DynamicQuantizeLSTM", domain=MS)
def dynamic_quantize_lstm(ctx: OpContext) -> list[Fact]:
    x, w, r = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(x) != 3:
        raise Invalid(f"DynamicQuantizeLSTM needs a 3-D X, got rank {len(x)}")
    direction = ctx.attr_str("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise Invalid(f"unknown direction {direction!r}")
    nd = const(2 if direction == "bidirectional" else 1)
    seq, batch, inp = x
    hs = int_attr_required(ctx, "hidden_size")
    if hs < 1:
        raise Invalid(f"hidden_size must be >= 1, got {hs}")
    h = const(hs)
    _dims(ctx, "W", w, (nd, inp, h * 4), ("num_directions", "input_size", "4*hidden_size"))
    _dims(ctx, "R", r, (nd, h, h * 4), ("num_directions", "hidden_size", "4*hidden_size"))
    if ctx.has(3):
        _dims(ctx, "B", ctx.shape(3), (nd, h * 8), ("num_directions", "8*hidden_size"))
    if ctx.has(4):
        _dims(ctx, "sequence_lens", ctx.shape(4), (batch,), ("batch_size",))
    state = (nd, batch, h)
    labels = ("num_directions", "batch_size", "hidden_size")
    for i, name in ((5, "initial_h"), (6, "initial_c")):
        if ctx.has(i):
            _dims(ctx, name, ctx.shape(i), state, labels)
    if ctx.has(7):
        _dims(ctx, "P", ctx.shape(7), (nd, h * 3), ("num_directions", "3*hidden_size"))
    for i, name in ((8, "W_scale"), (9, "W_zero_point"), (10, "R_scale"), (11, "R_zero_point")):
        s = ctx.shape(i)
        if len(s) == 1:
            require_eq(ctx, s[0], nd, "GC010", f"{name} size", "one value per direction")
        else:
            _dims(ctx, name, s, (nd, h * 4), ("num_directions", "4*hidden_size"))
    dtype = ctx.fact(0).dtype
    return [Fact((seq, nd, batch, h), dtype), Fact(state, dtype), Fact(state, dtype)]
