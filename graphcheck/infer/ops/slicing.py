"""Joining, splitting, slicing and indexing: Concat, Split, Slice, Gather, GatherElements, GatherND,
ScatterElements, ScatterND, Scatter, Compress, NonZero, Unique, ReverseSequence.

* ``Concat``: every non-concatenated axis must agree (GC004); the concatenated axis is the sum.
  Known values are concatenated too: exporters build Reshape targets this way.
* ``Split``: given sizes must sum to the axis (GC010); an equal split needs divisibility (GC010);
  ``num_outputs`` (opset 18) takes ``ceil(d / n)``-sized chunks with a smaller last one.
* ``Slice``: negative starts/ends count from the end, bounds clamp to ``[0, d]`` (positive step)
  or ``[0, d - 1]`` / ``[-1, d - 1]`` (negative step, starts / ends), ``|value| >= 2**62`` clamps
  like an infinity; the length is ``max(0, ceil((end - start) / step))``, with ``min``/``max`` left
  where the size decides. ``semantics="ort"``: onnxruntime reads an end of INT32_MAX/INT64_MAX
  with a negative step as "down to the first element" (the spec clamps it to ``d - 1``).
  A start/end whose sign depends on the sizes (``L - 3``) is adjusted by ``d*[v < 0]``, written
  with ``min``/``max`` (``[v < 0] = 1 - min(1, max(0, v + 1))``).
* ``Gather``: ``data[:axis] + indices.shape + data[axis+1:]``; known indices on an axis of
  dynamic size ``n`` need ``-n <= i < n`` (GC009); known values are gathered (``Shape -> Gather``).
* ``GatherElements``/``ScatterElements``: off the indexed axis the indices may not be larger
  than the data (GC010, as onnxruntime checks); ``GatherND`` batch axes must be equal.
* ``Compress`` with a known condition counts its true entries among the first ``d`` (entries
  past the axis size are ignored, as onnxruntime does); ``Compress``/``NonZero``/``Unique`` on
  unknown data give fresh data-dependent sizes (GC104).
"""

from __future__ import annotations

from collections.abc import Sequence

from graphcheck.infer.bounds import lanes_of
from graphcheck.infer.facts import Fact, Val
from graphcheck.infer.ops import _values as V
from graphcheck.infer.ops._shapeutil import (
    INT64,
    ONE,
    ZERO,
    SignUnknown,
    at_least,
    at_most,
    concat,
    lazy,
    numel,
    show,
    slice_bound,
    slice_length,
    small_numel,
    smax,
    smin,
    take,
)
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.cond import FALSE, all_of, any_of, eq, ge
from graphcheck.symbolic.expr import Expr, ceildiv, const, floordiv, mod, product

SMALL = V.SMALL


# -- Concat ---------------------------------------------------------------------------------------------------


@rule("Concat")
def concat_op(ctx: OpContext) -> list[Fact]:
    n = len(ctx.node.inputs)
    facts = [ctx.fact(i) for i in range(n)]
    shapes = [ctx.shape(i) for i in range(n)]
    if not shapes:
        raise Invalid("Concat needs at least one input")
    r = len(shapes[0])
    for i, s in enumerate(shapes):
        if len(s) != r:
            raise Invalid(f"Concat input {i} has rank {len(s)}, input 0 has rank {r}")
    if "axis" in ctx.node.attrs:
        axis = ctx.attr_int("axis", 0)
    elif ctx.opset < 4:
        axis = 1
    else:
        raise Invalid("Concat needs the axis attribute")
    a = norm_axis(axis, r, ctx.node)
    out: list[Expr] = []
    for j in range(r):
        if j == a:
            total = shapes[0][a]
            for s in shapes[1:]:
                total = total + s[a]
            out.append(total)
            continue
        dims = [s[j] for s in shapes]
        k = next((i for i, d in enumerate(dims) if d.is_const), 0)
        ref = dims[k]
        for i, d in enumerate(dims):
            if i == k or d == ref:
                continue
            ctx.require(
                eq(d, ref),
                "GC004",
                f"Concat input {i} axis {j}",
                formula=lazy("{} must equal {} (input {} on axis {})", d, ref, k, j),
                fix=f"the inputs must agree on every axis but {a}: crop or pad input {i} to the others' size",
            )
        out.append(ref)
    shape = tuple(out)
    value: tuple[Val, ...] | None = None
    if all(f.value is not None for f in facts) and small_numel(shape, SMALL) is not None:
        parts: list[tuple[Sequence[Val], Sequence[int]]] = []
        for f, s in zip(facts, shapes):
            cs = small_numel(s, SMALL)
            assert f.value is not None
            if cs is None or len(f.value) != numel(cs):
                break
            parts.append((f.value, cs))
        else:
            value = concat(parts, a)
    return [Fact(shape, facts[0].dtype, value)]


