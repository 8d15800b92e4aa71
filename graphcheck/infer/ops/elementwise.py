"""Element-wise ops: unary same-shape ops, casts, quantization, and the broadcasting binary/variadic ops.

Shapes: a unary op keeps its input's shape; binary and variadic ops broadcast numpy-style
(opset >= 7; Max/Min/Mean/Sum from opset 8) with a GC003 condition per axis where sizes may
differ; before that the legacy ``broadcast``/``axis`` attributes align B inside A.

Values: exporters compute sizes with ``Shape -> Gather -> Add/Mul/Div -> Concat -> Reshape``,
so when the inputs carry known values (small constant-shaped tensors) the output value is
computed exactly (:mod:`graphcheck.infer.ops._values`): integer ``Div`` truncates toward zero,
``Mod`` with ``fmod=0`` takes the divisor's sign, comparisons give 0/1 only when decidable for
every size, float results are kept only when the element type holds them exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from fractions import Fraction
from math import isqrt

from graphcheck.infer.facts import Fact, Val
from graphcheck.infer.ops import _floats as F
from graphcheck.infer.ops import _values as V
from graphcheck.infer.ops._common import broadcast, lazy
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.cond import FALSE, TRUE, Cond, all_of, any_of, eq, ge, negate
from graphcheck.symbolic.expr import Expr, ceildiv, const, emax
from graphcheck.symbolic.floats import FloatFormat, FloatRange, FloatSize, sqrt_bounds

ONE = const(1)
BOOL = V.BOOL
INT64 = V.INT64
UINT8 = V.UINT8

# -- helpers shared with the reduce/normalization family -------------------------------------------


def unidirectional(
    ctx: OpContext, target: tuple[Expr, ...], shape: tuple[Expr, ...], what: str, code: str = "GC003"
) -> None:
    """Require ``shape`` to broadcast to ``target`` without changing it (PRelu slope, LayerNorm scale)."""
    if len(shape) > len(target):
        raise Invalid(f"{what} has rank {len(shape)}, more than the rank {len(target)} it broadcasts to")
    off = len(target) - len(shape)
    for i, d in enumerate(shape):
        t = target[off + i]
        if d == t or d == 1:
            continue
        axis = off + i
        ctx.require(
            any_of([eq(d, t), eq(d, 1)]),
            code,
            f"{what} axis {i} against input axis {axis}",
            formula=lazy("{} must equal {} or be 1", d, t),
            fix=f"give {what} the input's size (or 1) on this axis",
        )


def same_shapes(ctx: OpContext, shapes: Sequence[tuple[Expr, ...]], code: str = "GC003") -> tuple[Expr, ...]:
    """Inputs that must have identical shapes (no broadcasting)."""
    first = shapes[0]
    for j, s in enumerate(shapes[1:], start=1):
        if len(s) != len(first):
            raise Invalid(f"input {j} has rank {len(s)}, input 0 has rank {len(first)} (no broadcasting at this opset)")
        for axis, (a, b) in enumerate(zip(first, s)):
            if a != b:
                ctx.require(
                    eq(a, b),
                    code,
                    f"input {j} axis {axis} (no broadcasting at this opset)",
                    formula=lazy("{} must equal {}", b, a),
                    fix="give every operand the same shape, or raise the opset to 8 for numpy broadcasting",
                )
    return first


# -- unary ops without value propagation -------------------------------------------------------------

_PLAIN_UNARY = (
    "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Celu", "Cos", "Cosh", "Elu", "Erf", "Exp", "Gelu",
    "HardSigmoid", "HardSwish", "LeakyRelu", "Log", "Mish", "Selu", "Shrink", "Sigmoid", "Sin", "Sinh",
    "Softplus", "Softsign", "Tan", "Tanh", "ThresholdedRelu", "Swish",
)  # fmt: skip


@rule(*_PLAIN_UNARY)
def unary(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    return [Fact(x, ctx.fact(0).dtype)]


@rule("IsInf", "IsNaN")
def is_special(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    # constants with inf/nan carry no value, so a known value is all finite numbers
    value = None if f.value is None else tuple(V.ZERO for _ in f.value)
    return [Fact(x, BOOL, value)]


@rule("Identity")
def identity(ctx: OpContext) -> list[Fact]:
    return [ctx.fact(0)]


# -- unary ops with exact values ----------------------------------------------------------------------

FloatVal = (FloatSize, FloatRange)


def _neg(v: Val, fmt: FloatFormat | None) -> Val | None:
    if isinstance(v, FloatVal):
        return F.negate(v)
    return -v


def _abs(v: Val, fmt: FloatFormat | None) -> Val | None:
    if isinstance(v, Fraction):
        return abs(v)
    if isinstance(v, FloatVal):
        s = F.sign_of(v)
        return v if s else F.negate(v) if s is False else None
    s = V.sign_ge0(v)
    return v if s else -v if s is False else emax(v, -v)


def _relu(v: Val, fmt: FloatFormat | None) -> Val | None:
    if isinstance(v, Fraction):
        return max(v, Fraction(0))
    if isinstance(v, FloatVal):
        s = F.sign_of(v)
        return v if s else Fraction(0) if s is False else None
    s = V.sign_ge0(v)
    return v if s else V.ZERO if s is False else emax(v, 0)


def _rounding(mode: str) -> Callable[[Val, FloatFormat | None], Val | None]:
    def fn(v: Val, fmt: FloatFormat | None) -> Val | None:
        if isinstance(v, Expr):
            return v
        if isinstance(v, FloatVal):
            return F.rounded(v, mode)
        if mode == "floor":
            return Fraction(v.numerator // v.denominator)
        if mode == "ceil":
            return Fraction(-(-v.numerator // v.denominator))
        return Fraction(round(v))  # ties to even, as ONNX Round

    return fn


def _sign(v: Val, fmt: FloatFormat | None) -> Val | None:
    if isinstance(v, Fraction):
        return Fraction((v > 0) - (v < 0))
    if isinstance(v, FloatVal):
        eq0, gt0 = F.compare(v, Fraction(0))
        if eq0 is None or gt0 is None:
            return None
        return Fraction(0) if eq0 else Fraction(1) if gt0 else Fraction(-1)
    if v == 0:
        return V.ZERO
    if V.sign_ge0(v - 1):
        return V.ONE
    if V.sign_ge0(-v - 1):
        return const(-1)
    return None


def _reciprocal(v: Val, fmt: FloatFormat | None) -> Val | None:
    f = V.as_frac(v)
    if f is None or f == 0:
        return None
    if fmt is None:
        return 1 / f
    r = fmt.round(1 / f)  # a division, correctly rounded
    return r if r is not None and (r == 1 / f or fmt.single_rounding) else None


def _sqrt(v: Val, fmt: FloatFormat | None) -> Val | None:
    f = V.as_frac(v)
    if f is None or f < 0:
        return None
    return _sqrt_of(f, fmt)


@functools.lru_cache(maxsize=1024)
def _sqrt_of(f: Fraction, fmt: FloatFormat | None) -> Val | None:
    """``sqrt`` of a constant, as the runtime computes it (remembered: a transformer's attention
    scale is the same root in every layer)."""
    if fmt is None:
        n, d = isqrt(f.numerator), isqrt(f.denominator)
        return Fraction(n, d) if n * n == f.numerator and d * d == f.denominator else None
    root = sqrt_bounds(f, fmt)
    if root is None or isinstance(root, Fraction):
        return root
    if not fmt.single_rounding:
        return None
    lo, hi = root  # IEEE sqrt is correctly rounded: the nearer of the two (by squares, exactly)
    mid = (lo + hi) / 2
    if mid * mid == f:
        return fmt.round(mid)
    return hi if mid * mid < f else lo


def _not(v: Val, fmt: FloatFormat | None) -> Val | None:
    t = V.truth(v)
    return V.bool_val(None if t is None else not t)


_UNARY_VALUE: dict[str, Callable[[Val, FloatFormat | None], Val | None]] = {
    "Neg": _neg, "Abs": _abs, "Relu": _relu, "Floor": _rounding("floor"), "Ceil": _rounding("ceil"),
    "Round": _rounding("round"), "Sign": _sign, "Reciprocal": _reciprocal, "Sqrt": _sqrt, "Not": _not,
}  # fmt: skip


@rule(*_UNARY_VALUE)
def unary_value(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    fn = _UNARY_VALUE[ctx.node.op_type]
    dtype = BOOL if ctx.node.op_type == "Not" else f.dtype
    fmt = V.FORMATS.get(dtype)
    value = V.map_values(f, lambda v: V.fit(fn(v, fmt), dtype))
    truth = negate(f.truth) if value is None and f.truth is not None and ctx.node.op_type == "Not" else None
    return [Fact(x, dtype, value, truth=truth)]


@rule("BitwiseNot")
def bitwise_not(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    rng = V.INT_RANGES.get(f.dtype)

    def fn(v: Val) -> Val | None:
        c = V.as_frac(v)
        if rng is None or c is None or c.denominator != 1:
            return None
        return const(~int(c) if rng[0] < 0 else rng[1] - int(c))

    return [Fact(x, f.dtype, V.map_values(f, fn))]


@rule("Clip", since=1)
def clip_1(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    lo = ctx.attr("min")
    hi = ctx.attr("max")
    bounds = [None if b is None else Fraction(b) for b in (lo, hi)]
    return [Fact(x, f.dtype, _clip_values(f, bounds[0], bounds[1]))]


def _clip_values(f: Fact, lo: Val | None, hi: Val | None) -> tuple[Val, ...] | None:
    def fn(v: Val) -> Val | None:
        r: Val | None = v
        if lo is not None and r is not None:
            r = V.vmax(r, lo)
        if hi is not None and r is not None:
            r = V.vmin(r, hi)  # min(max(x, lo), hi): hi wins when lo > hi, as the spec says
        return V.fit(r, f.dtype)

    return V.map_values(f, fn)


@rule("Clip", since=11)
def clip_11(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    bounds: list[Val | None] = []
    known = True
    for i, name in ((1, "min"), (2, "max")):
        if not ctx.has(i):
            bounds.append(None)
            continue
        b = ctx.fact(i)
        if b.shape is not None:
            if len(b.shape) > 1:
                raise Invalid(f"Clip's {name} must be a scalar, got rank {len(b.shape)}")
            if len(b.shape) == 1:
                ctx.require(
                    eq(b.shape[0], 1),
                    "GC010",
                    f"Clip {name} size",
                    formula=lazy("{} must be 1 ({} is a scalar)", b.shape[0], name),
                    fix=f"pass {name} as a scalar",
                )
        if b.value is not None and len(b.value) == 1:
            bounds.append(b.value[0])
        else:
            known = False
            bounds.append(None)
    value = _clip_values(f, bounds[0], bounds[1]) if known else None
    return [Fact(x, f.dtype, value)]


@rule("Trilu")
def trilu(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) < 2:
        raise Invalid(f"Trilu needs an input of rank >= 2, got rank {len(x)}")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("Dropout")
def dropout(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    mask_type = BOOL if ctx.opset >= 10 else f.dtype
    if ctx.opset >= 12:
        inference = True
        if ctx.has(2):
            t = ctx.fact(2).value
            inference = t is not None and len(t) == 1 and V.truth(t[0]) is False
    elif ctx.opset >= 7:
        inference = True
    else:
        inference = bool(ctx.attr_int("is_test", 0))
    value = f.value if inference else None
    return [Fact(x, f.dtype, value), Fact(x, mask_type)]


# -- casts -------------------------------------------------------------------------------------------


_NARROW_FLOATS = frozenset({V.FLOAT16, V.BFLOAT16})  # runtimes round to these in more than one step


def _cast_value(v: Val, src: int, dst: int, covers: list[Cond]) -> Val | None:
    """One element converted exactly, or None (rounding, wrapping, or a format we do not model). A
    float computed from sizes turned into an integer appends where that integer is proven to
    ``covers``."""
    dk = V.kind(dst)
    if dst == BOOL:
        return V.bool_val(V.truth(v))
    if isinstance(v, FloatVal):
        if dk == "float":
            return F.recast(v, V.FORMATS[dst])
        got = F.truncated(v) if dk == "int" else None
        if got is None:
            return None
        covers.append(got[1])
        return V.fit_int(got[0], dst)
    if dk == "int":
        e = V.as_int_expr(v)
        if e is None:
            if isinstance(v, Fraction):  # float -> int truncates toward zero
                e = const(V.frac_trunc(v))
            else:
                return None
        if e.is_const and V.kind(src) == "int":
            lo, hi = V.INT_RANGES[dst]
            span = hi - lo + 1
            return const((e.value - lo) % span + lo)  # two's-complement wrap
        return V.fit_int(e, dst)
    if dk == "float":
        if isinstance(v, Expr):
            if v.is_const:
                r = V.round_float(Fraction(v.value), dst)
                if r is None or (r != v.value and dst in _NARROW_FLOATS):
                    return None
                return v if r == v.value else r
            return F.from_int(v, V.FORMATS[dst])  # fl(v): exact while |v| <= 2**p
        r = V.round_float(v, dst)
        return None if r is None or (r != v and dst in _NARROW_FLOATS) else r
    return None


def _cast(ctx: OpContext, dst: int) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    src = f.dtype
    value = None
    covers: list[Cond] = []
    if f.value is not None and (V.kind(src) or all(isinstance(v, Expr) for v in f.value)):
        value = V.map_values(f, lambda v: _cast_value(v, src, dst, covers))
    if value is not None and covers:
        fmt = next(v.fmt for v in f.value or () if isinstance(v, FloatVal))
        for where in dict.fromkeys(F.conj([c]) for c in covers):  # one per element's condition, in order
            if not ctx.always(where):
                ctx.covers(
                    where,
                    f"{fmt.name} arithmetic on sizes",
                    formula=lazy("the integer is proven exact where {} ({} rounding; unknown beyond)", where, fmt.name),
                )
    truth = None
    if value is None and dst == BOOL and _one_element(x):  # a condition on the sizes stays one
        truth = element_truth(f)
    return [Fact(x, dst, value, truth=truth)]


@rule("Cast")
def cast(ctx: OpContext) -> list[Fact]:
    to = ctx.attr("to")
    if isinstance(to, str):  # opset 1 spelled the type out
        dst = V.DTYPE_NAMES.get(to.upper())
        if dst is None:
            raise Invalid(f"Cast to unknown type {to!r}")
    elif isinstance(to, int):
        dst = to
    else:
        raise Invalid("Cast needs the 'to' attribute")
    return _cast(ctx, dst)


@rule("CastLike")
def cast_like(ctx: OpContext) -> list[Fact]:
    return _cast(ctx, ctx.fact(1).dtype)


# -- quantization ---------------------------------------------------------------------------------------


def _check_scale(ctx: OpContext, x: tuple[Expr, ...], scale_name: str) -> None:
    """Per-tensor, per-axis (opset >= 13) or blocked (opset >= 21) scale and zero point shapes."""
    s = ctx.fact(1).shape
    if s is None:
        return
    block = ctx.attr_int("block_size", 0) if ctx.opset >= 21 else 0
    if block < 0:
        raise Invalid(f"block_size must be positive, got {block}")
    if len(s) == 0 or (len(s) == 1 and s[0] == 1 and not block):
        pass  # per-tensor (a 1-element 1-D scale is a scalar to onnxruntime)
    elif len(s) == 1 and not block:
        if ctx.opset < 13:
            ctx.require(
                eq(s[0], 1),
                "GC010",
                f"{scale_name} size",
                formula=lambda: f"{s[0]} must be 1 (per-axis scales need opset 13)",
                fix=f"use a scalar {scale_name}",
            )
        else:
            axis = norm_axis(ctx.attr_int("axis", 1), len(x), ctx.node)
            ctx.require(
                eq(s[0], x[axis]),
                "GC010",
                f"per-axis {scale_name} size",
                formula=lambda: f"{s[0]} must equal input axis {axis} size {x[axis]}",
                fix=f"give {scale_name} one entry per element of axis {axis}",
            )
    elif block and len(s) == len(x):
        axis = norm_axis(ctx.attr_int("axis", 1), len(x), ctx.node)
        for i, (d, xd) in enumerate(zip(s, x)):
            want = ceildiv(xd, block) if i == axis else xd
            ctx.require(
                eq(d, want),
                "GC010",
                f"blocked {scale_name} axis {i}",
                formula=(
                    lazy("{} must equal ceil({} / {}) = {}", d, xd, block, want)
                    if i == axis
                    else lazy("{} must equal {}", d, xd)
                ),
                fix=(
                    f"the blocked axis needs ceil(size / {block}) scales"
                    if i == axis
                    else f"{scale_name} must match the input on axis {i}"
                ),
            )
    else:
        raise Invalid(
            f"{scale_name} of rank {len(s)} fits no quantization granularity for an input of rank {len(x)}"
            + (f" (block_size {block})" if block else "")
        )
    if ctx.has(2):
        z = ctx.fact(2).shape
        if z is None:
            return
        if len(z) != len(s):
            if V.small_shape(z) == (1,) * len(z) and V.small_shape(s) == (1,) * len(s):
                return
            raise Invalid(f"zero point has rank {len(z)}, {scale_name} has rank {len(s)}")
        for i, (a, b) in enumerate(zip(z, s)):
            ctx.require(
                eq(a, b),
                "GC010",
                f"zero point axis {i}",
                formula=lazy("{} must equal the {} size {}", a, scale_name, b),
                fix=f"give the zero point the shape of {scale_name}",
            )


@rule("QuantizeLinear")
def quantize_linear(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _check_scale(ctx, x, "y_scale")
    out = ctx.attr_int("output_dtype", 0) if ctx.opset >= 21 else 0
    if ctx.has(2):
        out = ctx.fact(2).dtype or out
    return [Fact(x, out or UINT8)]


@rule("DequantizeLinear")
def dequantize_linear(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    _check_scale(ctx, x, "x_scale")
    out = ctx.attr_int("output_dtype", 0) if ctx.opset >= 23 else 0
    return [Fact(x, out or ctx.fact(1).dtype)]


# -- broadcasting binary ops ----------------------------------------------------------------------------

_ARITH = ("Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitwiseAnd", "BitwiseOr", "BitwiseXor")
_LOGIC = ("And", "Or", "Xor", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")
_LEGACY = ("Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less")


def _binary_out(ctx: OpContext, shape: tuple[Expr, ...], shapes: Sequence[Sequence[int]] | None = None) -> list[Fact]:
    op = ctx.node.op_type
    a, b = ctx.fact(0), ctx.fact(1)
    dtype = a.dtype
    out_type = BOOL if op in _LOGIC else dtype
    value = None
    if a.value is not None and b.value is not None:
        fn = V.arith(op, dtype, ctx.attr_int("fmod", 0) if op == "Mod" else 0)
        value = V.broadcast_values(shape, [a, b], fn, shapes)
    truth = _truth_of(ctx, op, a, b) if value is None and op in _LOGIC and _one_element(shape) else None
    return [Fact(shape, out_type, value, truth=truth)]


def _one_element(shape: Sequence[Expr]) -> bool:
    return all(d == 1 for d in shape)


def element_truth(f: Fact) -> Cond | None:
    """A one-element tensor's truth as a condition on the sizes (constant when its value is known)."""
    if f.truth is not None:
        return f.truth
    if f.value is None or len(f.value) != 1:
        return None
    t = V.truth(f.value[0])
    if t is not None:
        return TRUE if t else FALSE
    e = V.as_int_expr(f.value[0])
    return None if e is None else negate(eq(e, 0))


