"""Shape manipulation: Shape, Size, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Tile,
ConstantOfShape, Range, Constant, EyeLike, OneHot, DepthToSpace, SpaceToDepth, Col2Im.

Exporters compute Reshape/Expand targets at run time (``Shape -> Gather -> Unsqueeze ->
Concat -> Reshape``), so these rules carry *values*: ``Shape`` of ``[N, L, 3]`` is the value
``(N, L, 3)`` and every rule that moves elements around keeps them as exact expressions.

* ``Reshape``: a 0 copies the input's size on that axis (unless ``allowzero=1``); a computed
  entry that may be 0 is kept exact as ``e + (1 - min(e, 1)) * x_i``; -1 is the input's element
  count divided by the other sizes (common factors cancel first: ``(0, 1, 1, -1)`` on
  ``[N, 1, L, 1]`` gives ``[N, 1, 1, L]``), with ``count mod k = 0`` (GC006) for a constant
  divisor ``k``; without -1 the element counts must be equal (GC006).
* ``Squeeze`` of a listed axis requires its size to be 1 (GC010); without axes, only sizes
  known to be 1 (or known to be >= 2) can be decided.
  A computed entry that may be negative (so possibly -1) is not followed (GC102).
* ``Expand`` broadcasts the input with the target both ways (GC003 per axis).
* ``Range``: ``max(ceil((limit - start) / delta), 0)`` elements, exact for integers with a
  constant delta (also floats holding whole numbers with delta +-1, as ``arange(L)`` exports
  in float) and for constant floats, unless rounding the difference to the element type (as
  onnxruntime does) or the division could move the ceiling (GC102).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction

from graphcheck.errors import TooComplex
from graphcheck.infer.facts import Fact, Val, tensor_fact
from graphcheck.infer.ops import _floats as F
from graphcheck.infer.ops import _values as V
from graphcheck.infer.ops._common import Later, broadcast
from graphcheck.infer.ops._shapeutil import (
    INT64,
    ONE,
    ZERO,
    at_least,
    lazy,
    nonneg_part,
    numel,
    permute,
    show,
    simplify,
    small_numel,
    take,
)
from graphcheck.infer.registry import Invalid, OpContext, Propagate, Unsupported, norm_axis, rule
from graphcheck.model.ir import TensorData
from graphcheck.symbolic.cond import FALSE, TRUE, all_of, any_of, eq, ge
from graphcheck.symbolic.expr import (
    Expr,
    Sym,
    ceildiv,
    const,
    emax,
    emin,
    floordiv,
    indicator,
    minmax_atoms,
    mod,
    product,
)
from graphcheck.symbolic.intset import MAXDIM
from graphcheck.symbolic.usolve import pieces, settled

SMALL = V.SMALL
FLOAT = 1
STRING = 8


def _value(f: Fact, shape: Sequence[Expr]) -> tuple[Val, ...] | None:
    """The input's value carried to an output of the same elements in the same order."""
    if f.value is None or small_numel(shape, SMALL) is None:
        return None
    return f.value


def _same(f: Fact, shape: tuple[Expr, ...]) -> Fact:
    """The input's elements in the same order under a new shape (Reshape, Flatten, Squeeze,
    Unsqueeze): its value, and a one-element condition (``Fact.truth``) it carries."""
    truth = f.truth if f.truth is not None and all(d == 1 for d in shape) else None
    return Fact(shape, f.dtype, _value(f, shape), truth=truth)


def _axes_value(ctx: OpContext, i: int, what: str = "axes") -> tuple[int, ...] | None:
    """Constant axes from input ``i`` (None when the input is absent)."""
    if not ctx.has(i):
        return None
    return ctx.const_ints(i, what)


# -- Shape, Size ----------------------------------------------------------------------------------------------