# -- Split ----------------------------------------------------------------------------------------------------


def _split_values(f: Fact, x: Sequence[Expr], axis: int, parts: Sequence[Expr]) -> list[tuple[Val, ...] | None]:
    none: list[tuple[Val, ...] | None] = [None] * len(parts)
    if f.value is None:
        return none
    s = small_numel(x, SMALL)
    sizes = [p.const_value() for p in parts]
    if s is None or len(f.value) != numel(s) or any(v is None or v < 0 for v in sizes):
        return none
    if sum(v for v in sizes if v is not None) != s[axis]:
        return none  # the sizes do not fit (a failing condition): no values
    out: list[tuple[Val, ...] | None] = []
    start = 0
    for v in sizes:
        assert v is not None
        index = [list(range(n)) for n in s]
        index[axis] = list(range(start, start + v))
        out.append(take(f.value, s, index))
        start += v
    return out


def _split(ctx: OpContext, sizes: Sequence[Expr] | None, num_outputs: int | None) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    axis = norm_axis(ctx.attr_int("axis", 0), len(x), ctx.node)
    d = x[axis]
    n_out = len(ctx.node.outputs)
    if sizes is not None and len(sizes) > 0:
        if len(sizes) != n_out:
            raise Invalid(f"Split has {len(sizes)} sizes for {n_out} outputs")
        for i, p in enumerate(sizes):
            if p.is_const and p.value < 0:
                raise Invalid(f"Split size {p.value} (output {i}) is negative")
        total = sizes[0]
        for p in sizes[1:]:
            total = total + p
        ctx.require(
            eq(total, d),
            "GC010",
            f"Split sizes along axis {axis}",
            formula=lazy("the split sizes {} sum to {}, which must equal the axis size {}", show(sizes), total, d),
            fix="make the split sizes add up to the axis size",
        )
        parts = list(sizes)
    elif num_outputs is not None:
        if num_outputs < 1:
            raise Invalid(f"Split num_outputs must be >= 1, got {num_outputs}")
        if num_outputs != n_out:
            raise Invalid(f"Split num_outputs is {num_outputs} but the node has {n_out} outputs")
        chunk = ceildiv(d, num_outputs)
        parts = [chunk] * (num_outputs - 1) + [d - chunk * (num_outputs - 1)]
    else:
        ctx.require(
            eq(mod(d, n_out), 0),
            "GC010",
            f"Split into {n_out} equal parts along axis {axis}",
            formula=lazy("{} must be divisible by {}", d, n_out),
            fix=f"feed an axis size that is a multiple of {n_out}, or give explicit split sizes",
        )
        parts = [floordiv(d, n_out)] * n_out
    values = _split_values(f, x, axis, parts)
    return [Fact(x[:axis] + (p,) + x[axis + 1 :], f.dtype, v) for p, v in zip(parts, values)]


@rule("Split", since=1)
def split_1(ctx: OpContext) -> list[Fact]:
    sizes = ctx.attr_ints("split")
    if sizes is None and ctx.has(1):
        return _split(ctx, ctx.ints(1, "split"), None)
    return _split(ctx, None if sizes is None else tuple(const(v) for v in sizes), None)