def _rational(v: Val) -> tuple[Expr, int, Cond] | None:
    """An element as ``num / den`` (an integer expression over a positive integer) and where that
    is its exact value: a size, a constant, or a float computed from sizes where it is exact."""
    if isinstance(v, Expr):
        return v, 1, TRUE
    if isinstance(v, Fraction):
        return const(v.numerator), v.denominator, TRUE
    if isinstance(v, FloatSize) and v.exact is not None and not v.hops:
        return v.e * v.c.numerator, v.c.denominator, F.conj([v.pre, v.exact])
    return None


def _truth_of(ctx: OpContext, op: str, a: Fact, b: Fact) -> Cond | None:
    """The condition under which a one-element comparison or logical op is true, when its operands
    are sizes (or conditions on them): what an If branching on the sizes splits on."""
    if op in ("And", "Or", "Xor"):
        ta, tb = element_truth(a), element_truth(b)
        if ta is None or tb is None:
            return None
        if op == "And":
            return all_of([ta, tb])
        if op == "Or":
            return any_of([ta, tb])
        return any_of([all_of([ta, negate(tb)]), all_of([negate(ta), tb])])
    if a.value is None or b.value is None or len(a.value) != 1 or len(b.value) != 1:
        return None
    ra, rb = _rational(a.value[0]), _rational(b.value[0])
    if ra is None or rb is None:
        return None
    (na, da, xa), (nb, db, xb) = ra, rb
    exact = F.conj([xa, xb])
    if exact == FALSE:
        return None
    if exact != TRUE and not ctx.always(exact):
        # sizes in float (tf2onnx compares a float cast of the length in its loop conditions): the
        # comparison is the exact one where the values are the format's
        ctx.covers(exact, "float comparison of sizes", formula=lazy("exact where {}", exact))
    d = na * db - nb * da  # a - b, times the denominators (positive)
    if op == "Equal":
        return eq(d, 0)
    if op == "Greater":
        return ge(d, 1)
    if op == "Less":
        return ge(-d, 1)
    if op == "GreaterOrEqual":
        return ge(d, 0)
    return ge(-d, 0)  # LessOrEqual


