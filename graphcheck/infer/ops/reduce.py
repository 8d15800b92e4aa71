"""Reductions, arg-reductions, softmax-like ops, cumulative ops, TopK and the normalizations.

* ``Reduce*``: ``axes`` is an attribute before ReduceSum-13 / the others' opset 18 and an
  optional input from then on (with ``noop_with_empty_axes``); reduced axes become 1 with
  ``keepdims`` (default) or disappear. Small known inputs give known values (``ReduceProd`` of a
  ``Shape`` is a common way to count elements).
* ``Softmax``/``LogSoftmax``/``Hardmax``: the output has the input's shape at every opset (before
  13 the op coerces to 2-D internally); the axis must be in ``[-r, r-1]``.
* ``TopK``: the axis becomes ``k``; ``k <= axis size`` is a GC009 condition. An unknown ``k`` is a
  fresh data-dependent size (GC104).
* Normalizations: parameter sizes must match the channel (``BatchNormalization``,
  ``InstanceNormalization``, ``GroupNormalization``) or broadcast to the input
  (``LayerNormalization``, ``RMSNormalization``): GC010 conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from graphcheck.infer.facts import Fact, Val
from graphcheck.infer.ops import _values as V
from graphcheck.infer.ops.elementwise import lazy, unidirectional
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.cond import eq, ge
from graphcheck.symbolic.expr import Expr, const, mod

INT64 = V.INT64
ONE = const(1)

_REDUCE = (
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
)  # fmt: skip


# -- reductions -----------------------------------------------------------------------------------------


def _reduce_fn(op: str, dtype: int) -> Callable[[Sequence[Val]], Val | None] | None:
    if op == "ReduceSum":
        return lambda xs: V.fold_sum(xs, dtype)
    if op == "ReduceSumSquare":
        return lambda xs: V.fold_sum(xs, dtype, square=True)
    if op == "ReduceL1":
        return lambda xs: V.fold_sum(xs, dtype, absolute=True)
    if op == "ReduceMax":
        return lambda xs: V.fit(V.fold(V.vmax, xs), dtype)
    if op == "ReduceMin":
        return lambda xs: V.fit(V.fold(V.vmin, xs), dtype)
    if op == "ReduceProd":
        return lambda xs: V.fold_prod(xs, dtype)
    if op == "ReduceMean":

        def mean(xs: Sequence[Val]) -> Val | None:
            total = V.fold_sum(xs, dtype)
            if total is None:
                return None
            if isinstance(total, Expr) and total.is_const and V.kind(dtype) == "float":
                total = Fraction(total.value)
            if isinstance(total, Expr):  # only exact quotients: integer means are not specified
                q = total.exact_div(len(xs))
                return None if q is None else V.fit(q, dtype)
            if not isinstance(total, Fraction):
                return None
            return V.fit(total / len(xs), dtype)

        return mean
    return None


def _reduce_values(f: Fact, x: tuple[Expr, ...], axes: frozenset[int], op: str) -> tuple[Val, ...] | None:
    if f.value is None:
        return None
    shape = V.small_shape(x)
    fn = _reduce_fn(op, f.dtype)
    if shape is None or fn is None or len(f.value) != V.numel(shape):
        return None
    groups: dict[tuple[int, ...], list[Val]] = {}
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    for flat, v in enumerate(f.value):
        key = tuple((flat // strides[i]) % shape[i] for i in range(len(shape)) if i not in axes)
        groups.setdefault(key, []).append(v)
    out: list[Val] = []
    for key in sorted(groups):
        r = fn(groups[key])
        if r is None:
            return None
        out.append(r)
    return tuple(out)


def _reduce(ctx: OpContext, axes: Sequence[int] | None, noop: bool) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if not axes:
        if noop:
            return [f]
        axes = range(len(x))
    keep = ctx.attr_int("keepdims", 1)
    norm = [norm_axis(a, len(x), ctx.node) for a in axes]
    if len(set(norm)) != len(norm):
        raise Invalid(f"axes {tuple(axes)} repeat an axis")
    red = frozenset(norm)
    shape = tuple((ONE if keep else None) if i in red else d for i, d in enumerate(x))
    out = tuple(d for d in shape if d is not None)
    return [Fact(out, f.dtype, _reduce_values(f, x, red, ctx.node.op_type))]


@rule(*_REDUCE, since=1)
def reduce_attr(ctx: OpContext) -> list[Fact]:
    return _reduce(ctx, ctx.attr_ints("axes"), noop=False)


def _axes_input(ctx: OpContext, rank: int) -> tuple[int, ...] | None:
    """The axes input's values; ``()`` when empty; all axes when it lists ``rank`` (distinct) axes."""
    if not ctx.has(1):
        return None
    f = ctx.fact(1)
    if f.value is not None:
        return ctx.const_ints(1, "axes")
    if f.shape is not None and len(f.shape) == 1 and f.shape[0].is_const:
        n = f.shape[0].value
        if n == 0:
            return ()
        if n == rank:  # axes may not repeat, so `rank` of them are all of them
            return tuple(range(rank))
    raise Unsupported(f"the axes of {ctx.node.op_type} (input {ctx.node.inputs[1]!r}) are not known statically")