@rule("Shape")
def shape_op(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    r = len(x)
    dims = x
    if ctx.opset >= 15:
        start = ctx.attr_int("start", 0)
        end = ctx.attr("end")
        s = start + r if start < 0 else start
        s = min(max(s, 0), r)
        if isinstance(end, int):
            e = end + r if end < 0 else end
            e = min(max(e, 0), r)
        else:
            e = r
        dims = x[s:e] if e > s else ()
    return [Fact((const(len(dims)),), INT64, tuple(simplify(d) for d in dims))]


@rule("Size")
def size_op(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    return [Fact((), INT64, (product(x),))]


# -- Reshape ----------------------------------------------------------------------------------------------------


def _cancel(num: list[Expr], den: list[Expr]) -> tuple[Expr, Expr]:
    """Products of ``num`` and ``den`` with common factors removed: equal sizes first, then input
    symbols dividing every term of both (``16*N = N*L`` becomes ``16 = L``). Input symbols are
    >= 1, and the other sizes cancelled must be >= 1 wherever the model is valid."""
    rest = list(num)
    left: list[Expr] = []
    for d in den:
        if d == 1:
            continue
        if d in rest:
            rest.remove(d)
        else:
            left.append(d)
    a, b = product(rest), product(left)
    if a.is_const or b.is_const:
        return a, b
    if a == b:  # (a Gemm's [batch*seq, d] back to [batch, seq, d])
        return ONE, ONE
    common: Counter[Sym] | None = None
    for m, _ in a.terms + b.terms:
        cnt = Counter(x for x in m if isinstance(x, Sym) and not x.opaque)
        common = cnt if common is None else common & cnt
        if not common:
            return a, b
    assert common is not None
    g = product(Expr({(x,): 1}) for x in common.elements())
    qa, qb = a.exact_div(g), b.exact_div(g)
    if qa is None or qb is None:
        return a, b
    return qa, qb


def _quotient(ctx: OpContext, num: Expr, den: Expr, x: Sequence[Expr], out: Sequence[Expr], infer: int) -> Expr:
    """``num / den`` (the input's element count over the other target sizes, common factors
    cancelled) for Reshape's -1: exact, or a floor with a divisibility condition (GC006)."""
    fix = "feed sizes for which the element count divides evenly, or compute the target from the input's Shape"
    what = "Reshape -1 (inferred size)"
    shown = Later(lambda: ", ".join(str(d) if j != infer else "-1" for j, d in enumerate(out)))

    def formula(divisor: Expr, rest: Expr) -> Callable[[], str]:
        return lazy(
            "the -1 in [{}] is {} / ({}): {} must be divisible by {}",
            shown,
            Later(lambda: product(x)),
            Later(lambda: product(d for j, d in enumerate(out) if j != infer)),
            rest,
            divisor,
        )

    if den.is_const:
        k = den.value
        if k <= 0:
            ctx.require(
                FALSE,
                "GC006",
                what,
                formula=lazy("the other target sizes [{}] multiply to {}; -1 cannot be inferred", shown, k),
                fix="give the other target entries non-zero sizes",
            )
            return ZERO
        if k == 1:
            return num
        ctx.require(eq(mod(num, k), 0), "GC006", what, formula=formula(den, num), fix=fix)
        return floordiv(num, k)
    q = num.exact_div(den)
    if q is not None:
        return q
    q = _piecewise_quotient(num, den)
    if q is not None:
        return q
    if len(den.terms) == 1:
        m, c = den.terms[0]
        q1 = num.exact_div(Expr({m: 1}))
        if q1 is not None and c > 0:
            ctx.require(eq(mod(q1, c), 0), "GC006", what, formula=formula(const(c), q1), fix=fix)
            return floordiv(q1, c)
    raise Unsupported(f"Reshape's -1 would be {num} / ({den}), which is not an exact quotient of the sizes")


def _piecewise_quotient(num: Expr, den: Expr) -> Expr | None:
    """``num / den`` when both hold min/max of one size only (onnxruntime's truncating pools, integer
    Div): the size cut into intervals where no min/max is left (``symbolic.usolve.pieces``), an exact
    quotient on each, joined by 0/1 indicators of the intervals (one expression when they agree)."""
    atoms = minmax_atoms(num) + minmax_atoms(den)
    owners = {a.symbols() for a in atoms}
    if len(owners) != 1:
        return None
    (only,) = owners
    if len(only) != 1:
        return None
    (s,) = only
    try:
        cut = pieces((num, den), s)
    except TooComplex:
        return None
    parts: list[tuple[int, int, Expr]] = []
    for region, (n, d) in sorted(cut, key=lambda rc: rc[0].min() or 0):
        if region.period != 1 or len(region.classes[0]) != 1:
            return None
        q = settled(n, s, region).exact_div(settled(d, s, region))
        if q is None:
            return None
        lo, hi = region.classes[0][0]
        if parts and parts[-1][2] == q and parts[-1][1] + 1 == lo:
            lo = parts.pop()[0]  # the same quotient on the interval before: one interval
        parts.append((lo, hi, q))
    if len(parts) == 1:
        return parts[0][2]
    x = Expr._atom(s)
    return sum((indicator(x, lo, None if hi >= MAXDIM else hi) * q for lo, hi, q in parts), ZERO)


def _reshape(ctx: OpContext, target: Sequence[Expr], allowzero: bool) -> list[Fact]:
    f = ctx.fact(0)
    x = f.shape
    out: list[Expr] = []
    infer = -1
    for i, t in enumerate(target):
        if t.is_const:
            v = t.value
            if v == -1:
                if infer >= 0:
                    raise Invalid("Reshape's target has more than one -1")
                infer = i
                out.append(ZERO)
                continue
            if v < -1:
                raise Invalid(f"Reshape's target has the invalid size {v}")
            if v == 0 and not allowzero:
                if x is None:
                    raise Propagate()
                if i >= len(x):
                    raise Invalid(
                        f"Reshape's target entry {i} is 0 (copy the input's size); the input has rank {len(x)}"
                    )
                out.append(x[i])
                continue
            out.append(t)
            continue
        if t.has_opaque():
            out.append(ctx.fresh("reshape"))
            continue
        if at_least(t, 1, ctx.assume):
            out.append(t)
            continue
        if not at_least(t, 0, ctx.assume):
            # a computed entry that can be negative: exact as long as it is never -1 (which would
            # switch to inferring); below -1 the Reshape is invalid (GC006), 0 copies (below). Where
            # it may be -1, the node is followed for the other sizes only (GC110)
            minus_one = eq(t, -1)
            if not ctx.never(minus_one):
                if infer >= 0 or t.has_opaque():
                    raise Unsupported(f"Reshape's target entry {i} ({t}) may be -1 for some sizes")
                ctx.covers(
                    any_of([ge(t, 0), ge(-t - 2)]),
                    f"Reshape target entry {i}",
                    formula=lazy("{} would be -1 (infer this size) there", t),
                )
            ctx.require(
                any_of([ge(t, 0), minus_one]),
                "GC006",
                f"Reshape target entry {i}",
                formula=lazy("{} must not be negative", t),
                fix="the computed target size is negative: the input is too short for this reshape",
            )
        if allowzero:
            out.append(t)
            continue
        if x is None:
            raise Propagate()
        if i >= len(x):
            ctx.require(
                ge(t, 1),
                "GC006",
                f"Reshape target entry {i}",
                formula=lazy("{} must be >= 1 (a 0 would copy input axis {}, which does not exist)", t, i),
            )
            out.append(t)
        elif x[i] == 1:
            out.append(emax(t, 1))  # a 0 copies the input's 1
        else:
            out.append(t + (1 - emin(t, 1)) * x[i])  # exact: a 0 entry copies the input's size
    if x is None:
        if infer >= 0:
            raise Propagate()
        return [Fact(tuple(out), f.dtype)]
    others = [d for j, d in enumerate(out) if j != infer]
    num, den = _cancel(list(x), others)
    if infer >= 0:
        if allowzero and any(d == 0 for d in others):
            raise Invalid("Reshape with allowzero=1 cannot have both 0 and -1 in its target")
        out[infer] = _quotient(ctx, num, den, x, out, infer)
    else:
        ctx.require(
            eq(num, den),
            "GC006",
            "Reshape element count",
            formula=lazy(
                "{} elements of {} must equal the {} of {}",
                Later(lambda: product(x)),
                Later(lambda: show(x)),
                Later(lambda: product(out)),
                Later(lambda: show(out)),
            ),
            fix="make the target's element count match the input's (use -1 for the size to infer, or compute the "
            "target from the input's Shape)",
        )
    shape = tuple(out)
    return [_same(f, shape)]


@rule("Reshape", since=1)
def reshape_1(ctx: OpContext) -> list[Fact]:
    target = ctx.attr_ints("shape")
    if target is None:
        raise Invalid("Reshape needs the shape attribute (before opset 5)")
    return _reshape(ctx, tuple(const(v) for v in target), False)


@rule("Reshape", since=5)
def reshape_5(ctx: OpContext) -> list[Fact]:
    t = ctx.fact(1)
    if t.shape is not None and len(t.shape) != 1:
        raise Invalid(f"Reshape's shape input must be 1-D, got rank {len(t.shape)}")
    target = ctx.ints(1, "the target shape")
    allowzero = ctx.opset >= 14 and ctx.attr_int("allowzero", 0) != 0
    return _reshape(ctx, target, allowzero)


# -- Flatten, Transpose -----------------------------------------------------------------------------------------


@rule("Flatten")
def flatten(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    r = len(x)
    axis = ctx.attr_int("axis", 1)
    a = axis + r if axis < 0 and ctx.opset >= 11 else axis
    if not 0 <= a <= r:
        raise Invalid(f"Flatten axis {axis} is out of range for rank {r}")
    shape = (product(x[:a]), product(x[a:]))
    return [_same(f, shape)]


@rule("Transpose")
def transpose(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    r = len(x)
    perm = ctx.attr_ints("perm")
    if perm is None:
        perm = tuple(range(r - 1, -1, -1))
    norm = tuple(p + r if p < 0 else p for p in perm)
    if sorted(norm) != list(range(r)):
        raise Invalid(f"perm {perm} is not a permutation of the {r} axes")
    shape = tuple(x[p] for p in norm)
    value = None
    if f.value is not None:
        s = small_numel(x, SMALL)
        if s is not None and len(f.value) == numel(s):
            value = permute(f.value, s, norm)
    return [Fact(shape, f.dtype, value)]


# -- Squeeze, Unsqueeze -----------------------------------------------------------------------------------------


def _squeeze(ctx: OpContext, axes: Sequence[int] | None) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    r = len(x)
    if axes is None or len(axes) == 0:
        drop = set()
        for i, d in enumerate(x):
            if d == 1:
                drop.add(i)
            elif not (d.is_const or at_least(d, 2, ctx.assume)):
                raise Unsupported(f"Squeeze without axes: whether axis {i} (size {d}) is 1 depends on the sizes")
    else:
        norm = [norm_axis(a, r, ctx.node) for a in axes]
        if len(set(norm)) != len(norm):
            raise Invalid(f"Squeeze axes {tuple(axes)} repeat an axis")
        drop = set(norm)
        for a in sorted(drop):
            d = x[a]
            ctx.require(
                eq(d, 1),
                "GC010",
                f"squeezed axis {a}",
                formula=lazy("axis {} has size {}, it must be 1 to be squeezed", a, d),
                fix=f"make axis {a} of size 1, or do not squeeze it",
            )
    shape = tuple(d for i, d in enumerate(x) if i not in drop)
    return [_same(f, shape)]


@rule("Squeeze", since=1)
def squeeze_1(ctx: OpContext) -> list[Fact]:
    return _squeeze(ctx, ctx.attr_ints("axes"))


@rule("Squeeze", since=13)
def squeeze_13(ctx: OpContext) -> list[Fact]:
    return _squeeze(ctx, _axes_value(ctx, 1))


def _unsqueeze(ctx: OpContext, axes: Sequence[int] | None) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if axes is None:
        raise Invalid("Unsqueeze needs axes")
    n = len(x) + len(axes)
    norm = [norm_axis(a, n, ctx.node) for a in axes]
    if len(set(norm)) != len(norm):
        raise Invalid(f"Unsqueeze axes {tuple(axes)} repeat an axis")
    it = iter(x)
    ins = set(norm)
    shape = tuple(ONE if i in ins else next(it) for i in range(n))
    return [_same(f, shape)]


@rule("Unsqueeze", since=1)
def unsqueeze_1(ctx: OpContext) -> list[Fact]:
    return _unsqueeze(ctx, ctx.attr_ints("axes"))


@rule("Unsqueeze", since=13)
def unsqueeze_13(ctx: OpContext) -> list[Fact]:
    return _unsqueeze(ctx, _axes_value(ctx, 1))


# -- Expand, Tile -------------------------------------------------------------------------------------------------


@rule("Expand")
def expand(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    t = ctx.fact(1)
    if t.shape is not None and len(t.shape) != 1:
        raise Invalid(f"Expand's shape input must be 1-D, got rank {len(t.shape)}")
    target = ctx.ints(1, "the target shape")
    for i, d in enumerate(target):
        if not d.has_opaque() and not at_least(d, 0, ctx.assume):
            if d.is_const:
                raise Invalid(f"Expand's target has the negative size {d}")
            raise Unsupported(f"Expand's target entry {i} ({d}) may be negative")
    shape = tuple(simplify(d, ctx.assume) for d in broadcast(ctx, [x, tuple(target)]))
    value = None
    if f.value is not None:
        value = V.broadcast_values(shape, [f], lambda v: v)
    return [Fact(shape, f.dtype, value)]


def _tile_values(f: Fact, x: Sequence[Expr], reps: Sequence[Expr]) -> tuple[Val, ...] | None:
    if f.value is None:
        return None
    s = small_numel(x, SMALL)
    rs = [r.const_value() for r in reps]
    if s is None or any(r is None or r < 0 for r in rs):
        return None
    ri = [r for r in rs if r is not None]
    if numel(s) * numel(ri) > SMALL:
        return None
    index = [[j % n for j in range(n * k)] if n else [] for n, k in zip(s, ri)]
    return take(f.value, s, index)


@rule("Tile", since=1)
def tile_1(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    tiles = ctx.ints(1, "tiles")
    axis = ctx.const_ints(2, "axis")
    if len(tiles) != 1 or len(axis) != 1:
        raise Invalid("Tile-1 takes a single tiles count and axis")
    a = norm_axis(axis[0], len(x), ctx.node)
    reps = [tiles[0] if i == a else ONE for i in range(len(x))]
    shape = tuple(d * r for d, r in zip(x, reps))
    return [Fact(shape, f.dtype, _tile_values(f, x, reps))]


@rule("Tile", since=6)
def tile_6(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    reps = ctx.ints(1, "repeats")
    if len(reps) != len(x):
        raise Invalid(f"Tile has {len(reps)} repeats for an input of rank {len(x)}")
    for i, r in enumerate(reps):
        if r.is_const and r.value < 0:
            raise Invalid(f"Tile repeat {r} on axis {i} is negative")
        if not r.is_const and not at_least(r, 0, ctx.assume):
            raise Unsupported(f"Tile repeat {r} on axis {i} may be negative")
    shape = tuple(d * r for d, r in zip(x, reps))
    return [Fact(shape, f.dtype, _tile_values(f, x, reps))]


# -- constants and generators ----------------------------------------------------------------------------------


@rule("ConstantOfShape")
def constant_of_shape(ctx: OpContext) -> list[Fact]:
    t = ctx.fact(0)
    if t.shape is not None and len(t.shape) != 1:
        raise Invalid(f"ConstantOfShape's input must be 1-D, got rank {len(t.shape)}")
    dims = ctx.ints(0, "the shape")
    for i, d in enumerate(dims):
        if d.is_const and d.value < 0:
            raise Invalid(f"ConstantOfShape size {d.value} on axis {i} is negative")
        if not d.is_const and not d.has_opaque() and not at_least(d, 0, ctx.assume):
            raise Unsupported(f"ConstantOfShape size {d} on axis {i} may be negative")
    tv = ctx.attr_tensor("value")
    elem: Val | None
    if tv is None:
        dtype, elem = FLOAT, Fraction(0)
    else:
        if tv.numel != 1:
            raise Invalid(f"ConstantOfShape's value must have one element, got {tv.numel}")
        vf = tensor_fact(tv)
        dtype = tv.elem_type
        elem = vf.value[0] if vf.value is not None else None
    value = None
    s = small_numel(dims, SMALL)
    if s is not None and elem is not None:
        value = (elem,) * numel(s)
    return [Fact(tuple(dims), dtype, value)]


def _scalar(ctx: OpContext, i: int, what: str) -> Val:
    f = ctx.fact(i)
    if f.shape is not None and len(f.shape) > 1:
        raise Invalid(f"{what} must be a scalar, got rank {len(f.shape)}")
    if f.value is None:
        raise Unsupported(f"{what} (input {i}, {ctx.node.inputs[i]}) is not known statically")
    if len(f.value) != 1:
        raise Invalid(f"{what} must have one element, got {len(f.value)}")
    return f.value[0]


def _frac_ceil(q: Fraction) -> int:
    return -((-q.numerator) // q.denominator)


@rule("Range")
def range_op(ctx: OpContext) -> list[Fact]:
    dtype = ctx.fact(0).dtype
    vals = tuple(_scalar(ctx, i, w) for i, w in enumerate(("Range start", "Range limit", "Range delta")))
    is_float = V.kind(dtype) == "float" or any(isinstance(v, Fraction) for v in vals)
    whole = [F.size_of(v) for v in vals]  # floats computed from sizes that are whole numbers
    where = F.conj([w[1] for w in whole if w is not None])
    if where != TRUE and not ctx.always(where):
        ctx.covers(where, "Range bounds computed in float", formula=lambda: f"exact where {where}")
    ints = [V.as_int_expr(v) if w is None else w[0] for v, w in zip(vals, whole)]
    if all(e is not None for e in ints):
        s, lim, d = (e for e in ints if e is not None)
        if not d.is_const:
            raise Unsupported(f"Range delta {d} depends on the sizes")
        k = d.value
        if k == 0:
            raise Invalid("Range delta is 0")
        if not is_float or (abs(k) == 1 and not (s.is_const and lim.is_const)):
            # integers; or floats holding whole numbers stepped by 1, where (limit - start) / delta is exact
            n = nonneg_part(ceildiv(lim - s, k), ctx.assume)
            nc = n.const_value()
            ivals: tuple[Val, ...] | None = None
            if nc is not None and nc <= SMALL:
                ivals = tuple(s + i * k for i in range(nc))
                if V.kind(dtype) == "float":  # whole numbers in a float tensor: fl(v)
                    fvals = tuple(V.fit(v, dtype) for v in ivals)
                    ivals = None if any(v is None for v in fvals) else fvals  # type: ignore[assignment]
            last = s + (ceildiv(lim - s, k) - 1) * k  # the last element, when there is one
            bounds = (s, last) if k > 0 else (last, s)
            return [Fact((n,), dtype, ivals, None if ivals is not None else bounds)]
    fr = [V.as_frac(v) for v in vals]
    if any(v is None for v in fr):
        raise Unsupported("Range over floats with a size-dependent start or limit and a delta other than 1")
    fs, fl, fd = (v for v in fr if v is not None)
    if fd == 0:
        raise Invalid("Range delta is 0")
    q = (fl - fs) / fd
    count = max(_frac_ceil(q), 0)
    # onnxruntime subtracts in the element type, then divides in double: decline where that can
    # round across an integer (the spec's answer is the exact one, computed here)
    diff = V.round_float(fl - fs, dtype) if V.kind(dtype) == "float" else fl - fs
    q_rt = None if diff is None else diff / fd
    near = q_rt is not None and 0 < q_rt - (q_rt.numerator // q_rt.denominator) < abs(q_rt) / 2**50
    if q_rt is None or max(_frac_ceil(q_rt), 0) != count or near:
        raise Unsupported(
            f"Range length ceil(({fl} - {fs}) / {fd}) = ceil({float(q)!r}): float rounding in the runtime decides it"
        )
    value: tuple[Val, ...] | None = None
    if count <= SMALL:
        elems: list[Val] = [fs + i * fd for i in range(count)]
        if V.kind(dtype) != "float" or all(isinstance(e, Fraction) and V.fits_float(e, dtype) for e in elems):
            value = tuple(elems)
    return [Fact((const(count),), dtype, value)]


@rule("Constant")
def constant(ctx: OpContext) -> list[Fact]:
    t = ctx.attr_tensor("value")
    if t is not None:
        return [tensor_fact(t)]
    sv = ctx.attr("sparse_value")
    if isinstance(sv, TensorData):
        return [Fact(tuple(const(d) for d in sv.dims), sv.elem_type)]
    a = ctx.node.attrs
    if "value_int" in a:
        return [Fact((), INT64, (const(ctx.attr_int("value_int", 0)),))]
    if "value_ints" in a:
        vs = ctx.attr_ints("value_ints") or ()
        return [Fact((const(len(vs)),), INT64, tuple(const(v) for v in vs))]
    if "value_float" in a:
        return [Fact((), FLOAT, (Fraction(ctx.attr_float("value_float", 0.0)),))]
    if "value_floats" in a:
        fl = a["value_floats"]
        items = fl if isinstance(fl, tuple) else (fl,)
        floats: tuple[Val, ...] = tuple(Fraction(v) for v in items if isinstance(v, int | float))
        if len(floats) != len(items):
            raise Invalid("Constant value_floats should be floats")
        return [Fact((const(len(items)),), FLOAT, floats)]
    if "value_string" in a:
        return [Fact((), STRING)]
    if "value_strings" in a:
        ss = a["value_strings"]
        return [Fact((const(len(ss) if isinstance(ss, tuple) else 1),), STRING)]
    raise Invalid("Constant has no value attribute")


@rule("EyeLike")
def eye_like(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if len(x) != 2:
        raise Invalid(f"EyeLike needs a 2-D input, got rank {len(x)}")
    dtype = ctx.attr_int("dtype", f.dtype or FLOAT)
    k = ctx.attr_int("k", 0)
    value = None
    s = small_numel(x, SMALL)
    if s is not None:
        one = ONE if V.kind(dtype) == "int" else Fraction(1)
        zero = ZERO if V.kind(dtype) == "int" else Fraction(0)
        value = tuple(one if j - i == k else zero for i in range(s[0]) for j in range(s[1]))
    return [Fact(x, dtype, value)]


@rule("OneHot")
def one_hot(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    dv = _scalar(ctx, 1, "OneHot depth")
    depth = V.as_int_expr(dv)
    if depth is None:
        if isinstance(dv, Fraction):
            depth = const(int(dv))  # the depth is converted to an integer (truncated)
        else:
            raise Unsupported("OneHot depth is not an integer")
    if depth.is_const and depth.value < 1:
        raise Invalid(f"OneHot depth must be positive, got {depth.value}")
    vals = ctx.fact(2)
    if vals.shape is not None:
        if len(vals.shape) != 1:
            raise Invalid(f"OneHot values must be 1-D with 2 elements, got rank {len(vals.shape)}")
        ctx.require(
            eq(vals.shape[0], 2),
            "GC010",
            "OneHot values size",
            formula=lazy("{} must be 2 (off value, on value)", vals.shape[0]),
            fix="pass [off_value, on_value]",
        )
    r = len(x)
    axis = ctx.attr_int("axis", -1)
    a = axis + r + 1 if axis < 0 else axis
    if not 0 <= a <= r:
        raise Invalid(f"OneHot axis {axis} is out of range for rank {r}")
    shape = x[:a] + (depth,) + x[a:]
    return [Fact(shape, vals.dtype)]


# -- depth/space ------------------------------------------------------------------------------------------------


def _blocksize(ctx: OpContext) -> int:
    b = ctx.attr_int("blocksize", 0)
    if b < 1:
        raise Invalid(f"blocksize must be >= 1, got {b}")
    return b


@rule("DepthToSpace")
def depth_to_space(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if len(x) != 4:
        raise Invalid(f"DepthToSpace needs a 4-D input (N, C, H, W), got rank {len(x)}")
    b = _blocksize(ctx)
    n, c, h, w = x
    bb = b * b
    ctx.require(
        eq(mod(c, bb), 0),
        "GC010",
        "DepthToSpace channels (axis 1)",
        formula=lazy("{} channels must be divisible by blocksize^2 = {}", c, bb),
        fix=f"give the input a multiple of {bb} channels",
    )
    return [Fact((n, floordiv(c, bb), h * b, w * b), f.dtype)]


@rule("SpaceToDepth")
def space_to_depth(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    if len(x) != 4:
        raise Invalid(f"SpaceToDepth needs a 4-D input (N, C, H, W), got rank {len(x)}")
    b = _blocksize(ctx)
    n, c, h, w = x
    for axis, name, d in ((2, "height", h), (3, "width", w)):
        ctx.require(
            eq(mod(d, b), 0),
            "GC010",
            f"SpaceToDepth {name} (axis {axis})",
            formula=lazy("{} must be divisible by blocksize {}", d, b),
            fix=f"feed a {name} that is a multiple of {b} (pad or crop the input)",
        )
    return [Fact((n, c * (b * b), floordiv(h, b), floordiv(w, b)), f.dtype)]


@rule("Col2Im", since=18)
def col2im(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    image = ctx.ints(1, "image_shape")
    block = ctx.const_ints(2, "block_shape")
    n = len(block)
    if len(image) != n:
        raise Invalid(f"Col2Im image_shape has {len(image)} entries, block_shape {n}")
    if len(x) != 3:
        raise Invalid(f"Col2Im needs a 3-D input (N, C*prod(block), L), got rank {len(x)}")
    dil = ctx.attr_ints("dilations") or (1,) * n
    strides = ctx.attr_ints("strides") or (1,) * n
    pads = ctx.attr_ints("pads") or (0,) * (2 * n)
    if len(dil) != n or len(strides) != n or len(pads) != 2 * n:
        raise Invalid("Col2Im dilations/strides/pads do not match the number of spatial axes")
    kprod = numel(block)
    ctx.require(
        eq(mod(x[1], kprod), 0),
        "GC010",
        "Col2Im input axis 1",
        formula=lazy("{} must be divisible by the block size product {}", x[1], kprod),
        fix=f"give axis 1 a multiple of {kprod} entries (channels x block elements)",
    )
    blocks: list[Expr] = []
    for i in range(n):
        span = dil[i] * (block[i] - 1) + 1
        blocks.append(floordiv(image[i] + pads[i] + pads[i + n] - span, strides[i]) + 1)
    total = product(blocks)
    ctx.require(
        all_of([eq(x[2], total)] + [ge(b, 1) for b in blocks]),
        "GC010",
        "Col2Im number of blocks (axis 2)",
        formula=lazy("{} must equal the number of sliding blocks {}", x[2], total),
        fix="the input's last axis must hold one column per sliding block of the image",
    )
    return [Fact((x[0], floordiv(x[1], kprod), *image), f.dtype)]