@rule("Split", since=2)
def split_2(ctx: OpContext) -> list[Fact]:
    sizes = ctx.attr_ints("split")
    return _split(ctx, None if sizes is None else tuple(const(v) for v in sizes), None)


@rule("Split", since=13)
def split_13(ctx: OpContext) -> list[Fact]:
    sizes = ctx.ints(1, "split") if ctx.has(1) else None
    num = ctx.attr("num_outputs") if ctx.opset >= 18 else None
    if sizes is not None and num is not None:
        raise Invalid("Split takes either the split input or num_outputs, not both")
    return _split(ctx, sizes, num if isinstance(num, int) else None)


# -- Slice ----------------------------------------------------------------------------------------------------


def _slice(
    ctx: OpContext,
    starts: Sequence[Expr],
    ends: Sequence[Expr],
    axes: Sequence[int] | None,
    steps: Sequence[int] | None,
) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    r = len(x)
    if len(starts) != len(ends):
        raise Invalid(f"Slice has {len(starts)} starts and {len(ends)} ends")
    if axes is None:
        axes = tuple(range(len(starts)))
    if steps is None:
        steps = (1,) * len(starts)
    if len(axes) != len(starts) or len(steps) != len(starts):
        raise Invalid("Slice starts, ends, axes and steps differ in length")
    norm = [norm_axis(a, r, ctx.node) for a in axes]
    if len(set(norm)) != len(norm):
        raise Invalid(f"Slice axes {tuple(axes)} repeat an axis")
    out = list(x)
    ranges: dict[int, tuple[Expr, Expr, int]] = {}
    for a, s, e, k in zip(norm, starts, ends, steps):
        if k == 0:
            raise Invalid("Slice step is 0")
        d = x[a]
        try:
            sb = slice_bound(s, d, k, True, assume=ctx.assume)
            eb = slice_bound(e, d, k, False, ort=ctx.semantics == "ort", assume=ctx.assume)
        except SignUnknown as exc:
            raise Unsupported(f"Slice on axis {a}: whether {exc} counts from the end depends on the sizes") from None
        out[a] = slice_length(sb, eb, k, ctx.assume)
        ranges[a] = (sb, eb, k)
    shape = tuple(out)
    value = None
    cs = small_numel(x, SMALL)
    if f.value is not None and cs is not None and len(f.value) == numel(cs):
        index: list[list[int]] = []
        for a, n in enumerate(cs):
            if a not in ranges:
                index.append(list(range(n)))
                continue
            sb, eb, k = ranges[a]
            if not (sb.is_const and eb.is_const):
                break
            index.append(list(range(sb.value, eb.value, k)))
        else:
            value = take(f.value, cs, index)
    return [Fact(shape, f.dtype, value)]


@rule("Slice", since=1)
def slice_1(ctx: OpContext) -> list[Fact]:
    starts = ctx.attr_ints("starts")
    ends = ctx.attr_ints("ends")
    if starts is None or ends is None:
        raise Invalid("Slice needs the starts and ends attributes (before opset 10)")
    return _slice(ctx, [const(v) for v in starts], [const(v) for v in ends], ctx.attr_ints("axes"), None)


@rule("Slice", since=10)
def slice_10(ctx: OpContext) -> list[Fact]:
    starts = ctx.ints(1, "starts")
    ends = ctx.ints(2, "ends")
    axes = ctx.const_ints(3, "axes") if ctx.has(3) else None
    steps: tuple[int, ...] | None = None
    if ctx.has(4):
        st = ctx.ints(4, "steps")
        if not all(v.is_const for v in st):
            raise Unsupported("Slice steps depend on the sizes")
        steps = tuple(v.value for v in st)
    return _slice(ctx, starts, ends, axes, steps)


# -- Gather ---------------------------------------------------------------------------------------------------


