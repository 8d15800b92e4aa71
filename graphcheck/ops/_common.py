"""Helpers shared by op rules: broadcasting, formula text, axis handling."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from graphcheck.cond import FALSE, any_of, eq
from graphcheck.expr import Expr, as_expr, const, emax
from graphcheck.registry import Invalid, OpContext

ONE = const(1)


def broadcast(ctx: OpContext, shapes: Sequence[tuple[Expr, ...]], code: str = "GC003") -> tuple[Expr, ...]:
    """Numpy-style multidirectional broadcasting, requiring compatible sizes (GC003)."""
    rank = max((len(s) for s in shapes), default=0)
    padded = [(ONE,) * (rank - len(s)) + tuple(s) for s in shapes]
    out: list[Expr] = []
    for axis in range(rank):
        dims = [p[axis] for p in padded]
        out.append(broadcast_dim(ctx, dims, axis - rank, code))
    return tuple(out)


def broadcast_dim(ctx: OpContext, dims: Sequence[Expr], axis: int, code: str = "GC003") -> Expr:
    """The broadcast of several sizes along one axis (``axis`` counted from the right, negative)."""
    distinct: list[Expr] = []
    for d in dims:
        if d == ONE or d in distinct:
            continue
        distinct.append(d)
    if not distinct:
        return ONE
    if len(distinct) == 1:
        return distinct[0]
    consts = [d for d in distinct if d.is_const]
    if len(consts) > 1:
        ctx.require(
            FALSE,
            code,
            f"broadcast on axis {axis} (from the right)",
            formula=f"sizes {', '.join(str(d) for d in distinct)} cannot broadcast",
            fix="make the operands' sizes match on this axis, or make one of them 1",
        )
        return consts[0]
    target: Expr = consts[0] if consts else emax(*distinct)
    # Every pair of sizes must be equal, or one of the two must be 1.
    for i, d in enumerate(distinct):
        others = [target] if consts else distinct[i + 1 :]
        for o in others:
            if o is d:
                continue
            ctx.require(
                any_of([eq(d, o), eq(d, 1), eq(o, 1)]),
                code,
                f"broadcast on axis {axis} (from the right)",
                formula=partial("{} and {} must be equal, or one of them 1".format, d, o),
                fix="make the two operands' sizes match on this axis, or make one of them 1",
            )
    return target


def window_formula(in_: Expr, pads: int, span: int, stride: int, ceil: bool = False) -> str:
    """The spec's ``floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1`` with the numbers in.

    ``span`` is ``dilation*(kernel-1) + 1``; zero terms are left out and stride 1 is simplified.
    """
    parts = [str(in_) if len(in_.terms) <= 1 else f"({in_})"]
    if pads:
        parts.append(f"+ {pads}")
    if span > 1:
        parts.append(f"- {span - 1}")
    if stride == 1:
        return " ".join(parts)
    fn = "ceil" if ceil else "floor"
    return f"{fn}(({' '.join(parts)} - 1) / {stride}) + 1"


def spatial_name(i: int, n: int) -> str:
    if n == 1:
        return "length"
    if n == 2:
        return ("height", "width")[i]
    if n == 3:
        return ("depth", "height", "width")[i]
    return f"spatial axis {i}"


def per_axis(ctx: OpContext, name: str, n: int, default: int) -> tuple[int, ...]:
    vals = ctx.attr_ints(name)
    if vals is None:
        return (default,) * n
    if len(vals) != n:
        raise Invalid(f"attribute {name} has {len(vals)} values for {n} spatial axes")
    return vals


def expr_list(values: Sequence[int | Expr]) -> tuple[Expr, ...]:
    return tuple(as_expr(v) for v in values)