@rule(*_ARITH, *_LOGIC, since=7)
def binary(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    if ctx.node.op_type == "Mod" and ctx.opset < 28 and V.kind(ctx.fact(0).dtype) == "float":
        if not ctx.attr_int("fmod", 0):
            raise Invalid("Mod of floating-point tensors needs fmod=1 (before opset 28)")
    return _binary_out(ctx, broadcast(ctx, [a, b]))


@rule(*_LEGACY, since=1)
def binary_legacy(ctx: OpContext) -> list[Fact]:
    """Opsets 1-6: B must equal A's shape, or (broadcast=1) match a contiguous run of A's shape
    starting at ``axis`` (suffix by default), where B may also have 1s."""
    a, b = ctx.shape(0), ctx.shape(1)
    if not ctx.attr_int("broadcast", 0):
        return _binary_out(ctx, same_shapes(ctx, [a, b]))
    if len(b) > len(a):
        raise Invalid(f"B has rank {len(b)}, more than A's rank {len(a)} (legacy broadcasting)")
    axis = ctx.attr("axis")
    start = len(a) - len(b) if not isinstance(axis, int) else (axis + len(a) if axis < 0 else axis)
    if start < 0 or start + len(b) > len(a):
        raise Invalid(f"axis {axis} puts B (rank {len(b)}) outside A (rank {len(a)})")
    # B's sizes equal A's axes from `axis` on, or are 1 (PyTorch's legacy exports rely on the 1s:
    # onnx's own pytorch-operator data adds a (2, 1) B to a (2, 3) A with axis=0)
    match = all_of([any_of([eq(a[start + i], d), eq(d, 1)]) for i, d in enumerate(b)])
    ctx.require(
        match,
        "GC003",
        "legacy broadcast of B into A",
        formula=lambda: (
            f"B {tuple(str(d) for d in b)} must equal (or be 1 on) A's axes {start}..{start + len(b) - 1} "
            f"{tuple(str(d) for d in a[start : start + len(b)])}"
        ),
        fix="make B's shape a contiguous part of A's shape (or a single element)",
    )
    shapes = None
    bs = V.small_shape(b)
    if bs is not None:
        aligned = (1,) * start + bs + (1,) * (len(a) - start - len(b))
        if V.numel(bs) == 1:
            aligned = (1,) * len(a)
        ash = V.small_shape(a)
        shapes = None if ash is None else [ash, aligned]
    return _binary_out(ctx, a, shapes)


@rule("BitShift")
def bit_shift(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    shape = broadcast(ctx, [a, b])
    fa, fb = ctx.fact(0), ctx.fact(1)
    direction = ctx.attr_str("direction", "")
    if direction not in ("LEFT", "RIGHT"):
        raise Invalid(f"BitShift direction must be LEFT or RIGHT, got {direction!r}")
    value = V.broadcast_values(shape, [fa, fb], V.bitshift(fa.dtype, direction == "LEFT"))
    return [Fact(shape, fa.dtype, value)]


@rule("PRelu", since=1)
def prelu_legacy(ctx: OpContext) -> list[Fact]:
    raise Unsupported("PRelu before opset 7 has an unspecified slope layout")


@rule("PRelu", since=7)
def prelu(ctx: OpContext) -> list[Fact]:
    """The spec broadcasts the slope to X (unidirectional); onnxruntime broadcasts both ways, so
    there X of size 1 against a larger slope runs and the output takes the slope's size."""
    x = ctx.shape(0)
    s = ctx.shape(1)
    if ctx.semantics == "ort":
        return [Fact(broadcast(ctx, [x, s]), ctx.fact(0).dtype)]
    unidirectional(ctx, x, s, "slope")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("Where")
def where(ctx: OpContext) -> list[Fact]:
    shapes = [ctx.shape(0), ctx.shape(1), ctx.shape(2)]
    shape = broadcast(ctx, shapes)
    dtype = ctx.fact(1).dtype or ctx.fact(2).dtype

    def pick(c: Val, x: Val, y: Val) -> Val | None:
        t = V.truth(c)
        if t is None:
            return x if x == y else None
        return x if t else y

    facts = [ctx.fact(0), ctx.fact(1), ctx.fact(2)]
    value = V.broadcast_values(shape, facts, pick) if all(f.value is not None for f in facts) else None
    return [Fact(shape, dtype, value)]


# -- variadic ops ---------------------------------------------------------------------------------------------


def _variadic(ctx: OpContext, legacy: bool) -> list[Fact]:
    n = len(ctx.node.inputs)
    if n == 0:
        raise Invalid(f"{ctx.node.op_type} needs at least one input")
    shapes = [ctx.shape(i) for i in range(n)]
    shape = same_shapes(ctx, shapes) if legacy else broadcast(ctx, shapes)
    facts = [ctx.fact(i) for i in range(n)]
    dtype = facts[0].dtype
    op = ctx.node.op_type
    fn: Callable[..., Val | None]
    if op in ("Max", "Min"):
        pair = V.vmax if op == "Max" else V.vmin

        def fn(*xs: Val) -> Val | None:
            return V.fit(V.fold(pair, xs), dtype)

    elif op == "Sum":

        def fn(*xs: Val) -> Val | None:
            return V.fold_sum(xs, dtype)

    else:  # Mean
        div = V.arith("Div", dtype)

        def fn(*xs: Val) -> Val | None:
            total = V.fold_sum(xs, dtype)
            return None if total is None else div(total, const(len(xs)))

    value = V.broadcast_values(shape, facts, fn) if all(f.value is not None for f in facts) else None
    return [Fact(shape, dtype, value)]


@rule("Max", "Min", "Mean", "Sum", since=1)
def variadic_legacy(ctx: OpContext) -> list[Fact]:
    return _variadic(ctx, legacy=True)


@rule("Max", "Min", "Mean", "Sum", since=8)
def variadic(ctx: OpContext) -> list[Fact]:
    return _variadic(ctx, legacy=False)