def _index_conditions(ctx: OpContext, indices: Sequence[Expr], d: Expr, what: str) -> None:
    """Every known index ``i`` on an axis of size ``d`` needs ``-d <= i < d`` (GC009)."""
    if d.is_const and all(i.is_const for i in indices):
        bad = [i.value for i in indices if not -d.value <= i.value < d.value]
        if bad:
            ctx.require(
                FALSE,
                "GC009",
                what,
                formula=lazy("index {} is out of range for size {}", bad[0], d),
                fix=f"use indices in [-{d}, {d.value - 1}]",
            )
        return
    hi: int | None = None
    lo: int | None = None
    for i in indices:
        if i.is_const:
            v = i.value
            if v >= 0:
                hi = v if hi is None or v > hi else hi
            else:
                lo = v if lo is None or v < lo else lo
            continue
        if at_least(i, 0, ctx.assume):
            cond = ge(d - 1 - i)
        elif at_most(i, -1, ctx.assume):
            cond = ge(d + i)
        else:
            cond = all_of([ge(d - 1 - i), ge(d + i)])
        ctx.require(
            cond,
            "GC009",
            what,
            formula=lazy("index {} must be in [-{}, {} - 1]", i, d, d),
            fix="make sure the axis is long enough for the index",
        )
    if hi is not None:
        ctx.require(
            ge(d, hi + 1),
            "GC009",
            what,
            formula=lazy("index {} needs size {} >= {}", hi, d, hi + 1),
            fix=f"feed at least {hi + 1} entries on this axis",
        )
    if lo is not None:
        ctx.require(
            ge(d, -lo),
            "GC009",
            what,
            formula=lazy("index {} needs size {} >= {}", lo, d, -lo),
            fix=f"feed at least {-lo} entries on this axis",
        )


def _wrap(indices: Sequence[Expr], n: int) -> list[int] | None:
    out: list[int] = []
    for i in indices:
        if not i.is_const:
            return None
        v = i.value
        if not -n <= v < n:
            return None
        out.append(v + n if v < 0 else v)
    return out