@rule("ReduceSum", since=13)
@rule(*(op for op in _REDUCE if op != "ReduceSum"), since=18)
def reduce_input(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    axes = _axes_input(ctx, len(x))
    return _reduce(ctx, axes, noop=bool(ctx.attr_int("noop_with_empty_axes", 0)))


@rule("ArgMax", "ArgMin")
def arg_reduce(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    axis = norm_axis(ctx.attr_int("axis", 0), len(x), ctx.node)
    keep = ctx.attr_int("keepdims", 1)
    out = tuple((ONE,) if i == axis and keep else () if i == axis else (d,) for i, d in enumerate(x))
    return [Fact(tuple(d for part in out for d in part), INT64)]


# -- same-shape ops along an axis ---------------------------------------------------------------------------


@rule("Softmax", "LogSoftmax", "Hardmax", since=1)
def softmax_1(ctx: OpContext) -> list[Fact]:
    """Before opset 13 the input is coerced to 2-D at ``axis`` (default 1); the output keeps the input's shape."""
    x = ctx.shape(0)
    norm_axis(ctx.attr_int("axis", 1), len(x), ctx.node)
    return [Fact(x, ctx.fact(0).dtype)]


@rule("Softmax", "LogSoftmax", "Hardmax", since=13)
def softmax_13(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    return [Fact(x, ctx.fact(0).dtype)]


@rule("CumSum", "CumProd")
def cumulative(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    a = ctx.fact(1)
    if a.shape is not None:
        if len(a.shape) > 1:
            raise Invalid(f"the axis input must be 0-D or 1-D, got rank {len(a.shape)}")
        if len(a.shape) == 1:
            ctx.require(
                eq(a.shape[0], 1),
                "GC010",
                "axis input size",
                formula=lazy("{} must be 1 (a single axis)", a.shape[0]),
                fix="pass the axis as a scalar",
            )
    vals = a.const_ints()
    if vals is not None and len(vals) == 1:
        norm_axis(vals[0], len(x), ctx.node)
    return [Fact(x, ctx.fact(0).dtype)]


# -- TopK -----------------------------------------------------------------------------------------------------------


@rule("TopK", since=1)
def topk_1(ctx: OpContext) -> list[Fact]:
    k = ctx.attr("k")
    if not isinstance(k, int):
        raise Invalid("TopK needs the integer attribute k")
    return _topk(ctx, const(k))


@rule("TopK", since=10)
def topk_10(ctx: OpContext) -> list[Fact]:
    kf = ctx.fact(1)
    if kf.shape is not None:
        if len(kf.shape) != 1:
            raise Invalid(f"K must be a 1-D tensor with one element, got rank {len(kf.shape)}")
        ctx.require(
            eq(kf.shape[0], 1),
            "GC010",
            "K size",
            formula=lazy("{} must be 1 (K holds a single count)", kf.shape[0]),
            fix="pass K as a 1-element 1-D tensor",
        )
    vals = kf.int_values()
    if vals is not None and len(vals) == 1:
        k = vals[0]
    else:
        ctx.shape(0)  # an unknown input shape ends here, without a note
        k = ctx.fresh("topk_k")
        ctx.note(
            "GC104", f"TopK's k (input {ctx.node.inputs[1]!r}) is not known statically; its output size is unknown"
        )
    return _topk(ctx, k)


def _topk(ctx: OpContext, k: Expr) -> list[Fact]:
    x = ctx.shape(0)
    axis = norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    n = x[axis]
    ctx.require(
        ge(n, k),
        "GC009",
        f"k against axis {axis}",
        formula=lambda: f"k = {k} must be <= axis {axis} size {n}",
        fix=f"make axis {axis} at least k long, or clamp k to the axis size (k = min(k, size))",
    )
    shape = x[:axis] + (k,) + x[axis + 1 :]
    return [Fact(shape, ctx.fact(0).dtype), Fact(shape, INT64)]


# -- normalizations -------------------------------------------------------------------------------------------------


def _param_is(ctx: OpContext, i: int, want: Sequence[Expr], what: str, role: str) -> None:
    """Input ``i`` (a parameter tensor) must have exactly the shape ``want`` (GC010)."""
    if not ctx.has(i):
        return
    s = ctx.fact(i).shape
    if s is None:
        return
    if len(s) != len(want):
        raise Invalid(f"{what} has rank {len(s)}, expected rank {len(want)} ({role})")
    for axis, (d, w) in enumerate(zip(s, want)):
        ctx.require(
            eq(d, w),
            "GC010",
            f"{what} size" + (f" (axis {axis})" if len(want) > 1 else ""),
            formula=lazy("{} must equal {} {}", d, role, w),
            fix=f"make {what} match {role}",
        )


def _channels(ctx: OpContext, x: tuple[Expr, ...], min_rank: int) -> Expr:
    if len(x) < min_rank:
        raise Invalid(f"{ctx.node.op_type} needs an input of rank >= {min_rank} (N, C, ...), got rank {len(x)}")
    return x[1]


@rule("BatchNormalization", since=1)
def batchnorm(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if len(x) == 1 and ctx.semantics == "ort":
        c: Expr = ONE  # onnxruntime reads a 1-D input as (N) with one channel
    else:
        c = _channels(ctx, x, 2)
    spatial = ctx.attr_int("spatial", 1) if ctx.opset < 9 else 1
    want: tuple[Expr, ...] = (c,) if spatial else tuple(x[1:])
    role = "the channel count (axis 1)" if spatial else "the input's shape after axis 0 (spatial=0)"
    for i, name in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")):
        _param_is(ctx, i, want, name, role)
    outs = [Fact(x, f.dtype)]
    stats = (ctx.fact(3).dtype if ctx.has(3) else 0) or f.dtype  # running statistics: the mean input's type
    outs += [Fact(want, stats) for _ in range(len(ctx.node.outputs) - 1)]
    return outs


@rule("InstanceNormalization")
def instancenorm(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    c = _channels(ctx, x, 3 if ctx.semantics == "ort" else 2)
    _param_is(ctx, 1, (c,), "scale", "the channel count (axis 1)")
    _param_is(ctx, 2, (c,), "bias", "the channel count (axis 1)")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("GroupNormalization", since=18)
def groupnorm(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    c = _channels(ctx, x, 2)
    g = ctx.attr_int("num_groups", 0)
    if g < 1:
        raise Invalid(f"num_groups must be >= 1, got {g}")
    ctx.require(
        eq(mod(c, g), 0),
        "GC010",
        "channels divisible by num_groups",
        formula=lambda: f"{c} must be a multiple of num_groups {g}",
        fix=f"use a channel count divisible by {g}",
    )
    if ctx.opset >= 21:
        want, role = c, "the channel count (axis 1)"
    else:
        want, role = const(g), "num_groups"
    _param_is(ctx, 1, (want,), "scale", role)
    _param_is(ctx, 2, (want,), "bias", role)
    return [Fact(x, ctx.fact(0).dtype)]


@rule("LayerNormalization")
def layernorm(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    axis = norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    for i, name in ((1, "scale"), (2, "bias")):
        if ctx.has(i) and ctx.fact(i).shape is not None:
            s = ctx.fact(i).shape
            assert s is not None
            unidirectional(ctx, x, s, name, code="GC010")
    stats = (ONE,) * (len(x) - axis)
    stash = ctx.attr_int("stash_type", 1)
    mean_shape = x[:axis] + stats
    return [Fact(x, f.dtype), Fact(mean_shape, stash), Fact(mean_shape, stash)]


@rule("RMSNormalization")
def rmsnorm(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    s = ctx.fact(1).shape
    if s is not None:
        unidirectional(ctx, x, s, "scale", code="GC010")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("LpNormalization")
def lpnorm(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    norm_axis(ctx.attr_int("axis", -1), len(x), ctx.node)
    p = ctx.attr_int("p", 2)
    if p not in (1, 2):
        raise Invalid(f"LpNormalization supports p = 1 or 2, got {p}")
    return [Fact(x, ctx.fact(0).dtype)]


@rule("LRN")
def lrn(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if ctx.attr_int("size", 0) < 1:
        raise Invalid("LRN needs a positive size attribute")
    if ctx.semantics == "ort" and len(x) != 4:
        raise Invalid(f"onnxruntime's LRN takes 4-D inputs only, got rank {len(x)}")
    _channels(ctx, x, 2)
    return [Fact(x, ctx.fact(0).dtype)]


@rule("MeanVarianceNormalization")
def mvn(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    axes = ctx.attr_ints("axes", (0, 2, 3))
    assert axes is not None
    norm = [norm_axis(a, len(x), ctx.node) for a in axes]
    if len(set(norm)) != len(norm):
        raise Invalid(f"axes {axes} repeat an axis")
    return [Fact(x, ctx.fact(0).dtype)]