@rule("Gather")
def gather(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    ind = ctx.fact(1)
    q = ctx.shape(1)
    a = norm_axis(ctx.attr_int("axis", 0), len(x), ctx.node)
    fused = _fused_slice(ctx, a)
    if fused is not None:
        return fused
    d = x[a]
    shape = x[:a] + q + x[a + 1 :]
    idx = ind.int_values()
    value = None
    _element_indices(ctx, ind, q, d, f"Gather indices on axis {a}")
    if idx is not None:
        cs = small_numel(x, SMALL)
        if (
            f.value is not None
            and cs is not None
            and len(f.value) == numel(cs)
            and small_numel(shape, SMALL) is not None
        ):
            wrapped = _wrap(idx, cs[a])
            if wrapped is not None:
                index = [list(range(n)) for n in cs]
                index[a] = wrapped
                value = take(f.value, cs, index)
    return [Fact(shape, f.dtype, value)]


def _fused_slice(ctx: OpContext, axis: int) -> list[Fact] | None:
    """onnxruntime (semantics "ort"): ``Gather(x, Range(start, limit, delta))`` with the Range used only
    there runs as ``Slice(x, start, limit, axis, delta)`` (its GatherToSliceFusion, at the default
    optimization level), which clamps instead of failing: past the table's end it silently returns
    fewer rows."""
    if ctx.fused_range is None or len(ctx.fused_range) != 3:
        return None
    vals: list[Expr] = []
    for f in ctx.fused_range:
        if f is None or f.value is None or len(f.value) != 1 or V.kind(f.dtype) != "int":
            return None
        e = V.as_int_expr(f.value[0])
        if e is None:
            return None
        vals.append(e)
    start, limit, delta = vals
    if not delta.is_const or delta.value == 0:
        return None
    return _slice(ctx, [start], [limit], [axis], [delta.value])


def _bounds_conditions(ctx: OpContext, bounds: tuple[Expr, Expr], exact: bool, count: Expr, d: Expr, what: str) -> None:
    """Indices known only by their range ``[lo, hi]`` (``Range(0, L)``) need ``-d <= lo`` and ``hi < d``.

    With exact bounds (both attained) that is a condition on the sizes. Bounds that only enclose
    the indices decide nothing unless they lie inside the axis wherever the conditions upstream
    hold (then no index can fall outside); otherwise the node is not followed (GC102)."""
    lo, hi = bounds
    cond = any_of([ge(-count), all_of([ge(lo + d), ge(d - 1 - hi)])])  # no indices at all, or in range
    if ctx.always(cond):
        return
    if not exact:
        # the range only encloses the indices: inside the axis it proves them in range; elsewhere
        # it decides nothing, so the node is followed where it fits (GC110)
        ctx.covers(
            cond,
            what,
            formula=lazy("known only to lie in [{}, {}] (not their exact extremes); the axis has size {}", lo, hi, d),
        )
        return
    ctx.require(
        cond,
        "GC009",
        what,
        formula=lazy("indices run from {} to {}; the axis has size {}", lo, hi, d),
        fix="the indexed table is too short for this input: enlarge it (e.g. more positions) or shorten the input",
    )


@rule("GatherElements")
def gather_elements(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    q = ctx.shape(1)
    if len(q) != len(x):
        raise Invalid(f"GatherElements indices have rank {len(q)}, data rank {len(x)}")
    a = norm_axis(ctx.attr_int("axis", 0), len(x), ctx.node)
    _within(ctx, q, x, a)
    _element_indices(ctx, ctx.fact(1), q, x[a], f"GatherElements indices on axis {a}")
    return [Fact(q, f.dtype)]


def _element_indices(ctx: OpContext, ind: Fact, q: Sequence[Expr], d: Expr, what: str) -> None:
    """Indices into an axis of size ``d``: each known value checked, or their range when only that is
    known (indices computed from sizes, like ``Range``). Indices known neither way are data (token
    ids, argmax results): the model is checked for every in-range value of them."""
    idx = ind.int_values()
    if idx is not None:
        _index_conditions(ctx, idx, d, what)
    elif ind.bounds is not None:
        _bounds_conditions(ctx, ind.bounds, ind.bounds_exact, product(q), d, what)


def _tuple_indices(ctx: OpContext, ind: Fact, q: Sequence[Expr], x: Sequence[Expr], first: int, what: str) -> None:
    """Index tuples (the last axis of ``q``) into axes ``first, first + 1, ...`` of ``x``: each
    component checked against its axis by its own range (``lanes``), or by the range of the whole
    tensor, which decides only when it lies inside every axis addressed."""
    depth = len(q) and q[-1].const_value()
    if not depth:
        return
    if ind.int_values() is None and ind.bounds is None and ind.lanes is None:
        return  # data indices
    lanes = lanes_of(ind)
    if lanes is None or len(lanes) != depth:
        if ind.bounds is None:
            return
        lanes = tuple((ind.bounds[0], ind.bounds[1], False) for _ in range(depth))
    count = product(q[:-1])
    for j, (lo, hi, exact) in enumerate(lanes):
        _bounds_conditions(ctx, (lo, hi), exact, count, x[first + j], f"{what}, component {j} (data axis {first + j})")


def _within(ctx: OpContext, q: Sequence[Expr], x: Sequence[Expr], axis: int) -> None:
    """onnxruntime: off the indexed axis, the indices may not be larger than the data (GC010)."""
    op = ctx.node.op_type
    for j, (qi, xi) in enumerate(zip(q, x)):
        if j != axis and qi != xi:
            ctx.require(
                ge(xi - qi),
                "GC010",
                f"{op} indices axis {j}",
                formula=lazy("indices size {} must not exceed the data size {}", qi, xi),
                fix=f"the indices may be at most as large as the data on every axis but {axis}",
            )


@rule("GatherND")
def gather_nd(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    q = ctx.shape(1)
    b = ctx.attr_int("batch_dims", 0) if ctx.opset >= 12 else 0
    if len(q) < 1:
        raise Invalid("GatherND indices must have rank >= 1")
    if not 0 <= b < min(len(x), len(q)):
        raise Invalid(f"GatherND batch_dims {b} must be less than both ranks ({len(x)}, {len(q)})")
    last = q[-1].const_value()
    if last is None:
        raise Unsupported(f"GatherND's index depth (last indices axis, {q[-1]}) depends on the sizes")
    if not 1 <= last <= len(x) - b:
        raise Invalid(f"GatherND indices address {last} axes of a data tensor of rank {len(x)} (batch_dims {b})")
    for i in range(b):
        if x[i] != q[i]:
            ctx.require(
                eq(x[i], q[i]),
                "GC010",
                f"GatherND batch axis {i}",
                formula=lazy("indices size {} must equal data size {}", q[i], x[i]),
                fix="data and indices must have the same batch sizes",
            )
    _tuple_indices(ctx, ctx.fact(1), q, x, b, "GatherND indices")
    return [Fact(q[:-1] + x[b + last :], f.dtype)]


# -- Scatter --------------------------------------------------------------------------------------------------


def _same(ctx: OpContext, a: Sequence[Expr], b: Sequence[Expr], what: str, names: tuple[str, str]) -> None:
    if len(a) != len(b):
        raise Invalid(f"{what}: {names[0]} has rank {len(a)}, {names[1]} rank {len(b)}")
    for i, (p, q) in enumerate(zip(a, b)):
        if p != q:
            ctx.require(
                eq(p, q),
                "GC010",
                f"{what} axis {i}",
                formula=lazy("{} size {} must equal {} size {}", names[1], q, names[0], p),
                fix=f"give {names[1]} the shape of {names[0]}",
            )


@rule("ScatterElements", "Scatter")
def scatter_elements(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    q = ctx.shape(1)
    u = ctx.shape(2)
    if len(q) != len(x):
        raise Invalid(f"{ctx.node.op_type} indices have rank {len(q)}, data rank {len(x)}")
    a = norm_axis(ctx.attr_int("axis", 0), len(x), ctx.node)
    _same(ctx, q, u, ctx.node.op_type, ("indices", "updates"))
    _within(ctx, q, x, a)
    _element_indices(ctx, ctx.fact(1), q, x[a], f"{ctx.node.op_type} indices on axis {a}")
    return [Fact(x, f.dtype)]


@rule("ScatterND")
def scatter_nd(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    q = ctx.shape(1)
    u = ctx.shape(2)
    if len(q) < 1:
        raise Invalid("ScatterND indices must have rank >= 1")
    last = q[-1].const_value()
    if last is None:
        raise Unsupported(f"ScatterND's index depth (last indices axis, {q[-1]}) depends on the sizes")
    if not 1 <= last <= len(x):
        raise Invalid(f"ScatterND indices address {last} axes of a data tensor of rank {len(x)}")
    _same(ctx, q[:-1] + x[last:], u, "ScatterND", ("indices.shape[:-1] + data.shape[k:]", "updates"))
    _tuple_indices(ctx, ctx.fact(1), q, x, 0, "ScatterND indices")
    return [Fact(x, f.dtype)]


# -- data-dependent sizes -------------------------------------------------------------------------------------


@rule("Compress")
def compress(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    c = ctx.fact(1)
    cs = ctx.shape(1)
    if len(cs) != 1:
        raise Invalid(f"Compress condition must be 1-D, got rank {len(cs)}")
    axis = ctx.attr("axis")
    if isinstance(axis, int):
        a = norm_axis(axis, len(x), ctx.node)
        d = x[a]
    else:
        a = -1
        d = product(x)
    count: Expr | None = None
    if c.value is not None:
        truths = [V.truth(v) for v in c.value]
        if all(t is not None for t in truths):
            # entries beyond the axis size are ignored (onnxruntime; the spec allows shorter conditions)
            count = ZERO
            for i, t in enumerate(truths):
                if t:
                    count = count + smin(ONE, smax(ZERO, d - i))
    if count is None:
        count = ctx.fresh("compress")
        ctx.note("GC104", "Compress: the output size is the number of true entries in the condition (data-dependent)")
    shape = (count,) if a < 0 else x[:a] + (count,) + x[a + 1 :]
    return [Fact(shape, f.dtype)]


@rule("NonZero")
def nonzero(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    cs = small_numel(x, SMALL)
    if f.value is not None and cs is not None and len(f.value) == numel(cs):
        truths = [V.truth(v) for v in f.value]
        if all(t is not None for t in truths):
            hits = [i for i, t in enumerate(truths) if t]
            st = [numel(cs[j + 1 :]) for j in range(len(cs))]
            value = tuple(const((i // st[j]) % cs[j]) for j in range(len(cs)) for i in hits)
            return [Fact((const(len(x)), const(len(hits))), INT64, value)]
    ctx.note("GC104", "NonZero: the output size is the number of non-zero elements (data-dependent)")
    return [Fact((const(len(x)), ctx.fresh("nonzero")), INT64)]


def _distinct(f: Fact, x: Sequence[Expr], axis: int | None) -> int | None:
    """The number of distinct elements (or slices along ``axis``) of a known constant tensor."""
    if f.value is None:
        return None
    cs = small_numel(x, SMALL)
    consts: list[Val] = []
    for v in f.value:
        c = V.as_frac(v)
        if c is None:
            return None
        consts.append(c)
    if cs is None or len(consts) != numel(cs):
        return None
    if axis is None:
        return len(set(consts))
    slices = set()
    for i in range(cs[axis]):
        index = [list(range(n)) for n in cs]
        index[axis] = [i]
        slices.add(take(consts, cs, index))
    return len(slices)


@rule("Unique")
def unique(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    axis = ctx.attr("axis")
    a = norm_axis(axis, len(x), ctx.node) if isinstance(axis, int) else None
    known = _distinct(f, x, a)
    if known is not None:
        u = const(known)
    else:
        u = ctx.fresh("unique")
        ctx.note("GC104", "Unique: the output size is the number of distinct values (data-dependent)")
    if a is not None:
        y = x[:a] + (u,) + x[a + 1 :]
        n = x[a]
    else:
        y = (u,)
        n = product(x)
    return [Fact(y, f.dtype), Fact((u,), INT64), Fact((n,), INT64), Fact((u,), INT64)]


@rule("ReverseSequence")
def reverse_sequence(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if len(x) < 2:
        raise Invalid(f"ReverseSequence needs an input of rank >= 2, got rank {len(x)}")
    batch = ctx.attr_int("batch_axis", 1)
    time = ctx.attr_int("time_axis", 0)
    if {batch, time} != {0, 1}:
        raise Invalid(f"ReverseSequence batch_axis/time_axis must be 0 and 1, got {batch} and {time}")
    lens = ctx.fact(1)
    ls = ctx.shape(1)
    if len(ls) != 1:
        raise Invalid(f"ReverseSequence sequence_lens must be 1-D, got rank {len(ls)}")
    if ls[0] != x[batch]:
        ctx.require(
            eq(ls[0], x[batch]),
            "GC010",
            "ReverseSequence sequence_lens size",
            formula=lazy("{} lengths must equal the batch size {}", ls[0], x[batch]),
            fix="give one sequence length per batch entry",
        )
    vals = lens.int_values()
    if vals is not None:
        t = x[time]
        worst = max((v.value for v in vals if v.is_const), default=None)
        if worst is not None:
            ctx.require(
                ge(t, worst),
                "GC009",
                "ReverseSequence sequence length",
                formula=lazy("sequence length {} needs a time axis of at least {} (it is {})", worst, worst, t),
                fix="sequence lengths must not exceed the time axis",
            )
    return [Fact(x, f.dtype)]
